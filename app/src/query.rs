//! The event query language, shared by the Events page, server functions and the REST API:
//! structured filters (tenant, source, service, ... time range) plus a free-text search string.
//!
//! Free text (`search`), all parts AND-ed:
//! - `word` or `"a quoted phrase"`: found in any normalized field or any raw value; words are
//!   compared token by token, compound words cut where their case changes (see [`tokens`]);
//! - `word*`: any token starting with `word` (at least [`MIN_PREFIX`] letters or digits);
//! - `field:value` or `field:"a value"`: `service`, `operation`, `result`, `actor` (alias `user`),
//!   `target`, `ip`, `source`, `tenant`, `severity`, `tag`, `id`, `correlation` match that field;
//!   any other field name (`Parameters.ForwardTo`, `status.errorCode`) matches the flattened
//!   field of that name exactly (case-insensitive);
//! - `watchlist:NAME`: the actor, its app id or IP address is on that watchlist (for a domain
//!   list: the actor's UPN is in one of its domains);
//! - `app:"Microsoft Teams"` or `app:<app id>`: the actor's application;
//! - `alert:42`: the events of alert 42;
//! - a leading `-` negates any of the above.
//!
//! Parsing is pure and total: every problem is an `invalid_input` error naming the parameter.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::dto::{EventCursor, Severity, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::error::AppError;

/// Longest accepted search string, in bytes.
pub const MAX_SEARCH_LEN: usize = 1000;
/// Most terms in one search.
pub const MAX_TERMS: usize = 20;
/// Shortest prefix searched with `*` (shorter ones match most of the index).
pub const MIN_PREFIX: usize = 2;
/// Longest accepted filter value, in bytes.
pub const MAX_VALUE_LEN: usize = 512;

/// Filters as a client sends them (query string, server-function arguments). Every field is
/// optional text; [`EventFilter::parse`] validates it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams, utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
pub struct EventFilter {
    /// Tenant id (GUID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// `unified`, `directory`, `signin` or `intune`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Workload / service, exactly as stored (see filter options).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Operation, exactly as stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Actor UPN, display name or app id; `*` is a wildcard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Part of a target's display name or id (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `success`, `failure`, `partial_success` or `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Exactly this severity: `info`, `low`, `medium`, `high`, `critical`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// This severity or worse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<String>,
    /// Events carrying this tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Inclusive start: RFC 3339 time or a date (`2026-11-20`, midnight UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// Exclusive end: RFC 3339 time or a date (midnight UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// Relative range ending now: `30m`, `24h`, `7d` (not with `start`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
    /// Free text (see the module documentation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
}

/// A field the search language and the filters know by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Tenant,
    Source,
    Service,
    Operation,
    Actor,
    Target,
    Ip,
    Result,
    Severity,
    Tag,
    RecordId,
    Correlation,
    /// On the named watchlist (see [`crate::watchlist`]).
    Watchlist,
    /// The actor's application: a first-party name (see [`crate::appnames`]) or an app id.
    App,
    /// The events of an alert (`alert:42`, the alert's id).
    Alert,
}

impl Field {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "tenant" => Field::Tenant,
            "source" => Field::Source,
            "service" | "workload" => Field::Service,
            "operation" | "activity" => Field::Operation,
            "actor" | "user" => Field::Actor,
            "target" => Field::Target,
            "ip" => Field::Ip,
            "result" => Field::Result,
            "severity" => Field::Severity,
            "tag" => Field::Tag,
            "id" => Field::RecordId,
            "correlation" => Field::Correlation,
            "watchlist" => Field::Watchlist,
            "app" => Field::App,
            "alert" => Field::Alert,
            _ => return None,
        })
    }
}

/// One condition of a validated query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Clause {
    /// A known field has this value (exact, or with `*` wildcards for actor; substring for target).
    Field(Field, String),
    /// Severity at least this level.
    MinSeverity(i16),
    /// Free text: a word or phrase, as typed (without a trailing `*`) and as index tokens;
    /// `prefix` when the last token is a prefix (`forward*`).
    Text { text: String, tokens: Vec<String>, prefix: bool },
    /// A flattened field equals this value (case-insensitive).
    Flattened { key: String, value: String, tokens: Vec<String> },
}

/// A clause, possibly negated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    pub negated: bool,
    pub clause: Clause,
}

/// A validated query: every condition AND-ed, plus the time range.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventQuery {
    pub terms: Vec<Term>,
    /// Inclusive.
    pub start: Option<DateTime<Utc>>,
    /// Exclusive.
    pub end: Option<DateTime<Utc>>,
}

