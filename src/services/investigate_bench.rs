//! `aoc bench overview`: the overview of a search (exact counts by service, operation, result
//! and actor, the newest failures and samples) over a database of N realistic events, the same
//! data `aoc bench query` loads. Prints the time per run and how many events matched.

use std::time::Instant;

use app::query::{EventFilter, EventQuery};
use chrono::Utc;

use super::bench::{load, tempfile_dir};
use super::investigation::DbInvestigationService;
use crate::config::DatabaseUrl;

fn q(filter: EventFilter) -> anyhow::Result<EventQuery> {
    filter.parse(Utc::now()).map_err(|e| anyhow::anyhow!(e.message))
}

/// Runs the overview benchmark and prints its figures.
pub async fn run(database_url: Option<String>, events: u64, runs: usize) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    let url = database_url.unwrap_or_else(|| format!("sqlite://{}/bench.db?mode=rwc", dir.display()));
    let db = crate::store::connect(&DatabaseUrl::new(url)).await?;
    crate::store::migrate(&db).await?;
    println!("aoc bench overview: {}, target {events} events, {runs} runs", crate::store::backend_name(&db));
    load(&db, events).await?;
    crate::store::refresh_statistics(&db).await?;
    let service = DbInvestigationService::new(db.clone(), None);
    let cases = [
        ("every event", q(EventFilter::default())?),
        ("source unified", q(EventFilter { source: Some("unified".into()), ..Default::default() })?),
        ("last 7 days", q(EventFilter { last: Some("7d".into()), ..Default::default() })?),
    ];
    for (name, query) in cases {
        let mut times = Vec::with_capacity(runs);
        let mut matched = 0;
        service.overview_of(&query, false).await.map_err(|e| anyhow::anyhow!(e.message))?; // warm-up
        for _ in 0..runs.max(1) {
            let t = Instant::now();
            let o = service.overview_of(&query, false).await.map_err(|e| anyhow::anyhow!(e.message))?;
            times.push(t.elapsed().as_secs_f64());
            matched = o.counts.total;
        }
        times.sort_by(f64::total_cmp);
        println!(
            "overview, {name:<16} {matched:>9} matching events   median {:>7.3} s   max {:>7.3} s",
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
    Ok(())
}

/// `aoc bench graph`: the entity graph (aggregation, cap, layout) over N generated events.
pub async fn run_graph(database_url: Option<String>, events: u64, runs: usize) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    let url = database_url.unwrap_or_else(|| format!("sqlite://{}/bench.db?mode=rwc", dir.display()));
    let db = crate::store::connect(&DatabaseUrl::new(url)).await?;
    crate::store::migrate(&db).await?;
    println!("aoc bench graph: {}, target {events} events, {runs} runs", crate::store::backend_name(&db));
    load(&db, events).await?;
    crate::store::refresh_statistics(&db).await?;
    let service = DbInvestigationService::new(db.clone(), None);
    let query = q(EventFilter::default())?;
    for cap in [app::investigate::GRAPH_EDGES, app::investigate::MAX_GRAPH_EDGES] {
        let mut times = Vec::with_capacity(runs);
        let mut shape = (0, 0, 0, 0);
        service.graph_of(&query, cap, &[]).await.map_err(|e| anyhow::anyhow!(e.message))?; // warm-up
        for _ in 0..runs.max(1) {
            let t = Instant::now();
            let g = service.graph_of(&query, cap, &[]).await.map_err(|e| anyhow::anyhow!(e.message))?;
            times.push(t.elapsed().as_secs_f64());
            shape = (g.total_events, g.nodes.len(), g.edges.len(), g.edges_total);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "graph, cap {cap:>4}: {} events, {} nodes, {} of {} edges   median {:>7.3} s   max {:>7.3} s",
            shape.0,
            shape.1,
            shape.2,
            shape.3,
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
    Ok(())
}

/// `aoc bench map`: the sign-in map (read, locate, new countries, impossible travel) over N
/// generated events, loaded if needed; with GEOIP_DATABASE set, addresses are placed too.
pub async fn run_map(database_url: Option<String>, events: u64, runs: usize) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    let url = database_url.unwrap_or_else(|| format!("sqlite://{}/bench.db?mode=rwc", dir.display()));
    let db = crate::store::connect(&DatabaseUrl::new(url)).await?;
    crate::store::migrate(&db).await?;
    let geoip = match std::env::var_os("GEOIP_DATABASE") {
        Some(path) => Some(std::sync::Arc::new(super::geo::GeoIp::open(std::path::Path::new(&path))?)),
        None => None,
    };
    println!(
        "aoc bench map: {}, target {events} events, {runs} runs, IP database {}",
        crate::store::backend_name(&db),
        if geoip.is_some() { "loaded" } else { "not set (GEOIP_DATABASE)" }
    );
    load(&db, events).await?;
    crate::store::refresh_statistics(&db).await?;
    let service = DbInvestigationService::new(db.clone(), None).with_geoip(geoip);
    let cases = [
        ("every event", q(EventFilter::default())?),
        ("source signin", q(EventFilter { source: Some("signin".into()), ..Default::default() })?),
    ];
    for (name, query) in cases {
        let mut times = Vec::with_capacity(runs);
        let mut shape = (0, 0, 0, 0, 0, 0);
        service.map_of(&query, app::investigate::MAP_EVENT_CAP).await.map_err(|e| anyhow::anyhow!(e.message))?;
        for _ in 0..runs.max(1) {
            let t = Instant::now();
            let m = service
                .map_of(&query, app::investigate::MAP_EVENT_CAP)
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
            times.push(t.elapsed().as_secs_f64());
            shape = (m.events, m.located, m.points_total, m.private, m.new_countries_total, m.travel_total);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "map, {name:<14} {} events read, {} located at {} places, {} private, {} new countries, {} travel pairs   \
             median {:>7.3} s   max {:>7.3} s",
            shape.0,
            shape.1,
            shape.2,
            shape.3,
            shape.4,
            shape.5,
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
    Ok(())
}
