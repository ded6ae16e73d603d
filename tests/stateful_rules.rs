//! Threshold, first-seen and sequence rules over real HTTP and a real database, on SQLite and
//! PostgreSQL: they are created and validated through the REST API, raise their alerts from
//! stored events, raise nothing new when records are collected again, and give the same alerts
//! whatever the order and batching in which the records arrive (randomized trials with fixed
//! seeds: each trial shuffles the same records, stores them in batches of random sizes and
//! evaluates after each batch, as late and out-of-order delivery would).

mod common;

use std::collections::BTreeSet;

use aoc::normalize::{self, Source};
use aoc::services::detection::catch_up;
use aoc::store::writer::{store_batch, EventRow, Subscribers};
use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{spawn_app_with, Backend, TestApp};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{json, Value};

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 16, 9, 0, 0).unwrap()
}

/// An Exchange admin cmdlet record of `tenant`.
fn record(tenant: &str, id: &str, user: &str, operation: &str, ip: &str, at: DateTime<Utc>) -> String {
    json!({
        "CreationTime": at.format("%Y-%m-%dT%H:%M:%S").to_string(), "Id": id, "Operation": operation,
        "OrganizationId": tenant, "RecordType": 1, "ResultStatus": "True", "UserKey": user, "UserType": 2,
        "Workload": "Exchange", "ClientIP": format!("{ip}:4431"), "ObjectId": "ceo", "UserId": user,
        "Parameters": [{"Name": "Identity", "Value": "ceo"}]
    })
    .to_string()
}

async fn store(db: &DatabaseConnection, tenant: &str, raws: &[String]) -> usize {
    let rows = raws
        .iter()
        .map(|raw| {
            let n = normalize::normalize(Source::Unified, Some("Audit.Exchange"), raw, &Default::default());
            EventRow::new(tenant, Source::Unified, Some("Audit.Exchange"), raw.clone(), n, Utc::now())
        })
        .collect();
    store_batch(db, rows, &[], &Subscribers::default()).await.unwrap().inserted.len()
}

async fn call(app: &TestApp, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    app.call(method, path, body).await
}

async fn create(app: &TestApp, rule: Value) -> i64 {
    let (status, body) = call(app, reqwest::Method::POST, "/api/rules", Some(rule)).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().unwrap()
}

/// Spraying: at least three different users changing mailboxes from one address in 30 minutes.
fn spray_rule() -> Value {
    json!({
        "name": "Mailbox changes by many users from one address", "kind": "threshold", "severity": "high",
        "condition": {"field": "Operation", "value": "Set-Mailbox"},
        "group_by": "ip", "window_minutes": 30, "threshold": {"count": 3, "distinct": "actor"}
    })
}

/// Permission given then taken back by the same person within an hour.
fn sequence_rule() -> Value {
    json!({
        "name": "Mailbox permission added then removed", "kind": "sequence", "severity": "medium",
        "condition": {"field": "Operation", "value": "Add-MailboxPermission"},
        "then": {"field": "Operation", "value": "Remove-MailboxPermission"},
        "group_by": "actor", "window_minutes": 60
    })
}

/// Permission added and removed, in either order, by one person from one address within 30
/// minutes (Sigma's `temporal`, grouped by two keys).
fn either_order_rule() -> Value {
    json!({
        "name": "Mailbox permission churn from one address", "kind": "sequence", "severity": "low",
        "condition": {"field": "Operation", "value": "Add-MailboxPermission"},
        "then": {"field": "Operation", "value": "Remove-MailboxPermission"}, "any_order": true,
        "group_by": "actor, ip", "window_minutes": 30
    })
}

/// A person working from an address they have not used in 30 days.
fn new_address_rule() -> Value {
    json!({
        "name": "Admin cmdlet from a new address", "kind": "first_seen", "severity": "low",
        "condition": {"field": "Workload", "value": "Exchange"},
        "group_by": "actor", "first_seen": {"field": "ClientIP", "lookback_days": 30}
    })
}