/// The fields the facet lists count, by the name the DTO gives them.
pub const FACET_FIELDS: [&str; 5] = ["service", "operation", "result", "actor", "severity"];

impl EventQuery {
    /// This query without its positive conditions on the facet `facet` (one of
    /// [`FACET_FIELDS`]; `severity` drops the minimum severity too), or `None` when it has
    /// none: a facet's values are counted under every *other* condition, so choosing a value
    /// does not hide the others.
    pub fn without_facet(&self, facet: &str) -> Option<EventQuery> {
        let own = |clause: &Clause| {
            matches!(
                (facet, clause),
                ("service", Clause::Field(Field::Service, _))
                    | ("operation", Clause::Field(Field::Operation, _))
                    | ("result", Clause::Field(Field::Result, _))
                    | ("actor", Clause::Field(Field::Actor, _))
                    | ("severity", Clause::Field(Field::Severity, _) | Clause::MinSeverity(_))
            )
        };
        if !self.terms.iter().any(|t| !t.negated && own(&t.clause)) {
            return None;
        }
        let terms = self.terms.iter().filter(|t| t.negated || !own(&t.clause)).cloned().collect();
        Some(EventQuery { terms, start: self.start, end: self.end })
    }

    /// The positive clauses.
    pub fn positive(&self) -> impl Iterator<Item = &Clause> {
        self.terms.iter().filter(|t| !t.negated).map(|t| &t.clause)
    }
}

fn value(parameter: &str, raw: &Option<String>) -> Result<Option<String>, AppError> {
    let Some(v) = raw.as_deref().map(str::trim).filter(|v| !v.is_empty()) else { return Ok(None) };
    if v.len() > MAX_VALUE_LEN {
        return Err(AppError::invalid_input(parameter, format!("longer than {MAX_VALUE_LEN} bytes")));
    }
    if v.chars().any(char::is_control) {
        return Err(AppError::invalid_input(parameter, "contains control characters"));
    }
    Ok(Some(v.to_string()))
}

/// Parses a severity name (or level 0–4).
pub fn parse_severity(parameter: &str, text: &str) -> Result<i16, AppError> {
    let t = text.trim().to_ascii_lowercase();
    let level = match t.as_str() {
        "info" | "informational" | "0" => Severity::Info,
        "low" | "1" => Severity::Low,
        "medium" | "2" => Severity::Medium,
        "high" | "3" => Severity::High,
        "critical" | "4" => Severity::Critical,
        _ => return Err(AppError::invalid_input(parameter, "expected info, low, medium, high or critical")),
    };
    Ok(level.level())
}

/// The sources AOC collects.
pub(crate) const SOURCES: [&str; 4] = ["unified", "directory", "signin", "intune"];
const RESULTS: [&str; 4] = ["success", "failure", "partial_success", "unknown"];

fn check_field(parameter: &str, field: Field, v: &str) -> Result<String, AppError> {
    match field {
        Field::Source => {
            let v = v.to_ascii_lowercase();
            if !SOURCES.contains(&v.as_str()) {
                return Err(AppError::invalid_input(parameter, "expected unified, directory, signin or intune"));
            }
            Ok(v)
        }
        Field::Result => {
            let v = v.to_ascii_lowercase();
            let v = if v == "partial" || v == "partialsuccess" { "partial_success".to_string() } else { v };
            if !RESULTS.contains(&v.as_str()) {
                return Err(AppError::invalid_input(
                    parameter,
                    "expected success, failure, partial_success or unknown",
                ));
            }
            Ok(v)
        }
        Field::Severity => Ok(parse_severity(parameter, v)?.to_string()),
        Field::Tag => crate::dto::normalize_tag(v).map_err(|problem| AppError::invalid_input(parameter, problem)),
        Field::Watchlist => crate::watchlist::parse_name(parameter, v),
        Field::Alert => match v.parse::<i64>() {
            Ok(id) if id > 0 => Ok(id.to_string()),
            _ => Err(AppError::invalid_input(parameter, "alert: takes an alert's id, a whole number such as alert:42")),
        },
        _ => Ok(v.to_string()),
    }
}

