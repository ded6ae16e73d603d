//! Data shapes that travel between the server and the browser. They carry no behaviour beyond
//! parsing and validating what a client sent.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::error::AppError;

/// Default number of events on a page.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: u32 = 500;

/// How bad an event is, from AOC's built-in heuristics or a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// The severity stored as `level` (0 = info ... 4 = critical); out-of-range values clamp.
    pub fn from_level(level: i16) -> Self {
        match level {
            i16::MIN..=0 => Severity::Info,
            1 => Severity::Low,
            2 => Severity::Medium,
            3 => Severity::High,
            _ => Severity::Critical,
        }
    }

    /// The number stored in the database.
    pub fn level(self) -> i16 {
        self as i16
    }

    /// Lower-case name for display and CSS classes.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// One event as the list shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventSummary {
    /// AOC's row id.
    pub id: i64,
    /// The source's own record id.
    pub record_id: String,
    pub tenant_id: String,
    /// `unified`, `directory`, `signin` or `intune`.
    pub source: String,
    pub occurred_at: DateTime<Utc>,
    pub service: String,
    pub operation: String,
    pub result: String,
    pub actor: Option<String>,
    /// The application's name when the actor is an application id with a known name
    /// (Microsoft's, or the tenant's own read from Graph).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    pub actor_ip: Option<String>,
    pub targets: Option<String>,
    pub summary: String,
    pub severity: Severity,
    /// Set when the raw record could not be normalized; the raw record is kept.
    pub normalize_error: bool,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The watchlists its actor, app or address is on (event lists mark them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watchlists: Vec<String>,
    /// Flattened fields of the raw record the Events table's chosen columns name (only there).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub fields: std::collections::BTreeMap<String, String>,
}

/// A page of events, newest first, with the cursor of the next (older) page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventPage {
    pub items: Vec<EventSummary>,
    /// Present when older events exist.
    pub next_cursor: Option<String>,
}

/// A position in the newest-first event order: strictly older than (`occurred_at`, `id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventCursor {
    pub occurred_at: DateTime<Utc>,
    pub id: i64,
}

impl EventCursor {
    /// The opaque text form given to clients.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.occurred_at.timestamp_micros(), self.id)
    }

    /// Parses the text form, naming the `cursor` parameter on failure.
    pub fn decode(text: &str) -> Result<Self, AppError> {
        let bad = || AppError::invalid_input("cursor", "not a cursor returned by this server");
        let (micros, id) = text.split_once('.').ok_or_else(bad)?;
        let micros: i64 = micros.parse().map_err(|_| bad())?;
        let id: i64 = id.parse().map_err(|_| bad())?;
        let occurred_at = DateTime::<Utc>::from_timestamp_micros(micros).ok_or_else(bad)?;
        Ok(Self { occurred_at, id })
    }
}

/// Longest tag, in characters.
pub const MAX_TAG_LEN: usize = 64;
/// Longest comment, in characters.
pub const MAX_COMMENT_LEN: usize = 10_000;
/// Most tags on one event.
pub const MAX_TAGS_PER_EVENT: usize = 50;

/// A tag as stored: trimmed, lower-case, 1–64 characters, no control characters. Suggested
/// tags are `investigating`, `false_positive`, `true_positive`, `escalated`, `resolved`; any
/// other text is allowed.
pub fn normalize_tag(text: &str) -> Result<String, String> {
    let tag = text.trim().to_lowercase();
    if tag.is_empty() {
        return Err("a tag cannot be empty".into());
    }
    if tag.chars().count() > MAX_TAG_LEN {
        return Err(format!("a tag has at most {MAX_TAG_LEN} characters"));
    }
    if tag.chars().any(char::is_control) {
        return Err("a tag cannot contain control characters".into());
    }
    Ok(tag)
}

/// Tags offered in the UI.
pub const SUGGESTED_TAGS: &[&str] = &["investigating", "false_positive", "true_positive", "escalated", "resolved"];

