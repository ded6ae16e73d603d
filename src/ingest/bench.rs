//! `aoc bench ingest`: end-to-end ingestion from the simulator over HTTP into a database with
//! every index in place, and the peak memory of this process while doing it. The simulator runs
//! as a separate `aoc simulate` process so its memory is not counted.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::collector::Collector;
use super::connector::{Connector, Credential};
use crate::config::DatabaseUrl;
use crate::normalize::Source;
use crate::store::{self, writer::Subscribers};

/// Peak resident set size of this process so far, in MiB (Linux `VmHWM`).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

struct SimProcess(Child);

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the ingestion benchmark and prints its figures.
/// With `budget`, the simulator enforces that many Management API requests per minute, AOC is
/// told the same budget, only the Unified Audit Log is collected, and the run reports how long
/// the budget alone would take for the requests made, and whether it was ever exceeded.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    database_url: Option<String>,
    events_per_day: u32,
    hours: u32,
    blob_mb: u32,
    budget: Option<u32>,
    sources: Vec<String>,
    with_indexer: bool,
    destinations: u32,
    with_rules: bool,
) -> anyhow::Result<()> {
    let sources: Vec<Source> = if sources.is_empty() {
        if blob_mb > 0 || budget.is_some() {
            vec![Source::Unified]
        } else {
            Source::ALL.to_vec()
        }
    } else {
        sources
            .iter()
            .map(|s| {
                Source::parse(s.trim()).ok_or_else(|| {
                    anyhow::anyhow!("--sources: unknown source {s:?} (unified, directory, signin, intune)")
                })
            })
            .collect::<anyhow::Result<_>>()?
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let faults = format!("{{\"oversized_blob_mb\":{blob_mb}}}");
    // History just longer than the window, so the oversized blob (30 hours after the start of
    // the history) falls inside it.
    let days = (hours / 24 + 1).to_string();
    let child = Command::new(std::env::current_exe()?)
        .args(["simulate", "--addr", &format!("127.0.0.1:{port}"), "--seed", "11", "--tenants", "1", "--days", &days])
        .args([
            "--events-per-day",
            &events_per_day.to_string(),
            "--budget-per-minute",
            &budget.unwrap_or(2_000_000).to_string(),
            "--graph-reports-limit",
            "0",
            "--page-size",
            "1000",
        ])
        .args(["--faults", &faults])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let _sim = SimProcess(child);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut tenants = None;
    for _ in 0..200 {
        if let Ok(r) = http.get(format!("{base}/_sim/tenants")).send().await {
            tenants = Some(r.json::<serde_json::Value>().await?);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let tenants = tenants.ok_or_else(|| anyhow::anyhow!("the simulator did not start"))?;
    let t = &tenants["tenants"][0];
    let temp = tempfile_dir()?;
    let url =
        DatabaseUrl::new(database_url.unwrap_or_else(|| format!("sqlite://{}/bench.db?mode=rwc", temp.display())));
    let db = store::connect(&url).await?;
    store::migrate(&db).await?;
    // Export destinations that receive every event: each stored event is queued for each (no
    // worker runs, so the queues only grow), which is what export adds to the write path.
    for n in 0..destinations {
        use sea_orm::{ActiveModelTrait, ActiveValue::Set};
        let now = chrono::Utc::now();
        crate::store::entities::destinations::ActiveModel {
            name: Set(format!("bench-{n}")),
            kind: Set("webhook".into()),
            endpoint: Set("http://127.0.0.1:9/hook".into()),
            receives: Set("all".into()),
            min_severity: Set(0),
            format: Set("json".into()),
            batch_size: Set(500),
            concurrency: Set(2),
            options: Set("{}".into()),
            enabled: Set(true),
            origin: Set("api".into()),
            delivered_total: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&db)
        .await?;
    }
    let collector = Collector::new(db, Subscribers::default()).map_err(|e| anyhow::anyhow!("{e}"))?;
    collector.add_connector(Connector {
        tenant_id: t["tenant_id"].as_str().unwrap_or_default().into(),
        client_id: t["apps"][0]["client_id"].as_str().unwrap_or_default().into(),
        credential: Credential::Secret(t["apps"][0]["secret"].as_str().unwrap_or_default().to_string().into()),
        cloud: crate::config::Cloud::Worldwide,
        login_url: base.clone(),
        graph_url: base.clone(),
        management_url: base.clone(),
        publisher_id: t["tenant_id"].as_str().unwrap_or_default().into(),
        sources,
        management_rpm: budget.unwrap_or(2_000_000),
        demo: false,
        domains: Vec::new(),
    });
    // Warm the simulator: asking for the ground truth generates (and caches) every hour, so the
    // timed run measures AOC, not the simulator's generator.
    let tenant_id = t["tenant_id"].as_str().unwrap_or_default().to_string();
    for source in ["unified", "directory", "signin", "intune"] {
        let since = (chrono::Utc::now() - chrono::Duration::hours(i64::from(hours) + 2))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        http.get(format!("{base}/_sim/ground-truth?tenant={tenant_id}&source={source}&since={since}"))
            .send()
            .await?
            .bytes()
            .await?;
    }
    http.post(format!("{base}/_sim/stats/reset")).send().await?;
    let rss_before = peak_rss_mib().unwrap_or(0.0);
    // The full-text indexer, as the server runs it beside collection (it shares SQLite's writer).
    let indexer = with_indexer.then(|| tokio::spawn(store::search::run(collector.db.clone())));
    // The detection rules, as the server runs them beside collection (the built-in pack).
    let evaluator = if with_rules {
        crate::services::detection::seed_builtin(&collector.db).await?;
        Some(crate::services::detection::spawn_evaluator(
            collector.db.clone(),
            &collector.subscribers,
            Duration::from_secs(5),
        ))
    } else {
        None
    };
    let started = Instant::now();
    let summary = collector.collect_all(Some(hours), true).await;
    let seconds = started.elapsed().as_secs_f64();
    let mut rules_done = None;
    if let Some(evaluator) = evaluator {
        // Wait for the rules to reach the newest event, then stop the evaluator.
        let newest = crate::store::detection::max_event_id(&collector.db).await?;
        while crate::store::detection::cursor(&collector.db).await? < newest {
            if evaluator.is_finished() {
                anyhow::bail!("the rule evaluator stopped before it reached the newest event");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        rules_done = Some(started.elapsed().as_secs_f64());
        evaluator.abort();
    }
    let mut caught_up = None;
    if let Some(indexer) = indexer {
        while store::search::queue_length(&collector.db).await? > 0 {
            if indexer.is_finished() {
                anyhow::bail!("the full-text indexer stopped before the queue was empty");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        caught_up = Some(started.elapsed().as_secs_f64());
        indexer.abort();
    }
    let inserted: u64 = summary.sources.iter().map(|s| s.inserted).sum();
    let fetched: u64 = summary.sources.iter().map(|s| s.fetched).sum();
    println!("backend: {}, export destinations receiving every event: {destinations}", url.backend());
    for s in &summary.sources {
        println!(
            "  {:<10} fetched {:>9} inserted {:>9} duplicates {:>7} failed {} state {} ({:.1} s)",
            s.source, s.fetched, s.inserted, s.duplicates, s.failed, s.state, s.seconds
        );
    }
    println!(
        "ingested {inserted} events ({fetched} records fetched) in {seconds:.1} s = {:.0} events/s",
        inserted as f64 / seconds
    );
    if let Some(all) = rules_done {
        println!(
            "detection rules running alongside (built-in pack): every event evaluated {:.1} s after collection ended, {all:.1} s in all = {:.0} events/s",
            all - seconds,
            inserted as f64 / all
        );
    }
    if let Some(all) = caught_up {
        println!(
            "full-text indexer running alongside: every event searchable by its raw values {:.1} s after collection ended, {all:.1} s in all = {:.0} events/s",
            all - seconds,
            inserted as f64 / all
        );
    }
    println!(
        "peak RSS of the AOC process: {:.0} MiB (before collecting: {rss_before:.0} MiB)",
        peak_rss_mib().unwrap_or(0.0)
    );
    let (waited, held, batches, rows) = crate::store::writer::TIMING.totals();
    println!(
        "write path: {batches} transactions, {rows} rows; writer connection held {held:.1} s, waited for {waited:.1} s (summed over tasks)"
    );
    if let Some(budget) = budget {
        let stats: serde_json::Value = http.get(format!("{base}/_sim/stats")).send().await?.json().await?;
        let requests = stats["management_requests"].as_u64().unwrap_or(0);
        let allowed = requests as f64 / f64::from(budget) * 60.0;
        println!(
            "management requests: {requests} ({} blob downloads); the budget of {budget}/min allows them in {allowed:.1} s; \
             took {seconds:.1} s = {:.2}x; most requests in any 60 s: {}; throttled (AF429): {}",
            stats["blob_fetches"],
            seconds / allowed.max(0.001),
            stats["max_management_requests_per_minute"],
            stats["throttled"],
        );
    }
    let _ = std::fs::remove_dir_all(&temp);
    Ok(())
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("aoc-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
