//! Export under process death, with the real `aoc` binary, on SQLite and PostgreSQL: records
//! brought in by `aoc import` are queued for a webhook; a server killed with SIGKILL while a batch
//! is in flight loses nothing, and the next process delivers every event, each once (the batch in
//! flight was never answered, so never accepted).

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use common::{test_database, Backend, TestDatabase};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

#[derive(Default)]
struct Receiver {
    hang: AtomicBool,
    requests: AtomicUsize,
    ids: Mutex<BTreeMap<String, usize>>,
}

async fn hook(State(rx): State<Arc<Receiver>>, body: axum::body::Bytes) -> &'static str {
    rx.requests.fetch_add(1, Ordering::SeqCst);
    if rx.hang.load(Ordering::SeqCst) {
        // Never answers: the sender dies with this batch in flight.
        std::future::pending::<()>().await;
    }
    let items: Vec<Value> = serde_json::from_slice(&body).unwrap_or_default();
    let mut ids = rx.ids.lock().unwrap();
    for item in items {
        *ids.entry(item["id"].as_str().unwrap_or_default().to_string()).or_default() += 1;
    }
    "ok"
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn aoc(db: &TestDatabase, dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aoc"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AOC_DATA_DIR", dir)
        .env("DATABASE_URL", db.url.expose())
        .env("ALERTS_ENABLED", "false")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

async fn serve(db: &TestDatabase, dir: &std::path::Path, port: u16) -> Child {
    let child = aoc(db, dir).arg("serve").env("AOC_LISTEN_ADDR", format!("127.0.0.1:{port}")).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !reqwest::get(format!("http://127.0.0.1:{port}/health")).await.is_ok_and(|r| r.status().is_success()) {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child
}

async fn a_server_killed_mid_delivery_loses_nothing(backend: Backend) {
    let Some(db) = test_database(backend).await else { return };
    let dir = tempfile::tempdir().unwrap();
    let rx = Arc::new(Receiver::default());
    rx.hang.store(true, Ordering::SeqCst);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/hook", axum::routing::post(hook)).with_state(rx.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let port = free_port();
    let mut first = serve(&db, dir.path(), port).await;
    let created = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/destinations"))
        .json(&json!({"name": "siem", "kind": "webhook", "endpoint": hook_url, "batch_size": 100}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201, "{}", created.text().await.unwrap());
    // 300 records brought in through the write path (which queues them for the destination).
    let file = dir.path().join("ual.jsonl");
    let lines: Vec<String> = (0..300)
        .map(|i| {
            json!({
                "CreationTime": format!("2026-11-16T10:{:02}:{:02}", i / 60, i % 60), "Id": format!("rec-{i:03}"),
                "Operation": "MailItemsAccessed", "OrganizationId": "11111111-1111-1111-1111-111111111111",
                "RecordType": 50, "ResultStatus": "Succeeded", "UserKey": "adele@contoso.example", "UserType": 0,
                "Workload": "Exchange", "ClientIP": "203.0.113.7", "UserId": "adele@contoso.example"
            })
            .to_string()
        })
        .collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = aoc(&db, dir.path()).args(["import", "--source", "unified"]).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let deadline = Instant::now() + Duration::from_secs(60);
    while rx.requests.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "nothing was sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // SIGKILL with a batch in flight: no chance to answer, release the lease or clean up.
    Command::new("kill").args(["-KILL", &first.id().to_string()]).status().unwrap();
    first.wait().unwrap();
    rx.hang.store(false, Ordering::SeqCst);
    // The dead process's lease runs out (60 s): here it is made to have run out already.
    let conn = aoc::store::connect(&db.url).await.unwrap();
    conn.execute(Statement::from_string(
        conn.get_database_backend(),
        "UPDATE destination_leases SET expires_at = '2000-01-01T00:00:00+00:00'",
    ))
    .await
    .unwrap();
    let mut second = serve(&db, dir.path(), port).await;
    let deadline = Instant::now() + Duration::from_secs(90);
    while rx.ids.lock().unwrap().len() < 300 {
        assert!(Instant::now() < deadline, "only {} of 300 events delivered", rx.ids.lock().unwrap().len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ids = rx.ids.lock().unwrap().clone();
    Command::new("kill").args(["-TERM", &second.id().to_string()]).status().unwrap();
    second.wait().unwrap();
    assert_eq!(ids.len(), 300, "every event delivered");
    let twice: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "events delivered twice: {twice:?}");
}

on_both_backends!(a_server_killed_mid_delivery_loses_nothing);
