//! Detection over real HTTP and a real database, on SQLite and PostgreSQL: rules created through
//! the REST API raise grouped alerts on newly stored events exactly once (re-collected records
//! raise nothing, concurrent evaluators do not double anything), triage changes status,
//! assignee, comments and history, rule changes land in the audit trail with before and after,
//! and the built-in pack is stored at start-up and fires on a simulated attack.

mod common;

use aoc::normalize::{self, Source};
use aoc::services::detection::{catch_up, PassOutcome};
use aoc::store::writer::{store_batch, EventRow, Subscribers};
use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{spawn_app_with, Backend, TestApp};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{json, Value};

const TENANT: &str = "11111111-1111-1111-1111-111111111111";

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 16, 9, 0, 0).unwrap()
}

/// An Exchange admin cmdlet record.
fn cmdlet(id: &str, user: &str, operation: &str, at: DateTime<Utc>, params: Value) -> String {
    json!({
        "CreationTime": at.format("%Y-%m-%dT%H:%M:%S").to_string(), "Id": id, "Operation": operation,
        "OrganizationId": TENANT, "RecordType": 1, "ResultStatus": "True", "UserKey": user, "UserType": 2,
        "Workload": "Exchange", "ClientIP": "203.0.113.7:4431", "ObjectId": "ceo", "UserId": user, "Parameters": params
    })
    .to_string()
}

fn row(raw: String) -> EventRow {
    let normalized = normalize::normalize(Source::Unified, Some("Audit.Exchange"), &raw, &Default::default());
    EventRow::new(TENANT, Source::Unified, Some("Audit.Exchange"), raw, normalized, Utc::now())
}

async fn store(db: &DatabaseConnection, raws: &[String]) -> u64 {
    let rows = raws.iter().cloned().map(row).collect();
    store_batch(db, rows, &[], &Subscribers::default()).await.unwrap().inserted.len() as u64
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db.query_one(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, &[("ALERTS_ENABLED", "false")]).await
}

