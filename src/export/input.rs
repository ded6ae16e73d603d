//! Checking destination input from the API: every problem names its field; a secret is never
//! echoed.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde_json::{Map, Value};

use crate::tenants::input::InputError;

/// Kinds of destination AOC can deliver to.
pub const KINDS: &[&str] = &["webhook", "splunk_hec", "elasticsearch", "syslog", "sentinel", "teams", "slack", "email"];
/// Kinds that receive alert notices only.
pub const NOTICE_KINDS: &[&str] = &["teams", "slack", "email"];
/// Kinds whose incoming-webhook URL carries its token: the URL is the destination's secret and
/// the endpoint shown is its scheme and host.
pub const URL_SECRET_KINDS: &[&str] = &["teams", "slack"];
/// Most rules an alert destination may be limited to.
pub const MAX_RULES: usize = 200;
/// What a destination receives.
pub const RECEIVES: &[&str] = &["all", "filter", "min_severity", "alerts"];
/// Fields of a destination's event filter.
pub const FILTER_FIELDS: &[&str] = &["tenant", "source", "service", "operation", "result", "actor"];
/// Largest batch.
pub const MAX_BATCH: i64 = 5_000;
/// Most lanes delivered at once.
pub const MAX_CONCURRENCY: i64 = 5;

/// A structured event filter (all given fields must match exactly; `actor` is the UPN).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub tenant: Option<String>,
    pub source: Option<String>,
    pub service: Option<String>,
    pub operation: Option<String>,
    pub result: Option<String>,
    pub actor: Option<String>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }
}

/// A destination's settings as submitted. In a change, `None` leaves a field as it is.
#[derive(Default)]
pub struct DestinationInput {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub endpoint: Option<String>,
    /// `Some(None)`: remove the secret.
    pub secret: Option<Option<SecretString>>,
    pub receives: Option<String>,
    pub min_severity: Option<i16>,
    pub filter: Option<Filter>,
    pub format: Option<String>,
    pub batch_size: Option<i32>,
    pub concurrency: Option<i32>,
    pub enabled: Option<bool>,
    /// Queue the events stored since this time (creation only).
    pub backfill_from: Option<DateTime<Utc>>,
    /// Kind-specific settings (a JSON object), checked against the kind by [`check_options`].
    pub options: Option<Value>,
}

fn err(field: &str, problem: impl Into<String>) -> InputError {
    InputError { field: field.to_string(), problem: problem.into() }
}

fn text(map: &Map<String, Value>, field: &str, max: usize) -> Result<Option<String>, InputError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() {
                return Err(err(field, "must not be empty"));
            }
            if s.len() > max || s.chars().any(char::is_control) {
                return Err(err(field, format!("must be at most {max} bytes of text without control characters")));
            }
            Ok(Some(s.to_string()))
        }
        Some(_) => Err(err(field, "must be a string")),
    }
}

fn integer(map: &Map<String, Value>, field: &str, min: i64, max: i64) -> Result<Option<i64>, InputError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(err(field, format!("must be a whole number from {min} to {max}"))),
        },
    }
}

/// A severity name (or level 0–4).
pub fn parse_severity(field: &str, value: &Value) -> Result<i16, InputError> {
    let names = ["info", "low", "medium", "high", "critical"];
    match value {
        Value::String(s) => names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(s.trim()))
            .map(|p| p as i16)
            .ok_or_else(|| err(field, "must be one of info, low, medium, high, critical")),
        Value::Number(n) => match n.as_i64() {
            Some(level @ 0..=4) => Ok(level as i16),
            _ => Err(err(field, "must be one of info, low, medium, high, critical")),
        },
        _ => Err(err(field, "must be one of info, low, medium, high, critical")),
    }
}

