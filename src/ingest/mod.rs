//! Collection from Microsoft: connectors (tenant + credentials + endpoints), the token provider,
//! the Management Activity API and Graph collectors, the per-tenant request budget, leases and
//! the coverage ledger, and the scheduler that runs them.
//!
//! Invariants (ARCHITECTURE §3): a watermark moves only after the records before it are
//! committed; every record is stored once per tenant; a blob or page that fails is retried and
//! then recorded as failed in the ledger, never silently skipped.

pub mod bench;
pub mod collector;
pub mod connector;
pub mod domains;
pub mod graph;
pub mod health;
pub mod http;
pub mod jsonstream;
pub mod ledger;
pub mod links;
pub mod scheduler;
pub mod token;
pub mod unified;
pub mod wire;

use serde::Serialize;

use crate::normalize;
use crate::store::writer::EventRow;

pub use collector::Collector;
pub use connector::{Connector, Credential};

/// Why a collection step failed, phrased so an operator knows what to fix.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    /// The token endpoint refused the credentials.
    #[error("sign-in to Microsoft failed ({}): {message}. Fix: {hint}", code.map(|c| format!("AADSTS{c}")).unwrap_or_else(|| "no code".into()))]
    Auth { code: Option<u32>, message: String, hint: String },
    /// The app lacks a permission.
    #[error("permission missing: {message}. Fix: {hint}")]
    Permission { message: String, hint: String },
    /// The tenant lacks the licence a source needs.
    #[error("not licensed: {0}")]
    Unlicensed(String),
    /// The API kept throttling after the retries.
    #[error("throttled by Microsoft: {0}")]
    Throttled(String),
    /// A transient failure that outlived the retries (5xx, timeouts, malformed bodies).
    #[error("{0}")]
    Transient(String),
    /// A failure retrying will not fix.
    #[error("{0}")]
    Fatal(String),
    /// The database failed.
    #[error("database error: {0}")]
    Db(String),
    /// Microsoft answered with a link AOC may not send the token to.
    #[error("{0}")]
    UntrustedLink(#[from] links::RefusedLink),
    /// Another process holds the lease.
    #[error("another AOC process is collecting this source")]
    Leased,
}

impl From<sea_orm::DbErr> for IngestError {
    fn from(e: sea_orm::DbErr) -> Self {
        IngestError::Db(e.to_string())
    }
}

impl IngestError {
    /// The source state this error puts the source in.
    pub fn state(&self) -> &'static str {
        match self {
            IngestError::Unlicensed(_) => "unlicensed",
            IngestError::Throttled(_) => "throttled",
            _ => "failing",
        }
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
    pub state: String,
    /// What went wrong, when something did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub seconds: f64,
    /// This caller joined a run of the source that was already going, and got its summary.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub joined: bool,
}

impl SourceSummary {
    pub fn new(tenant_id: &str, source: &str) -> Self {
        Self { tenant_id: tenant_id.into(), source: source.into(), state: "ok".into(), ..Default::default() }
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

/// Normalizes a batch of raw records into rows, on the blocking pool: normalization is CPU work,
/// and doing it on the collector's own task would put every blob of a source on one thread.
pub async fn rows_off_thread(
    tenant_id: &str,
    source: normalize::Source,
    content_type: Option<&str>,
    raws: Vec<String>,
    context: &normalize::Context,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<EventRow> {
    let (tenant, ct, context) = (tenant_id.to_string(), content_type.map(str::to_string), context.clone());
    let work = move || {
        raws.into_iter()
            .map(|raw| {
                let n = normalize::normalize(source, ct.as_deref(), &raw, &context);
                EventRow::new(&tenant, source, ct.as_deref(), raw, n, now)
            })
            .collect::<Vec<_>>()
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(rows) => rows,
        // The closure does not panic on any input (property-tested); if it ever did, the
        // panic is the bug to see.
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}
