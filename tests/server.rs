//! The running server over real HTTP: health, metrics, request ids, the Events page and the
//! list_events server function, on SQLite and on PostgreSQL.

mod common;

use chrono::{Duration, TimeZone, Utc};
use common::{insert_event, spawn_app, Backend};
use sea_orm::{ConnectionTrait, Database, Statement};

async fn health_reports_ok_with_the_database_backend(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let response = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"]["status"], "ok");
    let expected = if backend == Backend::Sqlite { "sqlite" } else { "postgres" };
    assert_eq!(body["database"]["backend"], expected);
}

async fn events_page_lists_stored_events_newest_first(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let t0 = Utc.with_ymd_and_hms(2026, 11, 20, 8, 0, 0).unwrap();
    insert_event(&app.db, "rec-old", t0, "Set-MailboxOld").await;
    insert_event(&app.db, "rec-new", t0 + Duration::hours(2), "New-InboxRuleNewest").await;
    insert_event(&app.db, "rec-mid", t0 + Duration::hours(1), "Add-MailboxPermissionMiddle").await;

    let response = app.client.get(app.url("/events")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    // The filter dropdowns list operations too; the order that matters is the table's.
    let table = &html[html.find(r#"id="events-table""#).expect("the events table")..];
    let at = |needle: &str| table.find(needle).unwrap_or_else(|| panic!("{needle} missing from the table"));
    assert!(at("New-InboxRuleNewest") < at("Add-MailboxPermissionMiddle"));
    assert!(at("Add-MailboxPermissionMiddle") < at("Set-MailboxOld"));
    assert!(html.contains(r#"id="events-table""#));
    for nav in ["Events", "Alerts", "Rules", "Sources", "Settings"] {
        assert!(html.contains(&format!(">{nav}<")), "navigation lacks {nav}");
    }
}

async fn list_events_pages_by_cursor_without_gaps_or_repeats(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let t0 = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
    let mut expected = Vec::new();
    for i in 0..7 {
        // Two pairs share a timestamp, so the id must break ties.
        let at = t0 + Duration::minutes(i / 2);
        expected.push((at, insert_event(&app.db, &format!("rec-{i}"), at, "FileAccessed").await));
    }
    expected.sort_by(|a, b| b.cmp(a));
    let expected: Vec<i64> = expected.into_iter().map(|(_, id)| id).collect();

    let mut seen = Vec::new();
    let mut cursor = String::new();
    for page in 0.. {
        assert!(page < 10, "pagination does not end");
        let (status, body) = app.server_fn("list_events", &[("cursor", &cursor), ("page_size", "3")]).await;
        assert_eq!(status, 200, "{body}");
        seen.extend(body["items"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()));
        match body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, expected);
}

async fn list_events_on_an_empty_database_is_an_empty_last_page(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (status, body) = app.server_fn("list_events", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body["items"], serde_json::json!([]));
    assert!(body["next_cursor"].is_null());
    let html = app.client.get(app.url("/events")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("No events stored yet"));
}

async fn list_events_rejects_malformed_parameters_with_400_naming_them(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    for (form, parameter) in [
        (vec![("cursor", "not-a-cursor")], "cursor"),
        (vec![("cursor", "1.2.3")], "cursor"),
        (vec![("page_size", "0")], "page_size"),
        (vec![("page_size", "501")], "page_size"),
    ] {
        let (status, body) = app.server_fn("list_events", &form).await;
        assert_eq!(status, 400, "{form:?}: {body}");
        assert_eq!(body["code"], "invalid_input", "{form:?}");
        assert!(body["message"].as_str().unwrap().contains(parameter), "{form:?}: {body}");
    }
    let (status, body) = app.server_fn("list_events", &[("page_size", "many")]).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "invalid_input");
}

on_both_backends!(
    health_reports_ok_with_the_database_backend,
    events_page_lists_stored_events_newest_first,
    list_events_pages_by_cursor_without_gaps_or_repeats,
    list_events_on_an_empty_database_is_an_empty_last_page,
    list_events_rejects_malformed_parameters_with_400_naming_them,
);

#[tokio::test]
async fn health_is_503_when_the_database_is_unreachable() {
    let Some(app) = spawn_app(Backend::Postgres).await else {
        return;
    };
    assert_eq!(app.client.get(app.url("/health")).send().await.unwrap().status(), 200);

    // Take the database away underneath the running server.
    let admin_url = std::env::var("TEST_POSTGRES_URL").unwrap();
    let name = app.database.url.expose().rsplit('/').next().unwrap().to_string();
    let admin = Database::connect(&admin_url).await.unwrap();
    admin
        .execute(Statement::from_string(admin.get_database_backend(), format!("DROP DATABASE {name} WITH (FORCE)")))
        .await
        .unwrap();

    let response = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["database"]["status"], "unreachable");
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_status() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    app.client.get(app.url("/health")).send().await.unwrap();
    let missing = app.client.get(app.url("/no/such/page/9f2c")).send().await.unwrap();
    assert_eq!(missing.status(), 404);

    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = response.text().await.unwrap();
    let count = |labels: &str| -> f64 {
        let prefix = format!("aoc_http_requests_total{{{labels}}} ");
        text.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.parse().ok()).unwrap_or(0.0)
    };
    assert!(count(r#"method="GET",route="/health",status="200""#) >= 1.0, "{text}");
    assert!(count(r#"method="GET",route="unmatched",status="404""#) >= 1.0, "{text}");
    assert!(!text.contains("9f2c"), "raw paths must not become labels");
    assert!(text.contains("aoc_http_request_duration_seconds_bucket{"));
    assert!(text.contains(&format!("aoc_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"))));
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_given_one_is_kept() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let response = app.client.get(app.url("/health")).send().await.unwrap();
    let generated = response.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    let response = app.client.get(app.url("/events")).header("x-request-id", "trace-me-42").send().await.unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");
}

#[tokio::test]
async fn settings_page_shows_the_local_administrator_and_no_secrets() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let html = app.client.get(app.url("/settings")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Local administrator"), "{html}");
    assert!(html.contains(">admin<"));
    let (status, body) = app.server_fn("server_info", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body["caller"]["role"], "admin");
    assert_eq!(body["database_backend"], "sqlite");
}

#[tokio::test]
async fn the_root_redirects_to_events_and_unknown_pages_are_404() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let response = app.client.get(app.url("/")).send().await.unwrap();
    assert!(response.status().is_redirection(), "{}", response.status());
    assert_eq!(response.headers()["location"], "/events");
    let response = app.client.get(app.url("/nowhere")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("Not found"));
}