/// Parses a time bound: RFC 3339, or a bare date meaning midnight UTC.
pub fn parse_time(parameter: &str, text: &str) -> Result<DateTime<Utc>, AppError> {
    let t = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(t) {
        return Ok(time.with_timezone(&Utc));
    }
    // A `+` in a query string arrives as a space; accept it back.
    if let Ok(time) = DateTime::parse_from_rfc3339(&t.replace(' ', "+")) {
        return Ok(time.with_timezone(&Utc));
    }
    // What a browser's date-time picker sends (`datetime-local`), read as UTC.
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(time) = chrono::NaiveDateTime::parse_from_str(t, format) {
            return Ok(time.and_utc());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        if let Some(midnight) = date.and_hms_opt(0, 0, 0) {
            return Ok(midnight.and_utc());
        }
    }
    Err(AppError::invalid_input(parameter, "expected an RFC 3339 time (2026-11-20T08:00:00Z) or a date (2026-11-20)"))
}

/// Parses a relative range: a positive number followed by `m`, `h` or `d` (at most 3650 days).
pub fn parse_last(text: &str) -> Result<Duration, AppError> {
    let t = text.trim().to_ascii_lowercase();
    let bad = || AppError::invalid_input("last", "expected a number followed by m, h or d, e.g. 24h or 7d");
    let unit = t.chars().last().ok_or_else(bad)?;
    let n: i64 = t[..t.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
    if n <= 0 {
        return Err(bad());
    }
    let minutes = match unit {
        'm' => n,
        'h' => n.saturating_mul(60),
        'd' => n.saturating_mul(1440),
        _ => return Err(bad()),
    };
    if minutes > 3650 * 1440 {
        return Err(AppError::invalid_input("last", "at most 3650d"));
    }
    Ok(Duration::minutes(minutes))
}

/// Splits text into the tokens a search looks for: runs of letters and digits, lower-cased,
/// with compound words cut where their case changes (`InboxRule` → `inbox rule`,
/// `ForwardingSmtpAddress` → `forwarding smtp address`, `SMTPAddress` → `smtp address`).
/// Hyphens and every other non-alphanumeric character separate tokens too, so `inbox rule`,
/// `InboxRule` and `New-InboxRule` all look for the same adjacent tokens.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in words(text) {
        out.extend(word_parts(word));
    }
    out
}

/// The compound words of `text`, lower-cased whole (`New-InboxRule` → `inboxrule`): the
/// full-text index holds them after all the parts of a document (see `store::search`), so
/// `inboxrule` and `forwardingsmtp*` find them while phrases of parts stay adjacent.
pub fn compound_words(text: &str) -> Vec<String> {
    words(text).filter(|w| word_parts(w).len() > 1).map(str::to_lowercase).collect()
}

/// The runs of letters and digits of `text`.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty())
}

/// One word cut at its case changes: before an upper-case letter that follows a lower-case one
/// (`inboxRule`), and before the last capital of a run of capitals followed by a lower-case
/// letter (`SMTPAddress`). Digits never start a part, so ids and hashes stay whole.
fn word_parts(word: &str) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    let mut parts = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if i > 0 && c.is_uppercase() {
            let previous = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if previous.is_lowercase() || (previous.is_uppercase() && next_lower) {
                parts.push(std::mem::take(&mut current));
            }
        }
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

/// One lexed part of a search string.
struct Part {
    negated: bool,
    field: Option<String>,
    text: String,
    quoted: bool,
}

/// Splits a search string into parts, honouring double quotes.
fn lex(search: &str) -> Result<Vec<Part>, AppError> {
    let mut parts = Vec::new();
    let mut chars = search.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let negated = first == '-';
        if negated {
            chars.next();
        }
        let mut field = None;
        let mut text = String::new();
        let mut quoted = false;
        loop {
            match chars.peek().copied() {
                None => break,
                Some(c) if c.is_whitespace() => break,
                Some('"') => {
                    chars.next();
                    let mut closed = false;
                    for c in chars.by_ref() {
                        if c == '"' {
                            closed = true;
                            break;
                        }
                        text.push(c);
                    }
                    if !closed {
                        return Err(AppError::invalid_input("search", "a double quote is not closed"));
                    }
                    quoted = true;
                    break;
                }
                Some(':') if field.is_none() && !text.is_empty() && is_field_name(&text) => {
                    chars.next();
                    // `https://...` and IPv6 addresses are text, not field:value.
                    if matches!(chars.peek(), Some('/') | Some(':')) || text.chars().all(|c| c.is_ascii_hexdigit()) {
                        text.push(':');
                        continue;
                    }
                    field = Some(std::mem::take(&mut text));
                }
                Some(c) => {
                    chars.next();
                    text.push(c);
                }
            }
        }
        if text.is_empty() && field.is_none() {
            if negated {
                return Err(AppError::invalid_input("search", "`-` must be followed by a term"));
            }
            continue;
        }
        parts.push(Part { negated, field, text, quoted });
    }
    Ok(parts)
}

