//! The Unified Audit Log through the Office 365 Management Activity API: ensure the five
//! subscriptions, list content by contentCreated windows (one hour each, within the last seven
//! days), follow NextPageUri in every variant, skip blobs already stored, fetch the rest with
//! bounded concurrency as streams, and re-list recent windows (reconciliation) because blobs
//! appear late and out of order. Every AF code maps to an action.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Duration, DurationRound, Utc};
use futures_util::{stream, StreamExt};
use reqwest::Method;
use sea_orm::{ConnectionTrait, Statement};

use super::collector::Collector;
use super::connector::{Api, Connector};
use super::http::{ApiRefusal, Budget, CallError};
use super::jsonstream::ArraySplitter;
use super::links::{guard, ApiPaths};
use super::wire::{ContentDescriptor, SubscriptionEntry};
use super::{ledger, IngestError, SourceSummary};
use crate::normalize::{self, Source};
use crate::store::writer::{store_batch, Completion};

/// The content types of the Unified Audit Log.
pub const CONTENT_TYPES: [&str; 5] =
    ["Audit.AzureActiveDirectory", "Audit.Exchange", "Audit.SharePoint", "Audit.General", "DLP.All"];
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
/// Microsoft asks for at most one start per content type per 15 minutes.
const START_INTERVAL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// When each (tenant, content type) subscription was last started by this process.
#[derive(Default)]
pub struct StartLog(Mutex<HashMap<(String, String), Instant>>);

impl StartLog {
    fn may_start(&self, tenant: &str, ct: &str) -> bool {
        let log = self.0.lock().unwrap_or_else(|p| p.into_inner());
        log.get(&(tenant.to_string(), ct.to_string())).is_none_or(|t| t.elapsed() >= START_INTERVAL)
    }

    fn started(&self, tenant: &str, ct: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert((tenant.to_string(), ct.to_string()), Instant::now());
    }
}

fn feed_url(c: &Connector) -> String {
    format!("{}/api/v1.0/{}/activity/feed", c.management_url, c.tenant_id)
}

/// The URL to request for a link Microsoft returned: on the configured endpoint (rebased or
/// refused by `links::guard`), with PublisherIdentifier added when it is missing (Microsoft does
/// not carry it over).
fn follow(c: &Connector, url: &str) -> Result<String, IngestError> {
    let mut url = guard(&c.management_url, url, ApiPaths::Management { tenant: &c.tenant_id })?;
    if !url.to_ascii_lowercase().contains("publisheridentifier=") {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("PublisherIdentifier={}", c.publisher_id));
    }
    Ok(url)
}

fn refusal_error(r: &ApiRefusal, what: &str) -> IngestError {
    match r.code.as_str() {
        "AF10001" => IngestError::Permission {
            message: format!("{what}: {}", r.message),
            hint: "grant the app ActivityFeed.Read (and ActivityFeed.ReadDlp for DLP.All) under Office 365 Management APIs, with admin consent".into(),
        },
        "AF20010" | "AF20013" => IngestError::Fatal(format!("{what}: {} ({}). Check TENANT_ID: the Management API needs the tenant GUID", r.message, r.code)),
        code if code.starts_with("StartSubscription") => IngestError::Fatal(format!(
            "{what}: the tenant's unified audit log is not turned on ({}). Turn on auditing in Microsoft Purview; it takes up to 60 minutes",
            r.message
        )),
        _ => IngestError::Transient(format!("{what}: HTTP {} {} {}", r.status, r.code, r.message)),
    }
}