/// An http(s) URL without credentials in it.
pub fn parse_endpoint(value: &str) -> Result<String, InputError> {
    let url = url::Url::parse(value).map_err(|_| err("endpoint", "must be an absolute http:// or https:// URL"))?;
    if !matches!(url.scheme(), "http" | "https" | "tcp" | "tls" | "smtp") || url.host_str().is_none() {
        return Err(err("endpoint", "must be an absolute http:// or https:// URL (syslog: tcp:// or tls://host:port)"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(err("endpoint", "must not carry a user or password; put the credential in `secret`"));
    }
    Ok(url.to_string())
}

/// Parses a JSON body; `creating` requires the fields a new destination needs.
pub fn parse_destination(body: &[u8], creating: bool) -> Result<DestinationInput, InputError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| err("body", "must be a JSON object"))?;
    let Value::Object(map) = value else { return Err(err("body", "must be a JSON object")) };
    const KNOWN: &[&str] = &[
        "name",
        "kind",
        "endpoint",
        "secret",
        "receives",
        "min_severity",
        "filter",
        "format",
        "batch_size",
        "concurrency",
        "enabled",
        "backfill_from",
        "options",
    ];
    if let Some(unknown) = map.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(err(unknown, format!("is not a destination field (known: {})", KNOWN.join(", "))));
    }
    let mut input = DestinationInput { name: text(&map, "name", 100)?, ..Default::default() };
    if let Some(kind) = text(&map, "kind", 40)? {
        if !KINDS.contains(&kind.as_str()) {
            return Err(err("kind", format!("must be one of: {}", KINDS.join(", "))));
        }
        input.kind = Some(kind);
    }
    if let Some(endpoint) = text(&map, "endpoint", 2_000)? {
        input.endpoint = Some(parse_endpoint(&endpoint)?);
    }
    match map.get("secret") {
        None => {}
        Some(Value::Null) => input.secret = Some(None),
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() || s.len() > 4_096 || s.chars().any(char::is_control) {
                return Err(err("secret", "must be 1 to 4,096 characters without control characters"));
            }
            if let Some(kind) = &input.kind {
                check_secret(kind, s)?;
            }
            input.secret = Some(Some(SecretString::from(s.to_string())));
        }
        Some(_) => return Err(err("secret", "must be a string or null")),
    }
    if let Some(receives) = text(&map, "receives", 40)? {
        if !RECEIVES.contains(&receives.as_str()) {
            return Err(err("receives", format!("must be one of: {}", RECEIVES.join(", "))));
        }
        input.receives = Some(receives);
    }
    if let Some(v) = map.get("min_severity").filter(|v| !v.is_null()) {
        input.min_severity = Some(parse_severity("min_severity", v)?);
    }
    match map.get("filter") {
        None | Some(Value::Null) => {}
        Some(Value::Object(f)) => {
            if let Some(unknown) = f.keys().find(|k| !FILTER_FIELDS.contains(&k.as_str())) {
                return Err(err(
                    &format!("filter.{unknown}"),
                    format!("is not a filter field ({})", FILTER_FIELDS.join(", ")),
                ));
            }
            let field = |name: &str| text(f, name, 512).map_err(|e| err(&format!("filter.{name}"), e.problem));
            let filter = Filter {
                tenant: field("tenant")?,
                source: field("source")?,
                service: field("service")?,
                operation: field("operation")?,
                result: field("result")?,
                actor: field("actor")?,
            };
            if let Some(source) = &filter.source {
                if crate::normalize::Source::parse(source).is_none() {
                    return Err(err("filter.source", "must be unified, directory, signin or intune"));
                }
            }
            input.filter = Some(filter);
        }
        Some(_) => return Err(err("filter", "must be an object")),
    }
    if let Some(format) = text(&map, "format", 20)? {
        if format != "json" && format != "cef" {
            return Err(err("format", "must be json (or cef for syslog)"));
        }
        input.format = Some(format);
    }
    input.batch_size = integer(&map, "batch_size", 1, MAX_BATCH)?.map(|n| n as i32);
    input.concurrency = integer(&map, "concurrency", 1, MAX_CONCURRENCY)?.map(|n| n as i32);
    match map.get("enabled") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => input.enabled = Some(*b),
        Some(_) => return Err(err("enabled", "must be true or false")),
    }
    match map.get("options") {
        None | Some(Value::Null) => {}
        Some(options @ Value::Object(_)) => {
            if let Some(kind) = &input.kind {
                check_options(kind, options)?;
            }
            input.options = Some(options.clone());
        }
        Some(_) => return Err(err("options", "must be an object")),
    }
    if let Some(from) = text(&map, "backfill_from", 40)? {
        input.backfill_from = Some(parse_time("backfill_from", &from)?);
    }
    if creating {
        let notice = input.kind.as_deref().is_some_and(|k| URL_SECRET_KINDS.contains(&k));
        for (field, given) in [
            ("name", input.name.is_some()),
            ("kind", input.kind.is_some()),
            ("endpoint", input.endpoint.is_some() || notice),
        ] {
            if !given {
                return Err(err(field, "is required"));
            }
        }
    }
    Ok(input)
}

