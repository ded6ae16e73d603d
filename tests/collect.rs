//! Collection from the simulator over real HTTP into SQLite and PostgreSQL: a backfill collects
//! exactly the simulator's ground truth for every source, collecting again inserts nothing, late
//! blobs are picked up, faults are survived, and failures are reported with what to fix.

mod common;

use std::collections::BTreeSet;

use aoc::ingest::{Collector, Connector};
use aoc::normalize::Source;
use aoc::simulator::{self, RunningSimulator, SimConfig};
use aoc::store::{self, writer::Subscribers};
use chrono::{DateTime, Utc};
use common::{test_database, Backend, TestDatabase};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

fn sim_config() -> SimConfig {
    SimConfig {
        seed: 99,
        tenants: 1,
        history_days: 6,
        events_per_day: 900,
        content_page_size: 6,
        management_budget_per_minute: 60_000,
        ..SimConfig::default()
    }
}

struct Rig {
    sim: RunningSimulator,
    collector: Collector,
    _db: TestDatabase,
}

async fn rig(backend: Backend, config: SimConfig, app: usize) -> Option<Rig> {
    let database = test_database(backend).await?;
    let db = store::connect(&database.url).await.unwrap();
    store::migrate(&db).await.unwrap();
    let sim = simulator::spawn(config, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    control(&sim, "clock", json!({"freeze": true})).await;
    let collector = Collector::new(db, Subscribers::default()).unwrap();
    let mut connector = aoc::startup::demo_connector(&sim);
    connector.demo = false;
    // The simulator's budget is raised to match, so tests do not wait on the 2,000/min pacing.
    connector.management_rpm = 60_000;
    let app = &sim.state.tenants[0].apps[app];
    connector.client_id = app.client_id.clone();
    connector.credential = aoc::ingest::Credential::Secret(app.secret.clone().into());
    collector.add_connector(connector);
    Some(Rig { sim, collector, _db: database })
}

async fn control(sim: &RunningSimulator, path: &str, body: Value) {
    let client = reqwest::Client::new();
    let url = format!("{}/_sim/{path}", sim.base_url);
    let r = if path == "faults" { client.patch(url) } else { client.post(url) }.json(&body).send().await.unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
}

async fn truth(sim: &RunningSimulator, source: &str, until: DateTime<Utc>) -> BTreeSet<String> {
    let tenant = &sim.state.tenants[0].model.tenant_id;
    let since = sim.state.origin - chrono::Duration::hours(1);
    let url = format!(
        "{}/_sim/ground-truth?tenant={tenant}&source={source}&since={}&until={}",
        sim.base_url,
        since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        until.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    );
    let body: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    body["ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

async fn stored(c: &Collector, source: &str) -> (BTreeSet<String>, u64) {
    let backend = c.db.get_database_backend();
    let sql = format!("SELECT record_id FROM events WHERE source = '{source}'");
    let rows = c.db.query_all(Statement::from_string(backend, sql)).await.unwrap();
    let ids: Vec<String> = rows.iter().map(|r| r.try_get::<String>("", "record_id").unwrap()).collect();
    let n = ids.len() as u64;
    (ids.into_iter().collect(), n)
}

/// Checks that what is stored equals the ground truth, with no record twice.
async fn assert_exact(rig: &Rig, until: DateTime<Utc>) {
    for source in ["unified", "directory", "signin", "intune"] {
        let expected = truth(&rig.sim, source, until).await;
        let (got, rows) = stored(&rig.collector, source).await;
        assert!(!expected.is_empty(), "{source}: the simulator published nothing");
        assert_eq!(rows, got.len() as u64, "{source}: a record is stored twice");
        let missing: Vec<_> = expected.difference(&got).take(3).collect();
        let extra: Vec<_> = got.difference(&expected).take(3).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{source}: {} missing (e.g. {missing:?}), {} extra (e.g. {extra:?})",
            expected.difference(&got).count(),
            got.difference(&expected).count()
        );
    }
}

async fn a_backfill_collects_exactly_the_ground_truth_and_again_inserts_nothing(backend: Backend) {
    let Some(rig) = rig(backend, sim_config(), 0).await else { return };
    let summary = rig.collector.collect_all(None, true).await;
    let until = Utc::now();
    for s in &summary.sources {
        assert_eq!(s.state, "ok", "{s:?}");
        assert!(s.inserted > 0, "{s:?}");
        assert_eq!(s.failed, 0);
        assert_eq!(s.normalize_errors, 0, "{s:?}");
    }
    assert_exact(&rig, until).await;

    let again = rig.collector.collect_all(None, true).await;
    for s in &again.sources {
        assert_eq!((s.state.as_str(), s.inserted), ("ok", 0), "{s:?}");
    }
    // Graph's overlap re-reads recent records: they count as duplicates, never stored again.
    assert!(again.sources.iter().filter(|s| s.source != "unified").any(|s| s.duplicates > 0));

    let stats: Value = reqwest::get(format!("{}/_sim/stats", rig.sim.base_url)).await.unwrap().json().await.unwrap();
    assert_eq!(stats["management_requests_without_publisher"], 0, "PublisherIdentifier on every call");
    assert_eq!(stats["blob_refetches"], 0, "no blob is fetched twice");
    assert_eq!(stats["subscription_starts"], 5, "each subscription started once");
}

async fn late_blobs_and_new_activity_are_collected_on_the_next_run(backend: Backend) {
    let Some(rig) = rig(backend, SimConfig { events_per_day: 3_000, ..sim_config() }, 0).await else { return };
    // The simulated cloud runs an hour behind: what it publishes in that hour appears only after
    // AOC has listed (and closed) those windows. (Within Graph's overlap of three hours, an
    // hour's delay plus Graph's own lag of up to two hours loses nothing.)
    control(&rig.sim, "clock", json!({"advance_seconds": -3600})).await;
    rig.collector.collect_all(None, true).await;
    control(&rig.sim, "clock", json!({"advance_seconds": 3600})).await;
    let summary = rig.collector.collect_all(None, true).await;
    assert!(summary.sources.iter().all(|s| s.state == "ok"), "{summary:?}");
    let unified = summary.sources.iter().find(|s| s.source == "unified").unwrap();
    assert!(unified.inserted > 0, "blobs that appeared late in closed windows were collected: {unified:?}");
    assert_exact(&rig, Utc::now()).await;
}

async fn every_injected_fault_is_survived_with_the_exact_set(backend: Backend) {
    let Some(rig) = rig(backend, sim_config(), 0).await else { return };
    control(
        &rig.sim,
        "faults",
        json!({
            "server_errors": 4, "af429": 2, "graph_429": 2, "retry_after_secs": 1,
            "truncated": 3, "invalid_json": 2, "timeouts": 1, "timeout_ms": 200,
            "token_outage": 1, "latency_ms": 2
        }),
    )
    .await;
    let summary = rig.collector.collect_all(None, true).await;
    let until = Utc::now();
    for s in &summary.sources {
        assert_eq!(s.state, "ok", "{s:?}");
    }
    let faults: Value = reqwest::get(format!("{}/_sim/faults", rig.sim.base_url)).await.unwrap().json().await.unwrap();
    for f in ["server_errors", "af429", "graph_429", "truncated", "invalid_json", "timeouts", "token_outage"] {
        assert_eq!(faults[f], 0, "{f} was injected");
    }
    assert_exact(&rig, until).await;
}

/// A blob of several megabytes is stored as many batches at once (see `store_stream`): every
/// record exactly once, also when bodies are cut off half-way and fetched again.
async fn a_large_blob_is_stored_exactly_while_its_batches_overlap(backend: Backend) {
    let Some(rig) = rig(backend, sim_config(), 0).await else { return };
    control(&rig.sim, "faults", json!({"oversized_blob_mb": 3, "truncated": 2})).await;
    let summary = rig.collector.collect_all(None, true).await;
    let until = Utc::now();
    for s in &summary.sources {
        assert_eq!(s.state, "ok", "{s:?}");
    }
    let unified = summary.sources.iter().find(|s| s.source == "unified").unwrap();
    let oversized = aoc::simulator::content::oversized_record_count(3);
    assert!(oversized > 2_000, "the blob spans several batches: {oversized}");
    assert!(unified.inserted > oversized, "{unified:?}");
    assert_exact(&rig, until).await;
}

on_both_backends!(
    a_large_blob_is_stored_exactly_while_its_batches_overlap,
    a_backfill_collects_exactly_the_ground_truth_and_again_inserts_nothing,
    late_blobs_and_new_activity_are_collected_on_the_next_run,
    every_injected_fault_is_survived_with_the_exact_set,
    links_to_another_host_never_receive_the_token,
);

#[tokio::test]
async fn a_wrong_secret_is_reported_with_the_aadsts_code_and_the_fix() {
    let rig = rig(Backend::Sqlite, sim_config(), 0).await.unwrap();
    let mut c: Connector = rig.collector.connectors()[0].clone();
    c.credential = aoc::ingest::Credential::Secret("not-the-secret".to_string().into());
    rig.collector.add_connector(c.clone());
    let s = rig.collector.collect_source(&c, Source::Directory, None, true).await;
    assert_eq!(s.state, "failing");
    let error = s.error.unwrap();
    assert!(error.contains("AADSTS7000215") && error.contains("not its Secret ID"), "{error}");
    assert!(!error.contains("not-the-secret"), "the secret never appears in messages");
}

#[tokio::test]
async fn missing_licences_and_permissions_are_clear_source_states() {
    let rig = rig(Backend::Sqlite, sim_config(), 1).await.unwrap();
    let tenant = rig.sim.state.tenants[0].model.tenant_id.clone();
    reqwest::Client::new()
        .patch(format!("{}/_sim/tenants/{tenant}/flags", rig.sim.base_url))
        .json(&json!({"entra_p1": false}))
        .send()
        .await
        .unwrap();
    let summary = rig.collector.collect_all(None, true).await;
    let by = |s: &str| summary.sources.iter().find(|x| x.source == s).unwrap().clone();
    assert_eq!(by("signin").state, "unlicensed", "{:?}", by("signin"));
    assert_eq!(by("directory").state, "ok");
    let intune = by("intune");
    assert_eq!(intune.state, "failing");
    let error = intune.error.clone().unwrap();
    assert!(error.contains("DeviceManagementApps.Read.All"), "{error}");
    // What Graph said stays in the server log; the answer carries the fix and an id to quote.
    assert!(!error.contains("not authorized"), "{error}");
    let id = intune.error_id.clone().unwrap();
    assert!(error.contains(&id), "{error}");
    let backend = rig.collector.db.get_database_backend();
    let row = rig
        .collector
        .db
        .query_one(Statement::from_string(
            backend,
            "SELECT last_error FROM source_status WHERE source = 'intune'".to_string(),
        ))
        .await
        .unwrap()
        .unwrap();
    let stored: String = row.try_get("", "last_error").unwrap();
    assert_eq!(stored, error, "the source's last_error is the same user-safe message");
    let unified = by("unified");
    assert_eq!(unified.state, "ok", "{unified:?}");
    assert!(unified.warnings.iter().any(|w| w.contains("ActivityFeed.ReadDlp")), "{unified:?}");
}

/// The tenant's own domains for normalization: the verified ones Graph lists plus TENANT_DOMAINS;
/// an app that may not read them still gets the configured ones (and collection is unaffected).
#[tokio::test]
async fn tenant_domains_come_from_graph_and_the_configuration() {
    for (app, from_graph) in [(0usize, true), (2, false)] {
        let rig = rig(Backend::Sqlite, sim_config(), app).await.unwrap();
        let tenant = rig.sim.state.tenants[0].model.clone();
        let mut connector = rig.collector.connector(&tenant.tenant_id).unwrap();
        connector.domains = vec!["Partner-Mail.example".into()];
        let context = rig.collector.domains.context(&rig.collector.graph, &connector).await;
        let mut expected = vec!["partner-mail.example".to_string()];
        if from_graph {
            expected.push(tenant.domain.clone());
            expected.push(aoc::simulator::graph::vanity_domain(&tenant.domain));
        }
        assert_eq!(context.tenant_domains, expected, "app {app}");
        // Asked again: answered from the cache, no second Graph call.
        let before: Value =
            reqwest::get(format!("{}/_sim/stats", rig.sim.base_url)).await.unwrap().json().await.unwrap();
        let again = rig.collector.domains.context(&rig.collector.graph, &connector).await;
        let after: Value =
            reqwest::get(format!("{}/_sim/stats", rig.sim.base_url)).await.unwrap().json().await.unwrap();
        assert_eq!(again.tenant_domains, expected);
        assert_eq!(before["graph_requests"], after["graph_requests"], "app {app}");
    }
}

/// The tenant's own application names come from Graph `/servicePrincipals` and are stored, so
/// pages and `app:"Name"` know them; an app that may not read them stores none (and is not
/// asked again for a day), and collection is unaffected.
#[tokio::test]
async fn tenant_app_names_come_from_graph() {
    for (app, from_graph) in [(0usize, true), (2, false)] {
        let rig = rig(Backend::Sqlite, sim_config(), app).await.unwrap();
        let tenant = rig.sim.state.tenants[0].model.clone();
        let connector = rig.collector.connector(&tenant.tenant_id).unwrap();
        assert!(rig.collector.app_names.take_due(&tenant.tenant_id), "due at first");
        rig.collector.app_names.refresh(&rig.collector.graph, &rig.collector.db, &connector).await;
        let ids: Vec<String> = tenant.service_principals.iter().map(|sp| sp.app_id.to_uppercase()).collect();
        let stored = aoc::store::app_names::names_of(&rig.collector.db, &ids).await.unwrap();
        if from_graph {
            assert!(tenant.service_principals.len() >= 4);
            assert_eq!(stored.len(), tenant.service_principals.len(), "app {app}: {stored:?}");
            for sp in &tenant.service_principals {
                assert_eq!(stored[&sp.app_id.to_ascii_lowercase()], sp.display_name);
            }
        } else {
            assert!(stored.is_empty(), "app {app}: {stored:?}");
        }
        assert!(!rig.collector.app_names.take_due(&tenant.tenant_id), "app {app}: not due again at once");
    }
}

/// A listener that records every request it gets (and whether it carried a bearer token).
async fn recording_host() -> (String, std::sync::Arc<std::sync::Mutex<Vec<(String, bool)>>>) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let log = log.clone();
        async move {
            let auth = request.headers().contains_key("authorization");
            log.lock().unwrap().push((request.uri().to_string(), auth));
            "[]"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

/// Links in answers (contentUri, NextPageUri, @odata.nextLink) that name another host never get
/// the token: API paths are rebased onto the configured endpoint, anything else is refused,
/// fails the window with a clear error and is counted.
async fn links_to_another_host_never_receive_the_token(backend: Backend) {
    let Some(rig) = rig(backend, sim_config(), 0).await else { return };
    let metrics = aoc::api::metrics::recorder();
    let (elsewhere, seen) = recording_host().await;

    // Links off the API's paths: refused, the windows fail with what to check.
    control(&rig.sim, "faults", json!({"link_base": format!("{elsewhere}/collect")})).await;
    let tenant = rig.collector.connectors()[0].clone();
    let s = rig.collector.collect_source(&tenant, Source::Unified, Some(3), true).await;
    assert_eq!(s.state, "failing", "{s:?}");
    assert!(s.failed > 0, "the windows failed: {s:?}");
    let error = s.error.clone().unwrap();
    assert!(error.contains("not the configured endpoint") && !error.contains("/collect"), "{error}");
    let scraped = metrics.render();
    let refused = scraped
        .lines()
        .find_map(|l| l.strip_prefix("aoc_ingest_refused_links_total{api=\"management\"} "))
        .and_then(|v| v.parse::<f64>().ok());
    assert!(refused.is_some_and(|n| n >= 1.0), "the refusal is counted: {refused:?}");

    // API links on another host: rebased onto the configured endpoint, nothing is lost.
    control(&rig.sim, "faults", json!({"link_base": elsewhere})).await;
    let summary = rig.collector.collect_all(None, true).await;
    for s in &summary.sources {
        assert_eq!(s.state, "ok", "API links are rebased onto the configured endpoint: {s:?}");
    }
    assert_exact(&rig, Utc::now()).await;
    let requests = seen.lock().unwrap().clone();
    assert!(requests.iter().all(|(_, auth)| !auth), "the token went elsewhere: {requests:?}");
    assert!(requests.is_empty(), "the other host got requests: {requests:?}");
}

/// Callers that ask for the same (tenant, source) at once share one run.
#[tokio::test]
async fn concurrent_collections_of_a_source_share_one_run() {
    let rig = rig(Backend::Sqlite, sim_config(), 0).await.unwrap();
    let c = rig.collector.connectors()[0].clone();
    let runs = (0..6).map(|_| rig.collector.collect_source(&c, Source::Directory, Some(24), true));
    let summaries = futures_util::future::join_all(runs).await;
    assert!(summaries.iter().all(|s| s.state == "ok"), "{summaries:?}");
    assert_eq!(summaries.iter().filter(|s| s.joined).count(), 5, "{summaries:?}");
    assert_eq!(rig.collector.runs_started(&c.tenant_id, Source::Directory), 1);
    // Once it ended, the next call starts a new run.
    rig.collector.collect_source(&c, Source::Directory, Some(24), true).await;
    assert_eq!(rig.collector.runs_started(&c.tenant_id, Source::Directory), 2);
}
