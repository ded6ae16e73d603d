//! `aoc bench query`: the query side on a database holding N realistic events (from the
//! simulator's activity generator, normalized and stored through the real write path, then
//! indexed by the real indexer). Prints p50 and p95 of each query the Events page and the API
//! run. Loading is skipped when the database already holds enough events.

use std::time::{Duration, Instant};

use chrono::{DurationRound, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection};

use app::query::{EventFilter, EventQuery};

use crate::config::DatabaseUrl;
use crate::normalize::{normalize, Context, Source};
use crate::simulator::activity::{build_tenant, records_for_hour, ActivityConfig, Feed};
use crate::store::query::EventStore;
use crate::store::writer::{store_batch, EventRow, Subscribers};

const DAYS: i64 = 30;

async fn count(db: &DatabaseConnection) -> anyhow::Result<u64> {
    Ok(EventStore::new(db.clone()).count().await?)
}

fn source_of(feed: Feed) -> (Source, Option<&'static str>) {
    match feed {
        Feed::DirectoryAudits => (Source::Directory, None),
        Feed::SignIns => (Source::Signin, None),
        Feed::IntuneAuditEvents => (Source::Intune, None),
        other => (Source::Unified, other.content_type()),
    }
}

/// Loads about `target` events spread over the last 30 days.
pub(crate) async fn load(db: &DatabaseConnection, target: u64) -> anyhow::Result<()> {
    let have = count(db).await?;
    if have >= target {
        println!("database already holds {have} events; not loading");
        return Ok(());
    }
    let per_day = ((target - have) as f64 / DAYS as f64 * 1.02) as u32;
    let config = ActivityConfig { seed: 7, events_per_day: per_day, scenarios: true };
    let tenant = build_tenant(7, 0);
    let now = Utc::now().duration_trunc(chrono::Duration::hours(1))?;
    let started = Instant::now();
    let mut stored = have;
    let subscribers = Subscribers::default();
    let mut batch = Vec::with_capacity(2_000);
    'hours: for h in 0..DAYS * 24 {
        let hour = now - chrono::Duration::hours(h + 1);
        for feed in Feed::ALL {
            let (source, content_type) = source_of(feed);
            for record in records_for_hour(&config, &tenant, feed, hour) {
                let n = normalize(source, content_type, &record.json, &Context::default());
                batch.push(EventRow::new(&tenant.tenant_id, source, content_type, record.json, n, Utc::now()));
                if batch.len() == 2_000 {
                    let out = store_batch(db, std::mem::take(&mut batch), &[], &subscribers).await?;
                    stored += out.inserted.len() as u64;
                    if stored >= target {
                        break 'hours;
                    }
                }
            }
        }
    }
    if !batch.is_empty() {
        let out = store_batch(db, batch, &[], &subscribers).await?;
        stored += out.inserted.len() as u64;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "loaded {} events in {secs:.1} s ({:.0} events/s, generate + normalize + store)",
        stored - have,
        (stored - have) as f64 / secs
    );
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

