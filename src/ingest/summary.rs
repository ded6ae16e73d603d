//! What a collection run reports: the state of a source and the per-source and per-request
//! summaries returned by `aoc fetch --json` and `/api/fetch-audit-logs`.

use serde::Serialize;

/// The state of a (tenant, source), stored and answered as its lower-case name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceState {
    /// Collected on schedule.
    #[default]
    Ok,
    /// Collecting, but behind the schedule.
    Lagging,
    /// Microsoft throttled the last run beyond its retries.
    Throttled,
    /// The last run failed (the reason says why and what to do).
    Failing,
    /// The tenant lacks the licence the source needs.
    Unlicensed,
    /// Not collected (not in SOURCES, or periodic collection is off).
    Disabled,
    /// The run was skipped: another AOC process holds the source's lease.
    Skipped,
}

impl SourceState {
    /// The stored and answered name.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceState::Ok => "ok",
            SourceState::Lagging => "lagging",
            SourceState::Throttled => "throttled",
            SourceState::Failing => "failing",
            SourceState::Unlicensed => "unlicensed",
            SourceState::Disabled => "disabled",
            SourceState::Skipped => "skipped",
        }
    }

    /// The state named `s` (as stored), if any.
    pub fn parse(s: &str) -> Option<SourceState> {
        [
            SourceState::Ok,
            SourceState::Lagging,
            SourceState::Throttled,
            SourceState::Failing,
            SourceState::Unlicensed,
            SourceState::Disabled,
            SourceState::Skipped,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
    }
}

impl std::fmt::Display for SourceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for SourceState {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for SourceState {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

/// What one collection of one (tenant, source) did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SourceSummary {
    pub tenant_id: String,
    pub source: String,
    /// Records received from Microsoft (duplicates included).
    pub fetched: u64,
    /// Records stored for the first time.
    pub inserted: u64,
    /// Records already stored (re-delivered by Microsoft or re-read by the overlap).
    pub duplicates: u64,
    /// Blobs, pages or windows that failed after retries.
    pub failed: u64,
    /// Records stored raw because they could not be normalized.
    pub normalize_errors: u64,
    /// Things worth knowing that did not fail the run (expired blobs, throttling, clamped windows).
    pub warnings: Vec<String>,
    /// ok, failing, throttled, unlicensed, disabled, skipped.
    pub state: SourceState,
    /// What went wrong and what to do, when something did (ends with the error id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The id under which the full error is in the server log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_id: Option<String>,
    pub seconds: f64,
    /// This caller joined a run of the source that was already going, and got its summary.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub joined: bool,
}

impl SourceSummary {
    pub fn new(tenant_id: &str, source: &str) -> Self {
        Self { tenant_id: tenant_id.into(), source: source.into(), ..Default::default() }
    }

    /// Adds a stored batch's counts.
    pub fn add(&mut self, fetched: u64, outcome: &crate::store::writer::BatchOutcome) {
        self.fetched += fetched;
        self.inserted += outcome.inserted.len() as u64;
        self.duplicates += outcome.duplicates;
        self.normalize_errors += outcome.normalize_errors;
    }
}

/// What an on-demand collection did, per source.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CollectSummary {
    pub hours: u32,
    pub started_at: String,
    pub finished_at: String,
    pub sources: Vec<SourceSummary>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_serialize_to_the_names_stored_before() {
        for name in ["ok", "lagging", "throttled", "failing", "unlicensed", "disabled", "skipped"] {
            let state = SourceState::parse(name).unwrap();
            assert_eq!(serde_json::to_value(state).unwrap(), name);
            assert_eq!(state, name);
        }
    }
}