async fn call(app: &TestApp, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = app.client.request(method, app.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

async fn create_mailbox_rule(app: &TestApp) -> i64 {
    let (status, rule) = call(
        app,
        reqwest::Method::POST,
        "/api/rules",
        Some(json!({
            "name": "Mailbox changed", "severity": "high", "tags": ["attack.t1098.002"], "sources": ["unified"],
            "condition": {"all": [{"field": "Operation", "value": "Set-Mailbox"},
                                  {"not": {"field": "Parameters.Identity", "op": "in", "value": ["test-mailbox"]}}]},
            "group_by": "actor", "window_minutes": 60
        })),
    )
    .await;
    assert_eq!(status, 201, "{rule}");
    assert_eq!(rule["severity"], "high");
    assert_eq!(rule["enabled"], true);
    rule["id"].as_i64().unwrap()
}

async fn alerts_of(app: &TestApp, rule: i64, extra: &str) -> Value {
    let (status, page) = call(app, reqwest::Method::GET, &format!("/api/alerts?rule={rule}{extra}"), None).await;
    assert_eq!(status, 200, "{page}");
    page
}

async fn matches_of_one_rule_on_one_actor_within_the_window_group_into_one_alert(backend: Backend) {
    let Some(app) = app(backend).await else { return };
    let rule = create_mailbox_rule(&app).await;
    let t = base();
    let params = json!([{"Name": "Identity", "Value": "ceo"}]);
    let first = [
        cmdlet("r1", "adele@contoso.example", "Set-Mailbox", t, params.clone()),
        cmdlet("r2", "adele@contoso.example", "Set-Mailbox", t + Duration::minutes(20), params.clone()),
        cmdlet("r3", "lee@contoso.example", "Set-Mailbox", t + Duration::minutes(5), params.clone()),
        cmdlet("r4", "adele@contoso.example", "Get-Mailbox", t, params.clone()),
        cmdlet("r5", "adele@contoso.example", "Set-Mailbox", t, json!([{"Name": "Identity", "Value": "test-mailbox"}])),
    ];
    assert_eq!(store(&app.db, &first).await, 5);
    let outcome = catch_up(&app.db).await.unwrap();
    assert_eq!(outcome.events, 5);
    assert_eq!(outcome.alerts_created, 2, "{outcome:?}");

    let page = alerts_of(&app, rule, "").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    let adele = items.iter().find(|a| a["entities"]["key"] == "adele@contoso.example").expect("adele's alert");
    assert_eq!(adele["count"], 2);
    assert_eq!(adele["event_ids"], json!(["r1", "r2"]));
    assert_eq!(adele["rule"]["id"], rule);
    assert_eq!(adele["rule"]["name"], "Mailbox changed");
    assert_eq!(adele["rule"]["sigma_id"], Value::Null);
    assert_eq!(adele["severity"], "high");
    assert_eq!(adele["status"], "new");
    assert_eq!(adele["first_seen"], "2026-11-16T09:00:00Z");
    assert_eq!(adele["last_seen"], "2026-11-16T09:20:00Z");
    assert_eq!(adele["entities"]["ips"], json!(["203.0.113.7"]));
    assert_eq!(page["counts"]["new"], 2);
    // The ids are the ones GET /api/events gives.
    let (_, events) = call(&app, reqwest::Method::GET, "/api/events?page_size=50", None).await;
    let listed: Vec<&str> = events["items"].as_array().unwrap().iter().filter_map(|e| e["id"].as_str()).collect();
    assert!(listed.contains(&"r1") && listed.contains(&"r2"), "{listed:?}");

    // Collecting the same records again stores nothing and raises nothing.
    assert_eq!(store(&app.db, &first).await, 0);
    assert_eq!(catch_up(&app.db).await.unwrap(), PassOutcome::default());
    assert_eq!(alerts_of(&app, rule, "").await["items"].as_array().unwrap().len(), 2);

    // A late record within the window grows the alert; one hours later starts another.
    let later = [
        cmdlet("r6", "adele@contoso.example", "Set-Mailbox", t - Duration::minutes(30), params.clone()),
        cmdlet("r7", "adele@contoso.example", "Set-Mailbox", t + Duration::hours(5), params.clone()),
    ];
    assert_eq!(store(&app.db, &later).await, 2);
    let outcome = catch_up(&app.db).await.unwrap();
    assert_eq!((outcome.alerts_created, outcome.alerts_updated), (1, 1), "{outcome:?}");
    let page = alerts_of(&app, rule, "&entity=adele").await;
    let counts: Vec<i64> = page["items"].as_array().unwrap().iter().map(|a| a["count"].as_i64().unwrap()).collect();
    assert_eq!(counts, vec![1, 3], "{page}");
    assert_eq!(page["items"][1]["first_seen"], "2026-11-16T08:30:00Z");

    // Paging: one per page, newest first, then the next.
    let first_page = alerts_of(&app, rule, "&page_size=1").await;
    let cursor = first_page["next_cursor"].as_str().expect("a next page").to_string();
    let second_page = alerts_of(&app, rule, &format!("&page_size=1&cursor={cursor}")).await;
    assert!(first_page["items"][0]["id"].as_i64() > second_page["items"][0]["id"].as_i64());
    // Filters are validated.
    let (status, body) = call(&app, reqwest::Method::GET, "/api/alerts?status=open", None).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(call(&app, reqwest::Method::GET, "/api/alerts?severity=high&status=new", None).await.0, 200);
}

async fn concurrent_evaluators_raise_each_alert_once(backend: Backend) {
    let Some(app) = app(backend).await else { return };
    let rule = create_mailbox_rule(&app).await;
    let t = base();
    let records: Vec<String> = (0..300)
        .map(|i| {
            cmdlet(
                &format!("c{i}"),
                &format!("user{}@contoso.example", i % 7),
                "Set-Mailbox",
                t + Duration::seconds(i),
                json!([{"Name": "Identity", "Value": "x"}]),
            )
        })
        .collect();
    let writer = {
        let db = app.db.clone();
        let records = records.clone();
        tokio::spawn(async move {
            for chunk in records.chunks(25) {
                store(&db, chunk).await;
            }
        })
    };
    let evaluators: Vec<_> = (0..4)
        .map(|_| {
            let db = app.db.clone();
            tokio::spawn(async move {
                for _ in 0..20 {
                    catch_up(&db).await.unwrap();
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            })
        })
        .collect();
    writer.await.unwrap();
    for e in evaluators {
        e.await.unwrap();
    }
    catch_up(&app.db).await.unwrap();
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM alerts").await, 7);
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM alert_events").await, 300);
    assert_eq!(count(&app.db, "SELECT CAST(SUM(count) AS BIGINT) FROM alerts").await, 300);
    let page = alerts_of(&app, rule, "").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 7);
}

async fn analysts_triage_alerts_and_rule_changes_are_audited_with_before_and_after(backend: Backend) {
    let Some(app) = app(backend).await else { return };
    let rule = create_mailbox_rule(&app).await;
    let t = base();
    let params = json!([{"Name": "Identity", "Value": "ceo"}]);
    store(&app.db, &[cmdlet("t1", "adele@contoso.example", "Set-Mailbox", t, params.clone())]).await;
    catch_up(&app.db).await.unwrap();
    let id = alerts_of(&app, rule, "").await["items"][0]["id"].as_i64().unwrap();

    let (status, alert) = call(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/alerts/{id}"),
        Some(json!({"status": "acknowledged", "assignee": "lee"})),
    )
    .await;
    assert_eq!(status, 200, "{alert}");
    assert_eq!(alert["status"], "acknowledged");
    assert_eq!(alert["assignee"], "lee");
    let actions: Vec<&str> = alert["history"].as_array().unwrap().iter().filter_map(|h| h["action"].as_str()).collect();
    assert_eq!(actions, vec!["created", "triaged"]);
    assert!(alert["matched"].to_string().contains("Set-Mailbox"), "{}", alert["matched"]);
    let (status, comments) = call(
        &app,
        reqwest::Method::POST,
        &format!("/api/alerts/{id}/comments"),
        Some(json!({"body": "Looking into it"})),
    )
    .await;
    assert_eq!(status, 201, "{comments}");
    assert_eq!(comments[0]["body"], "Looking into it");
    assert_eq!(call(&app, reqwest::Method::GET, "/api/alerts?assignee=lee", None).await.1["items"][0]["id"], id);
    // Unassign, then resolve in bulk.
    let (status, alert) =
        call(&app, reqwest::Method::PATCH, &format!("/api/alerts/{id}"), Some(json!({"assignee": null}))).await;
    assert_eq!(status, 200);
    assert_eq!(alert["assignee"], Value::Null);
    let (status, body) = call(
        &app,
        reqwest::Method::POST,
        "/api/alerts/bulk",
        Some(json!({"ids": [id], "status": "resolved", "comment": "Approved change"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, alert) = call(&app, reqwest::Method::GET, &format!("/api/alerts/{id}"), None).await;
    assert_eq!(alert["status"], "resolved");
    assert_eq!(alert["comments"].as_array().unwrap().len(), 2);
    // Mistakes are 4xx with a reason.
    let (status, body) =
        call(&app, reqwest::Method::PATCH, &format!("/api/alerts/{id}"), Some(json!({"status": "closed"}))).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("false_positive"), "{body}");
    assert_eq!(
        call(&app, reqwest::Method::PATCH, "/api/alerts/999999", Some(json!({"status": "benign"}))).await.0,
        404
    );
    assert_eq!(
        call(&app, reqwest::Method::POST, "/api/alerts/bulk", Some(json!({"ids": [id, 999999], "status": "benign"})))
            .await
            .0,
        404
    );
    assert_eq!(call(&app, reqwest::Method::GET, &format!("/api/alerts/{id}"), None).await.1["status"], "resolved");

    // A resolved alert is not grown: the next match opens a new one.
    store(&app.db, &[cmdlet("t2", "adele@contoso.example", "Set-Mailbox", t + Duration::minutes(1), params.clone())])
        .await;
    catch_up(&app.db).await.unwrap();
    assert_eq!(alerts_of(&app, rule, "").await["items"].as_array().unwrap().len(), 2);

    // Disabling the rule: the next events raise nothing; the change is audited with before/after.
    let (status, updated) =
        call(&app, reqwest::Method::PUT, &format!("/api/rules/{rule}"), Some(json!({"enabled": false}))).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["enabled"], false);
    assert_eq!(updated["name"], "Mailbox changed");
    assert_eq!(updated["hits"], 2);
    store(&app.db, &[cmdlet("t3", "lee@contoso.example", "Set-Mailbox", t, params.clone())]).await;
    catch_up(&app.db).await.unwrap();
    assert_eq!(alerts_of(&app, rule, "").await["items"].as_array().unwrap().len(), 2);
    let (status, trail) =
        call(&app, reqwest::Method::GET, &format!("/api/audit-trail?target_kind=rule&target_id={rule}"), None).await;
    assert_eq!(status, 200, "{trail}");
    let entries = trail["items"].as_array().unwrap();
    let update = entries.iter().find(|e| e["action"] == "rule.update").expect("the update is audited");
    assert_eq!(update["details"]["before"]["enabled"], true);
    assert_eq!(update["details"]["after"]["enabled"], false);
    assert!(entries.iter().any(|e| e["action"] == "rule.create"));

    // Invalid rules are refused with the place of the mistake; names are unique.
    let (status, body) = call(
        &app,
        reqwest::Method::POST,
        "/api/rules",
        Some(json!({"name": "Broken", "condition": {"any": [{"field": "ip", "op": "cidr", "value": "nope"}]}})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("condition.any[0]"), "{body}");
    let (status, body) = call(
        &app,
        reqwest::Method::POST,
        "/api/rules",
        Some(json!({"name": "Mailbox changed", "condition": {"field": "operation", "value": "x"}})),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = call(
        &app,
        reqwest::Method::POST,
        "/api/rules",
        Some(json!({"name": "Spray", "kind": "threshold", "condition": {"field": "operation", "value": "x"}})),
    )
    .await;
    assert_eq!(status, 400, "{body}");

    // Deleting the rule takes its alerts along, and is audited.
    assert_eq!(call(&app, reqwest::Method::DELETE, &format!("/api/rules/{rule}"), None).await.0, 204);
    assert_eq!(call(&app, reqwest::Method::GET, &format!("/api/rules/{rule}"), None).await.0, 404);
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM alerts").await, 0);
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM alert_events").await, 0);
}

async fn the_builtin_pack_is_stored_once_and_the_background_evaluator_raises_its_alerts(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[]).await else { return };
    let (_, rules) = call(&app, reqwest::Method::GET, "/api/rules", None).await;
    let builtin: Vec<&Value> = rules.as_array().unwrap().iter().filter(|r| r["builtin"] == true).collect();
    assert!(builtin.len() >= 30, "{}", builtin.len());
    assert!(builtin.iter().all(|r| r["enabled"] == true));
    // Seeding again adds nothing and keeps edits.
    let forwarding =
        builtin.iter().find(|r| r["uid"] == "builtin.mailbox_forwards_outside").unwrap()["id"].as_i64().unwrap();
    call(&app, reqwest::Method::PUT, &format!("/api/rules/{forwarding}"), Some(json!({"severity": "critical"}))).await;
    assert_eq!(aoc::services::detection::seed_builtin(&app.db).await.unwrap(), 0);
    let (_, rule) = call(&app, reqwest::Method::GET, &format!("/api/rules/{forwarding}"), None).await;
    assert_eq!(rule["severity"], "critical");

    // Mailbox forwarding outside, and to a colleague (the near miss).
    let t = Utc::now() - Duration::minutes(10);
    store(
        &app.db,
        &[
            cmdlet(
                "fw1",
                "admin@contoso.example",
                "Set-Mailbox",
                t,
                json!([{"Name": "Identity", "Value": "ceo"}, {"Name": "ForwardingSmtpAddress", "Value": "smtp:ceo@evil.example"}]),
            ),
            cmdlet(
                "fw2",
                "admin@contoso.example",
                "Set-Mailbox",
                t,
                json!([{"Name": "Identity", "Value": "cfo"}, {"Name": "ForwardingSmtpAddress", "Value": "smtp:assistant@contoso.example"}]),
            ),
        ],
    )
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let alert = loop {
        let page = alerts_of(&app, forwarding, "").await;
        if let Some(a) = page["items"].as_array().unwrap().first() {
            break a.clone();
        }
        assert!(std::time::Instant::now() < deadline, "no alert from the background evaluator");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    assert_eq!(alert["event_ids"], json!(["fw1"]));
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["rule"]["uid"], "builtin.mailbox_forwards_outside");
}

const SIGMA: &str = r#"
title: Mailbox permission added over PowerShell
id: 3a9b5c1e-0d5c-4b47-9a57-0b1e6d3a7c11
status: test
description: Add-MailboxPermission by anyone.
references:
    - https://example.invalid/mailbox-permission
author: Jane Doe
tags:
    - attack.persistence
logsource:
    product: m365
    service: exchange
detection:
    selection:
        eventSource: Exchange
        eventName: Add-MailboxPermission
        Parameters.AccessRights|contains: FullAccess
    filter_main_system:
        UserId|startswith: 'NT AUTHORITY'
    condition: selection and not 1 of filter_main_*
level: high
"#;

async fn sigma_rules_are_created_over_rest_keep_their_id_and_author_and_export_back(backend: Backend) {
    let Some(app) = app(backend).await else { return };
    let broken = SIGMA.replace("condition: selection", "condition: [selection");
    let (status, body) = call(&app, reqwest::Method::POST, "/api/rules", Some(json!({"sigma": broken}))).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("line "), "{body}");
    let (status, rule) = call(&app, reqwest::Method::POST, "/api/rules", Some(json!({"sigma": SIGMA}))).await;
    assert_eq!(status, 201, "{rule}");
    assert_eq!(rule["name"], "Mailbox permission added over PowerShell");
    assert_eq!(rule["severity"], "high");
    assert_eq!(rule["sigma_id"], "3a9b5c1e-0d5c-4b47-9a57-0b1e6d3a7c11");
    assert_eq!(rule["owner"], "Jane Doe");
    assert!(rule["description"].as_str().unwrap().contains("https://example.invalid/mailbox-permission"));
    let id = rule["id"].as_i64().unwrap();
    // The same Sigma id twice is a conflict; the name and severity may be given.
    assert_eq!(call(&app, reqwest::Method::POST, "/api/rules", Some(json!({"sigma": SIGMA}))).await.0, 409);
    let response = app.client.get(app.url(&format!("/api/rules/{id}/sigma"))).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), SIGMA);

    let t = base();
    let grant = |rid: &str, user: &str| {
        cmdlet(
            rid,
            user,
            "Add-MailboxPermission",
            t,
            json!([{"Name": "Identity", "Value": "ceo"}, {"Name": "AccessRights", "Value": "FullAccess"}]),
        )
    };
    store(
        &app.db,
        &[grant("s1", "admin@contoso.example"), grant("s2", "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)")],
    )
    .await;
    catch_up(&app.db).await.unwrap();
    let page = alerts_of(&app, id, "").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["items"][0]["event_ids"], json!(["s1"]));
    assert_eq!(page["items"][0]["rule"]["sigma_id"], "3a9b5c1e-0d5c-4b47-9a57-0b1e6d3a7c11");
    let alert_id = page["items"][0]["id"].as_i64().unwrap();
    let (_, detail) = call(&app, reqwest::Method::GET, &format!("/api/alerts/{alert_id}"), None).await;
    assert_eq!(detail["rule_owner"], "Jane Doe");

    // A native rule exports as Sigma that loads again.
    let native = create_mailbox_rule(&app).await;
    let yaml =
        app.client.get(app.url(&format!("/api/rules/{native}/sigma"))).send().await.unwrap().text().await.unwrap();
    assert!(yaml.contains("Set-Mailbox") && yaml.contains("condition:"), "{yaml}");
    let (status, body) =
        call(&app, reqwest::Method::POST, "/api/rules", Some(json!({"sigma": yaml, "name": "Mailbox changed (copy)"})))
            .await;
    assert_eq!(status, 201, "{body}");
}

