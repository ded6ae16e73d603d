//! Collection of the Unified Audit Log: which contentCreated windows to list (one hour each,
//! within the last seven days, re-listing the last 24 hours because blobs appear late and out of
//! order), which blobs are already stored, fetching the rest with bounded concurrency as streams,
//! and the watermarks and coverage windows that record it. The protocol is `management`'s.

use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Duration, DurationRound, Utc};
use futures_util::{stream, StreamExt};

use super::error::IngestError;
use super::jsonstream::ArraySplitter;
use super::ledger;
use super::management::{short, Blob, ManagementClient};
use super::retry::{Attempts, Backoff};
use super::run::RunContext;
use super::summary::SourceSummary;
use super::wire::ContentDescriptor;
use crate::normalize;
use crate::store::writer::Completion;

/// Records per stored batch.
const BATCH: usize = 500;
/// Batches of one blob being stored at once (see `store_stream`).
const BATCHES_IN_FLIGHT: usize = 2;
/// Blobs fetched at once per tenant.
const BLOB_CONCURRENCY: usize = 4;
/// Recent windows re-listed on every scheduled run, for blobs that appear late.
const RECONCILE: Duration = Duration::hours(24);
/// The largest single record accepted (Microsoft's records are kilobytes).
const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;

/// What happened to one blob.
enum BlobResult {
    Stored,
    Skipped(String),
}

/// Fetches one blob as a stream and stores its records in batches; the blob is marked seen in
/// the transaction of its last batch.
async fn fetch_blob(
    run: &RunContext<'_>,
    client: &ManagementClient,
    blob: &ContentDescriptor,
    summary: &Mutex<SourceSummary>,
) -> Result<BlobResult, IngestError> {
    let created = normalize::parse_time(&blob.content_created).unwrap_or_else(Utc::now);
    let mut retries = Attempts::new(Backoff::BODY);
    loop {
        let response = match client.open_blob(run.connector, blob).await? {
            Blob::Body(r) => r,
            Blob::Gone(why) => return Ok(BlobResult::Skipped(why)),
        };
        match store_stream(run, blob, created, response, summary).await {
            Ok(_) => return Ok(BlobResult::Stored),
            // A body cut off or a batch that failed: the blob is fetched again (what was stored
            // of it is not stored twice).
            Err(e) if retries.wait(None).await => {
                tracing::debug!(blob = %short(&blob.content_id), error = %e, "fetching a blob again");
            }
            Err(e) => {
                return Err(IngestError::transient_with(
                    format!(
                        "blob {} could not be stored after {} attempts; it is fetched again on the next run",
                        short(&blob.content_id),
                        retries.used() + 1
                    ),
                    e,
                ))
            }
        }
    }
}