/// A comment on an event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Comment {
    pub id: i64,
    pub author: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// A tag on an event, with who set it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TagInfo {
    pub tag: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// Everything about one event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventDetail {
    pub event: EventSummary,
    pub content_type: Option<String>,
    pub dedupe_key: String,
    pub ingested_at: DateTime<Utc>,
    pub correlation_id: Option<String>,
    pub actor_upn: Option<String>,
    pub actor_app_id: Option<String>,
    /// The name of `actor_app_id`, when known (Microsoft's, or the tenant's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_app_name: Option<String>,
    /// Why normalization failed, when it did.
    pub normalize_error_message: Option<String>,
    /// Flattened name/value fields, sorted by name.
    pub flattened: Vec<(String, String)>,
    /// The raw record exactly as received (pretty-printed when it is JSON).
    pub raw: String,
    pub tags: Vec<TagInfo>,
    pub comments: Vec<Comment>,
    /// Same correlation id, or same actor within an hour; newest first.
    pub related: Vec<EventSummary>,
    /// Who tagged or commented on the event and when (AOC's audit trail), newest first.
    #[serde(default)]
    pub history: Vec<AuditEntry>,
    /// The alerts the event is part of, newest first.
    #[serde(default)]
    pub alerts: Vec<EventAlert>,
}

/// An alert an event is part of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EventAlert {
    pub id: i64,
    pub title: String,
    /// The rule's name.
    pub rule: String,
    /// info, low, medium, high or critical.
    pub severity: String,
    /// new, acknowledged, in_progress, resolved, false_positive or benign.
    pub status: String,
    pub hunting: bool,
    pub last_seen: DateTime<Utc>,
}

/// One value of a facet and how many events under the current filter have it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FacetValue {
    pub value: String,
    pub count: u64,
    /// What to show for the value when it is an application id with a known name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// Distinct values with counts under the current filter (most frequent first, at most 50 each).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Facets {
    /// Events matching the filter (exact).
    pub total: u64,
    /// Set when more events match than are counted: the values are counted over this many of
    /// the newest matching events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<u64>,
    pub service: Vec<FacetValue>,
    pub operation: Vec<FacetValue>,
    pub result: Vec<FacetValue>,
    pub actor: Vec<FacetValue>,
    pub severity: Vec<FacetValue>,
}

/// Event counts per time bucket under the current filter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Histogram {
    pub bucket_seconds: i64,
    /// Every bucket from the first to the last, empty ones included.
    pub buckets: Vec<HistogramBucket>,
}

/// One bucket of a [`Histogram`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HistogramBucket {
    pub start: DateTime<Utc>,
    pub count: u64,
}

/// One entry of AOC's own audit trail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<String>,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub details: serde_json::Value,
}

/// A page of audit-trail entries, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    /// Pass as `before` for the next page.
    pub next_before: Option<i64>,
}

/// One window of the coverage ledger.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CoverageWindow {
    pub id: i64,
    pub tenant: String,
    pub source: String,
    pub content_type: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// `planned`, `done`, `failed` or `parked`.
    pub state: String,
    pub record_count: i64,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// A page of coverage windows, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CoveragePage {
    pub items: Vec<CoverageWindow>,
    /// Pass as `before` for the next page.
    pub next_before: Option<i64>,
}

/// What the Settings page shows about the running server and the caller.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerInfo {
    pub version: String,
    pub caller: Caller,
    /// `sqlite` or `postgres`.
    pub database_backend: String,
    pub auth_enabled: bool,
    pub periodic_fetch_enabled: bool,
    pub fetch_interval_minutes: u32,
    pub retention_days: Option<u32>,
    pub alerts_enabled: bool,
    pub siem_enabled: bool,
    /// The data comes from AOC's built-in simulator (demo mode).
    pub demo: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_its_text_form() {
        let cursor =
            EventCursor { occurred_at: DateTime::from_timestamp_micros(1_763_850_000_123_456).unwrap(), id: 42 };
        assert_eq!(EventCursor::decode(&cursor.encode()).unwrap(), cursor);
    }

    #[test]
    fn malformed_cursors_are_rejected_naming_the_parameter() {
        for bad in ["x", "1.", ".1", "abc.def", "99999999999999999999.1"] {
            let err = EventCursor::decode(bad).unwrap_err();
            assert!(err.message.contains("`cursor`"), "{bad}: {}", err.message);
        }
    }

    #[test]
    fn severity_levels_round_trip_and_clamp() {
        for s in [Severity::Info, Severity::Low, Severity::Medium, Severity::High, Severity::Critical] {
            assert_eq!(Severity::from_level(s.level()), s);
        }
        assert_eq!(Severity::from_level(-3), Severity::Info);
        assert_eq!(Severity::from_level(99), Severity::Critical);
    }
}

