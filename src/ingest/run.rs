//! The context of one collection run of one (tenant, source): what the collectors of a source
//! (`unified`, `graph`) need besides their API client — the database and the store's
//! subscribers, the connector, the look-back, the lease and the normalization context — and the
//! steps they share: raw records to rows off the async threads, and one stored batch.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use super::connector::Connector;
use super::error::IngestError;
use super::ledger;
use crate::normalize::{self, Source};
use crate::store::writer::{store_batch, BatchOutcome, Completion, EventRow, Subscribers};

/// How often a lease is renewed while collecting.
const RENEW_EVERY: Duration = Duration::from_secs(60);

/// This process's hold on the database lease of a (tenant, source).
pub struct Lease {
    db: DatabaseConnection,
    tenant: String,
    source: String,
    holder: String,
    renewed: Mutex<Instant>,
}

impl Lease {
    /// Takes the lease for `holder`; `Ok(None)` when another process holds it.
    pub async fn acquire(
        db: &DatabaseConnection,
        tenant: &str,
        source: Source,
        holder: &str,
    ) -> Result<Option<Lease>, sea_orm::DbErr> {
        if !ledger::acquire_lease(db, tenant, source.as_str(), holder).await? {
            return Ok(None);
        }
        Ok(Some(Lease {
            db: db.clone(),
            tenant: tenant.into(),
            source: source.as_str().into(),
            holder: holder.into(),
            renewed: Mutex::new(Instant::now()),
        }))
    }

    /// Renews the lease when it is due; `Err(Leased)` when another process took it.
    pub async fn keep(&self) -> Result<(), IngestError> {
        let due = self.renewed.lock().unwrap_or_else(|p| p.into_inner()).elapsed() >= RENEW_EVERY;
        if due {
            if !ledger::renew_lease(&self.db, &self.tenant, &self.source, &self.holder).await? {
                return Err(IngestError::Leased);
            }
            *self.renewed.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        }
        Ok(())
    }

    /// Gives the lease back.
    pub async fn release(self) {
        let _ = ledger::release_lease(&self.db, &self.tenant, &self.source, &self.holder).await;
    }
}

/// One run of one (tenant, source).
pub struct RunContext<'a> {
    pub db: &'a DatabaseConnection,
    pub subscribers: &'a Subscribers,
    pub connector: &'a Connector,
    pub source: Source,
    /// An on-demand look-back in hours; `None`: from the watermarks.
    pub hours: Option<u32>,
    pub lease: &'a Lease,
    /// The tenant's domains, for normalization.
    pub normalize: normalize::Context,
    /// The run's live counters (the Sources page's progress display).
    pub progress: &'a super::progress::Progress,
}

impl RunContext<'_> {
    pub fn tenant(&self) -> &str {
        &self.connector.tenant_id
    }

    /// Normalizes raw records into rows on the blocking pool: normalization is CPU work, and
    /// doing it on the collector's own task would put every blob of a source on one thread.
    pub async fn rows(&self, content_type: Option<&str>, raws: Vec<String>, now: DateTime<Utc>) -> Vec<EventRow> {
        let (tenant, source) = (self.tenant().to_string(), self.source);
        let (ct, context) = (content_type.map(str::to_string), self.normalize.clone());
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

    /// Stores rows with what they complete, in one transaction.
    pub async fn store(&self, rows: Vec<EventRow>, completions: &[Completion]) -> Result<BatchOutcome, IngestError> {
        let fetched = rows.len() as u64;
        let outcome = store_batch(self.db, rows, completions, self.subscribers).await?;
        let inserted = outcome.inserted.len() as u64;
        self.progress.records(fetched, inserted);
        let labels = [("tenant", self.tenant().to_string()), ("source", self.source.as_str().to_string())];
        if inserted > 0 {
            metrics::counter!("aoc_ingest_records_total", &labels_with(&labels, "inserted")).increment(inserted);
        }
        if outcome.duplicates > 0 {
            metrics::counter!("aoc_ingest_records_total", &labels_with(&labels, "duplicate"))
                .increment(outcome.duplicates);
        }
        if outcome.normalize_errors > 0 {
            metrics::counter!("aoc_ingest_records_total", &labels_with(&labels, "normalize_error"))
                .increment(outcome.normalize_errors);
        }
        Ok(outcome)
    }
}

fn labels_with(labels: &[(&'static str, String); 2], outcome: &'static str) -> [(&'static str, String); 3] {
    [labels[0].clone(), labels[1].clone(), ("outcome", outcome.to_string())]
}
