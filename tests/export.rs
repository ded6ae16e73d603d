//! Export to a SIEM, end to end on both backends: events stored through the real write path are
//! queued in the same transaction, delivered by the worker to a webhook receiver running in the
//! test (which checks every Standard Webhooks signature and records each event id), through a
//! receiver that is down for a while, a record it refuses, a worker killed mid-delivery, two
//! workers on one database, and retention deleting events before they were delivered.

#[macro_use]
mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aoc::export::worker::{Exporter, Tuning};
use aoc::normalize::Source;
use aoc::store::writer::{store_batch, EventRow, Subscribers};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use common::{spawn_app_with, test_settings, Backend, TestApp};
use sea_orm::FromQueryResult;
use serde_json::{json, Value};

/// AOC_ENCRYPTION_KEY of these tests (32 bytes, base64).
const KEY: &str = "q1Yb0Xc4Qm6J3o8T2uV9wZ1aB5cD7eF0gH2iJ4kL6mM=";
/// The webhook secret (Standard Webhooks' example).
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ENV: &[(&str, &str)] = &[("AOC_ENCRYPTION_KEY", KEY), ("AOC_EXPORT_WORKER", "false")];

/// How the receiver answers.
#[derive(Clone, Debug)]
struct Behaviour {
    /// The status of every answer (200: accepted).
    status: u16,
    retry_after: Option<&'static str>,
    /// Refuse (400) any batch holding this record id.
    refuse_record: Option<String>,
    /// Never answer (until the request is dropped).
    hang: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self { status: 200, retry_after: None, refuse_record: None, hang: false }
    }
}

/// An HTTP receiver in the test.
#[derive(Default)]
struct Receiver {
    behaviour: Mutex<Behaviour>,
    /// Accepted event ids (AOC ids), in arrival order, per source.
    accepted: Mutex<Vec<(String, i64)>>,
    /// Requests whose signature did not verify.
    bad_signatures: Mutex<u32>,
    requests: Mutex<u32>,
    /// `X-AOC-Event-Id` headers seen.
    single_ids: Mutex<Vec<String>>,
    /// webhook-id of every request.
    message_ids: Mutex<Vec<String>>,
}

async fn receive(
    State(rx): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    *rx.requests.lock().unwrap() += 1;
    let behaviour = rx.behaviour.lock().unwrap().clone();
    if behaviour.hang {
        tokio::time::sleep(Duration::from_secs(3_600)).await;
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let (id, timestamp, signature) = (header("webhook-id"), header("webhook-timestamp"), header("webhook-signature"));
    let key = aoc::export::webhook::secret_key(SECRET).unwrap();
    let expected = aoc::export::webhook::signature(&key, &id, timestamp.parse().unwrap_or(0), &body);
    if signature != expected {
        *rx.bad_signatures.lock().unwrap() += 1;
        return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
    }
    rx.message_ids.lock().unwrap().push(id);
    if headers.contains_key("x-aoc-event-id") {
        rx.single_ids.lock().unwrap().push(header("x-aoc-event-id"));
    }
    let docs: Vec<Value> = serde_json::from_slice(&body).expect("a JSON array");
    if let Some(record) = &behaviour.refuse_record {
        if docs.iter().any(|d| d["record_id"] == record.as_str()) {
            return (StatusCode::BAD_REQUEST, format!("{{\"error\":\"record {record} rejected by the SIEM\"}}"))
                .into_response();
        }
    }
    if behaviour.status != 200 {
        let mut response = (StatusCode::from_u16(behaviour.status).unwrap(), "SIEM is down").into_response();
        if let Some(after) = behaviour.retry_after {
            response.headers_mut().insert("retry-after", after.parse().unwrap());
        }
        return response;
    }
    let mut accepted = rx.accepted.lock().unwrap();
    for doc in docs {
        assert!(doc["raw"].is_object(), "the raw record is sent: {doc}");
        accepted.push((doc["source"].as_str().unwrap_or_default().to_string(), doc["aoc_id"].as_i64().unwrap()));
    }
    (StatusCode::OK, "ok").into_response()
}

/// Starts a receiver on a random port; returns it and its URL.
async fn spawn_receiver() -> (Arc<Receiver>, String) {
    let rx = Arc::new(Receiver::default());
    let router = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(rx.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.ok() });
    (rx, url)
}

fn fast() -> Tuning {
    Tuning {
        poll: Duration::from_millis(50),
        lease: Duration::from_secs(2),
        base_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(400),
        timeout: Duration::from_secs(5),
    }
}

/// Starts a delivery worker (an "AOC process") on the app's database.
fn start_worker(app: &TestApp, tuning: Tuning) -> tokio::task::JoinHandle<()> {
    let settings = test_settings(&app.database.url, ENV);
    Arc::new(Exporter::new(app.db.clone(), &settings, tuning)).spawn()
}

fn row(n: usize, source: Source, at: DateTime<Utc>) -> EventRow {
    EventRow { severity: (n % 5) as i16, ..common::event_row("rec", n, source, at) }
}

/// Stores events `range` through the write path, alternating sources; returns their AOC ids.
async fn ingest(app: &TestApp, range: std::ops::Range<usize>, at: DateTime<Utc>) -> Vec<i64> {
    let rows: Vec<EventRow> =
        range.map(|n| row(n, if n % 3 == 0 { Source::Directory } else { Source::Unified }, at)).collect();
    let mut ids = Vec::new();
    for chunk in rows.chunks(400) {
        let outcome = store_batch(&app.db, chunk.to_vec(), &[], &Subscribers::default()).await.expect("stored");
        ids.extend(outcome.inserted.iter().map(|e| e.id));
    }
    ids
}