/// Whether a personal API token can still be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ApiTokenStatus {
    Active,
    Expired,
    Revoked,
}

impl ApiTokenStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiTokenStatus::Active => "active",
            ApiTokenStatus::Expired => "expired",
            ApiTokenStatus::Revoked => "revoked",
        }
    }
}

/// A personal API token as lists show it (never the token itself).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiTokenInfo {
    pub id: i64,
    pub name: String,
    /// The token's first characters (`aoc_pat_` and four more).
    pub prefix: String,
    pub owner_subject: String,
    pub owner_name: String,
    pub role: crate::auth::Role,
    pub status: ApiTokenStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
}

/// A token just created: the only time its secret is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewApiToken {
    #[serde(flatten)]
    pub info: ApiTokenInfo,
    /// The token to put in `Authorization: Bearer`; AOC keeps only its hash.
    pub token: String,
}

/// The API-tokens page: the caller's tokens (or everyone's, for admins), and a token created
/// by a form sent without JavaScript, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenPage {
    pub items: Vec<ApiTokenInfo>,
    /// Whether AOC accepts personal API tokens (sign-in is enabled).
    pub accepted: bool,
    /// The highest role the caller may give a token.
    pub max_role: crate::auth::Role,
    pub fresh: Option<NewApiToken>,
}

/// A person who signed in lately, for administrators ending sessions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SignedInPerson {
    /// The stable subject (Entra object id).
    pub subject: String,
    pub name: String,
    pub last_sign_in: DateTime<Utc>,
    /// Whether their latest session may still be live (not signed out, not ended, not past the
    /// absolute lifetime).
    pub active: bool,
    /// When an administrator last ended their sessions.
    pub ended_at: Option<DateTime<Utc>>,
}

/// What ending someone's sessions did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EndedSessions {
    pub subject: String,
    pub ended_at: DateTime<Utc>,
    /// Personal API tokens revoked with the sessions.
    pub tokens_revoked: u32,
}

/// Collection health of one tenant's source, as the Sources page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceHealthRow {
    pub tenant_id: String,
    pub source: String,
    /// ok, lagging, throttled, failing, unlicensed, disabled, skipped.
    pub state: String,
    /// Why the state is not ok (with what to do).
    pub reason: Option<String>,
    pub lag_seconds: Option<i64>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub consecutive_failures: i32,
    pub records_last_hour: u64,
}

/// A tenant AOC collects from, without any credential.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TenantRow {
    pub tenant_id: String,
    pub display_name: String,
    pub client_id: String,
    pub cloud: String,
    pub sources: Vec<String>,
    pub enabled: bool,
    /// `secret` or `certificate`.
    pub credential_kind: String,
    /// active, disabled, overridden, unusable or pending.
    pub status: String,
    pub status_reason: Option<String>,
}

/// Everything the Sources page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourcesOverview {
    pub health: Vec<SourceHealthRow>,
    /// Coverage-ledger windows that end after `coverage_since`, newest first.
    pub coverage: Vec<CoverageWindow>,
    pub coverage_since: DateTime<Utc>,
    /// The tenants stored in the database (only for callers who may manage them).
    pub tenants: Option<Vec<TenantRow>>,
    /// The caller may start a collection.
    pub can_collect: bool,
    /// What this server's collection runs are doing, or how the last one of each source
    /// ended, newest first.
    #[serde(default)]
    pub runs: Vec<CollectionRun>,
}