fn is_field_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '@' | '#'))
}

/// Parses the free-text search into terms.
pub fn parse_search(search: &str) -> Result<Vec<Term>, AppError> {
    if search.len() > MAX_SEARCH_LEN {
        return Err(AppError::invalid_input("search", format!("longer than {MAX_SEARCH_LEN} bytes")));
    }
    if search.chars().any(char::is_control) {
        return Err(AppError::invalid_input("search", "contains control characters"));
    }
    let mut terms = Vec::new();
    for Part { negated, field, text, quoted } in lex(search)? {
        let clause = match field {
            None => {
                let prefix = !quoted && text.ends_with('*');
                let stem = if prefix { text.trim_end_matches('*') } else { text.as_str() };
                let tokens = tokens(stem);
                if tokens.is_empty() {
                    return Err(AppError::invalid_input(
                        "search",
                        format!("`{text}` has no letters or digits to search for"),
                    ));
                }
                if prefix && tokens.last().is_some_and(|t| t.chars().count() < MIN_PREFIX) {
                    return Err(AppError::invalid_input(
                        "search",
                        format!("`{text}`: a prefix needs at least {MIN_PREFIX} letters or digits before `*`"),
                    ));
                }
                Clause::Text { text: stem.to_string(), tokens, prefix }
            }
            Some(name) => {
                if text.is_empty() {
                    return Err(AppError::invalid_input("search", format!("`{name}:` needs a value")));
                }
                match Field::from_name(&name) {
                    Some(Field::Severity) => {
                        let level = parse_severity("search", &text)?;
                        Clause::Field(Field::Severity, level.to_string())
                    }
                    Some(field) => Clause::Field(field, check_field("search", field, &text)?),
                    None => {
                        let tokens = tokens(&text);
                        Clause::Flattened { key: name, value: text, tokens }
                    }
                }
            }
        };
        terms.push(Term { negated, clause });
    }
    if terms.len() > MAX_TERMS {
        return Err(AppError::invalid_input("search", format!("at most {MAX_TERMS} terms")));
    }
    // Excluding field values alone is a filter (`-service:Exchange`); excluding words alone
    // would test every event against the index.
    if !terms.is_empty() && terms.iter().all(|t| t.negated && matches!(t.clause, Clause::Text { .. })) {
        return Err(AppError::invalid_input("search", "needs at least one term that is not a negated word"));
    }
    Ok(terms)
}

impl EventFilter {
    /// Validates every parameter; `now` anchors `last`.
    pub fn parse(&self, now: DateTime<Utc>) -> Result<EventQuery, AppError> {
        let mut terms = Vec::new();
        let mut add = |field: Field, parameter: &str, raw: &Option<String>| -> Result<(), AppError> {
            if let Some(v) = value(parameter, raw)? {
                terms.push(Term { negated: false, clause: Clause::Field(field, check_field(parameter, field, &v)?) });
            }
            Ok(())
        };
        add(Field::Tenant, "tenant", &self.tenant)?;
        add(Field::Source, "source", &self.source)?;
        add(Field::Service, "service", &self.service)?;
        add(Field::Operation, "operation", &self.operation)?;
        add(Field::Actor, "actor", &self.actor)?;
        add(Field::Target, "target", &self.target)?;
        add(Field::Result, "result", &self.result)?;
        add(Field::Severity, "severity", &self.severity)?;
        add(Field::Tag, "tag", &self.tag)?;
        if let Some(v) = value("min_severity", &self.min_severity)? {
            terms.push(Term { negated: false, clause: Clause::MinSeverity(parse_severity("min_severity", &v)?) });
        }
        let mut start = value("start", &self.start)?.map(|v| parse_time("start", &v)).transpose()?;
        let end = value("end", &self.end)?.map(|v| parse_time("end", &v)).transpose()?;
        if let Some(last) = value("last", &self.last)? {
            if start.is_some() {
                return Err(AppError::invalid_input("last", "give either `last` or `start`, not both"));
            }
            start = Some(now - parse_last(&last)?);
        }
        if let (Some(s), Some(e)) = (start, end) {
            if s >= e {
                return Err(AppError::invalid_input("end", "must be after `start`"));
            }
        }
        if let Some(search) = self.search.as_deref() {
            terms.extend(parse_search(search)?);
        }
        Ok(EventQuery { terms, start, end })
    }

