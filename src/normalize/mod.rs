//! Normalization: a raw audit record (as received, untouched) → the fields AOC searches, shows,
//! and matches rules on. Pure code: no IO, no clock, no database. The raw record is always kept
//! beside the result by the store, so normalization can be re-run when it improves.
//!
//! One module per source / workload; `normalize` dispatches. A record that cannot be normalized
//! yields an error, and the caller stores it raw with the error flag, using
//! [`fallback_identity`] for its id and time.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

mod common;
mod flatten;
mod graph;
mod severity;
mod unified;

pub use flatten::flatten_record;

/// The four collection sources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Unified Audit Log (Management Activity API).
    Unified,
    /// Graph directoryAudits.
    Directory,
    /// Graph signIns.
    Signin,
    /// Graph deviceManagement/auditEvents.
    Intune,
}

impl Source {
    pub const ALL: [Source; 4] = [Source::Unified, Source::Directory, Source::Signin, Source::Intune];

    /// The key used in configuration, the database and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Unified => "unified",
            Source::Directory => "directory",
            Source::Signin => "signin",
            Source::Intune => "intune",
        }
    }

    /// Parses a key (`unified`, `directory`, `signin`, `intune`).
    pub fn parse(key: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|s| s.as_str() == key.trim())
    }
}

/// Something the record acted on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Human-readable name (UPN, display name, file name, policy name...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    /// Stable id (object id, GUID, URL...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// What kind of thing it is (User, Group, Role, File, Device, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// Normalized outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
    PartialSuccess,
    Unknown,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::PartialSuccess => "partial_success",
            Outcome::Unknown => "unknown",
        }
    }
}

/// Facts about the tenant that normalization may use (e.g. to tell internal from external
/// recipients). Never required: with an empty context the heuristics still work from the
/// record itself.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// Domains that belong to the tenant (lower case).
    pub tenant_domains: Vec<String>,
}

/// The normalized fields of one record.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Normalized {
    /// The source's own record id (UAL `Id`, Graph `id`).
    pub record_id: String,
    /// Unique per tenant: the record id, or a hash when the source has none.
    pub dedupe_key: String,
    /// Event time, UTC, truncated to microseconds.
    pub occurred_at: DateTime<Utc>,
    /// Workload / service (Exchange, SharePoint, OneDrive, AzureActiveDirectory, MicrosoftTeams,
    /// Core Directory, Sign-ins, Intune, ...).
    pub service: String,
    /// Operation / activity as logged, with a UAL directory operation's trailing "." removed.
    pub operation: String,
    pub result: Outcome,
    pub actor_display: Option<String>,
    pub actor_upn: Option<String>,
    pub actor_app_id: Option<String>,
    /// Client IP without port or brackets.
    pub actor_ip: Option<String>,
    pub targets: Vec<Target>,
    /// One-line human summary ("alex@contoso.com added Lee Gu to role Global Administrator").
    pub summary: String,
    /// 0 info, 1 low, 2 medium, 3 high, 4 critical.
    pub severity: i16,
    /// Why the severity is what it is (empty for info), e.g. "privileged role assigned".
    pub severity_reasons: Vec<String>,
    pub correlation_id: Option<String>,
    /// Flattened name/value lists and nested fields, `Parameters.ForwardTo` → value, so they can
    /// be searched and matched.
    pub flattened: BTreeMap<String, String>,
}

/// Why a record could not be normalized.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    #[error("the record is not valid JSON: {0}")]
    NotJson(String),
    #[error("the record is not a JSON object")]
    NotAnObject,
    #[error("the record has no {0}")]
    Missing(&'static str),
    #[error("the record's {field} is not a valid time: {value}")]
    BadTime { field: &'static str, value: String },
}

/// Normalizes one raw record of `source` (`content_type` is the Management API content type for
/// unified records).
pub fn normalize(
    source: Source,
    content_type: Option<&str>,
    raw: &str,
    context: &Context,
) -> Result<Normalized, NormalizeError> {
    let value: serde_json::Value = serde_json::from_str(raw).map_err(|e| NormalizeError::NotJson(e.to_string()))?;
    let object = value.as_object().ok_or(NormalizeError::NotAnObject)?;
    match source {
        Source::Unified => unified::normalize(object, content_type, context),
        Source::Directory => graph::normalize_directory(object, context),
        Source::Signin => graph::normalize_signin(object, context),
        Source::Intune => graph::normalize_intune(object, context),
    }
}

/// Identity of a record that failed to normalize, so it can still be stored exactly once:
/// its id (`Id`/`id` when present) and dedupe key (the id, or a hash of the raw text), and a time
/// (the record's own when it can be read, else `fallback_time`).
pub fn fallback_identity(raw: &str, fallback_time: DateTime<Utc>) -> (String, String, DateTime<Utc>) {
    let (id, key, time) = readable_identity(raw);
    (id, key, time.unwrap_or(fallback_time))
}

/// [`fallback_identity`] without the fallback: the time is `None` when the record has no
/// readable time.
pub fn readable_identity(raw: &str) -> (String, String, Option<DateTime<Utc>>) {
    let value: Option<serde_json::Value> = serde_json::from_str(raw).ok();
    let id = value
        .as_ref()
        .and_then(|v| v.get("Id").or_else(|| v.get("id")))
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let time = value
        .as_ref()
        .and_then(|v| {
            ["CreationTime", "activityDateTime", "createdDateTime"]
                .iter()
                .find_map(|f| v.get(*f)?.as_str().map(str::to_string))
        })
        .and_then(|t| parse_time(&t));
    match id {
        Some(id) => (id.clone(), id, time),
        None => {
            let hash = format!("sha256:{}", hex_sha256(raw.as_bytes()));
            (hash.clone(), hash, time)
        }
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses the time formats the sources use: UAL `YYYY-MM-DDTHH:MM:SS` (UTC, no zone), Graph
/// RFC 3339 with up to 7 fractional digits. Truncates to microseconds.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    let parsed = DateTime::parse_from_rfc3339(t).map(|d| d.with_timezone(&Utc)).ok().or_else(|| {
        chrono::NaiveDateTime::parse_from_str(t.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S%.f").ok().map(|n| n.and_utc())
    })?;
    use chrono::DurationRound;
    parsed.duration_trunc(chrono::Duration::microseconds(1)).ok()
}

#[cfg(test)]
mod tests;