/// Whether `secret` suits a destination of `kind` (the message never shows it).
pub fn check_secret(kind: &str, secret: &str) -> Result<(), InputError> {
    match kind {
        "webhook" if super::webhook::secret_key(secret).is_none() => {
            Err(err("secret", "must be whsec_ followed by base64 of 24 to 64 random bytes"))
        }
        "splunk_hec" if secret.chars().any(char::is_whitespace) => {
            Err(err("secret", "must be the HEC token (a GUID), without spaces"))
        }
        "teams" | "slack" => match url::Url::parse(secret) {
            Ok(url)
                if matches!(url.scheme(), "https" | "http")
                    && url.host_str().is_some()
                    && url.username().is_empty()
                    && url.password().is_none() =>
            {
                Ok(())
            }
            _ => Err(err("secret", "must be the channel's incoming-webhook URL (https://…)")),
        },
        _ => Ok(()),
    }
}

/// Whether `options` suit a destination of `kind`: `splunk_hec` takes `index`, `host` and
/// `ack` (indexer acknowledgement); `elasticsearch` takes `index`; every kind takes `rules` (the
/// rules whose alerts it receives, by id or name, when it receives alerts).
pub fn check_options(kind: &str, options: &Value) -> Result<(), InputError> {
    let Some(map) = options.as_object() else { return Err(err("options", "must be an object")) };
    let allowed: &[&str] = match kind {
        "splunk_hec" => &["index", "host", "ack"],
        "elasticsearch" => &["index"],
        "syslog" => &["host", "ca_file"],
        "email" => &["from", "to", "tls", "username", "ca_file"],
        "sentinel" => &["dcr_immutable_id", "stream", "tenant_id", "client_id", "authority"],
        _ => &[],
    };
    for (key, value) in map {
        if key == "rules" {
            let ok = value.as_array().is_some_and(|rules| {
                rules.len() <= MAX_RULES
                    && rules.iter().all(|r| {
                        r.as_str()
                            .is_some_and(|s| !s.trim().is_empty() && s.len() <= 200 && !s.chars().any(char::is_control))
                    })
            });
            if !ok {
                return Err(err("options.rules", format!("must be a list of at most {MAX_RULES} rule ids or names")));
            }
            continue;
        }
        if !allowed.contains(&key.as_str()) {
            let known = if allowed.is_empty() { "rules".to_string() } else { format!("{}, rules", allowed.join(", ")) };
            return Err(err(&format!("options.{key}"), format!("is not an option of {kind} (known: {known})")));
        }
        let ok = match key.as_str() {
            "ack" => value.is_boolean(),
            "tls" => matches!(value.as_str(), Some("starttls" | "tls" | "none")),
            "from" => value.as_str().is_some_and(|s| s.parse::<lettre::message::Mailbox>().is_ok()),
            "to" => value.as_str().is_some_and(|s| {
                s.len() <= 2_000 && s.parse::<lettre::message::Mailboxes>().is_ok_and(|m| m.iter().next().is_some())
            }),
            "authority" => {
                value.as_str().is_some_and(|s| s.starts_with("https://") || s.starts_with("http://127.0.0.1"))
            }
            "index" if kind == "elasticsearch" => value.as_str().is_some_and(|s| {
                !s.is_empty()
                    && s.len() <= 255
                    && !s.starts_with(['-', '_', '+'])
                    && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
            }),
            _ => value.as_str().is_some_and(|s| !s.is_empty() && s.len() <= 255 && !s.chars().any(char::is_control)),
        };
        if !ok {
            return Err(err(&format!("options.{key}"), "has a value that is not allowed here"));
        }
    }
    Ok(())
}

/// Whether `endpoint` and `format` suit a destination of `kind`.
pub fn check_endpoint(kind: &str, endpoint: &str, format: &str) -> Result<(), InputError> {
    let tcp = endpoint.starts_with("tcp://") || endpoint.starts_with("tls://");
    if URL_SECRET_KINDS.contains(&kind) {
        // The endpoint shown is derived from the secret URL.
        return Ok(());
    }
    if kind == "email" {
        return match super::email::server(endpoint) {
            Some(_) => Ok(()),
            None => Err(err("endpoint", "an e-mail destination's endpoint is smtp://host:port")),
        };
    } else if endpoint.starts_with("smtp://") {
        return Err(err("endpoint", "smtp:// is for e-mail destinations"));
    }
    if kind == "syslog" {
        if super::syslog::address(endpoint).is_none() {
            return Err(err("endpoint", "a syslog destination's endpoint is tcp://host:port or tls://host:port"));
        }
    } else if tcp {
        return Err(err("endpoint", "must be an http:// or https:// URL (tcp:// and tls:// are for syslog)"));
    }
    if format == "cef" && kind != "syslog" {
        return Err(err("format", "cef is a syslog format; this kind sends json"));
    }
    Ok(())
}

