//! Test connection over real HTTP against the Microsoft simulator, on SQLite and PostgreSQL: a
//! working app passes every step; a wrong secret, a missing permission and a missing licence
//! each fail their own step with the fix; nothing is started or stored (the simulator's
//! subscriptions stay as they were, no event is written); the audit trail records each test.

mod common;

use aoc::simulator::{self, RunningSimulator, SimConfig};
use common::{spawn_app_with, Backend, TestApp};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

const KEY: &str = "q1Yb0Xc4Qm6J3o8T2uV9wZ1aB5cD7eF0gH2iJ4kL6mM=";

async fn sim() -> RunningSimulator {
    let config = SimConfig {
        seed: 17,
        tenants: 1,
        history_days: 1,
        events_per_day: 50,
        management_budget_per_minute: 60_000,
        graph_reports_limit: 1_000,
        ..SimConfig::default()
    };
    simulator::spawn(config, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

async fn test(app: &TestApp, tenant: &str) -> Value {
    let response = app.client.post(app.url(&format!("/api/tenants/{tenant}/test"))).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn step<'a>(result: &'a Value, starts: &str) -> &'a Value {
    result["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["step"].as_str().unwrap().starts_with(starts))
        .unwrap_or_else(|| panic!("no step {starts}: {result}"))
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let row = app.db.query_one(Statement::from_string(app.db.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get("", "n").unwrap()
}

async fn test_connection_reports_what_works_and_the_fix_for_what_fails(backend: Backend) {
    let sim = sim().await;
    let base = sim.base_url.clone();
    let env = [
        ("LOGIN_BASE_URL", base.as_str()),
        ("GRAPH_BASE_URL", base.as_str()),
        ("MANAGEMENT_BASE_URL", base.as_str()),
        ("MANAGEMENT_REQUESTS_PER_MINUTE", "60000"),
        ("AOC_ENCRYPTION_KEY", KEY),
    ];
    let Some(app) = spawn_app_with(backend, &env).await else { return };
    let t = &sim.state.tenants[0];
    let tenant = t.model.tenant_id.clone();
    // Stored disabled: a test needs no collection, and none runs.
    let body = json!({
        "tenant_id": tenant,
        "display_name": "Simulated",
        "client_id": t.apps[0].client_id,
        "client_secret": t.apps[0].secret,
        "enabled": false,
    });
    let response = app.client.post(app.url("/api/tenants")).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 201);

    // Everything works with the fully consented app.
    let result = test(&app, &tenant).await;
    assert_eq!(result["ok"], true, "{result}");
    let steps: Vec<&str> = result["checks"].as_array().unwrap().iter().map(|c| c["step"].as_str().unwrap()).collect();
    assert_eq!(steps.len(), 6, "two tokens, the subscription list, three Graph pages: {steps:?}");
    assert!(
        step(&result, "unified: subscription list")["detail"].as_str().unwrap().contains("not started yet"),
        "{result}"
    );
    assert!(step(&result, "signin: one page")["detail"].as_str().unwrap().contains("auditLogs/signIns"), "{result}");

    // A wrong secret: both tokens fail with AADSTS7000215 and the fix.
    let wrong = json!({ "client_secret": format!("{}-wrong", t.apps[0].secret) });
    assert_eq!(
        app.client.patch(app.url(&format!("/api/tenants/{tenant}"))).json(&wrong).send().await.unwrap().status(),
        200
    );
    let result = test(&app, &tenant).await;
    assert_eq!(result["ok"], false);
    let token = step(&result, "token for the Microsoft Graph");
    assert_eq!(token["ok"], false, "{result}");
    assert!(token["detail"].as_str().unwrap().contains("7000215"), "{token}");
    assert!(token["fix"].as_str().unwrap().contains("secret's Value"), "{token}");
    assert_eq!(result["checks"].as_array().unwrap().len(), 2, "no API call without a token: {result}");

    // The app without the Intune permission: only the Intune page fails, naming the permission.
    let other = json!({ "client_id": t.apps[1].client_id, "client_secret": t.apps[1].secret });
    assert_eq!(
        app.client.patch(app.url(&format!("/api/tenants/{tenant}"))).json(&other).send().await.unwrap().status(),
        200
    );
    let result = test(&app, &tenant).await;
    let intune = step(&result, "intune: one page");
    assert_eq!(intune["ok"], false, "{result}");
    assert!(intune["fix"].as_str().unwrap().contains("DeviceManagement"), "{intune}");
    assert_eq!(step(&result, "directory: one page")["ok"], true, "{result}");

    // Without Entra ID P1 the sign-in logs fail with the licence to get.
    let flags = reqwest::Client::new()
        .patch(format!("{base}/_sim/tenants/{tenant}/flags"))
        .json(&json!({"entra_p1": false}))
        .send()
        .await
        .unwrap();
    assert!(flags.status().is_success());
    let result = test(&app, &tenant).await;
    let signin = step(&result, "signin: one page");
    assert_eq!(signin["ok"], false, "{result}");
    assert!(signin["fix"].as_str().unwrap().contains("P1"), "{signin}");

    // Read calls only: nothing was stored, and every test is in the audit trail.
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM events").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM audit_trail WHERE action = 'tenant.test_connection'").await, 4);

    // An unknown tenant is 404; a malformed id 400.
    let missing =
        app.client.post(app.url("/api/tenants/00000000-0000-4000-8000-000000000000/test")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let bad = app.client.post(app.url("/api/tenants/not-a-guid/test")).send().await.unwrap();
    assert_eq!(bad.status(), 400);
}

on_both_backends!(test_connection_reports_what_works_and_the_fix_for_what_fails);