/// Lists subscriptions and starts the missing ones (AF20024 means already on).
async fn ensure_subscriptions(
    col: &Collector,
    c: &Connector,
    summary: &mut SourceSummary,
) -> Result<Vec<&'static str>, IngestError> {
    let list = format!("{}/subscriptions/list?PublisherIdentifier={}", feed_url(c), c.publisher_id);
    let response =
        col.api.send(c, Api::Management, Budget::Management, Method::GET, &list, None).await.map_err(|e| match e {
            CallError::Refused(r) => refusal_error(&r, "listing subscriptions"),
            CallError::Failed(e) => e,
        })?;
    let entries: Vec<SubscriptionEntry> =
        response.json().await.map_err(|_| IngestError::Transient("the subscription list was not readable".into()))?;
    let enabled: Vec<String> =
        entries.iter().filter(|e| e.status.eq_ignore_ascii_case("enabled")).map(|e| e.content_type.clone()).collect();
    let mut usable = Vec::new();
    for ct in CONTENT_TYPES {
        if enabled.iter().any(|e| e == ct) {
            usable.push(ct);
            continue;
        }
        if !col.starts.may_start(&c.tenant_id, ct) {
            summary
                .warnings
                .push(format!("{ct}: subscription not enabled; waiting 15 minutes before starting it again"));
            continue;
        }
        let url =
            format!("{}/subscriptions/start?contentType={ct}&PublisherIdentifier={}", feed_url(c), c.publisher_id);
        col.starts.started(&c.tenant_id, ct);
        match col.api.send(c, Api::Management, Budget::Management, Method::POST, &url, None).await {
            Ok(_) => usable.push(ct),
            Err(CallError::Refused(r)) if r.code == "AF20024" => usable.push(ct),
            Err(CallError::Refused(r)) if r.code == "AF10001" && ct == "DLP.All" => {
                summary.warnings.push("DLP.All skipped: the app lacks ActivityFeed.ReadDlp".into());
            }
            Err(CallError::Refused(r)) => return Err(refusal_error(&r, &format!("starting the {ct} subscription"))),
            Err(CallError::Failed(e)) => return Err(e),
        }
    }
    Ok(usable)
}

/// Every blob listed for a window, following NextPageUri / NextPageUrl.
async fn list_window(
    col: &Collector,
    c: &Connector,
    ct: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<ContentDescriptor>, IngestError> {
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let first = format!(
        "{}/subscriptions/content?contentType={ct}&startTime={}&endTime={}&PublisherIdentifier={}",
        feed_url(c),
        fmt(start),
        fmt(end),
        c.publisher_id
    );
    let mut url = Some(first.clone());
    let mut blobs = Vec::new();
    let mut restarts = 0;
    let mut pages = 0;
    let mut bad_bodies = 0;
    while let Some(u) = url.take() {
        pages += 1;
        if pages > 10_000 {
            return Err(IngestError::Transient(format!("{ct}: listing did not end after 10,000 pages")));
        }
        let response = match col.api.send(c, Api::Management, Budget::Management, Method::GET, &u, None).await {
            Ok(r) => r,
            Err(CallError::Refused(r)) if r.code == "AF20031" && restarts < 2 => {
                // An invalid nextPage: list the window again from the start.
                restarts += 1;
                blobs.clear();
                url = Some(first.clone());
                continue;
            }
            Err(CallError::Refused(r)) => {
                return Err(match r.code.as_str() {
                    "AF20022" | "AF20023" => IngestError::Transient(format!(
                        "{ct}: the subscription is not enabled ({}); it will be started again",
                        r.code
                    )),
                    "AF20030" | "AF20055" => {
                        IngestError::Transient(format!("{ct}: the window was refused ({}): {}", r.code, r.message))
                    }
                    _ => refusal_error(&r, &format!("listing {ct}")),
                })
            }
            Err(CallError::Failed(e)) => return Err(e),
        };
        let next = ["NextPageUri", "NextPageUrl"]
            .iter()
            .find_map(|h| response.headers().get(*h))
            .and_then(|v| v.to_str().ok())
            .map(|v| follow(c, v.trim()))
            .transpose()?;
        let body = response.bytes().await;
        match body.ok().and_then(|b| serde_json::from_slice::<Vec<ContentDescriptor>>(&b).ok()) {
            Some(page) => {
                blobs.extend(page);
                url = next;
            }
            None if bad_bodies < 4 => {
                // A cut-off or garbled page: ask for the same page again.
                bad_bodies += 1;
                tokio::time::sleep(std::time::Duration::from_millis(250 * 2u64.pow(bad_bodies))).await;
                url = Some(u);
            }
            None => {
                return Err(IngestError::Transient(format!(
                    "{ct}: a content listing page was not valid JSON after {bad_bodies} retries"
                )))
            }
        }
    }
    // Duplicated descriptors across pages happen; keep the first of each contentId.
    let mut seen = std::collections::HashSet::new();
    blobs.retain(|b| seen.insert(b.content_id.clone()));
    Ok(blobs)
}

/// What happened to one blob.
enum BlobResult {
    Stored,
    Skipped(String),
}

/// Fetches one blob as a stream and stores its records in batches; the blob is marked seen in
/// the transaction of its last batch.
async fn fetch_blob(
    col: &Collector,
    c: &Connector,
    blob: &ContentDescriptor,
    summary: &Mutex<SourceSummary>,
) -> Result<BlobResult, IngestError> {
    let url = follow(c, &blob.content_uri)?;
    let created = normalize::parse_time(&blob.content_created).unwrap_or_else(Utc::now);
    let mut last_error = String::new();
    for attempt in 0..4u32 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(500 * 2u64.pow(attempt))).await;
        }
        let response = match col.api.send(c, Api::Management, Budget::Management, Method::GET, &url, None).await {
            Ok(r) => r,
            Err(CallError::Refused(r)) if r.code == "AF20051" => {
                return Ok(BlobResult::Skipped(format!(
                    "blob {} expired before it could be fetched (AF20051)",
                    short(&blob.content_id)
                )))
            }
            Err(CallError::Refused(r)) if r.code == "AF20050" || r.code == "AF20052" || r.status == 404 => {
                return Ok(BlobResult::Skipped(format!(
                    "blob {} no longer exists ({})",
                    short(&blob.content_id),
                    r.code
                )))
            }
            Err(CallError::Refused(r)) => return Err(refusal_error(&r, "fetching a blob")),
            Err(CallError::Failed(e)) => return Err(e),
        };
        match store_stream(col, c, blob, created, response, summary).await {
            Ok(_) => return Ok(BlobResult::Stored),
            Err(e) => last_error = e,
        }
    }
    Err(IngestError::Transient(format!("blob {}: {last_error}", short(&blob.content_id))))
}

