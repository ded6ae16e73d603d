//! Collection through AOC's HTTP API: `/api/fetch-audit-logs`, `/api/source-health` and the
//! webhook endpoints Microsoft calls, against the simulator.

mod common;

use aoc::simulator::{self, RunningSimulator, SimConfig};
use common::{spawn_app_with, Backend, TestApp};
use serde_json::{json, Value};

async fn sim() -> RunningSimulator {
    let config = SimConfig {
        seed: 5,
        tenants: 1,
        history_days: 3,
        events_per_day: 400,
        management_budget_per_minute: 60_000,
        ..SimConfig::default()
    };
    simulator::spawn(config, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

async fn app_for(sim: &RunningSimulator, extra: &[(&str, &str)]) -> TestApp {
    let t = &sim.state.tenants[0];
    let mut env = vec![
        ("TENANT_ID", t.model.tenant_id.as_str()),
        ("CLIENT_ID", t.apps[0].client_id.as_str()),
        ("CLIENT_SECRET", t.apps[0].secret.as_str()),
        ("LOGIN_BASE_URL", sim.base_url.as_str()),
        ("GRAPH_BASE_URL", sim.base_url.as_str()),
        ("MANAGEMENT_BASE_URL", sim.base_url.as_str()),
        ("MANAGEMENT_REQUESTS_PER_MINUTE", "60000"),
    ];
    env.extend_from_slice(extra);
    spawn_app_with(Backend::Sqlite, &env).await.unwrap()
}

#[tokio::test]
async fn fetch_audit_logs_collects_every_source_and_reports_per_source_counts() {
    let sim = sim().await;
    // The simulated tenant keeps producing activity as time passes; a stopped clock makes the
    // second fetch see exactly what the first one saw, however slow the machine is between them.
    sim.state.clock.freeze(true);
    let app = app_for(&sim, &[]).await;
    let r = app.client.get(app.url("/api/fetch-audit-logs?hours=72")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let sources = body["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 4);
    for s in sources {
        assert_eq!(s["state"], "ok", "{s}");
        assert!(s["inserted"].as_u64().unwrap() > 0, "{s}");
        for field in ["fetched", "duplicates", "failed", "warnings"] {
            assert!(s.get(field).is_some(), "{field}");
        }
    }
    // Again: nothing new.
    let body: Value =
        app.client.get(app.url("/api/fetch-audit-logs?hours=72")).send().await.unwrap().json().await.unwrap();
    assert!(body["sources"].as_array().unwrap().iter().all(|s| s["inserted"] == 0));
    // The events are listed on the Events page's server function.
    let (status, page) = app.server_fn("list_events", &[("page_size", "5")]).await;
    assert_eq!(status, 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn fetch_audit_logs_validates_hours() {
    let sim = sim().await;
    let app = app_for(&sim, &[]).await;
    for bad in ["0", "721", "lots", "-3"] {
        let r = app.client.get(app.url(&format!("/api/fetch-audit-logs?hours={bad}"))).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_input");
        assert!(body["error"]["message"].as_str().unwrap().contains("hours"));
    }
}

#[tokio::test]
async fn source_health_never_calls_a_stopped_collector_healthy() {
    let sim = sim().await;
    let app = app_for(&sim, &[]).await;
    let health: Value = app.client.get(app.url("/api/source-health")).send().await.unwrap().json().await.unwrap();
    let sources = health["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 4);
    // Periodic collection is off: no source may claim to be ok.
    assert!(sources.iter().all(|s| s["state"] == "disabled"), "{health}");

    let app = app_for(&sim, &[("ENABLE_PERIODIC_FETCH", "true"), ("SOURCES", "unified,directory,signin")]).await;
    let mut states = Value::Null;
    for _ in 0..120 {
        let health: Value = app.client.get(app.url("/api/source-health")).send().await.unwrap().json().await.unwrap();
        states = health["sources"].clone();
        let ok = states.as_array().unwrap().iter().filter(|s| s["state"] == "ok").count();
        if ok == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let by = |name: &str| states.as_array().unwrap().iter().find(|s| s["source"] == name).unwrap().clone();
    assert_eq!(by("unified")["state"], "ok", "{states}");
    assert_eq!(by("directory")["state"], "ok");
    assert!(by("directory")["records_last_hour"].as_u64().unwrap() > 0);
    assert!(by("directory")["last_success_at"].is_string());
    assert_eq!(by("intune")["state"], "disabled", "not in SOURCES");
}

#[tokio::test]
async fn the_graph_webhook_echoes_the_validation_token_and_checks_client_state() {
    let sim = sim().await;
    let app = app_for(&sim, &[("GRAPH_WEBHOOK_CLIENT_STATE", "s3cret-state")]).await;
    let token = "Validation: Testing client application reachability <script>alert(1)</script>";
    let url = format!(
        "{}?validationToken={}",
        app.url("/api/webhooks/graph"),
        url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
    );
    let r = app.client.post(url).header("content-type", "text/plain").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    assert_eq!(r.text().await.unwrap(), token);

    let notification = |state: &str| json!({"value": [{"subscriptionId": "x", "changeType": "updated", "resource": "Users/1", "clientState": state, "tenantId": sim.state.tenants[0].model.tenant_id}]});
    let r = app.client.post(app.url("/api/webhooks/graph")).json(&notification("wrong")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = app.client.post(app.url("/api/webhooks/graph")).json(&notification("s3cret-state")).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let r = app.client.post(app.url("/api/webhooks/graph")).body("not json").send().await.unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn the_management_webhook_answers_validation_and_checks_the_auth_id() {
    let sim = sim().await;
    let app = app_for(&sim, &[("MANAGEMENT_WEBHOOK_AUTH_ID", "tag-77")]).await;
    let hook = app.url("/api/webhooks/management");
    let r = app
        .client
        .post(&hook)
        .header("Webhook-ValidationCode", "abc")
        .header("Webhook-AuthID", "tag-77")
        .json(&json!({"validationCode": "abc"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let items = json!([{"tenantId": sim.state.tenants[0].model.tenant_id, "contentType": "Audit.Exchange", "contentId": "x", "contentUri": "x", "contentCreated": "2026-11-22T10:00:00.000Z", "contentExpiration": "2026-11-29T10:00:00.000Z"}]);
    let r = app.client.post(&hook).header("Webhook-AuthID", "nope").json(&items).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = app.client.post(&hook).header("Webhook-AuthID", "tag-77").json(&items).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn the_simulator_registers_the_management_webhook_with_aoc() {
    // End to end: the simulator's validation POST reaches AOC's endpoint and is answered 200.
    let config = SimConfig {
        tenants: 1,
        history_days: 2,
        events_per_day: 200,
        allow_http_webhooks: true,
        ..SimConfig::default()
    };
    let sim = simulator::spawn(config, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let app = app_for(&sim, &[("MANAGEMENT_WEBHOOK_AUTH_ID", "tag-9")]).await;
    let t = &sim.state.tenants[0];
    let token: Value = reqwest::Client::new()
        .post(format!("{}/{}/oauth2/v2.0/token", sim.base_url, t.model.tenant_id))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &t.apps[0].client_id),
            ("client_secret", &t.apps[0].secret),
            ("scope", "https://manage.office.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = reqwest::Client::new()
        .post(format!(
            "{}/api/v1.0/{}/activity/feed/subscriptions/start?contentType=Audit.General&PublisherIdentifier={}",
            sim.base_url, t.model.tenant_id, t.model.tenant_id
        ))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .json(&json!({"webhook": {"address": app.url("/api/webhooks/management"), "authId": "tag-9"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// A simulator with its own seed, so its tenant's metric series are this test's alone.
async fn sim_with_seed(seed: u64) -> RunningSimulator {
    let config = SimConfig {
        seed,
        tenants: 1,
        history_days: 2,
        events_per_day: 300,
        management_budget_per_minute: 60_000,
        ..SimConfig::default()
    };
    simulator::spawn(config, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

async fn set_faults(sim: &RunningSimulator, faults: Value) {
    let r = reqwest::Client::new().patch(format!("{}/_sim/faults", sim.base_url)).json(&faults).send().await.unwrap();
    assert!(r.status().is_success());
}

/// The value of a metric series of `tenant` (0 when absent) scraped from `/metrics`.
async fn scraped(app: &TestApp, metric: &str, tenant: &str, source: &str) -> f64 {
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")))
        .filter(|l| l.contains(&format!("tenant=\"{tenant}\"")) && l.contains(&format!("source=\"{source}\"")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn concurrent_fetch_requests_join_one_run_per_tenant_and_source() {
    let sim = sim_with_seed(4101).await;
    let tenant = sim.state.tenants[0].model.tenant_id.clone();
    let app = app_for(&sim, &[]).await;
    // Slow answers, so the requests surely overlap the first run.
    set_faults(&sim, json!({"latency_ms": 40})).await;
    let calls = (0..8).map(|i| {
        let request = match i % 3 {
            0 => app.client.post(app.url("/api/fetch-audit-logs?hours=24")),
            1 => app.client.post(app.url("/api/fetch-audit-logs")).json(&json!({"hours": 24})),
            _ => app.client.post(app.url("/api/fetch-audit-logs")).form(&[("hours", "24")]),
        };
        async move { request.send().await.unwrap() }
    });
    let responses = futures_util::future::join_all(calls).await;
    let mut joined = 0;
    for r in responses {
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        let sources = body["sources"].as_array().unwrap();
        assert_eq!(sources.len(), 4, "{body}");
        assert!(sources.iter().all(|s| s["state"] == "ok"), "{body}");
        joined += sources.iter().filter(|s| s["joined"] == true).count();
    }
    assert_eq!(joined, 7 * 4, "every request but the first joined the running runs");
    for source in ["unified", "directory", "signin", "intune"] {
        assert_eq!(scraped(&app, "aoc_ingest_runs_total", &tenant, source).await, 1.0, "{source}: one run");
    }
    // The POST validates like the GET.
    let r = app.client.post(app.url("/api/fetch-audit-logs")).json(&json!({"hours": 0})).send().await.unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn a_burst_of_notifications_makes_at_most_one_pending_run() {
    let sim = sim_with_seed(4102).await;
    let tenant = sim.state.tenants[0].model.tenant_id.clone();
    let app = app_for(&sim, &[("GRAPH_WEBHOOK_CLIENT_STATE", "burst-state")]).await;
    set_faults(&sim, json!({"latency_ms": 40})).await;
    let notification = json!({"value": [{"subscriptionId": "x", "changeType": "updated", "resource": "Users/1", "clientState": "burst-state", "tenantId": tenant}]});
    for _ in 0..20 {
        let r = app.client.post(app.url("/api/webhooks/graph")).json(&notification).send().await.unwrap();
        assert_eq!(r.status(), 202);
    }
    // Wait for the running run and the one pending run to end.
    let mut runs = 0.0;
    for _ in 0..240 {
        runs = scraped(&app, "aoc_ingest_runs_total", &tenant, "directory").await;
        let done = scraped(&app, "aoc_ingest_runs_finished_total", &tenant, "directory").await;
        if runs >= 1.0 && done == runs {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!((1.0..=2.0).contains(&runs), "20 notifications made {runs} runs");
}

#[tokio::test]
async fn metrics_show_what_a_collection_did() {
    let sim = sim_with_seed(4103).await;
    let tenant = sim.state.tenants[0].model.tenant_id.clone();
    // Scheduled runs (not on-demand look-backs) set the watermarks the lag is measured from.
    let app = app_for(&sim, &[("ENABLE_PERIODIC_FETCH", "true")]).await;
    let sources = ["unified", "directory", "signin", "intune"];
    let lag_of = |text: &str, source: &str| {
        text.lines().any(|l| {
            l.starts_with("aoc_ingest_lag_seconds{")
                && l.contains(&format!("tenant=\"{tenant}\""))
                && l.contains(&format!("source=\"{source}\""))
        })
    };
    let mut text = String::new();
    for _ in 0..240 {
        text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        if sources.iter().all(|s| lag_of(&text, s)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    for source in sources {
        assert!(lag_of(&text, source), "{source}: no lag gauge");
        assert!(scraped(&app, "aoc_ingest_records_total", &tenant, source).await > 0.0, "{source}: no records");
    }
    for series in [
        "aoc_ingest_requests_total{api=\"management\",status=\"200\"}",
        "aoc_ingest_requests_total{api=\"graph\",status=\"200\"}",
        "aoc_coverage_windows{state=\"done\"}",
        "aoc_ingest_throttled_total{api=\"graph\"}",
        "aoc_ingest_refused_links_total{api=\"management\"}",
    ] {
        assert!(text.contains(series), "{series} missing");
    }
}

/// The runs listed by `GET /api/collection/runs` once `done` holds for them (60 s at most).
async fn runs_when(app: &TestApp, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let body: Value = app.client.get(app.url("/api/collection/runs")).send().await.unwrap().json().await.unwrap();
        let runs = body["runs"].as_array().unwrap().clone();
        if done(&runs) {
            return runs;
        }
        assert!(std::time::Instant::now() < deadline, "runs did not get there: {runs:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn collect_now_runs_in_the_background_and_shows_its_progress() {
    let sim = sim().await;
    sim.state.clock.freeze(true);
    let app = app_for(&sim, &[]).await;
    let tenant = sim.state.tenants[0].model.tenant_id.clone();
    let start = |body: Value| app.client.post(app.url("/api/collection/runs")).json(&body).send();
    for (body, field) in [
        (json!({"hours": "0"}), "hours"),
        (json!({"hours": 721}), "hours"),
        (json!({"hours": "a day"}), "hours"),
        (json!({"from": "yesterday"}), "from"),
        (json!({"from": "2099-01-01T00:00:00Z"}), "from"),
        (json!({"from": "2020-01-01T00:00:00Z"}), "from"),
        (json!({"hours": "2", "from": "2026-01-01T00:00:00Z"}), "hours"),
        (json!({"source": "mail"}), "source"),
        (json!({"minutes": 5}), "minutes"),
    ] {
        let r = start(body.clone()).await.unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let error: Value = r.json().await.unwrap();
        assert!(error["error"]["message"].as_str().unwrap().contains(&format!("`{field}`")), "{body}: {error}");
    }
    assert_eq!(start(json!({"tenant_id": "nobody.example"})).await.unwrap().status(), 404);

    let r = start(json!({"hours": 6})).await.unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.json::<Value>().await.unwrap()["scheduled"], 4);
    let runs =
        runs_when(&app, |runs| runs.len() == 4 && runs.iter().all(|r| r["hours"] == 6 && !r["finished_at"].is_null()))
            .await;
    for run in &runs {
        assert_eq!(run["outcome"], "ok", "{run}");
        let (planned, done) = (run["windows_planned"].as_u64().unwrap(), run["windows_done"].as_u64().unwrap());
        assert!(planned > 0 && done == planned, "{run}");
        assert!(run["inserted"].as_u64().unwrap() <= run["fetched"].as_u64().unwrap(), "{run}");
    }
    let unified = runs.iter().find(|r| r["source"] == "unified").unwrap();
    assert!(unified["windows_planned"].as_u64().unwrap() >= 6, "an hour each per content type: {unified}");
    assert!(runs.iter().map(|r| r["fetched"].as_u64().unwrap()).sum::<u64>() > 0, "{runs:?}");

    // A failed window's retry: one source of one tenant again from a time (3 h 20 min ago: 4 h).
    let from = (chrono::Utc::now() - chrono::Duration::minutes(200)).to_rfc3339();
    let r = start(json!({"from": from, "tenant_id": tenant, "source": "signin"})).await.unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.json::<Value>().await.unwrap()["scheduled"], 1);
    let runs = runs_when(&app, |runs| {
        runs.iter().any(|r| r["source"] == "signin" && r["hours"] == 4 && !r["finished_at"].is_null())
    })
    .await;
    assert_eq!(runs.iter().filter(|r| r["hours"] == 6).count(), 3, "the others are as they were: {runs:?}");

    // The Sources page shows the runs (server-rendered), and the audit trail the requests.
    let html = app.client.get(app.url("/sources")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("id=\"collection-runs\""), "{html}");
    assert!(html.contains("4 h") && html.contains("6 h"), "look-backs shown");
    let (status, page) = app.server_fn("collect_now", &[("hours", "lots")]).await;
    assert_eq!(status, 400, "{page}");
}