/// One collection run of one tenant's source, going on or ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CollectionRun {
    pub tenant_id: String,
    pub source: String,
    pub started_at: DateTime<Utc>,
    /// The look-back asked for, in hours; none: from the watermarks.
    pub hours: Option<u32>,
    /// Windows to collect (hours of each content type; one per Graph run) and collected so far.
    pub windows_planned: u64,
    pub windows_done: u64,
    /// Records received from Microsoft, and stored for the first time.
    pub fetched: u64,
    pub inserted: u64,
    /// Times Microsoft throttled the tenant's calls during the run.
    pub throttled: u64,
    /// When it ended; none while it runs.
    pub finished_at: Option<DateTime<Utc>>,
    /// How it ended: `ok`, `failing`, `throttled`, …
    pub outcome: Option<String>,
    pub error: Option<String>,
}

/// What Collect now collects: every enabled source from its watermark, or with a look-back, or
/// one tenant's source again from a given time (a failed window's retry).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectRequest {
    /// Look-back in hours, 1–720 (the Management Activity API keeps 7 days, Graph 30); blank:
    /// from the watermarks.
    #[serde(default)]
    pub hours: Option<String>,
    /// Collect again from this time (RFC 3339), instead of `hours`.
    #[serde(default)]
    pub from: Option<String>,
    /// Only this tenant (with `source`: only this source).
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
}

/// Longest on-demand look-back, in hours (Graph keeps sign-ins and audits 30 days).
///
/// ```
/// # use app::dto::CollectRequest;
/// let now = chrono::DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z").unwrap().to_utc();
/// let back = |hours: &str, from: &str| {
///     let some = |v: &str| (!v.is_empty()).then(|| v.to_string());
///     CollectRequest { hours: some(hours), from: some(from), ..Default::default() }.look_back(now)
/// };
/// assert_eq!(back("", ""), Ok(None));
/// assert_eq!(back("24", ""), Ok(Some(24)));
/// assert_eq!(back("", "2026-12-07T09:00:00Z"), Ok(Some(3)));
/// assert_eq!(back("", "2026-12-07T08:59:59Z"), Ok(Some(4)), "rounded up: the window is inside");
/// assert!(back("0", "").is_err() && back("721", "").is_err() && back("", "2026-11-01T00:00:00Z").is_err());
/// ```
pub const MAX_LOOKBACK_HOURS: u32 = 720;

impl CollectRequest {
    /// The look-back in hours (`None`: from the watermarks), given the time now; a clear error
    /// naming the field otherwise.
    pub fn look_back(&self, now: DateTime<Utc>) -> Result<Option<u32>, crate::error::AppError> {
        let blank = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
        let range = format!("a whole number of hours from 1 to {MAX_LOOKBACK_HOURS}");
        match (blank(&self.hours), blank(&self.from)) {
            (Some(_), Some(_)) => {
                Err(crate::error::AppError::invalid_input("hours", "give `hours` or `from`, not both"))
            }
            (Some(h), None) => match h.parse::<u32>() {
                Ok(n) if (1..=MAX_LOOKBACK_HOURS).contains(&n) => Ok(Some(n)),
                _ => Err(crate::error::AppError::invalid_input("hours", range)),
            },
            (None, Some(f)) => {
                let from = DateTime::parse_from_rfc3339(&f)
                    .map_err(|_| crate::error::AppError::invalid_input("from", "a time such as 2026-12-07T10:00:00Z"))?
                    .with_timezone(&Utc);
                let millis = (now - from).num_milliseconds();
                if millis <= 0 {
                    return Err(crate::error::AppError::invalid_input("from", "a time in the past"));
                }
                // Whole hours, rounded up, so the window that starts at `from` is inside.
                let hours = (millis + 3_599_999) / 3_600_000;
                match u32::try_from(hours) {
                    Ok(n) if n <= MAX_LOOKBACK_HOURS => Ok(Some(n)),
                    _ => Err(crate::error::AppError::invalid_input(
                        "from",
                        format!("at most {MAX_LOOKBACK_HOURS} hours ago (Microsoft keeps nothing older)"),
                    )),
                }
            }
            (None, None) => Ok(None),
        }
    }
}