fn short(content_id: &str) -> String {
    content_id.chars().take(48).collect()
}

async fn store_stream(
    col: &Collector,
    c: &Connector,
    blob: &ContentDescriptor,
    created: DateTime<Utc>,
    response: reqwest::Response,
    summary: &Mutex<SourceSummary>,
) -> Result<u64, String> {
    let mut splitter = ArraySplitter::new(MAX_RECORD_BYTES);
    let mut pending: Vec<String> = Vec::new();
    let mut body = response.bytes_stream();
    let mut total = 0u64;
    let context = col.domains.context(&col.api, c).await;
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
                    in_flight.push(store_records(col, c, &blob.content_type, batch, &[], &context, summary));
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
        tenant_id: c.tenant_id.clone(),
        content_id: blob.content_id.clone(),
        content_type: blob.content_type.clone(),
        created,
        records: total as i64,
    };
    store_records(col, c, &blob.content_type, pending, &[done], &context, summary).await?;
    Ok(total)
}

async fn store_records(
    col: &Collector,
    c: &Connector,
    content_type: &str,
    raws: Vec<String>,
    completions: &[Completion],
    context: &normalize::Context,
    summary: &Mutex<SourceSummary>,
) -> Result<(), String> {
    let now = Utc::now();
    let fetched = raws.len() as u64;
    let rows = super::rows_off_thread(&c.tenant_id, Source::Unified, Some(content_type), raws, context, now).await;
    let outcome = store_batch(&col.db, rows, completions, &col.subscribers)
        .await
        .map_err(|e| format!("storing records failed: {e}"))?;
    summary.lock().unwrap_or_else(|p| p.into_inner()).add(fetched, &outcome);
    Ok(())
}

