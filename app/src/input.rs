//! Validated inputs: what a server function or a REST handler parses a client's text into before
//! it calls a service. Each check is written once, here; both adapters call these parsers, and
//! services take only the validated types. Every problem is an `invalid_input` error naming the
//! parameter. (The event filter and paging live in [`crate::query`].)

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::dto::{normalize_tag, MAX_COMMENT_LEN};
use crate::error::AppError;
use crate::query::{parse_last, parse_time, EventFilter, EventQuery, MAX_VALUE_LEN};

/// Which event a request names.
///
/// AOC's event id (the `id` of the pages, `aoc_id` of the REST documents) names an event in every
/// URL. For scripts written for the Python AOC, the REST API also accepts the source's record id
/// (UAL `Id`, Graph `id`) in its place; `tenant` picks one when several tenants hold that record
/// id. A path that is a number naming an existing event is that event; anything else is looked
/// up as a record id. The one resolver is `services::events::DbEventService::resolve`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventRef {
    /// AOC's event id, exactly (the pages' server functions).
    Aoc(i64),
    /// A REST path id: AOC's event id, or else a source record id.
    Path {
        /// The path as a positive number, when it is one.
        aoc_id: Option<i64>,
        /// The path as text (the record id to try).
        text: String,
        /// `?tenant=`: only this tenant's events.
        tenant: Option<String>,
    },
}

impl EventRef {
    /// Validates a REST path id and its optional `?tenant=`.
    pub fn parse(path: &str, tenant: Option<&str>) -> Result<Self, AppError> {
        let text = path.trim();
        if text.is_empty() || text.len() > MAX_VALUE_LEN {
            return Err(AppError::invalid_input("id", format!("must be 1–{MAX_VALUE_LEN} characters")));
        }
        if text.chars().any(char::is_control) {
            return Err(AppError::invalid_input("id", "contains control characters"));
        }
        let tenant = tenant.map(str::trim).filter(|t| !t.is_empty());
        if let Some(t) = tenant {
            if t.len() > MAX_VALUE_LEN || t.chars().any(char::is_control) {
                return Err(AppError::invalid_input("tenant", "not a tenant id"));
            }
        }
        let aoc_id = text.parse::<i64>().ok().filter(|n| *n > 0 && !text.starts_with('+'));
        Ok(EventRef::Path { aoc_id, text: text.to_string(), tenant: tenant.map(str::to_string) })
    }
}

/// A positive whole number naming a row (`comment_id`, `before`).
pub fn parse_id(parameter: &str, text: &str) -> Result<i64, AppError> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| AppError::invalid_input(parameter, "must be a positive whole number"))
}

fn optional_id(parameter: &str, text: Option<&str>) -> Result<Option<i64>, AppError> {
    non_empty(text).map(|t| parse_id(parameter, t)).transpose()
}

fn non_empty(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|s| !s.is_empty())
}

/// A page size from 1 to `max`, `default` when not given.
fn bounded(parameter: &str, text: Option<&str>, default: u32, max: u32) -> Result<u32, AppError> {
    match non_empty(text) {
        None => Ok(default),
        Some(t) => t
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| AppError::invalid_input(parameter, format!("must be a whole number from 1 to {max}"))),
    }
}

/// Validates a list of tags as sent by a client (each normalized, see [`normalize_tag`]).
pub fn parse_tags(parameter: &str, tags: &[String]) -> Result<Vec<String>, AppError> {
    tags.iter().map(|t| normalize_tag(t).map_err(|problem| AppError::invalid_input(parameter, problem))).collect()
}

/// A validated change of an event's tags: `replace` sets exactly that set; otherwise `add` and
/// `remove` change it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagChange {
    pub add: Vec<String>,
    pub remove: Vec<String>,
    pub replace: Option<Vec<String>>,
}

impl TagChange {
    /// Validates every tag; a change must say something.
    pub fn parse(replace: Option<&[String]>, add: &[String], remove: &[String]) -> Result<Self, AppError> {
        if replace.is_none() && add.is_empty() && remove.is_empty() {
            return Err(AppError::invalid_input("body", "give `tags` (the new set) or `add` / `remove`"));
        }
        Ok(Self {
            replace: replace.map(|t| parse_tags("tags", t)).transpose()?,
            add: parse_tags("add", add)?,
            remove: parse_tags("remove", remove)?,
        })
    }
}

