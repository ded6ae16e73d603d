//! Watchlists: named lists of users, IP addresses, apps or domains under investigation, uploaded
//! as CSV or edited on the Watchlists page, and used in search as `watchlist:NAME` (the actor, its
//! app id or its IP address is on the list; for a domain list, the actor's UPN is in the domain)
//! and `-watchlist:NAME`. Validation lives here, once, for the REST API and the page.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Longest watchlist name.
pub const MAX_NAME_LEN: usize = 64;
/// Most items in one watchlist.
pub const MAX_ITEMS: usize = 10_000;
/// Longest item value.
pub const MAX_VALUE_LEN: usize = 512;
/// Longest item label.
pub const MAX_LABEL_LEN: usize = 200;
/// Longest description.
pub const MAX_DESCRIPTION_LEN: usize = 1_000;

/// What a watchlist holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WatchlistKind {
    /// User principal names or user object ids (matched against the actor).
    User,
    /// IP addresses (matched against the actor's IP).
    Ip,
    /// Application (client) ids (matched against the actor's app id).
    App,
    /// Mail domains (matched against the domain of the actor's UPN).
    Domain,
}

impl WatchlistKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WatchlistKind::User => "user",
            WatchlistKind::Ip => "ip",
            WatchlistKind::App => "app",
            WatchlistKind::Domain => "domain",
        }
    }

    pub fn parse(text: &str) -> Result<Self, AppError> {
        Ok(match text.trim().to_ascii_lowercase().as_str() {
            "user" | "users" => WatchlistKind::User,
            "ip" | "ips" => WatchlistKind::Ip,
            "app" | "apps" => WatchlistKind::App,
            "domain" | "domains" => WatchlistKind::Domain,
            _ => return Err(AppError::invalid_input("kind", "expected user, ip, app or domain")),
        })
    }

    /// The CSV header names taken as the value column, most specific first.
    fn value_columns(self) -> &'static [&'static str] {
        match self {
            WatchlistKind::User => {
                &["userprincipalname", "upn", "userid", "user_id", "user", "mail", "email", "objectid", "id"]
            }
            WatchlistKind::Ip => &["ip", "ipaddress", "ip_address", "clientip", "address"],
            WatchlistKind::App => &["appid", "app_id", "applicationid", "clientid", "client_id", "app"],
            WatchlistKind::Domain => &["domain", "domainname", "name"],
        }
    }
}

/// One entry of a watchlist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WatchlistItem {
    /// As search compares it (lower-case; a domain without `@`).
    pub value: String,
    /// A note shown beside it (e.g. the display name or role from the CSV).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// A watchlist without its items.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WatchlistInfo {
    pub id: i64,
    pub name: String,
    pub kind: WatchlistKind,
    pub description: String,
    pub item_count: u64,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
}

/// A watchlist with its items.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Watchlist {
    #[serde(flatten)]
    pub info: WatchlistInfo,
    pub items: Vec<WatchlistItem>,
}

/// A validated watchlist to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchlistInput {
    pub name: String,
    pub kind: WatchlistKind,
    pub description: String,
    pub items: Vec<WatchlistItem>,
}

/// Checks a watchlist name: 1–64 of `a-z 0-9 _ -` (lower-cased), as written after `watchlist:`.
pub fn parse_name(parameter: &str, text: &str) -> Result<String, AppError> {
    let name = text.trim().to_ascii_lowercase();
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(AppError::invalid_input(parameter, format!("a watchlist name has 1–{MAX_NAME_LEN} characters")));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(AppError::invalid_input(parameter, "a watchlist name holds only letters, digits, `_` and `-`"));
    }
    Ok(name)
}

/// An item value as stored and compared: trimmed, lower-case; a domain without a leading `@`.
pub fn normalize_value(kind: WatchlistKind, text: &str) -> String {
    let v = text.trim().to_lowercase();
    match kind {
        WatchlistKind::Domain => v.trim_start_matches('@').to_string(),
        _ => v,
    }
}