async fn measure<F, Fut>(name: &str, runs: usize, mut f: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<usize>>,
{
    let mut times = Vec::with_capacity(runs);
    let mut rows = 0;
    f().await?; // warm-up
    for _ in 0..runs {
        let t = Instant::now();
        rows = f().await?;
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "{name:<44} p50 {:>8.1} ms   p95 {:>8.1} ms   ({rows} rows)",
        percentile(&times, 0.5),
        percentile(&times, 0.95)
    );
    Ok(())
}

fn q(filter: EventFilter) -> anyhow::Result<EventQuery> {
    filter.parse(Utc::now()).map_err(|e| anyhow::anyhow!(e.message))
}

/// Runs the query benchmark and prints its figures.
pub async fn run(database_url: Option<String>, events: u64, runs: usize) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    let url = database_url.unwrap_or_else(|| format!("sqlite://{}/bench.db?mode=rwc", dir.display()));
    let db = crate::store::connect(&DatabaseUrl::new(url)).await?;
    crate::store::migrate(&db).await?;
    let backend = crate::store::backend_name(&db);
    println!("aoc bench query: {backend}, target {events} events, {runs} runs per query");
    load(&db, events).await?;
    let queued = crate::store::search::queue_length(&db).await?;
    if queued > 0 {
        let t = Instant::now();
        let n = crate::store::search::index_pending(&db).await?;
        let secs = t.elapsed().as_secs_f64();
        println!("indexed {n} events for full text in {secs:.1} s ({:.0} events/s)", n as f64 / secs);
    }
    crate::store::refresh_statistics(&db).await?;
    let total = count(&db).await?;
    println!("events stored: {total}");
    let service = EventStore::new(db.clone());

    // Values to look for: a rare one (one record's id, found in its raw record) and a common word.
    let rare = service.nth_record_id(Source::Unified, 12_345).await?.ok_or_else(|| anyhow::anyhow!("no events"))?;
    let deep = service.cursor_at(total * 4 / 5).await?.ok_or_else(|| anyhow::anyhow!("no events"))?;

    let three = q(EventFilter {
        service: Some("Exchange".into()),
        result: Some("success".into()),
        source: Some("unified".into()),
        ..Default::default()
    })?;
    let everything = q(EventFilter::default())?;
    let last_day = q(EventFilter { last: Some("24h".into()), ..Default::default() })?;
    let rare_text = q(EventFilter { search: Some(rare.clone()), ..Default::default() })?;
    let common_text = q(EventFilter { search: Some("success".into()), ..Default::default() })?;
    let field_text =
        q(EventFilter { search: Some("Parameters.Identity:nobody@example.invalid".into()), ..Default::default() })?;
    let prefix_text = q(EventFilter { search: Some("forward*".into()), ..Default::default() })?;
    let compound_text = q(EventFilter { search: Some("InboxRule".into()), ..Default::default() })?;

    let s = &service;
    measure("first page, 3 filters", runs, || async { Ok(s.page(&three, None, 50, false).await?.items.len()) }).await?;
    measure("first page, no filter (API shape, with raw)", runs, || async {
        Ok(s.page(&everything, None, 50, true).await?.items.len())
    })
    .await?;
    measure("deep page by cursor (80% down)", runs, || async {
        Ok(s.page(&everything, Some(deep), 50, false).await?.items.len())
    })
    .await?;
    measure("deep page by cursor, 3 filters", runs, || async {
        Ok(s.page(&three, Some(deep), 50, false).await?.items.len())
    })
    .await?;
    measure("free text, rare raw value (a record id)", runs, || async {
        Ok(s.page(&rare_text, None, 50, false).await?.items.len())
    })
    .await?;
    measure("free text, common word (\"success\")", runs, || async {
        Ok(s.page(&common_text, None, 50, false).await?.items.len())
    })
    .await?;
    measure("free text, prefix (\"forward*\")", runs, || async {
        Ok(s.page(&prefix_text, None, 50, false).await?.items.len())
    })
    .await?;
    measure("free text, compound word (\"InboxRule\")", runs, || async {
        Ok(s.page(&compound_text, None, 50, false).await?.items.len())
    })
    .await?;
    measure("flattened field:value, no match", runs, || async {
        Ok(s.page(&field_text, None, 50, false).await?.items.len())
    })
    .await?;
    measure("facets, last 24 h", runs, || async { Ok(s.facets(&last_day, 50).await?.service.len()) }).await?;
    measure("facets, all events", runs.min(5), || async { Ok(s.facets(&everything, 50).await?.service.len()) }).await?;
    measure("histogram, last 24 h", runs, || async { Ok(s.histogram(&last_day, None, 100).await?.buckets.len()) })
        .await?;
    measure("histogram, all events", runs.min(5), || async {
        Ok(s.histogram(&everything, None, 100).await?.buckets.len())
    })
    .await?;
    Ok(())
}

pub(crate) fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("aoc-bench-query-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// `aoc bench rules`: rule evaluation throughput with the stored rules (the built-in pack is
/// stored first) over the stored events, on one core: the time to read the events' rows and
/// the time to evaluate every enabled rule on them, separately.
pub async fn run_rules(database_url: Option<String>, events: u64) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    let url = database_url.unwrap_or_else(|| format!("sqlite://{}/bench.db?mode=rwc", dir.display()));
    let db = crate::store::connect(&DatabaseUrl::new(url)).await?;
    crate::store::migrate(&db).await?;
    let backend = crate::store::backend_name(&db);
    load(&db, events).await?;
    super::detection::seed_builtin(&db).await?;
    let rules = super::detection::load_rules(&db).await?;
    println!("aoc bench rules: {backend}, {} enabled rules, up to {events} events", rules.len());
    let (mut read, mut eval) = (Duration::ZERO, Duration::ZERO);
    let (mut seen, mut matches, mut after) = (0u64, 0u64, 0i64);
    while seen < events {
        let started = Instant::now();
        let page = crate::store::detection::events_after(&db, after, None, 5_000).await?;
        read += started.elapsed();
        let Some(last) = page.last() else { break };
        after = last.id;
        seen += page.len() as u64;
        let started = Instant::now();
        matches += super::detection::evaluate(&rules, &page).len() as u64;
        eval += started.elapsed();
    }
    let rate = |d: Duration| seen as f64 / d.as_secs_f64().max(1e-9);
    println!("events evaluated      {seen}");
    println!("matches               {matches}");
    println!("read rows             {:.2} s ({:.0} events/s)", read.as_secs_f64(), rate(read));
    println!("evaluate (one core)   {:.2} s ({:.0} events/s)", eval.as_secs_f64(), rate(eval));
    println!("read + evaluate       {:.0} events/s", rate(read + eval));
    // The evaluator's full passes from the start: evaluation plus what it stores (alerts, their
    // events, the stateful rules' observations), committed with the cursor.
    db.execute_unprepared("UPDATE detection_cursor SET position = 0").await?;
    let started = Instant::now();
    let outcome = super::detection::catch_up(&db).await?;
    let full = started.elapsed();
    let stored = crate::store::detection::max_event_id(&db).await?;
    println!(
        "full passes (evaluate, store alerts and observations, advance the cursor): {} events in {:.2} s = {:.0} events/s; {} alerts, {} updates (of {stored} stored events)",
        outcome.events,
        full.as_secs_f64(),
        outcome.events as f64 / full.as_secs_f64().max(1e-9),
        outcome.alerts_created,
        outcome.alerts_updated
    );
    Ok(())
}