/// A validated comment body: 1–10,000 characters after trimming, no NUL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommentText(String);

impl CommentText {
    /// Validates a body as sent by a client.
    pub fn parse(body: &str) -> Result<Self, AppError> {
        let body = body.trim();
        if body.is_empty() {
            return Err(AppError::invalid_input("body", "a comment cannot be empty"));
        }
        if body.chars().count() > MAX_COMMENT_LEN {
            return Err(AppError::invalid_input("body", format!("a comment has at most {MAX_COMMENT_LEN} characters")));
        }
        if body.contains('\0') {
            return Err(AppError::invalid_input("body", "a comment cannot contain NUL characters"));
        }
        Ok(Self(body.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Histogram buckets at most, unless a request says otherwise.
pub const DEFAULT_HISTOGRAM_BUCKETS: u32 = 100;
/// Most buckets a histogram answers.
const MAX_BUCKETS_SPANNED: i64 = 10_000;

/// A validated histogram request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistogramRequest {
    pub query: EventQuery,
    /// The bucket width; `None` chooses one for at most `max_buckets`.
    pub bucket_seconds: Option<i64>,
    pub max_buckets: u32,
}

impl HistogramRequest {
    /// The pages' histogram: the width chosen for at most 100 buckets.
    pub fn chosen(query: EventQuery) -> Self {
        Self { query, bucket_seconds: None, max_buckets: DEFAULT_HISTOGRAM_BUCKETS }
    }

    /// Validates `interval` (`15m`, `1h`, `1d`...) and `buckets` (1–1000) for `query`.
    pub fn parse(query: EventQuery, interval: Option<&str>, buckets: Option<&str>) -> Result<Self, AppError> {
        let width = non_empty(interval)
            .map(|i| {
                parse_last(i).map(|d| d.num_seconds()).map_err(|_| {
                    AppError::invalid_input("interval", "expected a number followed by m, h or d, e.g. 1h")
                })
            })
            .transpose()?;
        let max_buckets = match non_empty(buckets) {
            None => DEFAULT_HISTOGRAM_BUCKETS,
            Some(b) => b
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| AppError::invalid_input("buckets", "must be a whole number from 1 to 1000"))?,
        };
        if let (Some(w), Some(s), Some(e)) = (width, query.start, query.end) {
            if (e - s).num_seconds() / w > MAX_BUCKETS_SPANNED {
                return Err(AppError::invalid_input("interval", "too small for the time range (over 10,000 buckets)"));
            }
        }
        Ok(Self { query, bucket_seconds: width, max_buckets })
    }
}

/// How an export is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

impl ExportFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Jsonl => "jsonl",
        }
    }
}

/// A validated export request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportRequest {
    /// The filter as the client sent it (recorded in the audit trail).
    pub filter: EventFilter,
    pub query: EventQuery,
    pub format: ExportFormat,
    /// Most events exported.
    pub limit: u64,
}

impl ExportRequest {
    /// Validates the filter (at `now`), `format` (`csv` default, or `jsonl`) and `limit`.
    pub fn parse(
        filter: EventFilter,
        format: Option<&str>,
        limit: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Self, AppError> {
        let query = filter.parse(now)?;
        let format = match non_empty(format).map(str::to_ascii_lowercase).as_deref() {
            None | Some("csv") => ExportFormat::Csv,
            Some("jsonl") | Some("ndjson") | Some("json") => ExportFormat::Jsonl,
            Some(_) => return Err(AppError::invalid_input("format", "expected csv or jsonl")),
        };
        let limit = match non_empty(limit) {
            None => u64::MAX,
            Some(l) => l
                .parse::<u64>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| AppError::invalid_input("limit", "must be a positive whole number"))?,
        };
        Ok(Self { filter, query, format, limit })
    }
}

const WINDOW_STATES: [&str; 4] = ["planned", "done", "failed", "parked"];

/// A validated request for a page of the coverage ledger.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CoverageRequest {
    pub tenant: Option<String>,
    pub source: Option<String>,
    pub state: Option<String>,
    pub start: Option<DateTime<Utc>>,
    pub before: Option<i64>,
    pub page_size: u32,
}