async fn store_stream(
    run: &RunContext<'_>,
    blob: &ContentDescriptor,
    created: DateTime<Utc>,
    response: reqwest::Response,
    summary: &Mutex<SourceSummary>,
) -> Result<u64, String> {
    let mut splitter = ArraySplitter::new(MAX_RECORD_BYTES);
    let mut pending: Vec<String> = Vec::new();
    let mut body = response.bytes_stream();
    let mut total = 0u64;
    // Up to BATCHES_IN_FLIGHT full batches are stored while the download goes on, so a large
    // blob's batches can share a transaction (SQLite's group commit) and normalization overlaps
    // the download. The blob is marked done with its last records only after every earlier
    // batch has committed: a crash in between re-collects it, never skips records.
    let mut in_flight = futures_util::stream::FuturesUnordered::new();
    let mut failure: Option<String> = None;
    let mut ended = false;
    while !ended && failure.is_none() {
        tokio::select! {
            Some(stored) = in_flight.next(), if !in_flight.is_empty() => {
                if let Err(e) = stored {
                    failure = Some(e);
                }
            }
            chunk = body.next(), if in_flight.len() < BATCHES_IN_FLIGHT => {
                let Some(chunk) = chunk else {
                    ended = true;
                    continue;
                };
                let pushed = chunk
                    .map_err(|e| format!("the blob download failed: {}", super::token::without_url(&e)))
                    .and_then(|chunk| splitter.push(&chunk, &mut pending).map_err(|e| e.to_string()));
                if let Err(e) = pushed {
                    failure = Some(e);
                    continue;
                }
                while pending.len() >= BATCH {
                    let batch: Vec<String> = pending.drain(..BATCH).collect();
                    total += batch.len() as u64;
                    in_flight.push(store_records(run, &blob.content_type, batch, &[], summary));
                }
            }
        }
    }
    // Every started batch runs to its end (a write is never abandoned half-way).
    while let Some(stored) = in_flight.next().await {
        if let Err(e) = stored {
            failure.get_or_insert(e);
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    splitter.finish().map_err(|e| e.to_string())?;
    total += pending.len() as u64;
    let done = Completion::Blob {
        tenant_id: run.tenant().to_string(),
        content_id: blob.content_id.clone(),
        content_type: blob.content_type.clone(),
        created,
        records: total as i64,
    };
    store_records(run, &blob.content_type, pending, &[done], summary).await?;
    Ok(total)
}

async fn store_records(
    run: &RunContext<'_>,
    content_type: &str,
    raws: Vec<String>,
    completions: &[Completion],
    summary: &Mutex<SourceSummary>,
) -> Result<(), String> {
    let now = Utc::now();
    let fetched = raws.len() as u64;
    let rows = run.rows(Some(content_type), raws, now).await;
    let outcome =
        run.store(rows, completions).await.map_err(|e| format!("storing records failed: {e}: {}", e.detail()))?;
    summary.lock().unwrap_or_else(|p| p.into_inner()).add(fetched, &outcome);
    Ok(())
}

/// Collects the Unified Audit Log of one tenant. `hours`: an on-demand look-back (at most seven
/// days); `None`: from the watermarks, re-listing the last 24 hours.
pub async fn collect(
    run: &RunContext<'_>,
    client: &ManagementClient,
    summary: &mut SourceSummary,
) -> Result<(), IngestError> {
    let hours = run.hours;
    let content_types = client.ensure_subscriptions(run.connector, &mut summary.warnings).await?;
    let now = Utc::now();
    let floor = now - Duration::days(7) + Duration::minutes(15);
    if hours.is_some_and(|h| h > 168) {
        summary
            .warnings
            .push("the Management Activity API only reaches 7 days back; older content cannot be collected".into());
    }
    let shared = Mutex::new(std::mem::take(summary));
    // Content types are independent (each has its own watermark), so they are collected at
    // once: listing one window, fetching blobs and storing overlap instead of waiting on each
    // other. The request budget is shared through the tenant's limiter.
    let results = futures_util::future::join_all(
        content_types.into_iter().map(|ct| collect_content_type(run, client, ct, now, floor, &shared)),
    )
    .await;
    *summary = shared.into_inner().unwrap_or_else(|p| p.into_inner());
    // A lost lease matters most (the caller stops); otherwise the first content type's failure.
    let mut errors: Vec<IngestError> = results.into_iter().filter_map(Result::err).collect();
    match errors.iter().position(|e| matches!(e, IngestError::Leased)) {
        Some(i) => Err(errors.swap_remove(i)),
        None if !errors.is_empty() => Err(errors.swap_remove(0)),
        None => Ok(()),
    }
}

/// Collects one content type's windows, oldest first, advancing its watermark over windows done
/// in order. Returns the first failure after trying every window.
async fn collect_content_type(
    run: &RunContext<'_>,
    client: &ManagementClient,
    ct: &'static str,
    now: DateTime<Utc>,
    floor: DateTime<Utc>,
    shared: &Mutex<SourceSummary>,
) -> Result<(), IngestError> {
    let key = format!("unified:{ct}");
    let watermark = ledger::watermark(run.db, run.tenant(), &key).await?;
    let wanted = match run.hours {
        Some(h) => now - Duration::hours(i64::from(h.min(168))),
        None => watermark.map_or(floor, |w| w.min(now - RECONCILE)),
    };
    if let Some(w) = watermark {
        if w < floor {
            shared.lock().unwrap_or_else(|p| p.into_inner()).warnings.push(format!(
                "{ct}: collection fell more than 7 days behind; content between {} and {} could no longer be retrieved",
                w.format("%Y-%m-%d %H:%M"),
                floor.format("%Y-%m-%d %H:%M")
            ));
        }
    }
    let mut start = wanted.max(floor);
    // Where the watermark stands: it only moves forward over windows done in order. A first
    // on-demand run sets none (older content is still missing); a watermark older than seven
    // days restarts at the floor (the gap was reported above).
    let mut position: Option<DateTime<Utc>> = match (watermark, run.hours) {
        (Some(w), _) => Some(w.max(floor)),
        (None, None) => Some(start),
        (None, Some(_)) => None,
    };
    let mut contiguous = true;
    let mut first_error: Option<IngestError> = None;
    run.progress.plan(hour_windows(start, now));
    while start < now {
        run.lease.keep().await?;
        let end = window_end(start, now);
        match collect_window(run, client, ct, start, end, shared).await {
            Ok(()) => {
                let records = ledger::window_records(run.db, run.tenant(), ct, start, end).await?;
                let mut completions = vec![Completion::Window {
                    tenant_id: run.tenant().to_string(),
                    source: "unified".into(),
                    content_type: ct.into(),
                    start,
                    end,
                    records,
                }];
                if position.is_some_and(|p| contiguous && start <= p && end > p) {
                    position = Some(end);
                    completions.push(Completion::Watermark {
                        tenant_id: run.tenant().to_string(),
                        source: key.clone(),
                        position: end,
                        cursor: None,
                    });
                }
                run.store(Vec::new(), &completions).await?;
            }
            Err(e) => {
                contiguous = false;
                let reported = e.report(run.tenant(), &format!("unified {ct} window {start}"));
                ledger::window_failed(run.db, run.tenant(), "unified", ct, start, end, &reported.message).await?;
                shared.lock().unwrap_or_else(|p| p.into_inner()).failed += 1;
                if first_error.is_none() {
                    first_error = Some(e);
                }
            }
        }
        run.progress.window_done();
        start = end;
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The windows from `start` to `now`: up to each next full hour, the last one up to `now`.
fn hour_windows(start: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    let (mut at, mut n) = (start, 0);
    while at < now {
        at = window_end(at, now);
        n += 1;
    }
    n
}

/// The end of the window that starts at `start`: the next full hour, or `now`.
fn window_end(start: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    (start.duration_trunc(Duration::hours(1)).unwrap_or(start) + Duration::hours(1)).min(now)
}

async fn collect_window(
    run: &RunContext<'_>,
    client: &ManagementClient,
    ct: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    summary: &Mutex<SourceSummary>,
) -> Result<(), IngestError> {
    let began = Instant::now();
    let mut blobs = client.list_content(run.connector, ct, start, end).await?;
    let listed = began.elapsed();
    let ids: Vec<String> = blobs.iter().map(|b| b.content_id.clone()).collect();
    let seen = ledger::seen_blobs(run.db, run.tenant(), &ids).await?;
    blobs.retain(|b| !seen.contains(&b.content_id));
    let checked = began.elapsed();
    let count = blobs.len();
    // Oldest first, as the reference clients do: listings are not ordered.
    blobs.sort_by(|a, b| (&a.content_created, &a.content_id).cmp(&(&b.content_created, &b.content_id)));
    let results: Vec<Result<BlobResult, IngestError>> = stream::iter(blobs)
        .map(|b| async move { fetch_blob(run, client, &b, summary).await })
        .buffer_unordered(BLOB_CONCURRENCY)
        .collect()
        .await;
    tracing::debug!(
        content_type = ct,
        %start,
        blobs = count,
        list_ms = listed.as_millis() as u64,
        seen_ms = (checked - listed).as_millis() as u64,
        fetch_ms = (began.elapsed() - checked).as_millis() as u64,
        "window collected"
    );
    let mut error = None;
    for r in results {
        match r {
            Ok(BlobResult::Stored) => {}
            Ok(BlobResult::Skipped(why)) => summary.lock().unwrap_or_else(|p| p.into_inner()).warnings.push(why),
            Err(e) => error = Some(e),
        }
    }
    match error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