/// The alerts of a tenant as comparable rows: rule, group, window, count, first and last seen,
/// and the record ids (with the trial's prefix removed).
async fn alerts_of(db: &DatabaseConnection, tenant: &str, prefix: &str) -> BTreeSet<String> {
    let backend = db.get_database_backend();
    let p = if backend == sea_orm::DbBackend::Postgres { "$1" } else { "?" };
    let rows = db
        .query_all(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT a.id, r.name, a.group_key, a.count, a.first_seen, a.last_seen FROM alerts a \
                 JOIN rules r ON r.id = a.rule_id WHERE a.tenant_id = {p}"
            ),
            [tenant.into()],
        ))
        .await
        .unwrap();
    let mut out = BTreeSet::new();
    for row in rows {
        let id: i64 = row.try_get("", "id").unwrap();
        let name: String = row.try_get("", "name").unwrap();
        let key: String = row.try_get("", "group_key").unwrap();
        let count: i64 = row.try_get("", "count").unwrap();
        let first: DateTime<Utc> = row.try_get("", "first_seen").unwrap();
        let last: DateTime<Utc> = row.try_get("", "last_seen").unwrap();
        let q = if backend == sea_orm::DbBackend::Postgres { "$1" } else { "?" };
        let events = db
            .query_all(Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT e.record_id FROM alert_events ae JOIN events e ON e.id = ae.event_id WHERE ae.alert_id = {q} \
                     ORDER BY e.record_id"
                ),
                [id.into()],
            ))
            .await
            .unwrap();
        let records: Vec<String> = events
            .iter()
            .map(|r| r.try_get::<String>("", "record_id").unwrap().trim_start_matches(prefix).to_string())
            .collect();
        out.insert(format!("{name} | {key} | {count} | {first} | {last} | {}", records.join(",")));
    }
    out
}

/// The same activity for every trial: (id, user, operation, address, minutes after base).
fn activity() -> Vec<(String, String, &'static str, String, i64)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261208);
    let users = ["adele", "lee", "megan", "nestor", "pradeep"];
    let operations = ["Set-Mailbox", "Add-MailboxPermission", "Remove-MailboxPermission", "Get-Mailbox"];
    let addresses = ["198.51.100.9", "198.51.100.10", "203.0.113.7"];
    (0..60)
        .map(|i| {
            (
                format!("r{i:02}"),
                format!("{}@contoso.example", users[rng.random_range(0..users.len())]),
                operations[rng.random_range(0..operations.len())],
                addresses[rng.random_range(0..addresses.len())].to_string(),
                rng.random_range(0..240),
            )
        })
        .collect()
}

async fn stateful_rules_give_the_same_alerts_whatever_the_order_and_batching(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("ALERTS_ENABLED", "false")]).await else { return };
    create(&app, spray_rule()).await;
    create(&app, sequence_rule()).await;
    create(&app, either_order_rule()).await;
    let activity = activity();
    let mut reference: Option<BTreeSet<String>> = None;
    let trials = if backend == Backend::Postgres { 5 } else { 8 };
    for trial in 0..trials {
        let tenant = format!("00000000-0000-0000-0000-{trial:012}");
        let prefix = format!("t{trial}-");
        let mut records: Vec<String> = activity
            .iter()
            .map(|(id, user, op, ip, minute)| {
                record(&tenant, &format!("{prefix}{id}"), user, op, ip, base() + Duration::minutes(*minute))
            })
            .collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(trial);
        if trial > 0 {
            records.shuffle(&mut rng);
        }
        let mut rest = records.as_slice();
        while !rest.is_empty() {
            let size = if trial == 0 { rest.len() } else { rng.random_range(1..=8).min(rest.len()) };
            let (batch, tail) = rest.split_at(size);
            store(&app.db, &tenant, batch).await;
            catch_up(&app.db).await.unwrap();
            rest = tail;
        }
        // Collecting everything again changes nothing.
        assert_eq!(store(&app.db, &tenant, &records).await, 0);
        catch_up(&app.db).await.unwrap();
        let alerts = alerts_of(&app.db, &tenant, &prefix).await;
        match &reference {
            None => {
                for rule in ["Mailbox changes by many users", "Mailbox permission added", "Mailbox permission churn"] {
                    assert!(alerts.iter().any(|a| a.starts_with(rule)), "no alert of `{rule}` in {alerts:#?}");
                }
                eprintln!("reference: {} alerts", alerts.len());
                reference = Some(alerts);
            }
            Some(reference) => assert_eq!(&alerts, reference, "trial {trial} (seed {trial}) differs"),
        }
    }
}