/// A tenant to add, as typed in the Sources page's form (validated by the server like
/// `POST /api/tenants`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTenantForm {
    pub tenant_id: String,
    pub display_name: String,
    pub client_id: String,
    /// Empty when the tenant signs in with a certificate.
    #[serde(default)]
    pub client_secret: String,
    /// A certificate (PEM) and its private key (PEM), instead of a secret.
    #[serde(default)]
    pub certificate_pem: Option<String>,
    #[serde(default)]
    pub private_key_pem: Option<String>,
    /// worldwide (default), gcc, gcchigh, dod or china.
    pub cloud: Option<String>,
    /// Comma-separated source keys; empty means all four.
    pub sources: Option<String>,
}

/// An export destination as the Destinations page shows it: never its credential.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DestinationRow {
    pub id: i64,
    pub name: String,
    /// webhook, splunk_hec, elasticsearch, syslog, sentinel, teams or slack.
    pub kind: String,
    /// Where it delivers (for Teams and Slack only the scheme and host: their URL is the secret).
    pub endpoint: String,
    /// A credential is stored (write-only).
    pub has_secret: bool,
    /// all, filter, min_severity or alerts.
    pub receives: String,
    /// info … critical.
    pub min_severity: String,
    /// The event filter's fields (name, value).
    pub filter: Vec<(String, String)>,
    /// For alerts: only these rules (empty: every rule).
    pub rules: Vec<String>,
    /// Kind-specific settings other than `rules` (name, value); never secret.
    pub options: Vec<(String, String)>,
    pub format: String,
    pub batch_size: i32,
    pub enabled: bool,
    /// `api`, or `environment` (SIEM_WEBHOOK_URL: changed there, not here).
    pub origin: String,
    /// Items waiting to be delivered.
    pub pending: i64,
    /// Items the far end refused for good (or whose record is gone), waiting for a retry.
    pub parked: i64,
    /// Seconds the oldest pending item has waited.
    pub oldest_age_seconds: Option<i64>,
    /// Items delivered per minute over the last five minutes (none until measured).
    pub rate_per_minute: Option<f64>,
    pub delivered_total: i64,
    pub last_delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// The last Send test made from this server.
    pub last_test: Option<DestinationTestResult>,
    /// The oldest parked items (at most 20).
    pub parked_items: Vec<ParkedItemRow>,
}

/// A parked outbox item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParkedItemRow {
    pub id: i64,
    /// "event 123" or "alert 7".
    pub item: String,
    /// The far end's answer, or why AOC parked it.
    pub reason: Option<String>,
    pub attempts: i32,
    pub queued_at: DateTime<Utc>,
}

/// The far end's answer to a Send test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DestinationTestResult {
    pub destination_id: i64,
    pub delivered: bool,
    /// HTTP status (none: no answer, or a TCP destination).
    pub status: Option<u16>,
    /// The start of the far end's answer, or why there was none.
    pub answer: String,
    pub at: DateTime<Utc>,
}

/// Everything the Destinations page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DestinationsPage {
    pub destinations: Vec<DestinationRow>,
    /// AOC_ENCRYPTION_KEY is set, so credentials can be stored.
    pub can_store_secrets: bool,
}

/// A destination as typed in the Destinations page's forms. Empty fields are absent; the server
/// checks it like `POST /api/destinations` (creating) or `PUT` (changing).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationForm {
    pub kind: Option<String>,
    pub name: Option<String>,
    pub endpoint: Option<String>,
    /// Empty: keep the stored one.
    pub secret: Option<String>,
    /// Remove the stored credential.
    pub clear_secret: bool,
    pub receives: Option<String>,
    pub min_severity: Option<String>,
    /// Comma- or line-separated rule ids or names.
    pub rules: Option<String>,
    pub format: Option<String>,
    pub batch_size: Option<String>,
    pub enabled: bool,
    /// RFC 3339 or a `datetime-local` value (UTC): queue what was stored since (creating only).
    pub backfill_from: Option<String>,
    /// Event filter fields (name, value).
    pub filter: Vec<(String, String)>,
    /// Kind-specific settings (name, value); `ack` is "true" when checked.
    pub options: Vec<(String, String)>,
}