impl WatchlistInput {
    /// Validates a watchlist given as items.
    pub fn parse(
        name: &str,
        kind: &str,
        description: Option<&str>,
        items: Vec<WatchlistItem>,
    ) -> Result<Self, AppError> {
        let name = parse_name("name", name)?;
        let kind = WatchlistKind::parse(kind)?;
        let description = description.unwrap_or("").trim().to_string();
        if description.chars().count() > MAX_DESCRIPTION_LEN || description.chars().any(|c| c.is_control() && c != '\n')
        {
            return Err(AppError::invalid_input(
                "description",
                format!("at most {MAX_DESCRIPTION_LEN} characters of text"),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        let mut clean = Vec::with_capacity(items.len());
        for (n, item) in items.into_iter().enumerate() {
            let value = normalize_value(kind, &item.value);
            if value.is_empty() {
                continue;
            }
            if value.len() > MAX_VALUE_LEN || value.chars().any(char::is_control) {
                return Err(AppError::invalid_input(
                    "items",
                    format!("item {}: not a value (at most {MAX_VALUE_LEN} bytes of text)", n + 1),
                ));
            }
            let label = item
                .label
                .map(|l| l.trim().chars().filter(|c| !c.is_control()).take(MAX_LABEL_LEN).collect::<String>())
                .filter(|l| !l.is_empty());
            if seen.insert(value.clone()) {
                clean.push(WatchlistItem { value, label });
            }
        }
        if clean.len() > MAX_ITEMS {
            return Err(AppError::invalid_input("items", format!("at most {MAX_ITEMS} items")));
        }
        Ok(Self { name, kind, description, items: clean })
    }

    /// Validates a watchlist uploaded as CSV: a header row, then one item per row. The value
    /// column is the first header the kind knows (`UserPrincipalName`, `UserId`, `ip`, `AppId`,
    /// `domain`… or `value`), else the first column; the label is `label`, `DisplayName`,
    /// `name` or `role` when present.
    pub fn from_csv(name: &str, kind: &str, description: Option<&str>, csv: &str) -> Result<Self, AppError> {
        let parsed_kind = WatchlistKind::parse(kind)?;
        let rows = parse_csv(csv)?;
        let Some((header, body)) = rows.split_first() else {
            return Err(AppError::invalid_input("csv", "empty: expected a header row and one row per item"));
        };
        let header: Vec<String> = header
            .iter()
            .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase().replace(' ', ""))
            .collect();
        let find = |names: &[&str]| names.iter().find_map(|n| header.iter().position(|h| h == n));
        let value_at = find(&["value"]).or_else(|| find(parsed_kind.value_columns())).unwrap_or(0);
        let label_at =
            find(&["label", "displayname", "display_name", "name", "role", "comment"]).filter(|i| *i != value_at);
        let items = body
            .iter()
            .map(|row| WatchlistItem {
                value: row.get(value_at).cloned().unwrap_or_default(),
                label: label_at.and_then(|i| row.get(i).cloned()),
            })
            .collect();
        Self::parse(name, kind, description, items)
    }
}

/// Splits CSV text (RFC 4180: commas, double quotes with `""` inside, CRLF or LF) into rows.
pub fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, AppError> {
    if text.len() > 8 * 1024 * 1024 {
        return Err(AppError::invalid_input("csv", "larger than 8 MiB"));
    }
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' | ';' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                if row.iter().any(|f| !f.trim().is_empty()) {
                    rows.push(std::mem::take(&mut row));
                }
                row.clear();
            }
            _ => field.push(c),
        }
    }
    if quoted {
        return Err(AppError::invalid_input("csv", "a double quote is not closed"));
    }
    row.push(field);
    if row.iter().any(|f| !f.trim().is_empty()) {
        rows.push(row);
    }
    Ok(rows)
}

/// Keeping watchlists. Called after the caller's permission was checked; changes are recorded
/// in the audit trail with `caller`.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait WatchlistService: Send + Sync {
    async fn list_watchlists(&self) -> Result<Vec<WatchlistInfo>, AppError>;
    async fn watchlist(&self, id: i64) -> Result<Watchlist, AppError>;
    /// Creates a watchlist (`id` None) or replaces one's name, description and items.
    async fn save_watchlist(
        &self,
        caller: &crate::auth::Caller,
        id: Option<i64>,
        input: WatchlistInput,
    ) -> Result<Watchlist, AppError>;
    async fn delete_watchlist(&self, caller: &crate::auth::Caller, id: i64) -> Result<(), AppError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_admin_list_csv_is_read_by_its_headers() {
        let csv = "\u{feff}DisplayName,UserPrincipalName,Role\r\n\"Vance, Adele\",Adele@Contoso.com,Global Administrator\r\nLee Gu,lee@contoso.com,\"Exchange \"\"Admin\"\"\"\n\n";
        let input = WatchlistInput::from_csv("Admins", "user", None, csv).unwrap();
        assert_eq!(input.name, "admins");
        assert_eq!(input.items.len(), 2);
        assert_eq!(input.items[0].value, "adele@contoso.com");
        assert_eq!(input.items[0].label.as_deref(), Some("Vance, Adele"));
        assert_eq!(input.items[1].value, "lee@contoso.com");
    }

    #[test]
    fn bad_watchlists_name_the_parameter() {
        assert!(WatchlistInput::parse("a b", "user", None, vec![]).unwrap_err().message.contains("`name`"));
        assert!(WatchlistInput::parse("ok", "mailbox", None, vec![]).unwrap_err().message.contains("`kind`"));
        assert!(WatchlistInput::from_csv("ok", "ip", None, "ip\n\"1.2.3.4").unwrap_err().message.contains("`csv`"));
        let domains = WatchlistInput::from_csv("d", "domain", None, "domain\n@Evil.Example\nevil.example\n").unwrap();
        assert_eq!(domains.items, vec![WatchlistItem { value: "evil.example".into(), label: None }]);
    }
}