async fn threshold_and_sequence_alerts_hold_what_fired(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("ALERTS_ENABLED", "false")]).await else { return };
    let spray = create(&app, spray_rule()).await;
    let sequence = create(&app, sequence_rule()).await;
    let t = base();
    let tenant = "11111111-1111-1111-1111-111111111111";
    let ip = "198.51.100.9";
    let records = [
        // Two users in the first half hour: not enough.
        record(tenant, "s1", "adele@contoso.example", "Set-Mailbox", ip, t),
        record(tenant, "s2", "lee@contoso.example", "Set-Mailbox", ip, t + Duration::minutes(5)),
        record(tenant, "s3", "adele@contoso.example", "Set-Mailbox", ip, t + Duration::minutes(10)),
        // Removal before the addition is no sequence.
        record(tenant, "q1", "megan@contoso.example", "Remove-MailboxPermission", ip, t),
        record(tenant, "q2", "megan@contoso.example", "Add-MailboxPermission", ip, t + Duration::minutes(1)),
    ];
    store(&app.db, tenant, &records).await;
    let outcome = catch_up(&app.db).await.unwrap();
    assert_eq!(outcome.alerts_created, 0, "{outcome:?}");
    // A third user in the same window; the removal 40 minutes after the addition.
    store(
        &app.db,
        tenant,
        &[
            record(tenant, "s4", "megan@contoso.example", "Set-Mailbox", ip, t + Duration::minutes(20)),
            record(tenant, "q3", "megan@contoso.example", "Remove-MailboxPermission", ip, t + Duration::minutes(41)),
        ],
    )
    .await;
    let outcome = catch_up(&app.db).await.unwrap();
    assert_eq!(outcome.alerts_created, 2, "{outcome:?}");
    let (_, page) = call(&app, reqwest::Method::GET, &format!("/api/alerts?rule={spray}"), None).await;
    let alert = &page["items"][0];
    assert_eq!(alert["count"], 4, "{page}");
    assert_eq!(alert["event_ids"], json!(["s1", "s2", "s3", "s4"]));
    assert_eq!(alert["entities"]["users"].as_array().unwrap().len(), 3, "{alert}");
    let (_, detail) = call(&app, reqwest::Method::GET, &format!("/api/alerts/{}", alert["id"]), None).await;
    assert!(detail.to_string().contains("3 distinct actor in 30 min"), "{detail}");
    let (_, page) = call(&app, reqwest::Method::GET, &format!("/api/alerts?rule={sequence}"), None).await;
    assert_eq!(page["items"][0]["event_ids"], json!(["q2", "q3"]), "{page}");
    // An event names the alerts it is part of; one that is in none names none.
    let (status, event) = call(&app, reqwest::Method::GET, &format!("/api/events/q3?tenant={tenant}"), None).await;
    assert_eq!(status, 200, "{event}");
    assert_eq!(event["alerts"].as_array().unwrap().len(), 1, "{event}");
    assert_eq!(event["alerts"][0]["id"], page["items"][0]["id"], "{event}");
    assert_eq!(event["alerts"][0]["rule"], "Mailbox permission added then removed", "{event}");
    assert_eq!(event["alerts"][0]["status"], "new", "{event}");
    let (_, event) = call(&app, reqwest::Method::GET, &format!("/api/events/q1?tenant={tenant}"), None).await;
    assert_eq!(event["alerts"], json!([]), "{event}");
    // `alert:ID` searches an alert's events; anything but an id is refused with the reason.
    let alert_id = page["items"][0]["id"].as_i64().unwrap();
    let (status, found) = call(&app, reqwest::Method::GET, &format!("/api/events?search=alert:{alert_id}"), None).await;
    assert_eq!(status, 200, "{found}");
    let mut found: Vec<String> =
        found["items"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    found.sort();
    assert_eq!(found, ["q2", "q3"]);
    let (status, found) = call(
        &app,
        reqwest::Method::GET,
        &format!("/api/events?search=-alert:{alert_id}%20operation:Add-MailboxPermission"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["items"].as_array().unwrap().len(), 0, "{found}");
    let (status, refused) = call(&app, reqwest::Method::GET, "/api/events?search=alert:latest", None).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("alert's id"), "{refused}");
    // The next window starts afresh.
    store(
        &app.db,
        tenant,
        &[record(tenant, "s5", "nestor@contoso.example", "Set-Mailbox", ip, t + Duration::minutes(31))],
    )
    .await;
    let outcome = catch_up(&app.db).await.unwrap();
    assert_eq!((outcome.alerts_created, outcome.alerts_updated), (0, 0), "{outcome:?}");

    // The backtest makes the same decisions over stored events.
    let (status, result) = call(
        &app,
        reqwest::Method::POST,
        "/api/rules/backtest",
        Some(json!({"rule_id": spray, "since": "2026-11-16T00:00:00Z", "until": "2026-11-17T00:00:00Z"})),
    )
    .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["alerts"].as_array().unwrap().len(), 1, "{result}");
    assert_eq!(result["alerts"][0]["count"], 4);
}

