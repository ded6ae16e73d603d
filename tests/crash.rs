//! Collection under process death and concurrency, with the real `aoc` binary: a backfill killed
//! with SIGKILL at random points and restarted ends with exactly the simulator's ground truth, and
//! two processes collecting from one PostgreSQL database fetch every blob once. The detection
//! rules run during these backfills (`aoc fetch` evaluates what it stores), and each ends with
//! every rule match in exactly one alert, each alert counting its events once.

mod common;

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aoc::simulator::{self, RunningSimulator, SimConfig};
use common::{test_database, Backend, TestDatabase};
use rand::{Rng, SeedableRng};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

async fn frozen_sim() -> RunningSimulator {
    let config = SimConfig {
        seed: 1234,
        tenants: 1,
        history_days: 6,
        events_per_day: 1_500,
        content_page_size: 8,
        management_budget_per_minute: 1_000_000,
        graph_reports_limit: 0,
        ..SimConfig::default()
    };
    let sim = simulator::spawn(config, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    reqwest::Client::new()
        .post(format!("{}/_sim/clock", sim.base_url))
        .json(&json!({"freeze": true}))
        .send()
        .await
        .unwrap();
    sim
}

fn fetch(sim: &RunningSimulator, db: &TestDatabase) -> Child {
    let t = &sim.state.tenants[0];
    let dir = tempfile::tempdir().unwrap().keep();
    Command::new(env!("CARGO_BIN_EXE_aoc"))
        .args(["fetch", "--hours", "168", "--json"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AOC_DATA_DIR", &dir)
        .env("DATABASE_URL", db.url.expose())
        .env("TENANT_ID", &t.model.tenant_id)
        .env("CLIENT_ID", &t.apps[0].client_id)
        .env("CLIENT_SECRET", &t.apps[0].secret)
        .env("LOGIN_BASE_URL", &sim.base_url)
        .env("GRAPH_BASE_URL", &sim.base_url)
        .env("MANAGEMENT_BASE_URL", &sim.base_url)
        .env("MANAGEMENT_REQUESTS_PER_MINUTE", "1000000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("aoc fetch starts")
}

const SOURCES: [&str; 4] = ["unified", "directory", "signin", "intune"];

/// The ids of the records the simulator publishes for `source`.
async fn ground_truth(sim: &RunningSimulator, source: &str) -> BTreeSet<String> {
    let tenant = &sim.state.tenants[0].model.tenant_id;
    let since = (sim.state.origin - chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let url = format!("{}/_sim/ground-truth?tenant={tenant}&source={source}&since={since}", sim.base_url);
    let body: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    body["ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

async fn assert_exact(sim: &RunningSimulator, db: &TestDatabase) {
    let conn = aoc::store::connect(&db.url).await.unwrap();
    for source in SOURCES {
        let expected = ground_truth(sim, source).await;
        let rows = conn
            .query_all(Statement::from_string(
                conn.get_database_backend(),
                format!("SELECT record_id FROM events WHERE source = '{source}'"),
            ))
            .await
            .unwrap();
        let stored: Vec<String> = rows.iter().map(|r| r.try_get::<String>("", "record_id").unwrap()).collect();
        let unique: BTreeSet<String> = stored.iter().cloned().collect();
        assert_eq!(stored.len(), unique.len(), "{source}: a record is stored twice");
        assert_eq!(unique.len(), expected.len(), "{source}: {} stored vs {} published", unique.len(), expected.len());
        assert_eq!(unique, expected, "{source}");
    }
}

/// Every match of the enabled match rules over all stored events is in exactly one alert of its
/// rule, no alert holds an event its rule does not match, each alert's count is its number of
/// events, and the evaluation cursor reached the newest event.
async fn assert_alerts_once(conn: &sea_orm::DatabaseConnection) {
    use aoc::services::detection::{evaluate, load_rules};
    use aoc::store::detection::events_after;
    let rules: Vec<_> = load_rules(conn).await.unwrap().into_iter().filter(|r| !r.logic.is_stateful()).collect();
    let mut expected = BTreeSet::new();
    let mut after = 0;
    loop {
        let page = events_after(conn, after, None, 5_000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        for m in evaluate(&rules, &page) {
            expected.insert((rules[m.rule].id, m.event_id));
        }
    }
    assert!(!expected.is_empty(), "the simulated tenant's activity matches some built-in rules");
    let rows = conn
        .query_all(Statement::from_string(
            conn.get_database_backend(),
            "SELECT a.rule_id, ae.event_id FROM alert_events ae JOIN alerts a ON a.id = ae.alert_id",
        ))
        .await
        .unwrap();
    let linked: Vec<(i64, i64)> = rows
        .iter()
        .map(|r| (r.try_get::<i64>("", "rule_id").unwrap(), r.try_get::<i64>("", "event_id").unwrap()))
        .filter(|(rule, _)| rules.iter().any(|r| r.id == *rule))
        .collect();
    let unique: BTreeSet<(i64, i64)> = linked.iter().copied().collect();
    assert_eq!(linked.len(), unique.len(), "an event is in two alerts of one rule");
    assert_eq!(unique, expected, "alerts hold exactly the rules' matches");
    let miscounted = conn
        .query_all(Statement::from_string(
            conn.get_database_backend(),
            "SELECT a.id FROM alerts a WHERE a.count <> (SELECT COUNT(*) FROM alert_events ae WHERE ae.alert_id = a.id)",
        ))
        .await
        .unwrap();
    assert!(miscounted.is_empty(), "{} alerts count an event twice or miss one", miscounted.len());
    let cursor = aoc::store::detection::cursor(conn).await.unwrap();
    assert_eq!(cursor, after, "the rules saw every stored event");
    eprintln!("{} rule matches in {} alerts, each once", expected.len(), unique.len());
}

/// How many records the simulator publishes over all sources.
async fn ground_truth_total(sim: &RunningSimulator) -> u64 {
    let mut total = 0;
    for source in SOURCES {
        total += ground_truth(sim, source).await.len() as u64;
    }
    total
}

async fn a_backfill_killed_at_random_points_ends_with_the_exact_set(backend: Backend) {
    let Some(db) = test_database(backend).await else { return };
    let sim = frozen_sim().await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5161);
    let conn = aoc::store::connect(&db.url).await.unwrap();
    aoc::store::migrate(&conn).await.unwrap();
    // A killed process's lease runs out after five minutes; each restart here happens "later",
    // so the dead holder's lease is expired first and the new process really collects.
    let expire_leases = || async {
        conn.execute(Statement::from_string(
            conn.get_database_backend(),
            "UPDATE collection_leases SET expires_at = '2000-01-01T00:00:00+00:00'",
        ))
        .await
        .unwrap();
    };
    let published = ground_truth_total(&sim).await;
    let stored = || async {
        conn.query_one(Statement::from_string(conn.get_database_backend(), "SELECT COUNT(*) AS n FROM events"))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap() as u64
    };
    let mut killed_mid_run = 0;
    for trial in 0..8 {
        expire_leases().await;
        // Kill on observed progress, not after a guessed delay: once this many more events are
        // committed (a random share of the whole, so kills land at different points of the run).
        let target = stored().await + rng.random_range(published / 40..published / 10).max(1);
        let mut child = fetch(&sim, &db);
        let finished = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if stored().await >= target {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        match finished {
            Some(status) => eprintln!("trial {trial}: finished before the kill ({status})"),
            None => {
                // SIGKILL: no chance to clean up, release leases or finish a transaction.
                Command::new("kill").args(["-KILL", &child.id().to_string()]).status().unwrap();
                let _ = child.wait();
                killed_mid_run += 1;
            }
        }
    }
    assert!(killed_mid_run >= 4, "most trials were killed mid-run ({killed_mid_run})");
    expire_leases().await;
    let out = fetch(&sim, &db).wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_exact(&sim, &db).await;
    assert_alerts_once(&conn).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_fetch_every_blob_once() {
    let Some(db) = test_database(Backend::Postgres).await else { return };
    let sim = frozen_sim().await;
    // Create the schema first so both processes start from the same state.
    let conn = aoc::store::connect(&db.url).await.unwrap();
    aoc::store::migrate(&conn).await.unwrap();
    let a = fetch(&sim, &db);
    let b = fetch(&sim, &db);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    assert_exact(&sim, &db).await;
    let stats: Value = reqwest::get(format!("{}/_sim/stats", sim.base_url)).await.unwrap().json().await.unwrap();
    assert_eq!(stats["blob_refetches"], 0, "no blob was fetched by both processes: {stats}");
    let summaries: Vec<Value> = [a, b].iter().map(|o| serde_json::from_slice(&o.stdout).unwrap()).collect();
    let inserted: u64 = summaries
        .iter()
        .flat_map(|s| s["sources"].as_array().unwrap().clone())
        .map(|s| s["inserted"].as_u64().unwrap())
        .sum();
    let stored: u64 = conn
        .query_one(Statement::from_string(conn.get_database_backend(), "SELECT COUNT(*) AS n FROM events"))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap() as u64;
    assert_eq!(inserted, stored, "the two summaries together account for every stored event exactly once");
    assert_alerts_once(&conn).await;
}

on_both_backends!(a_backfill_killed_at_random_points_ends_with_the_exact_set);