    /// Validates every parameter, `last` counting back from now (on the server).
    #[cfg(feature = "ssr")]
    pub fn validate(&self) -> Result<EventQuery, AppError> {
        self.parse(Utc::now())
    }

    /// True when no filter is set.
    pub fn is_empty(&self) -> bool {
        self == &EventFilter::default()
    }
}

/// A validated page request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub cursor: Option<EventCursor>,
    pub page_size: u32,
}

impl PageRequest {
    /// Validates `cursor` and `page_size` (default 50, 1–500).
    pub fn parse(cursor: Option<&str>, page_size: Option<&str>) -> Result<Self, AppError> {
        let page_size = match page_size.map(str::trim).filter(|s| !s.is_empty()) {
            None => DEFAULT_PAGE_SIZE,
            Some(text) => {
                let n: i64 = text.parse().map_err(|_| AppError::invalid_input("page_size", "not a whole number"))?;
                if n < 1 {
                    return Err(AppError::invalid_input("page_size", "must be at least 1"));
                }
                if n > i64::from(MAX_PAGE_SIZE) {
                    return Err(AppError::invalid_input("page_size", format!("must be at most {MAX_PAGE_SIZE}")));
                }
                n as u32
            }
        };
        let cursor = cursor.map(str::trim).filter(|c| !c.is_empty()).map(EventCursor::decode).transpose()?;
        Ok(Self { cursor, page_size })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-29T12:00:00Z").unwrap().with_timezone(&Utc)
    }

    #[test]
    fn tokens_split_on_everything_but_letters_and_digits() {
        assert_eq!(tokens("Admin@Contoso.com 10.0.0.1"), ["admin", "contoso", "com", "10", "0", "0", "1"]);
        assert_eq!(tokens("Größe-ÄB"), ["größe", "äb"]);
        assert!(tokens("--- ...").is_empty());
    }

    #[test]
    fn compound_words_split_where_their_case_changes() {
        assert_eq!(tokens("New-InboxRule"), ["new", "inbox", "rule"]);
        assert_eq!(tokens("InboxRule"), tokens("inbox rule"));
        assert_eq!(tokens("ForwardingSmtpAddress"), ["forwarding", "smtp", "address"]);
        assert_eq!(tokens("SMTPAddress forwardTo"), ["smtp", "address", "forward", "to"]);
        assert_eq!(tokens("9F3A2B1C-ABCD Office365"), ["9f3a2b1c", "abcd", "office365"]);
        assert_eq!(compound_words("New-InboxRule ForwardTo x"), ["inboxrule", "forwardto"]);
    }