async fn either_order_sequences_group_by_each_combination_of_keys(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("ALERTS_ENABLED", "false")]).await else { return };
    let rule = create(&app, either_order_rule()).await;
    let (_, stored) = call(&app, reqwest::Method::GET, &format!("/api/rules/{rule}"), None).await;
    assert_eq!(stored["any_order"], true, "{stored}");
    let t = base();
    let tenant = "11111111-1111-1111-1111-111111111111";
    let (adele, lee) = ("adele@contoso.example", "lee@contoso.example");
    let (home, away) = ("198.51.100.9", "203.0.113.7");
    store(
        &app.db,
        tenant,
        &[
            // Removal, then the addition 10 minutes later, same person and address: a pair.
            record(tenant, "p1", adele, "Remove-MailboxPermission", home, t + Duration::minutes(2)),
            record(tenant, "p2", adele, "Add-MailboxPermission", home, t + Duration::minutes(12)),
            // The same person from another address: another group, no pair on its own.
            record(tenant, "p3", adele, "Add-MailboxPermission", away, t + Duration::minutes(14)),
            // Someone else from the first address: no pair with Adele's steps.
            record(tenant, "p4", lee, "Remove-MailboxPermission", home, t + Duration::minutes(15)),
            // 31 minutes apart: too far.
            record(tenant, "p5", lee, "Add-MailboxPermission", away, t + Duration::minutes(60)),
            record(tenant, "p6", lee, "Remove-MailboxPermission", away, t + Duration::minutes(91)),
        ],
    )
    .await;
    catch_up(&app.db).await.unwrap();
    let (_, page) = call(&app, reqwest::Method::GET, &format!("/api/alerts?rule={rule}"), None).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    assert_eq!(items[0]["event_ids"], json!(["p1", "p2"]), "{page}");
    let (_, detail) = call(&app, reqwest::Method::GET, &format!("/api/alerts/{}", items[0]["id"]), None).await;
    assert!(detail.to_string().contains(&format!("{adele} · {home}")), "{detail}");
    assert!(detail.to_string().contains("either order"), "{detail}");

    // The backtest agrees; a bad grouping is refused with the reason.
    let (status, result) = call(
        &app,
        reqwest::Method::POST,
        "/api/rules/backtest",
        Some(json!({"rule_id": rule, "since": "2026-11-16T00:00:00Z", "until": "2026-11-17T00:00:00Z"})),
    )
    .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["alerts"].as_array().unwrap().len(), 1, "{result}");
    let (status, answer) =
        call(&app, reqwest::Method::PUT, &format!("/api/rules/{rule}"), Some(json!({"group_by": "actor, "}))).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.to_string().contains("group_by"), "{answer}");
    let (status, answer) = call(
        &app,
        reqwest::Method::POST,
        "/api/rules",
        Some(json!({"name": "x", "condition": {"field": "Operation", "value": "x"}, "any_order": true})),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.to_string().contains("any_order"), "{answer}");
}

