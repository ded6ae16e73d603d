//! Collection of the Graph audit sources: directoryAudits, signIns and Intune auditEvents. Each
//! run reads from the watermark minus an overlap (records show up in Graph minutes to hours after
//! they happen) up to now; the store drops what the overlap re-reads. The watermark moves to the
//! run's upper bound only after the last page is committed. The protocol is `graph_client`'s.

use chrono::{Duration, Utc};

use super::error::IngestError;
use super::graph_client::{resource, GraphClient};
use super::ledger;
use super::run::RunContext;
use super::summary::SourceSummary;
use crate::store::writer::Completion;

/// Collects one Graph source of one tenant. `run.hours`: an on-demand look-back (at most 720).
pub async fn collect(
    run: &RunContext<'_>,
    client: &GraphClient,
    summary: &mut SourceSummary,
) -> Result<(), IngestError> {
    let r = resource(run.source);
    let source = run.source.as_str();
    let now = Utc::now();
    let upper = now;
    let watermark = ledger::watermark(run.db, run.tenant(), source).await?;
    let oldest = now - r.retention;
    let lower = match run.hours {
        Some(h) => now - Duration::hours(i64::from(h.min(720))),
        None => watermark.map_or(now - Duration::days(7), |w| w - r.overlap),
    }
    .max(oldest);
    // The watermark may move only if this run starts at or before it (no gap), or on the first
    // scheduled run.
    let may_advance = match (watermark, run.hours) {
        (Some(w), _) => lower <= w,
        (None, None) => true,
        (None, Some(_)) => false,
    };
    run.progress.plan(1);
    let mut url = client.first_url(run.connector, &r, lower, upper)?;
    let mut total: i64 = 0;
    let mut pages = 0u32;
    loop {
        run.lease.keep().await?;
        pages += 1;
        let page = client.page(run.connector, &r, &url, pages).await?;
        let fetched = page.records.len() as u64;
        total += fetched as i64;
        let rows = run.rows(None, page.records, now).await;
        let mut completions = Vec::new();
        if page.next.is_none() {
            completions.push(Completion::Window {
                tenant_id: run.tenant().to_string(),
                source: source.into(),
                content_type: String::new(),
                start: lower,
                end: upper,
                records: total,
            });
            if may_advance {
                completions.push(Completion::Watermark {
                    tenant_id: run.tenant().to_string(),
                    source: source.into(),
                    position: upper,
                    cursor: None,
                });
            }
        }
        let outcome = run.store(rows, &completions).await?;
        summary.add(fetched, &outcome);
        match page.next {
            Some(n) => url = n,
            None => {
                run.progress.window_done();
                return Ok(());
            }
        }
    }
}