impl CoverageRequest {
    /// Validates the query parameters of `GET /api/coverage`.
    pub fn parse(
        tenant: Option<&str>,
        source: Option<&str>,
        state: Option<&str>,
        start: Option<&str>,
        before: Option<&str>,
        page_size: Option<&str>,
    ) -> Result<Self, AppError> {
        let before = optional_id("before", before)?;
        let page_size = bounded("page_size", page_size, 200, 1000)?;
        let source = non_empty(source)
            .map(|s| {
                crate::query::SOURCES
                    .contains(&s)
                    .then(|| s.to_string())
                    .ok_or_else(|| AppError::invalid_input("source", "expected unified, directory, signin or intune"))
            })
            .transpose()?;
        let state = non_empty(state)
            .map(|s| {
                WINDOW_STATES
                    .contains(&s)
                    .then(|| s.to_string())
                    .ok_or_else(|| AppError::invalid_input("state", "expected planned, done, failed or parked"))
            })
            .transpose()?;
        let start = non_empty(start).map(|s| parse_time("start", s)).transpose()?;
        Ok(Self { tenant: non_empty(tenant).map(str::to_string), source, state, start, before, page_size })
    }
}

/// A validated request for a page of the audit trail.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditTrailRequest {
    pub before: Option<i64>,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub page_size: u32,
}

impl AuditTrailRequest {
    /// Validates the query parameters of `GET /api/audit-trail`.
    pub fn parse(
        before: Option<&str>,
        target_kind: Option<&str>,
        target_id: Option<&str>,
        page_size: Option<&str>,
    ) -> Result<Self, AppError> {
        let before = optional_id("before", before)?;
        let page_size = bounded("page_size", page_size, 100, 500)?;
        let target_kind = non_empty(target_kind).map(str::to_string);
        let target_id = non_empty(target_id).map(str::to_string);
        if target_kind.is_none() && target_id.is_some() {
            return Err(AppError::invalid_input("target_kind", "needed with `target_id`"));
        }
        Ok(Self { before, target_kind, target_id, page_size })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_ids_are_aoc_ids_when_numeric_and_record_ids_otherwise() {
        let numeric = EventRef::parse(" 42 ", Some("")).unwrap();
        assert_eq!(numeric, EventRef::Path { aoc_id: Some(42), text: "42".into(), tenant: None });
        let guid = EventRef::parse("5b6c0f5e-aaaa-bbbb-cccc-000000000001", Some("contoso")).unwrap();
        assert!(
            matches!(guid, EventRef::Path { aoc_id: None, ref tenant, .. } if tenant.as_deref() == Some("contoso"))
        );
        for odd in ["0", "-3", "+7"] {
            assert!(matches!(EventRef::parse(odd, None).unwrap(), EventRef::Path { aoc_id: None, .. }), "{odd}");
        }
        assert!(EventRef::parse("", None).unwrap_err().message.contains("`id`"));
        assert!(EventRef::parse(&"x".repeat(600), None).unwrap_err().message.contains("`id`"));
    }

    #[test]
    fn tag_changes_need_a_change_and_valid_tags() {
        assert!(TagChange::parse(None, &[], &[]).unwrap_err().message.contains("`body`"));
        let change = TagChange::parse(None, &[" Investigating ".into()], &[]).unwrap();
        assert_eq!(change.add, ["investigating"]);
        assert!(TagChange::parse(Some(&["\u{1}".into()]), &[], &[]).unwrap_err().message.contains("`tags`"));
    }

    #[test]
    fn comments_are_trimmed_and_bounded() {
        assert_eq!(CommentText::parse("  hi ").unwrap().as_str(), "hi");
        assert!(CommentText::parse("   ").is_err());
        assert!(CommentText::parse(&"x".repeat(MAX_COMMENT_LEN + 1)).is_err());
    }

    #[test]
    fn page_parameters_are_bounded() {
        assert_eq!(AuditTrailRequest::parse(None, None, None, None).unwrap().page_size, 100);
        assert!(AuditTrailRequest::parse(None, None, None, Some("501")).is_err());
        assert!(AuditTrailRequest::parse(None, None, Some("x"), None).unwrap_err().message.contains("target_kind"));
        assert_eq!(CoverageRequest::parse(None, None, None, None, None, None).unwrap().page_size, 200);
        assert!(CoverageRequest::parse(None, Some("mail"), None, None, None, None).is_err());
        assert!(CoverageRequest::parse(None, None, Some("lost"), None, None, None).is_err());
        assert!(CoverageRequest::parse(None, None, None, None, Some("0"), None)
            .unwrap_err()
            .message
            .contains("before"));
    }
}

/// Longest personal API token name.
pub const MAX_TOKEN_NAME_LEN: usize = 100;
/// Longest lifetime of a personal API token.
pub const MAX_TOKEN_DAYS: u32 = 366;

/// A validated request for a personal API token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    pub name: String,
    pub role: crate::auth::Role,
    pub expires_in_days: u32,
}