async fn a_first_seen_rule_learns_what_is_stored_before_it_exists(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("ALERTS_ENABLED", "false")]).await else { return };
    let tenant = "11111111-1111-1111-1111-111111111111";
    let now = Utc::now() - Duration::hours(2);
    store(
        &app.db,
        tenant,
        &[
            record(tenant, "f1", "adele@contoso.example", "Get-Mailbox", "198.51.100.9", now - Duration::days(3)),
            record(tenant, "f2", "lee@contoso.example", "Get-Mailbox", "198.51.100.10", now - Duration::days(40)),
        ],
    )
    .await;
    catch_up(&app.db).await.unwrap();
    let rule = create(&app, new_address_rule()).await;
    store(
        &app.db,
        tenant,
        &[
            // Known from the baseline.
            record(tenant, "f3", "adele@contoso.example", "Get-Mailbox", "198.51.100.9", now),
            // Lee's only earlier activity is 40 days old: no history in the look-back to differ from.
            record(tenant, "f4", "lee@contoso.example", "Get-Mailbox", "198.51.100.10", now),
            // New for Adele, who worked from another address three days ago.
            record(tenant, "f5", "adele@contoso.example", "Get-Mailbox", "203.0.113.7", now),
            record(tenant, "f6", "adele@contoso.example", "Get-Mailbox", "203.0.113.7", now + Duration::minutes(1)),
        ],
    )
    .await;
    catch_up(&app.db).await.unwrap();
    let (_, page) = call(&app, reqwest::Method::GET, &format!("/api/alerts?rule={rule}"), None).await;
    let mut got: Vec<String> =
        page["items"].as_array().unwrap().iter().map(|a| a["event_ids"][0].as_str().unwrap().to_string()).collect();
    got.sort();
    assert_eq!(got, ["f5"], "{page}");
    // Adele's first address again, and her new one a minute later: both known now.
    assert_eq!(page["items"][0]["count"], 1, "{page}");
}

async fn stateful_rules_are_validated_with_clear_messages(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("ALERTS_ENABLED", "false")]).await else { return };
    let cases = [
        (json!({"name": "a", "kind": "threshold", "condition": {"field": "Operation", "value": "x"}}), "threshold"),
        (
            json!({"name": "b", "condition": {"field": "Operation", "value": "x"}, "kind": "match",
                   "threshold": {"count": 3}}),
            "threshold",
        ),
        (
            json!({"name": "c", "condition": {"field": "Operation", "value": "x"}, "threshold": {"count": 0}}),
            "threshold.count",
        ),
        (
            json!({"name": "d", "condition": {"field": "Operation", "value": "x"},
                   "first_seen": {"field": "ClientIP", "lookback_days": 1000}}),
            "first_seen.lookback_days",
        ),
        (
            json!({"name": "e", "condition": {"field": "Operation", "value": "x"}, "then": {"field": "Operation"}}),
            "then",
        ),
        (json!({"name": "f", "condition": {"field": "Operation", "value": "x"}, "kind": "correlation"}), "kind"),
    ];
    for (body, field) in cases {
        let (status, answer) = call(&app, reqwest::Method::POST, "/api/rules", Some(body.clone())).await;
        assert_eq!(status, 400, "{body} → {answer}");
        assert!(answer.to_string().contains(field), "{body} → {answer}");
    }
    // A kind follows from its part; changing the kind drops the other kind's part.
    let id = create(
        &app,
        json!({"name": "g", "condition": {"field": "Operation", "value": "x"}, "threshold": {"count": 2}}),
    )
    .await;
    let (_, rule) = call(&app, reqwest::Method::GET, &format!("/api/rules/{id}"), None).await;
    assert_eq!(rule["kind"], "threshold", "{rule}");
    let (status, rule) =
        call(&app, reqwest::Method::PUT, &format!("/api/rules/{id}"), Some(json!({"kind": "match"}))).await;
    assert_eq!(status, 200, "{rule}");
    assert_eq!(rule["kind"], "match");
    assert!(rule.get("threshold").is_none_or(Value::is_null), "{rule}");
}