/// Sum of records of the blobs stored for a window.
async fn window_records(
    col: &Collector,
    c: &Connector,
    ct: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<i64, IngestError> {
    let backend = col.db.get_database_backend();
    let (p1, p2, p3, p4) =
        if backend == sea_orm::DbBackend::Postgres { ("$1", "$2", "$3", "$4") } else { ("?", "?", "?", "?") };
    let sql = format!(
        "SELECT CAST(COALESCE(SUM(record_count), 0) AS BIGINT) AS n FROM seen_blobs WHERE tenant_id = {p1} AND content_type = {p2} AND content_created >= {p3} AND content_created < {p4}"
    );
    let row = col
        .db
        .query_one(Statement::from_sql_and_values(
            backend,
            sql,
            [c.tenant_id.clone().into(), ct.into(), start.into(), end.into()],
        ))
        .await?;
    Ok(row.map(|r| r.try_get::<i64>("", "n").unwrap_or(0)).unwrap_or(0))
}

/// Collects the Unified Audit Log of one tenant. `hours`: an on-demand look-back (at most seven
/// days); `None`: from the watermarks, re-listing the last 24 hours.
pub async fn collect(
    col: &Collector,
    c: &Connector,
    hours: Option<u32>,
    summary: &mut SourceSummary,
) -> Result<(), IngestError> {
    let content_types = ensure_subscriptions(col, c, summary).await?;
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
        content_types.into_iter().map(|ct| collect_content_type(col, c, ct, hours, now, floor, &shared)),
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
    col: &Collector,
    c: &Connector,
    ct: &'static str,
    hours: Option<u32>,
    now: DateTime<Utc>,
    floor: DateTime<Utc>,
    shared: &Mutex<SourceSummary>,
) -> Result<(), IngestError> {
    let key = format!("unified:{ct}");
    let watermark = ledger::watermark(&col.db, &c.tenant_id, &key).await?;
    let wanted = match hours {
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
    let mut position: Option<DateTime<Utc>> = match (watermark, hours) {
        (Some(w), _) => Some(w.max(floor)),
        (None, None) => Some(start),
        (None, Some(_)) => None,
    };
    let mut contiguous = true;
    let mut first_error: Option<IngestError> = None;
    while start < now {
        col.keep_lease(c, "unified").await?;
        let next_hour = start.duration_trunc(Duration::hours(1)).unwrap_or(start) + Duration::hours(1);
        let end = next_hour.min(now);
        match collect_window(col, c, ct, start, end, shared).await {
            Ok(()) => {
                let records = window_records(col, c, ct, start, end).await?;
                let mut completions = vec![Completion::Window {
                    tenant_id: c.tenant_id.clone(),
                    source: "unified".into(),
                    content_type: ct.into(),
                    start,
                    end,
                    records,
                }];
                if position.is_some_and(|p| contiguous && start <= p && end > p) {
                    position = Some(end);
                    completions.push(Completion::Watermark {
                        tenant_id: c.tenant_id.clone(),
                        source: key.clone(),
                        position: end,
                        cursor: None,
                    });
                }
                store_batch(&col.db, Vec::new(), &completions, &col.subscribers).await?;
            }
            Err(e) => {
                contiguous = false;
                ledger::window_failed(&col.db, &c.tenant_id, "unified", ct, start, end, &e.to_string()).await?;
                shared.lock().unwrap_or_else(|p| p.into_inner()).failed += 1;
                if first_error.is_none() {
                    first_error = Some(e);
                }
            }
        }
        start = end;
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

async fn collect_window(
    col: &Collector,
    c: &Connector,
    ct: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    summary: &Mutex<SourceSummary>,
) -> Result<(), IngestError> {
    let began = Instant::now();
    let mut blobs = list_window(col, c, ct, start, end).await?;
    let listed = began.elapsed();
    let ids: Vec<String> = blobs.iter().map(|b| b.content_id.clone()).collect();
    let seen = ledger::seen_blobs(&col.db, &c.tenant_id, &ids).await?;
    blobs.retain(|b| !seen.contains(&b.content_id));
    let checked = began.elapsed();
    let count = blobs.len();
    // Oldest first, as the reference clients do: listings are not ordered.
    blobs.sort_by(|a, b| (&a.content_created, &a.content_id).cmp(&(&b.content_created, &b.content_id)));
    let results: Vec<Result<BlobResult, IngestError>> = stream::iter(blobs.into_iter())
        .map(|b| async move { fetch_blob(col, c, &b, summary).await })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn connector(management_url: &str) -> Connector {
        Connector {
            tenant_id: "t".into(),
            client_id: "c".into(),
            credential: super::super::Credential::Secret("s".to_string().into()),
            cloud: crate::config::Cloud::Worldwide,
            login_url: String::new(),
            graph_url: String::new(),
            management_url: management_url.into(),
            publisher_id: "pub".into(),
            sources: vec![],
            management_rpm: 2000,
            demo: false,
            domains: Vec::new(),
        }
    }

    #[test]
    fn returned_urls_get_the_publisher_and_the_configured_endpoint() {
        let proxied = connector("http://proxy.local");
        assert_eq!(
            follow(&proxied, "https://manage.office.com/api/v1/t/activity/feed/subscriptions/content?contenttype=Audit.Exchange&nextpage=1").unwrap(),
            "http://proxy.local/api/v1/t/activity/feed/subscriptions/content?contenttype=Audit.Exchange&nextpage=1&PublisherIdentifier=pub"
        );
        let direct = connector("https://manage.office.com");
        assert_eq!(
            follow(&direct, "https://manage.office.com/x?publisherIdentifier=other").unwrap(),
            "https://manage.office.com/x?publisherIdentifier=other"
        );
        assert_eq!(
            follow(&direct, "https://manage.office.com/api/v1.0/t/activity/feed/audit/a$b").unwrap(),
            "https://manage.office.com/api/v1.0/t/activity/feed/audit/a$b?PublisherIdentifier=pub"
        );
        assert!(follow(&direct, "https://elsewhere.example/steal?x=1").is_err());
    }
}