impl TokenRequest {
    /// Validates a request as sent by `caller`: a name, a role no higher than the caller's
    /// (default: the caller's), a lifetime of 1–366 days (default 90).
    pub fn parse(
        caller: &crate::auth::Caller,
        name: &str,
        role: Option<&str>,
        expires_in_days: Option<&str>,
    ) -> Result<Self, AppError> {
        use crate::auth::Role;
        let name = name.trim();
        if name.is_empty() {
            return Err(AppError::invalid_input("name", "give the token a name (what it is for)"));
        }
        if name.chars().count() > MAX_TOKEN_NAME_LEN {
            return Err(AppError::invalid_input("name", format!("a name has at most {MAX_TOKEN_NAME_LEN} characters")));
        }
        if name.chars().any(char::is_control) {
            return Err(AppError::invalid_input("name", "a name cannot contain control characters"));
        }
        let role = match role.map(str::trim).filter(|r| !r.is_empty()) {
            None => caller.role,
            Some(text) => match text.to_ascii_lowercase().as_str() {
                "reader" => Role::Reader,
                "analyst" => Role::Analyst,
                "admin" => Role::Admin,
                _ => return Err(AppError::invalid_input("role", "expected reader, analyst or admin")),
            },
        };
        if role > caller.role {
            return Err(AppError::invalid_input(
                "role",
                format!("a token's role cannot be higher than your own ({})", caller.role.as_str()),
            ));
        }
        let expires_in_days = match expires_in_days.map(str::trim).filter(|d| !d.is_empty()) {
            None => 90,
            Some(text) => match text.parse::<u32>() {
                Ok(days) if (1..=MAX_TOKEN_DAYS).contains(&days) => days,
                _ => {
                    return Err(AppError::invalid_input(
                        "expires_in_days",
                        format!("expected a whole number of days from 1 to {MAX_TOKEN_DAYS}"),
                    ))
                }
            },
        };
        Ok(Self { name: name.to_string(), role, expires_in_days })
    }
}

/// The facets whose values can be searched (severity has five values, all listed).
pub const SEARCHABLE_FACETS: [&str; 4] = ["service", "operation", "result", "actor"];

/// A validated search within one facet's values (the facet list's "more").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FacetSearch {
    /// One of [`SEARCHABLE_FACETS`].
    pub field: &'static str,
    /// Text the values contain (case-insensitive), 1–200 characters.
    pub contains: String,
}

impl FacetSearch {
    /// Validates `field` and `contains`.
    ///
    /// ```
    /// # use app::input::FacetSearch;
    /// assert_eq!(FacetSearch::parse("actor", " Adm ").unwrap().contains, "Adm");
    /// assert!(FacetSearch::parse("severity", "x").is_err());
    /// assert!(FacetSearch::parse("actor", "  ").is_err());
    /// ```
    pub fn parse(field: &str, contains: &str) -> Result<Self, AppError> {
        let field = SEARCHABLE_FACETS
            .into_iter()
            .find(|f| f.eq_ignore_ascii_case(field.trim()))
            .ok_or_else(|| AppError::invalid_input("field", "one of service, operation, result, actor"))?;
        let contains = contains.trim();
        if contains.is_empty() || contains.chars().count() > 200 {
            return Err(AppError::invalid_input("contains", "1 to 200 characters"));
        }
        Ok(Self { field, contains: contains.to_string() })
    }
}