async fn a_suppressed_entity_raises_and_counts_nothing_while_the_suppression_lasts(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("ALERTS_ENABLED", "false")]).await else { return };
    let rule = create(&app, sequence_rule()).await;
    let spray = create(&app, spray_rule()).await;
    let t = base();
    let tenant = "11111111-1111-1111-1111-111111111111";
    let path = format!("/api/rules/{rule}/suppressions");
    let body = json!({"entity": "adele@contoso.example", "since": "2026-11-16T08:00:00Z",
                      "until": "2026-11-16T10:00:00Z", "reason": "planned mailbox migration"});
    let (status, created) = call(&app, reqwest::Method::POST, &path, Some(body)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["entity"], "adele@contoso.example");
    // Every entity of the other rule, for a span.
    let (status, _) = call(
        &app,
        reqwest::Method::POST,
        &format!("/api/rules/{spray}/suppressions"),
        Some(json!({"hours": 24, "reason": "pen test"})),
    )
    .await;
    assert_eq!(status, 201);
    for (body, field) in [
        (json!({"hours": 24}), "reason"),
        (json!({"reason": "x"}), "until"),
        (json!({"reason": "x", "hours": 0}), "hours"),
        (json!({"reason": "x", "since": "2026-11-16T10:00:00Z", "until": "2026-11-16T09:00:00Z"}), "until"),
        (json!({"reason": "x", "until": "tomorrow"}), "until"),
    ] {
        let (status, answer) = call(&app, reqwest::Method::POST, &path, Some(body.clone())).await;
        assert_eq!(status, 400, "{body} → {answer}");
        assert!(answer.to_string().contains(field), "{body} → {answer}");
    }
    let ip = "198.51.100.9";
    let records = [
        record(tenant, "p1", "adele@contoso.example", "Add-MailboxPermission", ip, t),
        record(tenant, "p2", "adele@contoso.example", "Remove-MailboxPermission", ip, t + Duration::minutes(5)),
        record(tenant, "p3", "lee@contoso.example", "Add-MailboxPermission", ip, t),
        record(tenant, "p4", "lee@contoso.example", "Remove-MailboxPermission", ip, t + Duration::minutes(5)),
        // After the suppression ended: alerts again.
        record(tenant, "p5", "adele@contoso.example", "Add-MailboxPermission", ip, t + Duration::hours(2)),
        record(tenant, "p6", "adele@contoso.example", "Remove-MailboxPermission", ip, t + Duration::minutes(125)),
    ];
    store(&app.db, tenant, &records).await;
    catch_up(&app.db).await.unwrap();
    let (_, page) = call(&app, reqwest::Method::GET, &format!("/api/alerts?rule={rule}"), None).await;
    let mut got: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["event_ids"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect::<Vec<_>>().join("+"))
        .collect();
    got.sort();
    assert_eq!(got, ["p3+p4", "p5+p6"], "{page}");
    // Listed, audited, ended.
    let (status, list) = call(&app, reqwest::Method::GET, &path, None).await;
    assert_eq!(status, 200);
    // The first suppression ended in the past (event time); only ones not ended are listed.
    assert_eq!(list.as_array().unwrap().len(), 0, "{list}");
    let (_, list) = call(&app, reqwest::Method::GET, &format!("/api/rules/{spray}/suppressions"), None).await;
    let id = list[0]["id"].as_i64().unwrap();
    let (_, audit) =
        call(&app, reqwest::Method::GET, &format!("/api/audit-trail?target_kind=rule&target_id={spray}"), None).await;
    assert!(audit.to_string().contains("pen test"), "{audit}");
    let (status, _) = call(&app, reqwest::Method::DELETE, &format!("/api/suppressions/{id}"), None).await;
    assert_eq!(status, 204);
    let (status, _) = call(&app, reqwest::Method::DELETE, &format!("/api/suppressions/{id}"), None).await;
    assert_eq!(status, 404);
}

