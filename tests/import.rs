//! `aoc import` as an incident responder runs it, on SQLite and PostgreSQL: JSON lines, a JSON
//! array and a Purview audit-search CSV are stored through the write path exactly once (a second
//! import stores nothing), a line that is not JSON is stored raw and flagged, records without a
//! tenant are refused with the fix, and the rules raise their alerts on what was imported.

mod common;

use std::process::{Command, Output};

use common::{test_database, Backend, TestDatabase};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

const TENANT: &str = "11111111-1111-1111-1111-111111111111";

/// Runs `aoc import`; `tenant_env` sets TENANT_ID (with the app registration it needs).
fn import(db: &TestDatabase, args: &[&str], tenant_env: Option<&str>) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aoc"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AOC_DATA_DIR", dir.path())
        .env("DATABASE_URL", db.url.expose())
        .env("RUST_LOG", "warn")
        .arg("import")
        .args(args);
    if let Some(t) = tenant_env {
        cmd.env("TENANT_ID", t).env("CLIENT_ID", "00000000-0000-0000-0000-00000000a11c").env("CLIENT_SECRET", "unused");
    }
    cmd.output().expect("aoc import runs")
}

fn summary(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    })
}

fn totals(summary: &Value) -> (u64, u64, u64, u64) {
    let sources = summary["sources"].as_array().unwrap();
    let sum = |k: &str| sources.iter().map(|s| s[k].as_u64().unwrap()).sum::<u64>();
    (sum("fetched"), sum("inserted"), sum("duplicates"), sum("normalize_errors"))
}

/// A mailbox forwarding change to an outside address (a built-in rule's scenario).
fn forwarding(id: &str) -> Value {
    json!({
        "CreationTime": "2026-11-16T10:00:00", "Id": id, "Operation": "Set-Mailbox", "OrganizationId": TENANT,
        "RecordType": 1, "ResultStatus": "True", "UserKey": "adele@contoso.example", "UserType": 2,
        "Workload": "Exchange", "ClientIP": "203.0.113.7:4431", "ObjectId": "ceo", "UserId": "adele@contoso.example",
        "Parameters": [{"Name": "Identity", "Value": "ceo"},
                       {"Name": "ForwardingSmtpAddress", "Value": "smtp:drop@evil.example"},
                       {"Name": "DeliverToMailboxAndForward", "Value": "False"}]
    })
}

async fn count(db: &TestDatabase, sql: &str) -> i64 {
    let conn = aoc::store::connect(&db.url).await.unwrap();
    let row = conn.query_one(Statement::from_string(conn.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn exported_logs_are_imported_once_and_evaluated(backend: Backend) {
    let Some(db) = test_database(backend).await else { return };
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("ual.jsonl");
    let lines = [forwarding("j1").to_string(), forwarding("j2").to_string(), "{not json".to_string()];
    std::fs::write(&jsonl, lines.join("\n")).unwrap();
    let array = dir.path().join("ual.json");
    std::fs::write(&array, json!([forwarding("a1")]).to_string()).unwrap();
    let csv = dir.path().join("AuditLog_2026-11-16.csv");
    let audit_data = forwarding("c1").to_string().replace('"', "\"\"");
    std::fs::write(
        &csv,
        format!(
            "RecordId,CreationDate,RecordType,Operation,UserId,AuditData\n\
             c1,2026-11-16T10:00:00,1,Set-Mailbox,adele@contoso.example,\"{audit_data}\"\n"
        ),
    )
    .unwrap();
    let files = [jsonl.to_str().unwrap(), array.to_str().unwrap(), csv.to_str().unwrap()];
    let mut args = vec!["--source", "unified", "--json"];
    args.extend(files);

    // The line that is not JSON names no tenant: --tenant places every record.
    args.extend(["--tenant", TENANT]);
    let out = import(&db, &args, None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(totals(&summary(&out)), (5, 5, 0, 1), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(count(&db, "SELECT COUNT(*) FROM events").await, 5);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM events WHERE normalize_error IS NOT NULL").await, 1);
    // The built-in forwarding rule alerted on the four forwarding changes (one actor, one alert).
    let alerted = count(
        &db,
        "SELECT COUNT(*) FROM alert_events ae JOIN alerts a ON a.id = ae.alert_id JOIN rules r ON r.id = a.rule_id \
         WHERE r.uid = 'builtin.mailbox_forwards_outside'",
    )
    .await;
    assert_eq!(alerted, 4);

    // Importing the same files again stores nothing and raises nothing.
    let out = import(&db, &args, None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(totals(&summary(&out)), (5, 0, 5, 1));
    assert_eq!(count(&db, "SELECT COUNT(*) FROM events").await, 5);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM alert_events").await, alerted);

    // Without a tenant, a record that names none is refused with the fix, not dropped silently.
    let lost = dir.path().join("lost.jsonl");
    std::fs::write(&lost, "garbage\n").unwrap();
    let out = import(&db, &["--source", "unified", "--json", lost.to_str().unwrap()], None);
    assert!(!out.status.success());
    let answer = summary(&out);
    assert!(answer.to_string().contains("give --tenant or set TENANT_ID"), "{answer}");

    // The configured tenant places records that name none.
    let out = import(&db, &["--source", "unified", "--json", lost.to_str().unwrap()], Some(TENANT));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(summary(&out)["sources"][0]["tenant_id"], TENANT);

    // Bad input is named.
    let out = import(&db, &["--source", "mail", lost.to_str().unwrap()], None);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--source must be unified, directory, signin or intune"));
    let out = import(&db, &["--source", "signin", "--format", "purview-csv", csv.to_str().unwrap()], None);
    assert!(String::from_utf8_lossy(&out.stderr).contains("use --source unified"));
    let no_column = dir.path().join("other.csv");
    std::fs::write(&no_column, "a,b\n1,2\n").unwrap();
    let out = import(&db, &["--source", "unified", "--tenant", TENANT, no_column.to_str().unwrap()], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no AuditData column"), "{out:?}");
}

async fn graph_pages_are_imported_with_the_tenant_given(backend: Backend) {
    let Some(db) = test_database(backend).await else { return };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("signins.json");
    let record = |id: &str| {
        json!({
            "id": id, "createdDateTime": "2026-11-16T10:00:00Z", "userPrincipalName": "lee@contoso.example",
            "userId": "u2", "appId": "00000002-0000-0ff1-ce00-000000000000", "ipAddress": "203.0.113.50",
            "clientAppUsed": "IMAP4", "isInteractive": true, "status": {"errorCode": 0},
            "location": {"city": "Lisbon", "countryOrRegion": "PT"}
        })
    };
    std::fs::write(&page, json!({"value": [record("s1"), record("s2")]}).to_string()).unwrap();
    let out = import(&db, &["--source", "signin", "--tenant", TENANT, "--json", page.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let answer = summary(&out);
    assert_eq!(totals(&answer), (2, 2, 0, 0));
    assert_eq!(answer["sources"][0]["tenant_id"], TENANT);
    assert_eq!(answer["sources"][0]["source"], "signin");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM events WHERE source = 'signin'").await, 2);
}

on_both_backends!(exported_logs_are_imported_once_and_evaluated, graph_pages_are_imported_with_the_tenant_given);