    #[test]
    fn trailing_stars_are_prefixes_except_in_quotes() {
        let terms = parse_search(r#"forward* "forward*" Inbox*"#).unwrap();
        assert_eq!(
            terms[0].clause,
            Clause::Text { text: "forward".into(), tokens: vec!["forward".into()], prefix: true }
        );
        assert!(matches!(&terms[1].clause, Clause::Text { prefix: false, .. }));
        assert!(matches!(&terms[2].clause, Clause::Text { tokens, prefix: true, .. } if tokens == &["inbox"]));
        assert!(parse_search("a*").unwrap_err().message.contains("prefix"));
        assert!(parse_search("*").is_err());
    }

    #[test]
    fn a_facet_is_counted_without_its_own_conditions() {
        let filter = EventFilter {
            service: Some("Exchange".into()),
            min_severity: Some("high".into()),
            search: Some("-service:SharePoint operation:X".into()),
            ..Default::default()
        };
        let q = filter.parse(now()).unwrap();
        let without = q.without_facet("service").unwrap();
        assert_eq!(without.terms.len(), q.terms.len() - 1);
        assert!(without.terms.iter().any(|t| t.negated), "exclusions stay");
        assert_eq!(q.without_facet("severity").unwrap().terms.len(), q.terms.len() - 1);
        assert_eq!(q.without_facet("operation").unwrap().terms.len(), q.terms.len() - 1);
        assert!(q.without_facet("actor").is_none());
    }

    #[test]
    fn date_time_pickers_are_read_as_utc() {
        assert_eq!(parse_time("start", "2026-11-20T08:30").unwrap().to_rfc3339(), "2026-11-20T08:30:00+00:00");
        assert_eq!(parse_time("start", "2026-11-20T08:30:15").unwrap().to_rfc3339(), "2026-11-20T08:30:15+00:00");
    }

    #[test]
    fn search_terms_phrases_fields_and_negation() {
        let terms =
            parse_search(r#"forward "Global Administrator" -service:Exchange Parameters.ForwardTo:x@evil.example"#)
                .unwrap();
        assert_eq!(terms.len(), 4);
        assert!(matches!(&terms[0].clause, Clause::Text { text, .. } if text == "forward"));
        assert!(matches!(&terms[1].clause, Clause::Text { tokens, .. } if tokens == &["global", "administrator"]));
        assert!(terms[2].negated);
        assert_eq!(terms[2].clause, Clause::Field(Field::Service, "Exchange".into()));
        assert!(
            matches!(&terms[3].clause, Clause::Flattened { key, value, .. } if key == "Parameters.ForwardTo" && value == "x@evil.example")
        );
        let quoted = parse_search(r#"operation:"Add member to role""#).unwrap();
        assert_eq!(quoted[0].clause, Clause::Field(Field::Operation, "Add member to role".into()));
    }

    #[test]
    fn urls_and_ipv6_are_text_not_fields() {
        let terms = parse_search("https://evil.example/x fe80::1").unwrap();
        assert!(matches!(&terms[0].clause, Clause::Text { text, .. } if text == "https://evil.example/x"));
        assert!(matches!(&terms[1].clause, Clause::Text { text, .. } if text == "fe80::1"));
    }

    #[test]
    fn bad_searches_name_the_parameter() {
        for bad in ["\"open", "-", "severity:extreme", "source:mail", "...", "-foo", "service:"] {
            let err = parse_search(bad).unwrap_err();
            assert!(err.message.contains("`search`"), "{bad}: {}", err.message);
        }
        assert!(parse_search(&"a ".repeat(21)).unwrap_err().message.contains("at most 20"));
        let only_exclusions = parse_search("-service:Exchange -operation:\"Set Mailbox\"").unwrap();
        assert!(only_exclusions.iter().all(|t| t.negated));
    }

    #[test]
    fn filters_validate_and_name_the_parameter() {
        let cases: [(EventFilter, &str); 8] = [
            (EventFilter { start: Some("yesterday".into()), ..Default::default() }, "`start`"),
            (EventFilter { end: Some("2026-13-01".into()), ..Default::default() }, "`end`"),
            (EventFilter { last: Some("7w".into()), ..Default::default() }, "`last`"),
            (EventFilter { last: Some("-1d".into()), ..Default::default() }, "`last`"),
            (EventFilter { result: Some("ok".into()), ..Default::default() }, "`result`"),
            (EventFilter { min_severity: Some("bad".into()), ..Default::default() }, "`min_severity`"),
            (EventFilter { source: Some("mail".into()), ..Default::default() }, "`source`"),
            (
                EventFilter { start: Some("2026-11-02".into()), end: Some("2026-11-01".into()), ..Default::default() },
                "`end`",
            ),
        ];
        for (filter, name) in cases {
            let err = filter.parse(now()).unwrap_err();
            assert!(err.message.contains(name), "{filter:?}: {}", err.message);
        }
        let long = EventFilter { actor: Some("x".repeat(600)), ..Default::default() };
        assert!(long.parse(now()).unwrap_err().message.contains("`actor`"));
    }

    #[test]
    fn relative_and_absolute_ranges() {
        let q = EventFilter { last: Some("24h".into()), ..Default::default() }.parse(now()).unwrap();
        assert_eq!(q.start, Some(now() - Duration::hours(24)));
        let q = EventFilter {
            start: Some("2026-11-20".into()),
            end: Some("2026-11-21T00:00:00+01:00".into()),
            ..Default::default()
        }
        .parse(now())
        .unwrap();
        assert_eq!(q.start.unwrap().to_rfc3339(), "2026-11-20T00:00:00+00:00");
        assert_eq!(q.end.unwrap().to_rfc3339(), "2026-11-20T23:00:00+00:00");
        let both = EventFilter { last: Some("1d".into()), start: Some("2026-11-20".into()), ..Default::default() };
        assert!(both.parse(now()).is_err());
    }

    #[test]
    fn page_requests_are_bounded() {
        assert_eq!(PageRequest::parse(None, None).unwrap().page_size, DEFAULT_PAGE_SIZE);
        for bad in ["0", "501", "-3", "ten", "1.5"] {
            assert!(PageRequest::parse(None, Some(bad)).unwrap_err().message.contains("`page_size`"), "{bad}");
        }
        assert!(PageRequest::parse(Some("nope"), None).unwrap_err().message.contains("`cursor`"));
    }
}