async fn rules_and_sigma_placeholders_use_watchlists(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("ALERTS_ENABLED", "false")]).await else { return };
    let sigma = "title: Mailbox change by someone not approved\nid: 5b0f4c0e-7a63-4b5e-9d1c-000000000001\n\
                 logsource: {product: m365, service: exchange}\ndetection:\n    selection:\n        \
                 Operation: Set-Mailbox\n    approved:\n        UserId|expand: '%approved_admins%'\n    \
                 condition: selection and not approved\nlevel: high\n";
    // The placeholder is not set: refused with the reason and the fix.
    let (status, answer) = call(&app, reqwest::Method::POST, "/api/rules", Some(json!({"sigma": sigma}))).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer.to_string().contains("%approved_admins%") && answer.to_string().contains("create a watchlist"),
        "{answer}"
    );
    let (status, answer) = call(
        &app,
        reqwest::Method::POST,
        "/api/rules",
        Some(json!({"name": "w", "condition": {"field": "actor", "watchlist": "nobody_yet"}})),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.to_string().contains("no watchlist named nobody_yet"), "{answer}");
    let (status, list) = call(
        &app,
        reqwest::Method::POST,
        "/api/watchlists",
        Some(json!({"name": "approved_admins", "kind": "user", "items": [{"value": "Adele@contoso.example"}]})),
    )
    .await;
    assert_eq!(status, 201, "{list}");
    let sigma_rule = create(&app, json!({"sigma": sigma})).await;
    let watched = create(
        &app,
        json!({"name": "Watched admin changed a mailbox", "condition": {"all": [
            {"field": "Operation", "value": "Set-Mailbox"}, {"field": "actor", "watchlist": "approved_admins"}]}}),
    )
    .await;
    let tenant = "11111111-1111-1111-1111-111111111111";
    let t = base();
    store(
        &app.db,
        tenant,
        &[
            record(tenant, "w1", "adele@contoso.example", "Set-Mailbox", "198.51.100.9", t),
            record(tenant, "w2", "mallory@contoso.example", "Set-Mailbox", "198.51.100.9", t),
        ],
    )
    .await;
    catch_up(&app.db).await.unwrap();
    let ids = |page: &Value| -> Vec<String> {
        page["items"].as_array().unwrap().iter().map(|a| a["event_ids"][0].as_str().unwrap().to_string()).collect()
    };
    let (_, page) = call(&app, reqwest::Method::GET, &format!("/api/alerts?rule={sigma_rule}"), None).await;
    assert_eq!(ids(&page), ["w2"], "only the unapproved admin: {page}");
    let (_, page) = call(&app, reqwest::Method::GET, &format!("/api/alerts?rule={watched}"), None).await;
    assert_eq!(ids(&page), ["w1"], "only the watched admin: {page}");
    // A watchlist change applies from the next batch.
    let id = list["id"].as_i64().unwrap();
    let (status, _) = call(
        &app,
        reqwest::Method::PUT,
        &format!("/api/watchlists/{id}"),
        Some(json!({"name": "approved_admins", "kind": "user", "items": [{"value": "mallory@contoso.example"}]})),
    )
    .await;
    assert_eq!(status, 200);
    store(
        &app.db,
        tenant,
        &[record(tenant, "w3", "mallory@contoso.example", "Set-Mailbox", "198.51.100.9", t + Duration::hours(3))],
    )
    .await;
    catch_up(&app.db).await.unwrap();
    let (_, page) = call(&app, reqwest::Method::GET, &format!("/api/alerts?rule={watched}"), None).await;
    let mut got = ids(&page);
    got.sort();
    assert_eq!(got, ["w1", "w3"], "{page}");
}

on_both_backends!(
    rules_and_sigma_placeholders_use_watchlists,
    a_suppressed_entity_raises_and_counts_nothing_while_the_suppression_lasts,
    stateful_rules_give_the_same_alerts_whatever_the_order_and_batching,
    threshold_and_sequence_alerts_hold_what_fired,
    either_order_sequences_group_by_each_combination_of_keys,
    a_first_seen_rule_learns_what_is_stored_before_it_exists,
    stateful_rules_are_validated_with_clear_messages,
);