#[test]
fn rules_import_prints_loaded_or_the_reason_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(rules.join("nested")).unwrap();
    std::fs::write(rules.join("a_good.yml"), SIGMA).unwrap();
    std::fs::write(
        rules.join("nested/b_expand.yml"),
        "title: Placeholder\nlogsource: {product: azure, service: auditlogs}\ndetection:\n    sel:\n        Initiatedby|expand: '%approvers%'\n    condition: sel\n",
    )
    .unwrap();
    std::fs::write(
        rules.join("c_arm.yaml"),
        "title: ARM\nlogsource: {product: azure, service: activitylogs}\ndetection:\n    sel:\n        operationName: x\n    condition: sel\n",
    )
    .unwrap();
    std::fs::write(rules.join("notes.txt"), "not a rule").unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("aoc.db").display());
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_aoc"))
            .current_dir(dir.path())
            .env("DATABASE_URL", &url)
            .args(["rules", "import", rules.to_str().unwrap(), "--json"])
            .output()
            .unwrap()
    };
    let out = run();
    assert!(!out.status.success(), "a refused file makes the command fail");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let statuses: Vec<(&str, &str)> = report
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["path"].as_str().unwrap().rsplit('/').next().unwrap(), o["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses, vec![("a_good.yml", "loaded"), ("c_arm.yaml", "refused"), ("b_expand.yml", "refused")]);
    assert!(report[1]["reason"].as_str().unwrap().contains("activitylogs"), "{report}");
    assert!(report[2]["reason"].as_str().unwrap().contains("placeholder %approvers% not set"), "{report}");
    // Again: the same Sigma id is updated, not added twice.
    let again: Value = serde_json::from_slice(&run().stdout).unwrap();
    assert_eq!(again[0]["status"], "updated");
    assert_eq!(again[0]["rule_id"], report[0]["rule_id"]);
    // A rule file backtested over the (empty) store.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aoc"))
        .current_dir(dir.path())
        .env("DATABASE_URL", &url)
        .args(["rules", "test", rules.join("a_good.yml").to_str().unwrap(), "--since", "7d", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["events_scanned"], 0);
}

async fn a_backtest_shows_what_a_rule_would_raise_without_saving_it(backend: Backend) {
    let Some(app) = app(backend).await else { return };
    let t = Utc::now() - Duration::hours(3);
    let params = json!([{"Name": "Identity", "Value": "ceo"}]);
    store(
        &app.db,
        &[
            cmdlet("b1", "adele@contoso.example", "Set-Mailbox", t, params.clone()),
            cmdlet("b2", "adele@contoso.example", "Set-Mailbox", t + Duration::minutes(10), params.clone()),
            cmdlet("b3", "lee@contoso.example", "Set-Mailbox", t, params.clone()),
            cmdlet("b4", "lee@contoso.example", "Get-Mailbox", t, params.clone()),
            cmdlet("old", "lee@contoso.example", "Set-Mailbox", t - Duration::days(30), params.clone()),
        ],
    )
    .await;
    let rule = json!({"name": "Draft", "condition": {"field": "operation", "value": "Set-Mailbox"}});
    let (status, result) =
        call(&app, reqwest::Method::POST, "/api/rules/backtest", Some(json!({"rule": rule, "last": "7d"}))).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["events_scanned"], 4);
    assert_eq!(result["matches"], 3);
    let alerts = result["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 2, "{result}");
    let adele = alerts.iter().find(|a| a["key"] == "adele@contoso.example").unwrap();
    assert_eq!(adele["count"], 2);
    assert_eq!(adele["event_ids"], json!(["b1", "b2"]));
    // Nothing was saved.
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM rules WHERE name = 'Draft'").await, 0);
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM alerts").await, 0);
    // A saved rule, and a Sigma draft with a mistake.
    let id = create_mailbox_rule(&app).await;
    let (status, result) = call(
        &app,
        reqwest::Method::POST,
        "/api/rules/backtest",
        Some(json!({"rule_id": id, "since": (t - Duration::days(40)).to_rfc3339()})),
    )
    .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["matches"], 4);
    let (status, body) = call(
        &app,
        reqwest::Method::POST,
        "/api/rules/backtest",
        Some(json!({"rule": {"sigma": "title: x\ndetection: [a"}, "last": "1d"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("line"), "{body}");
}

on_both_backends!(
    matches_of_one_rule_on_one_actor_within_the_window_group_into_one_alert,
    concurrent_evaluators_raise_each_alert_once,
    analysts_triage_alerts_and_rule_changes_are_audited_with_before_and_after,
    the_builtin_pack_is_stored_once_and_the_background_evaluator_raises_its_alerts,
    sigma_rules_are_created_over_rest_keep_their_id_and_author_and_export_back,
    a_backtest_shows_what_a_rule_would_raise_without_saving_it,
);
