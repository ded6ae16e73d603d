//! `aoc bench export`: how fast the delivery worker empties a destination's queue into a local
//! webhook receiver, and the worker's memory when the receiver is slow. Events are generated
//! (`store::synthetic`), queued by a backfill, then delivered by the real worker over loopback
//! HTTP to a receiver in this process that checks each batch is a JSON array and counts it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};

use super::worker::{Exporter, Tuning};
use crate::config::DatabaseUrl;
use crate::store::{self, entities::destinations};

#[derive(Default)]
struct Counter {
    events: AtomicU64,
    requests: AtomicU64,
}

/// Runs the benchmark and prints its figures.
pub async fn run(
    database_url: Option<String>,
    events: usize,
    batch_size: i32,
    concurrency: i32,
    slow_ms: u64,
) -> anyhow::Result<()> {
    let temp = std::env::temp_dir().join(format!("aoc-bench-export-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&temp)?;
    let url =
        DatabaseUrl::new(database_url.unwrap_or_else(|| format!("sqlite://{}/bench.db?mode=rwc", temp.display())));
    let db = store::connect(&url).await?;
    store::migrate(&db).await?;
    let now = Utc::now();
    store::synthetic::generate(&db, events, 1, 17, now).await?;

    let counter = Arc::new(Counter::default());
    let router =
        axum::Router::new()
            .route(
                "/hook",
                axum::routing::post(
                    move |axum::extract::State(counter): axum::extract::State<Arc<Counter>>,
                          body: axum::body::Bytes| async move {
                        if slow_ms > 0 {
                            tokio::time::sleep(Duration::from_millis(slow_ms)).await;
                        }
                        match serde_json::from_slice::<Vec<serde::de::IgnoredAny>>(&body) {
                            Ok(items) => {
                                counter.events.fetch_add(items.len() as u64, Ordering::Relaxed);
                                counter.requests.fetch_add(1, Ordering::Relaxed);
                                axum::http::StatusCode::OK
                            }
                            Err(_) => axum::http::StatusCode::BAD_REQUEST,
                        }
                    },
                ),
            )
            .with_state(counter.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await.ok() });

    let destination = destinations::ActiveModel {
        name: Set("bench".into()),
        kind: Set("webhook".into()),
        endpoint: Set(endpoint),
        receives: Set("all".into()),
        min_severity: Set(0),
        format: Set("json".into()),
        batch_size: Set(batch_size),
        concurrency: Set(concurrency),
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
    let queued = store::export::backfill(&db, destination.id, now - chrono::Duration::days(2)).await?;
    let rss_before = crate::ingest::bench::peak_rss_mib().unwrap_or(0.0);

    let settings =
        crate::config::Settings::from_lookup(&|name: &str| (name == "DATABASE_URL").then(|| url.expose().to_string()))?;
    let tuning = Tuning { poll: Duration::from_millis(20), ..Tuning::default() };
    let started = Instant::now();
    let worker = Arc::new(Exporter::new(db.clone(), &settings, tuning)).spawn();
    let mut last_report = Instant::now();
    while counter.events.load(Ordering::Relaxed) < queued {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if slow_ms > 0 && last_report.elapsed() > Duration::from_secs(10) {
            last_report = Instant::now();
            println!(
                "  {:.0} s: {} delivered, peak RSS {:.0} MiB",
                started.elapsed().as_secs_f64(),
                counter.events.load(Ordering::Relaxed),
                crate::ingest::bench::peak_rss_mib().unwrap_or(0.0)
            );
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    worker.abort();
    println!("backend: {}", url.backend());
    println!(
        "webhook: {queued} events in {} requests (batch {batch_size}, {concurrency} lanes at once{}) in {seconds:.1} s = {:.0} events/s",
        counter.requests.load(Ordering::Relaxed),
        if slow_ms > 0 { format!(", receiver answering after {slow_ms} ms") } else { String::new() },
        queued as f64 / seconds
    );
    println!(
        "peak RSS of the AOC process: {:.0} MiB (after generating and queueing: {rss_before:.0} MiB)",
        crate::ingest::bench::peak_rss_mib().unwrap_or(0.0)
    );
    drop(db);
    let _ = std::fs::remove_dir_all(&temp);
    Ok(())
}
