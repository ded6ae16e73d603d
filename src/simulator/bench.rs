//! `aoc bench simulator`: how many records per second the simulator serves over loopback to a
//! client that lists content, fetches blobs concurrently and parses every record, and pages a
//! Graph resource. It must never be what limits AOC's ingestion benchmarks.

use std::time::{Duration, Instant};

use futures_util::{stream, StreamExt};
use serde_json::value::RawValue;

use super::{spawn, SimConfig};

/// What one benchmark run measured.
#[derive(Debug)]
pub struct SimBenchReport {
    pub blob_records: u64,
    pub blob_bytes: u64,
    pub blob_seconds: f64,
    pub graph_records: u64,
    pub graph_seconds: f64,
}

impl SimBenchReport {
    pub fn print(&self) {
        println!(
            "management blobs: {} records, {:.1} MB in {:.2} s = {:.0} records/s ({:.1} MB/s)",
            self.blob_records,
            self.blob_bytes as f64 / 1e6,
            self.blob_seconds,
            self.blob_records as f64 / self.blob_seconds,
            self.blob_bytes as f64 / 1e6 / self.blob_seconds
        );
        println!(
            "graph signIns pages: {} records in {:.2} s = {:.0} records/s",
            self.graph_records,
            self.graph_seconds,
            self.graph_records as f64 / self.graph_seconds
        );
    }
}

/// Runs the benchmark with `events_per_day` for one tenant over `days` days of history,
/// fetching blobs `concurrency` at a time.
pub async fn run(events_per_day: u32, days: u32, concurrency: usize) -> anyhow::Result<SimBenchReport> {
    let config = SimConfig {
        seed: 7,
        tenants: 1,
        history_days: days + 1,
        events_per_day,
        content_page_size: 1000,
        management_budget_per_minute: u32::MAX,
        graph_reports_limit: 0,
        ..SimConfig::default()
    };
    let sim = spawn(config, "127.0.0.1:0".parse()?).await?;
    let tenant = &sim.state.tenants[0];
    let (tenant_id, client_id, secret) =
        (tenant.model.tenant_id.clone(), tenant.apps[0].client_id.clone(), tenant.apps[0].secret.clone());
    let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let token = |scope: &'static str| {
        let http = http.clone();
        let url = format!("{}/{tenant_id}/oauth2/v2.0/token", sim.base_url);
        let form = [
            ("grant_type", "client_credentials".to_string()),
            ("client_id", client_id.clone()),
            ("client_secret", secret.clone()),
            ("scope", scope.to_string()),
        ];
        async move {
            let body: serde_json::Value = http.post(url).form(&form).send().await?.json().await?;
            anyhow::Ok(body["access_token"].as_str().unwrap_or_default().to_string())
        }
    };
    let manage = token("https://manage.office.com/.default").await?;
    let feed = format!("{}/api/v1.0/{tenant_id}/activity/feed", sim.base_url);
    let publisher = format!("PublisherIdentifier={tenant_id}");

    // List every blob of the last `days` days (listing is not timed).
    let now = sim.state.clock.now();
    let mut uris = Vec::new();
    for ct in ["Audit.AzureActiveDirectory", "Audit.Exchange", "Audit.SharePoint", "Audit.General", "DLP.All"] {
        http.post(format!("{feed}/subscriptions/start?contentType={ct}&{publisher}"))
            .bearer_auth(&manage)
            .header("content-length", "0")
            .send()
            .await?;
        let mut start = now - chrono::Duration::days(i64::from(days));
        while start < now {
            let end = (start + chrono::Duration::hours(24)).min(now);
            let mut url = Some(format!(
                "{feed}/subscriptions/content?contentType={ct}&startTime={}&endTime={}&{publisher}",
                start.format("%Y-%m-%dT%H:%M:%S"),
                end.format("%Y-%m-%dT%H:%M:%S")
            ));
            while let Some(u) = url.take() {
                let response = http.get(&u).bearer_auth(&manage).send().await?;
                url = response
                    .headers()
                    .get("nextpageuri")
                    .and_then(|v| v.to_str().ok())
                    .map(|n| format!("{n}&{publisher}"));
                let list: Vec<serde_json::Value> = response.json().await?;
                uris.extend(
                    list.into_iter().filter_map(|d| d["contentUri"].as_str().map(|s| format!("{s}?{publisher}"))),
                );
            }
            start = end;
        }
    }

    let started = Instant::now();
    let results: Vec<anyhow::Result<(u64, u64)>> = stream::iter(uris)
        .map(|uri| {
            let http = http.clone();
            let manage = manage.clone();
            async move {
                let bytes = http.get(uri).bearer_auth(manage).send().await?.bytes().await?;
                let records: Vec<&RawValue> = serde_json::from_slice(&bytes)?;
                anyhow::Ok((records.len() as u64, bytes.len() as u64))
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let blob_seconds = started.elapsed().as_secs_f64();
    let (mut blob_records, mut blob_bytes) = (0, 0);
    for r in results {
        let (n, b) = r?;
        blob_records += n;
        blob_bytes += b;
    }

    let graph = token("https://graph.microsoft.com/.default").await?;
    let started = Instant::now();
    let mut graph_records = 0u64;
    let mut url = Some(format!("{}/v1.0/auditLogs/signIns?$top=1000", sim.base_url));
    while let Some(u) = url.take() {
        #[derive(serde::Deserialize)]
        struct Page<'a> {
            #[serde(borrow)]
            value: Vec<&'a RawValue>,
            #[serde(rename = "@odata.nextLink")]
            next: Option<String>,
        }
        let bytes = http.get(&u).bearer_auth(&graph).send().await?.bytes().await?;
        let page: Page = serde_json::from_slice(&bytes)?;
        graph_records += page.value.len() as u64;
        url = page.next;
        if started.elapsed() > Duration::from_secs(120) {
            break;
        }
    }
    let graph_seconds = started.elapsed().as_secs_f64();
    sim.stop();
    Ok(SimBenchReport { blob_records, blob_bytes, blob_seconds, graph_records, graph_seconds })
}