/// An RFC 3339 time.
pub fn parse_time(field: &str, value: &str) -> Result<DateTime<Utc>, InputError> {
    DateTime::parse_from_rfc3339(value.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| err(field, "must be an RFC 3339 time such as 2026-12-01T00:00:00Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_destination_needs_name_kind_and_endpoint() {
        let e = parse_destination(br#"{"name":"x","kind":"webhook"}"#, true).err().unwrap();
        assert_eq!(e.field, "endpoint");
        let e =
            parse_destination(br#"{"name":"x","kind":"carrier-pigeon","endpoint":"https://a"}"#, true).err().unwrap();
        assert_eq!(e.field, "kind");
        assert!(
            parse_destination(br#"{"name":"x","kind":"webhook","endpoint":"https://siem.example/h"}"#, true).is_ok()
        );
    }

    #[test]
    fn alert_kinds_take_their_url_as_secret_and_check_their_options() {
        let ok = parse_destination(
            br#"{"name":"t","kind":"teams","secret":"https://contoso.webhook.office.com/webhookb2/x"}"#,
            true,
        );
        assert!(ok.is_ok(), "Teams needs no endpoint");
        for (body, field) in [
            (r#"{"name":"t","kind":"teams","secret":"not a url"}"#, "secret"),
            (r#"{"name":"t","kind":"slack","secret":"https://u:p@hooks.slack.com/x"}"#, "secret"),
            (
                r#"{"name":"m","kind":"email","endpoint":"smtp://mail.example:587","options":{"from":"no address"}}"#,
                "options.from",
            ),
            (
                r#"{"name":"m","kind":"email","endpoint":"smtp://mail.example:587","options":{"tls":"maybe"}}"#,
                "options.tls",
            ),
            (r#"{"name":"w","kind":"webhook","endpoint":"https://x","options":{"rules":[1]}}"#, "options.rules"),
            (r#"{"name":"e","kind":"email","endpoint":"smtp://m","options":{"to":""}}"#, "options.to"),
        ] {
            let e = parse_destination(body.as_bytes(), true).err().unwrap_or_else(|| panic!("{body} accepted"));
            assert_eq!(e.field, field, "{body}");
            assert!(!e.problem.contains("u:p"), "{}", e.problem);
        }
        assert!(check_endpoint("email", "smtp://mail.example:587", "json").is_ok());
        assert!(check_endpoint("webhook", "smtp://mail.example:587", "json").is_err());
        assert!(check_endpoint("syslog", "tls://logs.example:6514", "cef").is_ok());
        assert!(check_options("email", &serde_json::json!({"from": "AOC <aoc@contoso.example>", "to": "a@b.example, c@d.example", "tls": "tls", "rules": ["r1"]})).is_ok());
    }

    #[test]
    fn bad_values_name_their_field_and_never_echo_a_secret() {
        for (body, field) in [
            (r#"{"endpoint":"ftp://x"}"#, "endpoint"),
            (r#"{"endpoint":"https://user:pw@x/"}"#, "endpoint"),
            (r#"{"kind":"webhook","secret":"hunter2-secret"}"#, "secret"),
            (r#"{"kind":"elasticsearch","options":{"index":"Bad Index"}}"#, "options.index"),
            (r#"{"kind":"webhook","options":{"index":"x"}}"#, "options.index"),
            (r#"{"min_severity":"extreme"}"#, "min_severity"),
            (r#"{"filter":{"colour":"red"}}"#, "filter.colour"),
            (r#"{"filter":{"source":"fax"}}"#, "filter.source"),
            (r#"{"batch_size":0}"#, "batch_size"),
            (r#"{"concurrency":9}"#, "concurrency"),
            (r#"{"backfill_from":"yesterday"}"#, "backfill_from"),
            (r#"{"surprise":1}"#, "surprise"),
        ] {
            let e = parse_destination(body.as_bytes(), false).err().unwrap_or_else(|| panic!("{body} accepted"));
            assert_eq!(e.field, field, "{body}");
            assert!(!e.problem.contains("hunter2"));
        }
    }
}