async fn call(app: &TestApp, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = app.client.request(method, app.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn add_webhook(app: &TestApp, url: &str, extra: Value) -> i64 {
    let mut body = json!({ "name": format!("hook-{}", uuid::Uuid::new_v4().simple()), "kind": "webhook", "endpoint": url, "secret": SECRET, "batch_size": 250 });
    body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    let (status, view) = call(app, reqwest::Method::POST, "/api/destinations", Some(body)).await;
    assert_eq!(status, 201, "{view}");
    view["id"].as_i64().unwrap()
}

/// Waits until the receiver accepted at least `n` events (or fails after `limit`).
async fn wait_for(rx: &Receiver, n: usize, limit: Duration) {
    let started = std::time::Instant::now();
    while rx.accepted.lock().unwrap().len() < n {
        assert!(
            started.elapsed() < limit,
            "only {} of {n} events arrived in {limit:?}",
            rx.accepted.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn counts(rx: &Receiver) -> BTreeMap<i64, usize> {
    let mut counts = BTreeMap::new();
    for (_, id) in rx.accepted.lock().unwrap().iter() {
        *counts.entry(*id).or_insert(0) += 1;
    }
    counts
}

/// Within each source, ids arrived in increasing order (a redelivered batch may repeat a run).
fn assert_in_order_per_source(rx: &Receiver) {
    let mut last: BTreeMap<String, i64> = BTreeMap::new();
    let mut seen: HashSet<i64> = HashSet::new();
    for (source, id) in rx.accepted.lock().unwrap().iter() {
        if seen.insert(*id) {
            let previous = last.insert(source.clone(), *id).unwrap_or(0);
            assert!(*id > previous, "{source}: {id} arrived after {previous}");
        }
    }
}

async fn queue(app: &TestApp, id: i64) -> Value {
    let (status, view) = call(app, reqwest::Method::GET, &format!("/api/destinations/{id}"), None).await;
    assert_eq!(status, 200, "{view}");
    view
}

async fn events_stored_after_a_destination_is_added_are_delivered_once_each_and_signed(backend: Backend) {
    let Some(app) = spawn_app_with(backend, ENV).await else { return };
    let (rx, url) = spawn_receiver().await;
    let now = Utc::now();
    let before = ingest(&app, 0..50, now).await;
    let id = add_webhook(&app, &url, json!({})).await;
    let ids = ingest(&app, 50..1_050, now).await;
    // Re-collecting the same records stores nothing and queues nothing.
    assert!(ingest(&app, 50..1_050, now).await.is_empty());
    assert_eq!(queue(&app, id).await["queue"]["pending"], 1_000);
    let worker = start_worker(&app, fast());
    wait_for(&rx, ids.len(), Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let counts = counts(&rx);
    assert_eq!(counts.keys().copied().collect::<Vec<_>>(), ids, "exactly the events stored after the destination");
    assert!(counts.values().all(|&n| n == 1), "each event once");
    assert!(before.iter().all(|id| !counts.contains_key(id)), "earlier events need a backfill");
    assert_eq!(*rx.bad_signatures.lock().unwrap(), 0);
    assert_in_order_per_source(&rx);
    let view = queue(&app, id).await;
    assert_eq!(view["queue"]["pending"], 0, "{view}");
    assert_eq!(view["delivered_total"], 1_000, "{view}");
    // A backfill queues the earlier events (and none twice).
    let (status, answer) = call(
        &app,
        reqwest::Method::POST,
        &format!("/api/destinations/{id}/backfill"),
        Some(json!({ "from": (now - chrono::Duration::hours(1)).to_rfc3339() })),
    )
    .await;
    assert_eq!((status, answer["queued"].as_i64()), (200, Some(1_050)), "{answer}");
    wait_for(&rx, 2_050, Duration::from_secs(60)).await;
    assert!(before.iter().all(|id| counts_of(&rx, *id) == 1));
    worker.abort();
}

fn counts_of(rx: &Receiver, id: i64) -> usize {
    rx.accepted.lock().unwrap().iter().filter(|(_, i)| *i == id).count()
}

async fn a_destination_receives_only_what_it_selects(backend: Backend) {
    let Some(app) = spawn_app_with(backend, ENV).await else { return };
    let (rx, url) = spawn_receiver().await;
    let (_, url2) = spawn_receiver().await;
    let high = add_webhook(&app, &url, json!({ "receives": "min_severity", "min_severity": "high" })).await;
    let directory =
        add_webhook(&app, &url2, json!({ "receives": "filter", "filter": { "source": "directory" } })).await;
    let off = add_webhook(&app, &url2, json!({ "enabled": false })).await;
    let alerts = add_webhook(&app, &url2, json!({ "receives": "alerts" })).await;
    ingest(&app, 0..300, Utc::now()).await;
    // Severity is n % 5; high (3) or worse: n % 5 in {3, 4}.
    assert_eq!(queue(&app, high).await["queue"]["pending"], 120);
    assert_eq!(queue(&app, directory).await["queue"]["pending"], 100);
    assert_eq!(queue(&app, off).await["queue"]["pending"], 0);
    assert_eq!(queue(&app, alerts).await["queue"]["pending"], 0);
    let worker = start_worker(&app, fast());
    wait_for(&rx, 120, Duration::from_secs(30)).await;
    worker.abort();
}

async fn a_receiver_that_is_down_for_a_while_gets_everything_afterwards(backend: Backend) {
    let Some(app) = spawn_app_with(backend, ENV).await else { return };
    let (rx, url) = spawn_receiver().await;
    rx.behaviour.lock().unwrap().status = 503;
    let id = add_webhook(&app, &url, json!({})).await;
    let ids = ingest(&app, 0..600, Utc::now()).await;
    let worker = start_worker(&app, fast());
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    // Down: several attempts, nothing accepted, the error shown, nothing lost.
    assert!(*rx.requests.lock().unwrap() >= 3, "retried while down");
    let view = queue(&app, id).await;
    assert_eq!(view["queue"]["pending"], 600, "{view}");
    assert!(view["last_error"].as_str().unwrap_or_default().contains("503"), "{view}");
    // Throttled with Retry-After, then up again.
    *rx.behaviour.lock().unwrap() = Behaviour { status: 429, retry_after: Some("1"), ..Default::default() };
    tokio::time::sleep(Duration::from_millis(800)).await;
    *rx.behaviour.lock().unwrap() = Behaviour::default();
    wait_for(&rx, ids.len(), Duration::from_secs(60)).await;
    let counts = counts(&rx);
    assert_eq!(counts.keys().copied().collect::<Vec<_>>(), ids);
    assert!(counts.values().all(|&n| n == 1), "refused batches were not accepted, so nothing twice");
    assert_in_order_per_source(&rx);
    // Connection refused (the far end is gone) is retried the same way.
    let gone = "http://127.0.0.1:9/hook";
    let other = add_webhook(&app, gone, json!({})).await;
    ingest(&app, 600..610, Utc::now()).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let view = queue(&app, other).await;
    assert_eq!(view["queue"]["pending"], 10, "{view}");
    assert!(view["last_error"].as_str().unwrap_or_default().contains("connect"), "{view}");
    worker.abort();
}

async fn a_refused_record_is_parked_alone_and_can_be_retried(backend: Backend) {
    let Some(app) = spawn_app_with(backend, ENV).await else { return };
    let (rx, url) = spawn_receiver().await;
    rx.behaviour.lock().unwrap().refuse_record = Some("rec-123".into());
    let id = add_webhook(&app, &url, json!({})).await;
    let ids = ingest(&app, 0..400, Utc::now()).await;
    let worker = start_worker(&app, fast());
    wait_for(&rx, ids.len() - 1, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, parked) = call(&app, reqwest::Method::GET, &format!("/api/destinations/{id}/parked"), None).await;
    assert_eq!(status, 200);
    let items = parked["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{parked}");
    assert!(items[0]["reason"].as_str().unwrap().contains("HTTP 400"), "{parked}");
    assert!(items[0]["reason"].as_str().unwrap().contains("rejected by the SIEM"), "the far end's answer is kept");
    let refused = items[0]["event_id"].as_i64().unwrap();
    assert_eq!(counts(&rx).len(), ids.len() - 1);
    assert!(!counts(&rx).contains_key(&refused));
    assert!(rx.single_ids.lock().unwrap().contains(&refused.to_string()), "a lone event carries X-AOC-Event-Id");
    // Fixed at the far end: retry from the API.
    rx.behaviour.lock().unwrap().refuse_record = None;
    let (status, answer) = call(
        &app,
        reqwest::Method::POST,
        &format!("/api/destinations/{id}/retry"),
        Some(json!({ "items": [items[0]["id"]] })),
    )
    .await;
    assert_eq!((status, answer["requeued"].as_i64()), (200, Some(1)), "{answer}");
    wait_for(&rx, ids.len(), Duration::from_secs(30)).await;
    assert_eq!(counts_of(&rx, refused), 1);
    assert_eq!(queue(&app, id).await["queue"]["parked"], 0);
    worker.abort();
}

async fn a_worker_killed_mid_delivery_loses_nothing(backend: Backend) {
    let Some(app) = spawn_app_with(backend, ENV).await else { return };
    let (rx, url) = spawn_receiver().await;
    rx.behaviour.lock().unwrap().hang = true;
    add_webhook(&app, &url, json!({ "concurrency": 1 })).await;
    let ids = ingest(&app, 0..700, Utc::now()).await;
    let first = start_worker(&app, fast());
    while *rx.requests.lock().unwrap() == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The process dies with a batch in flight (its lease stays until it runs out).
    first.abort();
    rx.behaviour.lock().unwrap().hang = false;
    let second = start_worker(&app, fast());
    wait_for(&rx, ids.len(), Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let counts = counts(&rx);
    assert_eq!(counts.keys().copied().collect::<Vec<_>>(), ids, "every event delivered");
    assert!(counts.values().all(|&n| n == 1), "the batch in flight was never accepted, so it arrives once");
    second.abort();
}

async fn two_workers_on_one_database_never_send_an_event_twice(backend: Backend) {
    let Some(app) = spawn_app_with(backend, ENV).await else { return };
    let (rx, url) = spawn_receiver().await;
    add_webhook(&app, &url, json!({})).await;
    let (rx2, url2) = spawn_receiver().await;
    add_webhook(&app, &url2, json!({})).await;
    let workers = [start_worker(&app, fast()), start_worker(&app, fast())];
    let ids = ingest(&app, 0..1_500, Utc::now()).await;
    wait_for(&rx, ids.len(), Duration::from_secs(60)).await;
    wait_for(&rx2, ids.len(), Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for rx in [&rx, &rx2] {
        let counts = counts(rx);
        assert_eq!(counts.len(), ids.len());
        assert!(counts.values().all(|&n| n == 1), "no event twice");
    }
    for w in workers {
        w.abort();
    }
}

async fn retention_parks_undelivered_events_with_a_copy_that_a_retry_sends(backend: Backend) {
    let Some(app) = spawn_app_with(backend, ENV).await else { return };
    let (rx, url) = spawn_receiver().await;
    let id = add_webhook(&app, &url, json!({})).await;
    let old = Utc::now() - chrono::Duration::days(3);
    let ids = ingest(&app, 0..20, old).await;
    let kept = ingest(&app, 20..25, Utc::now()).await;
    let removed =
        aoc::store::retention::apply(&app.db, Utc::now() - chrono::Duration::days(1)).await.expect("retention");
    assert_eq!(removed, 20);
    let view = queue(&app, id).await;
    assert_eq!((view["queue"]["pending"].as_i64(), view["queue"]["parked"].as_i64()), (Some(5), Some(20)), "{view}");
    let (_, parked) = call(&app, reqwest::Method::GET, &format!("/api/destinations/{id}/parked"), None).await;
    let items = parked["items"].as_array().unwrap();
    assert!(
        items.iter().all(|i| i["kept_copy"] == true && i["reason"].as_str().unwrap().contains("removed")),
        "{parked}"
    );
    let worker = start_worker(&app, fast());
    wait_for(&rx, kept.len(), Duration::from_secs(30)).await;
    let (status, _) =
        call(&app, reqwest::Method::POST, &format!("/api/destinations/{id}/retry"), Some(json!({}))).await;
    assert_eq!(status, 200);
    wait_for(&rx, kept.len() + ids.len(), Duration::from_secs(30)).await;
    let counts = counts(&rx);
    assert!(ids.iter().chain(&kept).all(|id| counts.get(id) == Some(&1)), "the kept copies were delivered");
    worker.abort();
}

async fn destinations_are_managed_by_admins_and_never_show_their_secret(backend: Backend) {
    let Some(app) = spawn_app_with(backend, ENV).await else { return };
    let (rx, url) = spawn_receiver().await;
    let id = add_webhook(&app, &url, json!({ "name": "soc" })).await;
    let (status, list) = call(&app, reqwest::Method::GET, "/api/destinations", None).await;
    assert_eq!(status, 200);
    let text = list.to_string();
    assert!(!text.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "the secret is never returned: {text}");
    assert_eq!(list["destinations"][0]["has_secret"], true);
    // Sealed at rest.
    let stored: Vec<sea_orm::JsonValue> = sea_orm::JsonValue::find_by_statement(sea_orm::Statement::from_string(
        sea_orm::ConnectionTrait::get_database_backend(&app.db),
        "SELECT secret_ciphertext FROM destinations",
    ))
    .all(&app.db)
    .await
    .unwrap();
    let sealed = stored[0]["secret_ciphertext"].as_str().unwrap();
    assert!(sealed.starts_with("v1:") && !sealed.contains("MfKQ9r8"), "{sealed}");
    // Send test: the far end's answer.
    let (status, outcome) = call(&app, reqwest::Method::POST, &format!("/api/destinations/{id}/test"), None).await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(
        (outcome["delivered"].as_bool(), outcome["status"].as_u64(), outcome["answer"].as_str()),
        (Some(true), Some(200), Some("ok"))
    );
    assert_eq!(*rx.bad_signatures.lock().unwrap(), 0);
    rx.behaviour.lock().unwrap().refuse_record = Some("x".into());
    rx.behaviour.lock().unwrap().status = 503;
    let (_, outcome) = call(&app, reqwest::Method::POST, &format!("/api/destinations/{id}/test"), None).await;
    assert_eq!((outcome["delivered"].as_bool(), outcome["status"].as_u64()), (Some(false), Some(503)), "{outcome}");
    // Changes.
    let (status, view) = call(
        &app,
        reqwest::Method::PUT,
        &format!("/api/destinations/{id}"),
        Some(json!({ "enabled": false, "batch_size": 10, "secret": null })),
    )
    .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(
        (view["enabled"].as_bool(), view["batch_size"].as_i64(), view["has_secret"].as_bool()),
        (Some(false), Some(10), Some(false))
    );
    for (body, field) in [
        (json!({ "endpoint": "ftp://x" }), "endpoint"),
        (json!({ "secret": "not-a-whsec" }), "secret"),
        (json!({ "receives": "filter", "filter": {} }), "filter"),
        (json!({ "kind": "smoke-signals" }), "kind"),
    ] {
        let (status, answer) =
            call(&app, reqwest::Method::PUT, &format!("/api/destinations/{id}"), Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains(field), "{answer}");
    }
    let (status, _) = call(
        &app,
        reqwest::Method::POST,
        "/api/destinations",
        Some(json!({ "name": "soc", "kind": "webhook", "endpoint": url })),
    )
    .await;
    assert_eq!(status, 409, "names are unique");
    assert_eq!(call(&app, reqwest::Method::GET, "/api/destinations/999", None).await.0, 404);
    assert_eq!(call(&app, reqwest::Method::DELETE, &format!("/api/destinations/{id}"), None).await.0, 204);
    assert_eq!(call(&app, reqwest::Method::GET, &format!("/api/destinations/{id}"), None).await.0, 404);
    let (_, trail) = call(&app, reqwest::Method::GET, "/api/audit-trail", None).await;
    let trail = trail.to_string();
    for action in ["destination.created", "destination.tested", "destination.updated", "destination.deleted"] {
        assert!(trail.contains(action), "{action} in the audit trail");
    }
    assert!(!trail.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
}

async fn siem_webhook_url_creates_a_destination_for_every_new_event(backend: Backend) {
    let (rx, url) = spawn_receiver().await;
    let env = [
        ("AOC_EXPORT_WORKER", "true"),
        ("SIEM_ENABLED", "true"),
        ("SIEM_WEBHOOK_URL", url.as_str()),
        ("SIEM_WEBHOOK_SECRET", SECRET),
    ];
    let Some(app) = spawn_app_with(backend, &env).await else { return };
    let (_, list) = call(&app, reqwest::Method::GET, "/api/destinations", None).await;
    let destination = &list["destinations"][0];
    assert_eq!(
        (destination["origin"].as_str(), destination["receives"].as_str()),
        (Some("environment"), Some("all")),
        "{list}"
    );
    assert!(!list.to_string().contains("/hook"), "the URL from the environment is shown redacted: {list}");
    let id = destination["id"].as_i64().unwrap();
    let (status, _) = call(&app, reqwest::Method::DELETE, &format!("/api/destinations/{id}"), None).await;
    assert_eq!(status, 409, "changed in the environment, not the API");
    let ids = ingest(&app, 0..30, Utc::now()).await;
    wait_for(&rx, ids.len(), Duration::from_secs(30)).await;
    assert_eq!(*rx.bad_signatures.lock().unwrap(), 0);
}

/// A Splunk HTTP Event Collector stand-in: token auth, concatenated event objects checked as HEC
/// checks them (`event` required, `time` a number), "server busy" answers, and with
/// acknowledgement a channel, an `ackId` per request and an ack endpoint that reports it indexed
/// on the second poll.
#[derive(Default)]
struct Hec {
    ack: bool,
    busy: Mutex<u32>,
    events: Mutex<Vec<Value>>,
    next_ack: Mutex<u64>,
    polls: Mutex<BTreeMap<u64, u32>>,
    channels: Mutex<HashSet<String>>,
}

const HEC_TOKEN: &str = "9b1c0d8e-6f5a-4e3b-8c2d-1a0b9c8d7e6f";

async fn hec_event(
    State(hec): State<Arc<Hec>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Splunk {HEC_TOKEN}")) {
        return (StatusCode::FORBIDDEN, r#"{"text":"Invalid token","code":4}"#).into_response();
    }
    let channel = headers.get("x-splunk-request-channel").and_then(|v| v.to_str().ok()).map(str::to_string);
    if hec.ack && channel.is_none() {
        return (StatusCode::BAD_REQUEST, r#"{"text":"Data channel is missing","code":10}"#).into_response();
    }
    {
        let mut busy = hec.busy.lock().unwrap();
        if *busy > 0 {
            *busy -= 1;
            return (StatusCode::SERVICE_UNAVAILABLE, r#"{"text":"Server is busy","code":9}"#).into_response();
        }
    }
    let mut parsed = Vec::new();
    for (n, event) in serde_json::Deserializer::from_slice(&body).into_iter::<Value>().enumerate() {
        match event {
            Ok(e) if e["event"].is_object() && e["time"].is_number() && e["sourcetype"].is_string() => parsed.push(e),
            _ => {
                return (
                    StatusCode::BAD_REQUEST,
                    format!(r#"{{"text":"Invalid data format","code":6,"invalid-event-number":{n}}}"#),
                )
                    .into_response()
            }
        }
    }
    hec.events.lock().unwrap().extend(parsed);
    if let Some(channel) = channel.filter(|_| hec.ack) {
        hec.channels.lock().unwrap().insert(channel);
        let mut next = hec.next_ack.lock().unwrap();
        let id = *next;
        *next += 1;
        hec.polls.lock().unwrap().insert(id, 0);
        return (StatusCode::OK, format!(r#"{{"text":"Success","code":0,"ackId":{id}}}"#)).into_response();
    }
    (StatusCode::OK, r#"{"text":"Success","code":0}"#).into_response()
}

async fn hec_ack(State(hec): State<Arc<Hec>>, body: axum::body::Bytes) -> axum::response::Response {
    let asked: Value = serde_json::from_slice(&body).unwrap_or_default();
    let mut polls = hec.polls.lock().unwrap();
    let mut acks = serde_json::Map::new();
    for id in asked["acks"].as_array().cloned().unwrap_or_default() {
        let id = id.as_u64().unwrap_or(u64::MAX);
        let indexed = polls.get_mut(&id).map(|n| {
            *n += 1;
            *n >= 2
        });
        acks.insert(id.to_string(), json!(indexed.unwrap_or(false)));
    }
    (StatusCode::OK, json!({ "acks": acks }).to_string()).into_response()
}

async fn spawn_hec(ack: bool) -> (Arc<Hec>, String) {
    let hec = Arc::new(Hec { ack, ..Default::default() });
    let router = axum::Router::new()
        .route("/services/collector/event", axum::routing::post(hec_event))
        .route("/services/collector/ack", axum::routing::post(hec_ack))
        .with_state(hec.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.ok() });
    (hec, url)
}

async fn splunk_hec_receives_each_event_with_its_time_and_sourcetype_after_indexer_acknowledgement(backend: Backend) {
    let Some(app) = spawn_app_with(backend, ENV).await else { return };
    let (hec, url) = spawn_hec(true).await;
    *hec.busy.lock().unwrap() = 2;
    let body = json!({ "name": "splunk", "kind": "splunk_hec", "endpoint": url, "secret": HEC_TOKEN,
        "options": { "ack": true, "index": "m365" }, "batch_size": 100 });
    let (status, view) = call(&app, reqwest::Method::POST, "/api/destinations", Some(body)).await;
    assert_eq!(status, 201, "{view}");
    assert!(!view.to_string().contains(HEC_TOKEN), "the token is never shown");
    let at = Utc::now() - chrono::Duration::hours(2);
    let ids = ingest(&app, 0..300, at).await;
    let worker = start_worker(&app, fast());
    let started = std::time::Instant::now();
    while queue(&app, view["id"].as_i64().unwrap()).await["delivered_total"].as_i64() != Some(300) {
        assert!(started.elapsed() < Duration::from_secs(60), "not all acknowledged in time");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    worker.abort();
    let events = hec.events.lock().unwrap().clone();
    let mut seen: Vec<i64> = events.iter().map(|e| e["fields"]["aoc_id"].as_str().unwrap().parse().unwrap()).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen, ids, "every event reached the index");
    for e in &events {
        let time = chrono::DateTime::parse_from_rfc3339(e["event"]["timestamp"].as_str().unwrap()).unwrap();
        assert_eq!(e["time"].as_f64().unwrap(), time.timestamp_millis() as f64 / 1000.0, "time is the event's own");
        let expected = if e["event"]["source"] == "directory" { "azure:aad:audit" } else { "o365:management:activity" };
        assert_eq!(e["sourcetype"], expected);
        assert_eq!(e["index"], "m365");
    }
    assert_eq!(hec.channels.lock().unwrap().len(), 1, "one channel per destination and process");
    // A wrong token is a configuration problem: retried (never parked), and the answer shown.
    let (_, wrong) = call(
        &app,
        reqwest::Method::POST,
        "/api/destinations",
        Some(json!({ "name": "bad", "kind": "splunk_hec",
        "endpoint": url, "secret": "00000000-0000-0000-0000-000000000000" })),
    )
    .await;
    let (_, outcome) =
        call(&app, reqwest::Method::POST, &format!("/api/destinations/{}/test", wrong["id"]), None).await;
    assert_eq!((outcome["delivered"].as_bool(), outcome["status"].as_u64()), (Some(false), Some(403)), "{outcome}");
    assert!(outcome["answer"].as_str().unwrap().contains("Invalid token"));
}

/// An Elasticsearch `_bulk` stand-in: NDJSON `create` actions, per-item statuses (201, 409 for an
/// id it holds, 400 `mapper_parsing_exception` for a poison record, 429 once for throttled
/// records), and a first answer that is lost (stored, then 503).
#[derive(Default)]
struct Bulk {
    docs: Mutex<BTreeMap<String, Value>>,
    poison: Mutex<Option<String>>,
    throttle_once: Mutex<HashSet<String>>,
    lose_first_answer: Mutex<bool>,
    conflicts: Mutex<u32>,
    creates: Mutex<u32>,
}

async fn bulk(State(es): State<Arc<Bulk>>, headers: HeaderMap, body: axum::body::Bytes) -> axum::response::Response {
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/x-ndjson") {
        return (StatusCode::NOT_ACCEPTABLE, "wrong content type").into_response();
    }
    let text = String::from_utf8_lossy(&body).to_string();
    let lines: Vec<&str> = text.lines().collect();
    let mut items = Vec::new();
    let mut errors = false;
    for pair in lines.chunks(2) {
        let action: Value = serde_json::from_str(pair[0]).unwrap();
        let doc: Value = serde_json::from_str(pair[1]).unwrap();
        let id = action["create"]["_id"].as_str().unwrap().to_string();
        let record = doc["record_id"].as_str().unwrap_or_default().to_string();
        let (status, error) = if es.poison.lock().unwrap().as_deref() == Some(record.as_str()) {
            (400, json!({ "type": "mapper_parsing_exception", "reason": "failed to parse field [raw.n]" }))
        } else if es.throttle_once.lock().unwrap().remove(&record) {
            (429, json!({ "type": "es_rejected_execution_exception", "reason": "rejected execution" }))
        } else if es.docs.lock().unwrap().contains_key(&id) {
            *es.conflicts.lock().unwrap() += 1;
            (409, json!({ "type": "version_conflict_engine_exception", "reason": "document already exists" }))
        } else {
            *es.creates.lock().unwrap() += 1;
            es.docs.lock().unwrap().insert(id.clone(), doc);
            (201, Value::Null)
        };
        errors |= status >= 300;
        let mut result = json!({ "_index": action["create"]["_index"], "_id": id, "status": status });
        if !error.is_null() {
            result["error"] = error;
        }
        items.push(json!({ "create": result }));
    }
    let mut lose = es.lose_first_answer.lock().unwrap();
    if *lose {
        *lose = false;
        return (StatusCode::SERVICE_UNAVAILABLE, "answer lost").into_response();
    }
    (StatusCode::OK, json!({ "took": 1, "errors": errors, "items": items }).to_string()).into_response()
}

async fn elasticsearch_bulk_retries_only_failed_items_parks_poison_and_never_duplicates(backend: Backend) {
    let Some(app) = spawn_app_with(backend, ENV).await else { return };
    let es = Arc::new(Bulk::default());
    *es.poison.lock().unwrap() = Some("rec-42".into());
    *es.lose_first_answer.lock().unwrap() = true;
    es.throttle_once.lock().unwrap().extend(["rec-250".to_string(), "rec-251".to_string()]);
    let router = axum::Router::new().route("/_bulk", axum::routing::post(bulk)).with_state(es.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.ok() });
    let body = json!({ "name": "es", "kind": "elasticsearch", "endpoint": url, "options": { "index": "aoc-m365" }, "batch_size": 100 });
    let (status, view) = call(&app, reqwest::Method::POST, "/api/destinations", Some(body)).await;
    assert_eq!(status, 201, "{view}");
    let id = view["id"].as_i64().unwrap();
    let ids = ingest(&app, 0..300, Utc::now()).await;
    let worker = start_worker(&app, fast());
    let started = std::time::Instant::now();
    loop {
        let view = queue(&app, id).await;
        if view["queue"]["pending"] == 0 && view["queue"]["parked"] == 1 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{view}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    worker.abort();
    let docs = es.docs.lock().unwrap().clone();
    assert_eq!(docs.len(), ids.len() - 1, "every document but the poison one, each once");
    assert!(*es.conflicts.lock().unwrap() > 0, "the batch whose answer was lost came again and got 409s");
    assert_eq!(*es.creates.lock().unwrap() as usize, ids.len() - 1, "no document was created twice");
    assert!(
        docs.iter().all(|(id, d)| d["aoc_id"].as_i64().map(|n| n.to_string()).as_ref() == Some(id)),
        "_id is the event's aoc_id"
    );
    let (_, parked) = call(&app, reqwest::Method::GET, &format!("/api/destinations/{id}/parked"), None).await;
    let items = parked["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{parked}");
    assert!(items[0]["reason"].as_str().unwrap().contains("mapper_parsing_exception"), "{parked}");
}

/// Parses octet-counted RFC 5424 frames (RFC 6587) and checks each message's header.
fn parse_frames(bytes: &[u8]) -> Vec<(u8, String, String, Value)> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let space = rest.iter().position(|b| *b == b' ').expect("a length and a space");
        let len: usize = std::str::from_utf8(&rest[..space]).unwrap().parse().expect("an octet count");
        let message = std::str::from_utf8(&rest[space + 1..space + 1 + len]).expect("UTF-8");
        rest = &rest[space + 1 + len..];
        let pri: u8 = message[1..message.find('>').unwrap()].parse().unwrap();
        let header: Vec<&str> = message[message.find('>').unwrap() + 1..].splitn(7, ' ').collect();
        assert_eq!(header[0], "1", "RFC 5424 version: {message}");
        chrono::DateTime::parse_from_rfc3339(header[1]).expect("an RFC 3339 timestamp");
        assert_eq!((header[3], header[4]), ("aoc", "-"));
        let sd_and_msg = header[6];
        let end = sd_and_msg.find("\"] ").expect("structured data") + 2;
        let sd = &sd_and_msg[..end];
        let body: Value = serde_json::from_str(&sd_and_msg[end + 1..]).expect("a JSON body");
        out.push((pri, header[5].to_string(), sd.to_string(), body));
    }
    out
}

async fn syslog_over_tcp_delivers_octet_counted_rfc5424_messages_after_the_server_comes_up(backend: Backend) {
    let Some(app) = spawn_app_with(backend, ENV).await else { return };
    // A port with nothing listening yet.
    let port = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let body = json!({ "name": "syslog", "kind": "syslog", "endpoint": format!("tcp://127.0.0.1:{port}"), "options": { "host": "aoc-test" } });
    let (status, view) = call(&app, reqwest::Method::POST, "/api/destinations", Some(body)).await;
    assert_eq!(status, 201, "{view}");
    let ids = ingest(&app, 0..120, Utc::now()).await;
    let worker = start_worker(&app, fast());
    tokio::time::sleep(Duration::from_millis(700)).await;
    let view = queue(&app, view["id"].as_i64().unwrap()).await;
    assert_eq!(view["queue"]["pending"], 120, "nothing lost while the server is down: {view}");
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { break };
            let sink = sink.clone();
            tokio::spawn(async move {
                let mut bytes = Vec::new();
                tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut bytes).await.unwrap();
                sink.lock().unwrap().extend(parse_frames(&bytes));
            });
        }
    });
    let started = std::time::Instant::now();
    while received.lock().unwrap().len() < ids.len() {
        assert!(started.elapsed() < Duration::from_secs(30), "{} of {}", received.lock().unwrap().len(), ids.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.abort();
    let messages = received.lock().unwrap().clone();
    let mut seen: Vec<i64> = messages.iter().map(|(_, _, _, body)| body["aoc_id"].as_i64().unwrap()).collect();
    seen.sort();
    assert_eq!(seen, ids, "each event once");
    for (pri, msgid, sd, body) in &messages {
        assert_eq!(*msgid, body["source"].as_str().unwrap());
        assert_eq!(*sd, format!("[aoc@32473 id=\"{}\" tenant=\"contoso.example\"]", body["aoc_id"]));
        assert_eq!(pri / 8, 13, "facility log audit");
    }
    // CEF bodies are only for syslog.
    let (status, _) = call(
        &app,
        reqwest::Method::POST,
        "/api/destinations",
        Some(json!({ "name": "x", "kind": "webhook", "endpoint": "https://a.example", "format": "cef" })),
    )
    .await;
    assert_eq!(status, 400);
}

/// A Logs Ingestion API stand-in: an Entra token endpoint (client credentials, scope
/// `https://monitor.azure.com/.default`) and the DCR stream endpoint (bearer token, api-version,
/// a JSON array of at most 1 MB, 204 accepted, one 429 with `Retry-After` first).
#[derive(Default)]
struct Monitor {
    tokens_issued: Mutex<u32>,
    throttle: Mutex<u32>,
    records: Mutex<Vec<Value>>,
}

const SENTINEL_SECRET: &str = "abc~SentinelAppSecret123";

async fn monitor_token(State(m): State<Arc<Monitor>>, body: axum::body::Bytes) -> axum::response::Response {
    let form: BTreeMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    if form.get("client_secret").map(String::as_str) != Some(SENTINEL_SECRET)
        || form.get("scope").map(String::as_str) != Some("https://monitor.azure.com/.default")
        || form.get("grant_type").map(String::as_str) != Some("client_credentials")
    {
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#,
        )
            .into_response();
    }
    *m.tokens_issued.lock().unwrap() += 1;
    (StatusCode::OK, r#"{"token_type":"Bearer","expires_in":3599,"access_token":"monitor-token-1"}"#).into_response()
}

async fn monitor_ingest(
    State(m): State<Arc<Monitor>>,
    axum::extract::Path((dcr, stream)): axum::extract::Path<(String, String)>,
    axum::extract::Query(query): axum::extract::Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer monitor-token-1") {
        return (StatusCode::UNAUTHORIZED, r#"{"error":{"code":"InvalidToken"}}"#).into_response();
    }
    if (dcr.as_str(), stream.as_str(), query.get("api-version").map(String::as_str))
        != ("dcr-0a1b2c", "Custom-AOC_CL", Some("2023-01-01"))
    {
        return (StatusCode::NOT_FOUND, r#"{"error":{"code":"NotFound"}}"#).into_response();
    }
    if body.len() > 1_048_576 {
        return (StatusCode::PAYLOAD_TOO_LARGE, r#"{"error":{"code":"ContentLengthLimitExceeded"}}"#).into_response();
    }
    {
        let mut throttle = m.throttle.lock().unwrap();
        if *throttle > 0 {
            *throttle -= 1;
            let mut response =
                (StatusCode::TOO_MANY_REQUESTS, r#"{"error":{"code":"TooManyRequests"}}"#).into_response();
            response.headers_mut().insert("retry-after", "1".parse().unwrap());
            return response;
        }
    }
    let Ok(records) = serde_json::from_slice::<Vec<Value>>(&body) else {
        return (StatusCode::BAD_REQUEST, r#"{"error":{"code":"InvalidPayload"}}"#).into_response();
    };
    m.records.lock().unwrap().extend(records);
    StatusCode::NO_CONTENT.into_response()
}

async fn sentinel_gets_every_event_through_the_logs_ingestion_api_with_a_cached_token(backend: Backend) {
    let Some(app) = spawn_app_with(backend, ENV).await else { return };
    let monitor = Arc::new(Monitor { throttle: Mutex::new(1), ..Default::default() });
    let router = axum::Router::new()
        .route("/{tenant}/oauth2/v2.0/token", axum::routing::post(monitor_token))
        .route("/dataCollectionRules/{dcr}/streams/{stream}", axum::routing::post(monitor_ingest))
        .with_state(monitor.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.ok() });
    let body = json!({ "name": "sentinel", "kind": "sentinel", "endpoint": url, "secret": SENTINEL_SECRET, "batch_size": 100,
        "options": { "dcr_immutable_id": "dcr-0a1b2c", "stream": "Custom-AOC_CL", "tenant_id": "8f3c2a10-1b2c-4d5e-9f00-112233445566",
                     "client_id": "0f3c2a10-1b2c-4d5e-9f00-112233445566", "authority": url } });
    let (status, view) = call(&app, reqwest::Method::POST, "/api/destinations", Some(body)).await;
    assert_eq!(status, 201, "{view}");
    assert!(!view.to_string().contains(SENTINEL_SECRET));
    let ids = ingest(&app, 0..250, Utc::now()).await;
    let worker = start_worker(&app, fast());
    let started = std::time::Instant::now();
    while monitor.records.lock().unwrap().len() < ids.len() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{} of {}",
            monitor.records.lock().unwrap().len(),
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.abort();
    let records = monitor.records.lock().unwrap().clone();
    let mut seen: Vec<i64> = records.iter().map(|r| r["aoc_id"].as_i64().unwrap()).collect();
    seen.sort();
    assert_eq!(seen, ids, "each event once");
    assert!(records.iter().all(|r| r["TimeGenerated"] == r["timestamp"]));
    assert_eq!(*monitor.tokens_issued.lock().unwrap(), 1, "one token for every call while it is valid");
    // Sentinel needs its DCR and app.
    let (status, answer) = call(&app, reqwest::Method::POST, "/api/destinations", Some(json!({ "name": "s2", "kind": "sentinel", "endpoint": url, "secret": "x", "options": { "stream": "Custom-AOC_CL" } }))).await;
    assert_eq!(status, 400, "{answer}");
}

/// A Teams / Slack / SIEM stand-in recording every POST as (path, body).
async fn spawn_notice_receiver() -> (Arc<Mutex<Vec<(String, Value)>>>, String) {
    let received: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let sink = received.clone();
    let router = axum::Router::new().route(
        "/{channel}",
        axum::routing::post(
            move |axum::extract::Path(channel): axum::extract::Path<String>, axum::Json(body): axum::Json<Value>| {
                let sink = sink.clone();
                async move {
                    sink.lock().unwrap().push((channel, body));
                    "1"
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.ok() });
    (received, base)
}

async fn add_destination(app: &TestApp, body: Value) -> i64 {
    let (status, view) = call(app, reqwest::Method::POST, "/api/destinations", Some(body)).await;
    assert_eq!(status, 201, "{view}");
    assert!(!view.to_string().contains("/teams") && !view.to_string().contains("/slack"), "the URL is secret: {view}");
    view["id"].as_i64().unwrap()
}

async fn add_rule(app: &TestApp, name: &str, severity: &str, hunting: bool) -> i64 {
    let (status, rule) = call(
        app,
        reqwest::Method::POST,
        "/api/rules",
        Some(json!({ "name": name, "severity": severity, "hunting": hunting, "sources": ["unified"],
            "condition": {"field": "operation", "value": "Set-Mailbox"}, "group_by": "actor", "window_minutes": 60 })),
    )
    .await;
    assert_eq!(status, 201, "{rule}");
    rule["id"].as_i64().unwrap()
}

async fn alert_notices_reach_teams_slack_and_an_alerts_only_siem_through_the_outbox(backend: Backend) {
    let env = [ENV, &[("ALERTS_ENABLED", "false")]].concat();
    let Some(app) = spawn_app_with(backend, &env).await else { return };
    let (received, base) = spawn_notice_receiver().await;
    let mailbox = add_rule(&app, "Mailbox changed by [someone](https://evil.example)", "high", false).await;
    let hunting = add_rule(&app, "Mailbox hunt", "critical", true).await;
    let teams = add_destination(
        &app,
        json!({ "name": "teams", "kind": "teams", "secret": format!("{base}/teams"), "min_severity": "high" }),
    )
    .await;
    add_destination(
        &app,
        json!({ "name": "slack", "kind": "slack", "secret": format!("{base}/slack"), "min_severity": "low",
                "options": { "rules": [mailbox.to_string()] } }),
    )
    .await;
    add_destination(
        &app,
        json!({ "name": "slack-other", "kind": "slack", "secret": format!("{base}/other"),
                "options": { "rules": ["Some other rule"] } }),
    )
    .await;
    add_destination(
        &app,
        json!({ "name": "siem-alerts", "kind": "webhook", "endpoint": format!("{base}/siem"), "receives": "alerts" }),
    )
    .await;
    // A Teams destination receives alerts only.
    let (status, answer) = call(
        &app,
        reqwest::Method::POST,
        "/api/destinations",
        Some(json!({ "name": "t2", "kind": "teams", "secret": format!("{base}/teams"), "receives": "all" })),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = call(
        &app,
        reqwest::Method::POST,
        "/api/destinations",
        Some(json!({ "name": "t3", "kind": "teams", "secret": "not a url" })),
    )
    .await;
    assert_eq!((status, answer.to_string().contains("not a url")), (400, false), "{answer}");

    ingest(&app, 0..6, Utc::now()).await;
    aoc::services::detection::catch_up(&app.db).await.unwrap();
    let (_, alerts) = call(&app, reqwest::Method::GET, "/api/alerts?hunting=all&page_size=200", None).await;
    let alerts = alerts["items"].as_array().unwrap().clone();
    let ours: Vec<&Value> = alerts.iter().filter(|a| a["rule"]["id"] == mailbox).collect();
    assert_eq!(ours.len(), 1, "{alerts:?}");
    assert!(alerts.iter().any(|a| a["rule"]["id"] == hunting), "the hunting rule raised its alert");
    let triage: Vec<&Value> = alerts.iter().filter(|a| a["hunting"] == false).collect();
    let for_teams: BTreeMap<i64, ()> = triage
        .iter()
        .filter(|a| matches!(a["severity"].as_str(), Some("high" | "critical")))
        .map(|a| (a["id"].as_i64().unwrap(), ()))
        .collect();
    // Queued in the transaction that stored the alerts, before any worker ran.
    assert_eq!(queue(&app, teams).await["queue"]["pending"], for_teams.len());

    let worker = start_worker(&app, fast());
    let expected = for_teams.len() + 1 + triage.len();
    let started = std::time::Instant::now();
    while received.lock().unwrap().len() < expected {
        assert!(started.elapsed() < Duration::from_secs(30), "{:?}", received.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), expected, "each notice once: {received:?}");
    assert!(!received.iter().any(|(c, _)| c == "other"), "a rule list routes");
    assert!(!received.iter().any(|(_, b)| b.to_string().contains("Mailbox hunt")), "hunting alerts are not notified");
    let teams_bodies: Vec<&Value> = received.iter().filter(|(c, _)| c == "teams").map(|(_, b)| b).collect();
    assert_eq!(teams_bodies.len(), for_teams.len());
    let card = &teams_bodies
        .iter()
        .find(|b| b.to_string().contains("Mailbox changed"))
        .expect("our rule's alert reaches Teams")["attachments"][0]["content"];
    assert!(card["body"][0]["text"].as_str().unwrap().starts_with("HIGH alert: "), "{card}");
    assert!(!card.to_string().contains("[someone](https"), "no link from alert data: {card}");
    let link = card["actions"][0]["url"].as_str().unwrap();
    assert!(link.starts_with("http") && link.ends_with(&format!("/alerts/{}", ours[0]["id"])), "{link}");
    assert!(card["body"][1]["facts"].to_string().contains("adele.vance@contoso.example"), "{card}");
    let slack: Vec<&Value> = received.iter().filter(|(c, _)| c == "slack").map(|(_, b)| b).collect();
    assert_eq!(slack.len(), 1, "only the listed rule");
    assert_eq!(slack[0]["blocks"][0]["text"]["type"], "plain_text");
    let siem: Vec<&Value> =
        received.iter().filter(|(c, _)| c == "siem").flat_map(|(_, b)| b.as_array().unwrap()).collect();
    assert_eq!(siem.len(), triage.len());
    assert!(siem.iter().all(|d| d["type"] == "alert" && d["aoc_id"].as_str().unwrap().starts_with("alert-")));

    // A destination added later gets the alerts raised since a chosen time by a backfill.
    let (again, base2) = spawn_notice_receiver().await;
    let late = add_destination(
        &app,
        json!({ "name": "teams-late", "kind": "teams", "secret": format!("{base2}/teams"), "min_severity": "high",
                "backfill_from": (Utc::now() - chrono::Duration::hours(1)).to_rfc3339() }),
    )
    .await;
    let started = std::time::Instant::now();
    while again.lock().unwrap().len() < for_teams.len() {
        assert!(started.elapsed() < Duration::from_secs(30), "the backfilled notices arrive");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Send test delivers a synthetic notice and shows the far end's answer.
    let (status, outcome) = call(&app, reqwest::Method::POST, &format!("/api/destinations/{late}/test"), None).await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(
        (outcome["delivered"].as_bool(), outcome["status"].as_u64(), outcome["answer"].as_str()),
        (Some(true), Some(200), Some("1"))
    );
    worker.abort();
}

on_both_backends!(
    alert_notices_reach_teams_slack_and_an_alerts_only_siem_through_the_outbox,
    events_stored_after_a_destination_is_added_are_delivered_once_each_and_signed,
    a_destination_receives_only_what_it_selects,
    a_receiver_that_is_down_for_a_while_gets_everything_afterwards,
    a_refused_record_is_parked_alone_and_can_be_retried,
    a_worker_killed_mid_delivery_loses_nothing,
    two_workers_on_one_database_never_send_an_event_twice,
    retention_parks_undelivered_events_with_a_copy_that_a_retry_sends,
    destinations_are_managed_by_admins_and_never_show_their_secret,
    siem_webhook_url_creates_a_destination_for_every_new_event,
    splunk_hec_receives_each_event_with_its_time_and_sourcetype_after_indexer_acknowledgement,
    elasticsearch_bulk_retries_only_failed_items_parks_poison_and_never_duplicates,
    syslog_over_tcp_delivers_octet_counted_rfc5424_messages_after_the_server_comes_up,
    sentinel_gets_every_event_through_the_logs_ingestion_api_with_a_cached_token,
);
