//! Graph audit sources: directoryAudits, signIns and Intune auditEvents. Each run reads from the
//! watermark minus an overlap (records show up in Graph minutes to hours after they happen) up to
//! now, with `$filter` on the date field and `$top`, following `@odata.nextLink`; the store drops
//! what the overlap re-reads. The watermark moves to the run's upper bound only after the last
//! page is committed.

use chrono::{DateTime, Duration, Utc};
use reqwest::Method;

use super::collector::Collector;
use super::connector::{Api, Connector};
use super::http::{Budget, CallError};
use super::wire::GraphPage;
use super::{IngestError, SourceSummary};
use crate::normalize::Source;
use crate::store::writer::{store_batch, Completion};

struct Resource {
    path: &'static str,
    field: &'static str,
    budget: Budget,
    /// How far back each run re-reads, for records Graph publishes late.
    overlap: Duration,
    /// How far back Graph keeps records.
    retention: Duration,
    permission_hint: &'static str,
}

fn resource(source: Source) -> Resource {
    let reports_hint = "grant the app the Microsoft Graph application permissions AuditLog.Read.All and Directory.Read.All, with admin consent";
    match source {
        Source::Directory => Resource {
            path: "auditLogs/directoryAudits",
            field: "activityDateTime",
            budget: Budget::GraphReports,
            overlap: Duration::hours(3),
            retention: Duration::days(30),
            permission_hint: reports_hint,
        },
        Source::Signin => Resource {
            path: "auditLogs/signIns",
            field: "createdDateTime",
            budget: Budget::GraphReports,
            overlap: Duration::hours(3),
            retention: Duration::days(30),
            permission_hint: reports_hint,
        },
        _ => Resource {
            path: "deviceManagement/auditEvents",
            field: "activityDateTime",
            budget: Budget::GraphIntune,
            overlap: Duration::hours(3),
            retention: Duration::days(365),
            permission_hint: "grant the app the Microsoft Graph application permission DeviceManagementApps.Read.All, with admin consent",
        },
    }
}

/// The URL to request for an `@odata.nextLink`: on the configured endpoint, or refused.
pub(super) fn follow(c: &Connector, link: &str) -> Result<String, IngestError> {
    Ok(super::links::guard(&c.graph_url, link, super::links::ApiPaths::Graph)?)
}

/// Collects one Graph source of one tenant. `hours`: an on-demand look-back (at most 720).
pub async fn collect(
    col: &Collector,
    c: &Connector,
    source: Source,
    hours: Option<u32>,
    summary: &mut SourceSummary,
) -> Result<(), IngestError> {
    let r = resource(source);
    let now = Utc::now();
    let upper = now;
    let watermark = super::ledger::watermark(&col.db, &c.tenant_id, source.as_str()).await?;
    let oldest = now - r.retention;
    let lower = match hours {
        Some(h) => now - Duration::hours(i64::from(h.min(720))),
        None => watermark.map_or(now - Duration::days(7), |w| w - r.overlap),
    }
    .max(oldest);
    // The watermark may move only if this run starts at or before it (no gap), or on the first
    // scheduled run.
    let may_advance = match (watermark, hours) {
        (Some(w), _) => lower <= w,
        (None, None) => true,
        (None, Some(_)) => false,
    };
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut first = reqwest::Url::parse(&format!("{}/v1.0/{}", c.graph_url, r.path))
        .map_err(|_| IngestError::Fatal(format!("GRAPH_BASE_URL {} is not a valid URL", c.graph_url)))?;
    first
        .query_pairs_mut()
        .append_pair("$filter", &format!("{} ge {} and {} le {}", r.field, fmt(lower), r.field, fmt(upper)))
        .append_pair("$top", "1000");
    let mut url = first.to_string();
    let context = col.domains.context(&col.api, c).await;
    let mut total: i64 = 0;
    let mut pages = 0u32;
    loop {
        col.keep_lease(c, source.as_str()).await?;
        pages += 1;
        if pages > 100_000 {
            return Err(IngestError::Transient(format!("{}: paging did not end after 100,000 pages", r.path)));
        }
        let page = fetch_page(col, c, &r, &url).await?;
        let next = page.next_link.as_deref().map(|l| follow(c, l)).transpose()?;
        let raws: Vec<String> = page.value.into_iter().map(|v| v.get().to_string()).collect();
        let fetched = raws.len() as u64;
        total += fetched as i64;
        let rows = super::rows_off_thread(&c.tenant_id, source, None, raws, &context, now).await;
        let mut completions = Vec::new();
        if next.is_none() {
            completions.push(Completion::Window {
                tenant_id: c.tenant_id.clone(),
                source: source.as_str().into(),
                content_type: String::new(),
                start: lower,
                end: upper,
                records: total,
            });
            if may_advance {
                completions.push(Completion::Watermark {
                    tenant_id: c.tenant_id.clone(),
                    source: source.as_str().into(),
                    position: upper,
                    cursor: None,
                });
            }
        }
        let outcome = store_batch(&col.db, rows, &completions, &col.subscribers).await?;
        summary.add(fetched, &outcome);
        match next {
            Some(n) => url = n,
            None => return Ok(()),
        }
    }
}

async fn fetch_page(col: &Collector, c: &Connector, r: &Resource, url: &str) -> Result<GraphPage, IngestError> {
    let mut last = String::new();
    for attempt in 0..4u32 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(500 * 2u64.pow(attempt))).await;
        }
        let response = match col.api.send(c, Api::Graph, r.budget, Method::GET, url, None).await {
            Ok(resp) => resp,
            Err(CallError::Refused(refusal)) => {
                return Err(match (refusal.status, refusal.code.as_str()) {
                    (403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant") => IngestError::Unlicensed(
                        "sign-in logs need Microsoft Entra ID P1 or P2 in the tenant (Graph: Authentication_RequestFromNonPremiumTenantOrB2CTenant)".into(),
                    ),
                    (403, _) if refusal.message.to_ascii_lowercase().contains("licens") => {
                        IngestError::Unlicensed(format!("{}: {}", r.path, refusal.message))
                    }
                    (403, code) => IngestError::Permission { message: format!("{} ({code}): {}", r.path, refusal.message), hint: r.permission_hint.into() },
                    (401, code) => IngestError::Auth { code: None, message: format!("{} ({code}): {}", r.path, refusal.message), hint: "check the app's credential and CLOUD".into() },
                    (status, code) => IngestError::Fatal(format!("{}: HTTP {status} {code}: {}", r.path, refusal.message)),
                })
            }
            Err(CallError::Failed(e)) => return Err(e),
        };
        match response.bytes().await {
            Ok(bytes) => match serde_json::from_slice::<GraphPage>(&bytes) {
                Ok(page) => return Ok(page),
                Err(_) => last = format!("{}: a page was not valid JSON", r.path),
            },
            Err(e) => last = format!("{}: the page download failed: {}", r.path, super::token::without_url(&e)),
        }
    }
    Err(IngestError::Transient(last))
}
