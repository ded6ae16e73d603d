//! `aoc maintenance`: renormalize, dedupe and verify on SQLite and on PostgreSQL, against events
//! stored the way the collectors store them, and the command's exit codes.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use aoc::maintenance::{self, renormalize, RenormalizeOptions};
use aoc::normalize::{self, Source};
use aoc::store::entities::{coverage_windows, events, watermarks};
use aoc::store::writer::{store_batch, Completion, EventRow, Subscribers};
use aoc::store::{self, synthetic};
use chrono::{DateTime, Duration, DurationRound, Utc};
use common::{test_database, Backend, TestDatabase};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, Statement,
};
use serde_json::json;

const TENANT: &str = "contoso.example";
const CONTENT_TYPE: &str = "Audit.Exchange";

/// A whole hour two days ago: collected windows and watermarks lie in the past, as they do.
fn base() -> DateTime<Utc> {
    (Utc::now() - Duration::days(2)).duration_trunc(Duration::hours(1)).unwrap()
}

fn ual(id: &str, operation: &str, at: DateTime<Utc>) -> String {
    json!({
        "Id": id,
        "CreationTime": at.format("%Y-%m-%dT%H:%M:%S").to_string(),
        "RecordType": 1,
        "Operation": operation,
        "Workload": "Exchange",
        "UserId": "adele.vance@contoso.example",
        "ClientIP": "203.0.113.7:51544",
        "ResultStatus": "Succeeded",
        "ObjectId": "CEO mailbox",
    })
    .to_string()
}

fn directory(id: &str, at: DateTime<Utc>) -> String {
    json!({
        "id": id,
        "activityDateTime": at.to_rfc3339(),
        "activityDisplayName": "Add member to role",
        "category": "RoleManagement",
        "loggedByService": "Core Directory",
        "result": "success",
        "initiatedBy": { "user": { "userPrincipalName": "it.admin@contoso.example", "ipAddress": "203.0.113.9" } },
        "targetResources": [
            { "id": "5b2f0c7e-1d3a-4f6b-9c8d-7e6f5a4b3c2d", "displayName": "Lee Gu", "type": "User",
              "userPrincipalName": "lee.gu@contoso.example" }
        ],
    })
    .to_string()
}

fn signin(id: &str, at: DateTime<Utc>) -> String {
    json!({
        "id": id,
        "createdDateTime": at.to_rfc3339(),
        "userPrincipalName": "megan.bowen@contoso.example",
        "userDisplayName": "Megan Bowen",
        "appDisplayName": "Office 365 Exchange Online",
        "appId": "00000002-0000-0ff1-ce00-000000000000",
        "ipAddress": "198.51.100.4",
        "status": { "errorCode": 0 },
    })
    .to_string()
}

/// An event built exactly as the collectors build it.
fn row(source: Source, content_type: Option<&str>, raw: String) -> EventRow {
    let n = normalize::normalize(source, content_type, &raw, &normalize::Context::default());
    EventRow::new(TENANT, source, content_type, raw, n, base())
}

async fn database(backend: Backend) -> Option<(TestDatabase, DatabaseConnection)> {
    let database = test_database(backend).await?;
    let db = store::connect(&database.url).await.unwrap();
    store::migrate(&db).await.unwrap();
    Some((database, db))
}

/// Stores what one collection run of three sources leaves behind: a Unified Audit Log blob of
/// four records with its window and watermark, two directory records and one sign-in with theirs,
/// and a record that could not be normalized. Returns the event ids, oldest first (8 events).
async fn collect_sample(db: &DatabaseConnection) -> Vec<i64> {
    let subscribers = Subscribers::default();
    let t = base();
    let ops = ["New-InboxRule", "Set-Mailbox", "MailItemsAccessed", "Add-MailboxPermission"];
    let rows: Vec<EventRow> = ops
        .iter()
        .enumerate()
        .map(|(n, op)| {
            row(Source::Unified, Some(CONTENT_TYPE), ual(&format!("ual-{n}"), op, t + Duration::minutes(5 * n as i64)))
        })
        .collect();
    let blob = Completion::Blob {
        tenant_id: TENANT.into(),
        content_id: "20261122100000000000000000000000000000000000000$blob-1".into(),
        content_type: CONTENT_TYPE.into(),
        created: t + Duration::minutes(30),
        records: 4,
    };
    store_batch(db, rows, &[blob], &subscribers).await.unwrap();
    let unified = [
        Completion::Window {
            tenant_id: TENANT.into(),
            source: "unified".into(),
            content_type: CONTENT_TYPE.into(),
            start: t,
            end: t + Duration::hours(1),
            records: 4,
        },
        Completion::Watermark {
            tenant_id: TENANT.into(),
            source: format!("unified:{CONTENT_TYPE}"),
            position: t + Duration::hours(1),
            cursor: None,
        },
    ];
    store_batch(db, Vec::new(), &unified, &subscribers).await.unwrap();
    for (source, raws) in [
        (Source::Directory, vec![directory("dir-1", t), directory("dir-2", t + Duration::minutes(10))]),
        (Source::Signin, vec![signin("signin-1", t + Duration::minutes(20))]),
    ] {
        let records = raws.len() as i64;
        let rows = raws.into_iter().map(|raw| row(source, None, raw)).collect();
        let completions = [
            Completion::Window {
                tenant_id: TENANT.into(),
                source: source.as_str().into(),
                content_type: String::new(),
                start: t - Duration::hours(3),
                end: t + Duration::hours(2),
                records,
            },
            Completion::Watermark {
                tenant_id: TENANT.into(),
                source: source.as_str().into(),
                position: t + Duration::hours(2),
                cursor: None,
            },
        ];
        store_batch(db, rows, &completions, &subscribers).await.unwrap();
    }
    let broken = row(Source::Unified, Some(CONTENT_TYPE), r#"{"Id":"ual-broken","Operation":"Send"}"#.into());
    assert!(broken.normalize_error.is_some());
    store_batch(db, vec![broken], &[], &subscribers).await.unwrap();
    let ids = event_ids(db).await;
    assert_eq!(ids.len(), 8);
    ids
}

async fn event_ids(db: &DatabaseConnection) -> Vec<i64> {
    all_events(db).await.into_iter().map(|e| e.id).collect()
}

async fn all_events(db: &DatabaseConnection) -> Vec<events::Model> {
    events::Entity::find().order_by_asc(events::Column::Id).all(db).await.unwrap()
}

async fn event(db: &DatabaseConnection, id: i64) -> events::Model {
    events::Entity::find_by_id(id).one(db).await.unwrap().unwrap()
}

async fn sql(db: &DatabaseConnection, sql: &str) -> u64 {
    db.execute(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().rows_affected()
}

/// Stores a copy of event `id` under `dedupe_key`; returns the copy's id.
async fn copy_event(db: &DatabaseConnection, id: i64, dedupe_key: &str) -> i64 {
    let mut copy = event(db, id).await.into_active_model();
    copy.id = NotSet;
    copy.dedupe_key = Set(dedupe_key.into());
    events::Entity::insert(copy).exec(db).await.unwrap().last_insert_id
}

async fn run(
    db: &DatabaseConnection,
    limit: Option<u64>,
    batch_size: u64,
    restart: bool,
) -> maintenance::RenormalizeReport {
    maintenance::renormalize(db, &RenormalizeOptions { limit, batch_size, restart, ..Default::default() })
        .await
        .unwrap()
}

async fn violated_checks(db: &DatabaseConnection) -> Vec<&'static str> {
    let report = maintenance::verify(db).await.unwrap();
    assert_eq!(report.ok, report.is_ok());
    report.violation_counts.keys().copied().collect()
}

async fn renormalize_restores_tampered_columns_and_leaves_identity_alone(backend: Backend) {
    let Some((_database, db)) = database(backend).await else { return };
    let ids = collect_sample(&db).await;
    synthetic::generate(&db, 3, 1, 7, Utc::now()).await.unwrap();
    let before = all_events(&db).await;

    // Stored as the write path stores them: nothing to change.
    let first = run(&db, None, 500, false).await;
    assert_eq!((first.scanned, first.changed, first.unchanged, first.skipped), (11, 0, 8, 3), "{first:?}");
    assert!(first.complete);
    assert_eq!(first.identity_warnings, 0);
    assert_eq!(all_events(&db).await, before);

    sql(
        &db,
        &format!(
            "UPDATE events SET service = 'Tampered', summary = 'tampered', severity = 4, actor_ip = NULL, \
             targets = '[]', flattened = '{{}}' WHERE id IN ({}, {})",
            ids[0], ids[4]
        ),
    )
    .await;
    sql(&db, &format!("UPDATE events SET normalize_error = 'an older normalizer failed' WHERE id = {}", ids[5])).await;
    // The sign-in's raw record is damaged: it no longer normalizes, and its fallback identity
    // (a hash of the text) differs from the stored one.
    sql(&db, &format!("UPDATE events SET raw = 'not json' WHERE id = {}", ids[6])).await;

    let report = run(&db, None, 4, false).await;
    assert_eq!(report.scanned, 11);
    assert_eq!(report.changed, 4, "{report:?}");
    assert_eq!(report.unchanged, 4);
    assert_eq!(report.skipped, 3);
    assert_eq!(report.now_fixed, 1);
    assert_eq!(report.now_failing, 1);
    assert_eq!(report.identity_warnings, 1);
    assert_eq!(report.identity_warning_ids, vec![ids[6]]);
    assert!(report.complete);

    let after = all_events(&db).await;
    for (old, new) in before.iter().zip(&after) {
        if old.id == ids[6] {
            assert_eq!(
                (&new.tenant_id, &new.record_id, &new.dedupe_key),
                (&old.tenant_id, &old.record_id, &old.dedupe_key)
            );
            assert!(
                new.normalize_error.as_deref().is_some_and(|e| e.contains("not valid JSON")),
                "{:?}",
                new.normalize_error
            );
            assert_eq!(new.occurred_at, old.occurred_at, "a record without a readable time keeps its stored time");
            assert_eq!(new.service, "");
        } else {
            assert_eq!(new, old, "event {} is restored or untouched", old.id);
        }
    }

    let again = run(&db, None, 500, false).await;
    assert_eq!((again.changed, again.unchanged, again.identity_warnings), (0, 8, 1));
}

async fn renormalize_resumes_after_an_interrupted_run_and_restarts_on_request(backend: Backend) {
    let Some((_database, db)) = database(backend).await else { return };
    let ids = collect_sample(&db).await;
    let tampered = || async { sql(&db, "UPDATE events SET summary = 'tampered'").await };
    let tampered_left =
        || async { events::Entity::find().filter(events::Column::Summary.eq("tampered")).count(&db).await.unwrap() };
    tampered().await;

    let part = run(&db, Some(3), 2, false).await;
    assert_eq!((part.scanned, part.changed, part.complete), (3, 3, false), "{part:?}");
    assert_eq!(part.last_id, Some(ids[2]));
    assert_eq!(renormalize::progress(&db).await.unwrap(), Some(ids[2]));
    assert_eq!(tampered_left().await, 5);
    // The progress row is AOC's own, not a collection watermark: verify is not bothered by it.
    let report = maintenance::verify(&db).await.unwrap();
    assert!(report.is_ok(), "{report}");
    assert!(report.notes.iter().any(|n| n.contains(&format!("after event id {}", ids[2]))), "{report}");

    let rest = run(&db, None, 2, false).await;
    assert_eq!(rest.resumed_after_id, Some(ids[2]));
    assert_eq!((rest.scanned, rest.changed, rest.complete), (5, 5, true), "{rest:?}");
    assert_eq!(renormalize::progress(&db).await.unwrap(), None);
    assert_eq!(tampered_left().await, 0);

    // A limit that ends exactly on the last event completes the run.
    let whole = run(&db, Some(8), 3, false).await;
    assert_eq!((whole.scanned, whole.complete, whole.resumed_after_id), (8, true, None));

    tampered().await;
    let part = run(&db, Some(2), 500, false).await;
    assert!(!part.complete);
    let restarted = run(&db, None, 500, true).await;
    assert_eq!(restarted.resumed_after_id, None);
    // The partial run had already restored the first two.
    assert_eq!((restarted.scanned, restarted.changed, restarted.complete), (8, 6, true));
    assert_eq!(tampered_left().await, 0);
    let stored = watermarks::Entity::find().filter(watermarks::Column::TenantId.eq(maintenance::MAINTENANCE_TENANT));
    assert_eq!(stored.count(&db).await.unwrap(), 0);
}

async fn dedupe_finds_nothing_on_a_clean_database(backend: Backend) {
    let Some((_database, db)) = database(backend).await else { return };
    collect_sample(&db).await;
    synthetic::generate(&db, 50, 2, 3, Utc::now()).await.unwrap();
    let report = maintenance::dedupe(&db, false).await.unwrap();
    assert!(report.is_clean(), "{report}");
    let applied = maintenance::dedupe(&db, true).await.unwrap();
    assert_eq!((applied.removed, applied.moved), (0, 0));
    assert_eq!(events::Entity::find().count(&db).await.unwrap(), 58);
}

async fn tags(db: &DatabaseConnection, event_id: i64) -> BTreeSet<String> {
    let rows = db
        .query_all(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT tag FROM event_tags WHERE event_id = {event_id}"),
        ))
        .await
        .unwrap();
    rows.iter().map(|r| r.try_get::<String>("", "tag").unwrap()).collect()
}

async fn count_where(db: &DatabaseConnection, table: &str, event_id: i64) -> i64 {
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table} WHERE event_id = {event_id}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

async fn dedupe_removes_a_record_stored_under_two_keys_and_keeps_what_points_at_it(backend: Backend) {
    let Some((_database, db)) = database(backend).await else { return };
    let ids = collect_sample(&db).await;
    let keep = ids[1];
    let stored = event(&db, keep).await;
    // The same record under a key without the source prefix (an older scheme), twice.
    let legacy = copy_event(&db, keep, &stored.record_id).await;
    let other = copy_event(&db, keep, &format!("legacy:{}", stored.record_id)).await;
    let at = "'2026-11-22T12:00:00+00:00'";
    for (event_id, tag) in
        [(keep, "reviewed"), (legacy, "reviewed"), (legacy, "escalated"), (other, "escalated"), (other, "x")]
    {
        sql(&db, &format!("INSERT INTO event_tags (event_id, tag, created_by, created_at) VALUES ({event_id}, '{tag}', 'admin', {at})")).await;
    }
    sql(
        &db,
        &format!(
            "INSERT INTO comments (event_id, author, body, created_at) VALUES ({legacy}, 'admin', 'seen twice', {at})"
        ),
    )
    .await;
    sql(
        &db,
        &format!(
            "INSERT INTO rules (uid, name, definition, created_by, created_at, updated_at) \
             VALUES ('inbox', 'inbox rules', '{{}}', 'admin', {at}, {at})"
        ),
    )
    .await;
    sql(
        &db,
        &format!(
            "INSERT INTO alerts (rule_id, tenant_id, group_key, title, severity, first_seen, last_seen, created_at, \
             updated_at) VALUES ((SELECT id FROM rules WHERE name = 'inbox rules'), '{TENANT}', 'adele', 'inbox rule', \
             2, {at}, {at}, {at}, {at})"
        ),
    )
    .await;
    sql(
        &db,
        &format!(
            "INSERT INTO alert_events (alert_id, event_id, occurred_at) VALUES \
             ((SELECT id FROM alerts WHERE title = 'inbox rule'), {legacy}, {at})"
        ),
    )
    .await;

    assert_eq!(violated_checks(&db).await, vec!["duplicate_record"]);
    let report = maintenance::dedupe(&db, false).await.unwrap();
    assert_eq!((report.same_key_groups, report.same_record_groups, report.same_record_extra_rows), (0, 1, 2));
    assert_eq!(report.same_record_examples[0].keep, keep);
    assert_eq!(report.same_record_examples[0].remove, vec![legacy, other]);
    assert!(!report.applied);
    assert_eq!(events::Entity::find().count(&db).await.unwrap(), 10, "nothing is removed without --apply");
    let text = report.to_string();
    assert!(text.contains(&format!("keep event {keep}, extra: {legacy}, {other}")), "{text}");
    assert!(!text.contains(&stored.raw), "reports never hold a raw record");

    let applied = maintenance::dedupe(&db, true).await.unwrap();
    assert_eq!(applied.removed, 2);
    // The tags "escalated" and "x", the comment and the alert moved; the second "reviewed" and
    // "escalated" went with their events.
    assert_eq!(applied.moved, 4);
    assert_eq!(event_ids(&db).await, ids);
    assert_eq!(tags(&db, keep).await, BTreeSet::from(["escalated".into(), "reviewed".into(), "x".into()]));
    assert_eq!(count_where(&db, "comments", keep).await, 1);
    assert_eq!(count_where(&db, "alert_events", keep).await, 1);
    for table in ["event_tags", "comments", "alert_events"] {
        assert_eq!(count_where(&db, table, legacy).await + count_where(&db, table, other).await, 0, "{table}");
    }
    assert_eq!(event(&db, keep).await, stored);
    assert!(maintenance::dedupe(&db, false).await.unwrap().is_clean());
    assert!(violated_checks(&db).await.is_empty());
}

async fn dedupe_removes_events_sharing_a_dedupe_key_once_the_unique_index_is_gone(backend: Backend) {
    let Some((_database, db)) = database(backend).await else { return };
    let ids = collect_sample(&db).await;
    sql(&db, "DROP INDEX ux_events_dedupe_tenant").await;
    let key = event(&db, ids[0]).await.dedupe_key;
    let copy = copy_event(&db, ids[0], &key).await;
    assert_eq!(violated_checks(&db).await, vec!["duplicate_dedupe_key"]);

    let applied = maintenance::dedupe(&db, true).await.unwrap();
    assert_eq!((applied.same_key_groups, applied.same_key_extra_rows, applied.same_record_groups), (1, 1, 0));
    assert_eq!(applied.same_key_examples[0].keep, ids[0]);
    assert_eq!(applied.same_key_examples[0].remove, vec![copy]);
    assert_eq!(applied.removed, 1);
    assert_eq!(event_ids(&db).await, ids);
    assert!(violated_checks(&db).await.is_empty());
}

async fn verify_passes_on_a_clean_collected_database(backend: Backend) {
    let Some((_database, db)) = database(backend).await else { return };
    let empty = maintenance::verify(&db).await.unwrap();
    assert!(empty.ok, "{empty}");
    collect_sample(&db).await;
    synthetic::generate(&db, 40, 2, 5, Utc::now()).await.unwrap();
    let report = maintenance::verify(&db).await.unwrap();
    assert!(report.ok, "{report}");
    assert!(report.violations.is_empty());
    assert_eq!(report.events_checked, 48);
    assert_eq!(report.normalize_errors, 1);
    assert_eq!((report.watermarks_checked, report.windows_checked, report.seen_blobs_checked), (3, 3, 1));
    assert!(report.to_string().ends_with("ok: every invariant holds"), "{report}");
}

/// One kind of damage verify must find.
#[derive(Clone, Copy, Debug)]
enum Damage {
    EmptyRaw,
    RawNotJson,
    UnknownSource,
    SharedDedupeKey,
    RecordUnderTwoKeys,
    WatermarkAheadOfItsWrite,
    WatermarkWithoutWindow,
    WatermarkPastPlannedWindow,
    WindowStateUnknown,
    WindowInverted,
    WindowCountsMoreThanBlobs,
}

impl Damage {
    const ALL: [Damage; 11] = [
        Damage::EmptyRaw,
        Damage::RawNotJson,
        Damage::UnknownSource,
        Damage::SharedDedupeKey,
        Damage::RecordUnderTwoKeys,
        Damage::WatermarkAheadOfItsWrite,
        Damage::WatermarkWithoutWindow,
        Damage::WatermarkPastPlannedWindow,
        Damage::WindowStateUnknown,
        Damage::WindowInverted,
        Damage::WindowCountsMoreThanBlobs,
    ];

    fn check(self) -> &'static str {
        match self {
            Damage::EmptyRaw => "raw_empty",
            Damage::RawNotJson => "raw_not_json",
            Damage::UnknownSource => "unknown_source",
            Damage::SharedDedupeKey => "duplicate_dedupe_key",
            Damage::RecordUnderTwoKeys => "duplicate_record",
            Damage::WatermarkAheadOfItsWrite => "watermark_in_future",
            Damage::WatermarkWithoutWindow => "watermark_without_window",
            Damage::WatermarkPastPlannedWindow => "watermark_past_planned_window",
            Damage::WindowStateUnknown => "window_bad_state",
            Damage::WindowInverted => "window_inverted",
            Damage::WindowCountsMoreThanBlobs => "window_counts_more_than_blobs",
        }
    }

    async fn apply(self, db: &DatabaseConnection, ids: &[i64]) {
        let t = base();
        let window =
            |source: &str, start: DateTime<Utc>, end: DateTime<Utc>, state: &str| coverage_windows::ActiveModel {
                tenant_id: Set(TENANT.into()),
                source: Set(source.into()),
                content_type: Set(String::new()),
                window_start: Set(start),
                window_end: Set(end),
                state: Set(state.into()),
                record_count: Set(0),
                attempts: Set(0),
                last_error: Set(None),
                updated_at: Set(Utc::now()),
                ..Default::default()
            };
        match self {
            Damage::EmptyRaw => {
                sql(db, &format!("UPDATE events SET raw = '' WHERE id = {}", ids[0])).await;
            }
            Damage::RawNotJson => {
                sql(db, &format!(r#"UPDATE events SET raw = '{{"Id": "ual-0", "Oper' WHERE id = {}"#, ids[0])).await;
            }
            Damage::UnknownSource => {
                sql(db, &format!("UPDATE events SET source = 'exchange_online' WHERE id = {}", ids[0])).await;
            }
            Damage::SharedDedupeKey => {
                sql(db, "DROP INDEX ux_events_dedupe_tenant").await;
                let key = event(db, ids[0]).await.dedupe_key;
                copy_event(db, ids[0], &key).await;
            }
            Damage::RecordUnderTwoKeys => {
                copy_event(db, ids[0], "ual-0").await;
            }
            Damage::WatermarkAheadOfItsWrite => {
                watermarks::Entity::update_many()
                    .col_expr(watermarks::Column::UpdatedAt, Expr::value(t - Duration::days(1)))
                    .filter(watermarks::Column::Source.eq("directory"))
                    .exec(db)
                    .await
                    .unwrap();
            }
            Damage::WatermarkWithoutWindow => {
                sql(db, "DELETE FROM coverage_windows WHERE source = 'signin'").await;
            }
            Damage::WatermarkPastPlannedWindow => {
                let planned = window("directory", t - Duration::hours(10), t - Duration::hours(9), "planned");
                coverage_windows::Entity::insert(planned).exec(db).await.unwrap();
            }
            Damage::WindowStateUnknown => {
                sql(db, "UPDATE coverage_windows SET state = 'lost' WHERE source = 'directory'").await;
            }
            Damage::WindowInverted => {
                let inverted = window("signin", t - Duration::hours(20), t - Duration::hours(21), "done");
                coverage_windows::Entity::insert(inverted).exec(db).await.unwrap();
            }
            Damage::WindowCountsMoreThanBlobs => {
                sql(db, "UPDATE coverage_windows SET record_count = 5 WHERE source = 'unified'").await;
            }
        }
    }
}

async fn verify_reports_each_kind_of_violation(backend: Backend) {
    for damage in Damage::ALL {
        let Some((_database, db)) = database(backend).await else { return };
        let ids = collect_sample(&db).await;
        assert!(violated_checks(&db).await.is_empty(), "clean before {damage:?}");
        damage.apply(&db, &ids).await;
        let report = maintenance::verify(&db).await.unwrap();
        assert!(!report.ok, "{damage:?} is found");
        assert_eq!(
            report.violation_counts.keys().copied().collect::<Vec<_>>(),
            vec![damage.check()],
            "{damage:?}: {report}"
        );
        assert!(report.to_string().contains(&format!("violation [{}]", damage.check())), "{report}");
        db.close().await.unwrap();
    }
}

async fn failed_windows_behind_a_watermark_are_reported_but_not_violations(backend: Backend) {
    let Some((_database, db)) = database(backend).await else { return };
    collect_sample(&db).await;
    // A reconciliation re-listing of the collected hour failed.
    aoc::ingest::ledger::window_failed(
        &db,
        TENANT,
        "unified",
        CONTENT_TYPE,
        base(),
        base() + Duration::hours(1),
        "HTTP 503",
    )
    .await
    .unwrap();
    let report = maintenance::verify(&db).await.unwrap();
    assert!(report.ok, "{report}");
    assert!(report.notes.iter().any(|n| n.contains("1 failed or parked coverage window")), "{report}");
}

/// A forwarding address in one of the tenant's own domains is internal: a record stored before
/// the tenant's domains were known is rated again with them (and only for that tenant).
async fn renormalize_uses_each_tenants_own_domains(backend: Backend) {
    let Some((_database, db)) = database(backend).await else { return };
    let forward = |id: &str| {
        json!({"Id": id, "CreationTime": base().format("%Y-%m-%dT%H:%M:%S").to_string(), "RecordType": 1,
               "Operation": "Set-Mailbox", "Workload": "Exchange", "ResultStatus": "True",
               "UserId": "admin@contoso.onmicrosoft.com", "ObjectId": "jdoe",
               "Parameters": [{"Name": "Identity", "Value": "jdoe"},
                              {"Name": "ForwardingSmtpAddress", "Value": "smtp:boss@contoso.com"}]})
        .to_string()
    };
    let ours = row(Source::Unified, Some("Audit.Exchange"), forward("fwd-ours"));
    let mut other = row(Source::Unified, Some("Audit.Exchange"), forward("fwd-other"));
    other.tenant_id = "other-tenant".into();
    store_batch(&db, vec![ours, other], &[], &Subscribers::default()).await.unwrap();
    let severities = |db: DatabaseConnection| async move {
        all_events(&db).await.into_iter().map(|e| (e.tenant_id, e.severity)).collect::<BTreeSet<_>>()
    };
    let before = BTreeSet::from([(TENANT.to_string(), 3), ("other-tenant".to_string(), 3)]);
    assert_eq!(severities(db.clone()).await, before, "contoso.com looks external without the tenant's domains");

    let unchanged = run(&db, None, 100, true).await;
    assert_eq!((unchanged.scanned, unchanged.changed), (2, 0));
    let options = RenormalizeOptions {
        restart: true,
        tenant_domains: [(TENANT.to_string(), vec!["contoso.com".to_string()])].into(),
        ..Default::default()
    };
    let report = maintenance::renormalize(&db, &options).await.unwrap();
    assert_eq!((report.scanned, report.changed), (2, 1));
    let after = BTreeSet::from([(TENANT.to_string(), 1), ("other-tenant".to_string(), 3)]);
    assert_eq!(severities(db.clone()).await, after);
}

on_both_backends!(
    renormalize_uses_each_tenants_own_domains,
    renormalize_restores_tampered_columns_and_leaves_identity_alone,
    renormalize_resumes_after_an_interrupted_run_and_restarts_on_request,
    dedupe_finds_nothing_on_a_clean_database,
    dedupe_removes_a_record_stored_under_two_keys_and_keeps_what_points_at_it,
    dedupe_removes_events_sharing_a_dedupe_key_once_the_unique_index_is_gone,
    verify_passes_on_a_clean_collected_database,
    verify_reports_each_kind_of_violation,
    failed_windows_behind_a_watermark_are_reported_but_not_violations,
);

fn aoc(dir: &std::path::Path, database_url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aoc"));
    // A clean environment apart from what the test sets: no stray DATABASE_URL or .env.
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .current_dir(dir);
    cmd
}

#[test]
fn maintenance_verify_exits_0_on_a_sound_database_and_1_on_a_violation() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("aoc.db").display());
    let run = |args: &[&str]| aoc(dir.path(), &url).args(args).output().unwrap();

    assert!(run(&["generate", "--events", "30"]).status.success());
    let out = run(&["maintenance", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok: every invariant holds"));
    for args in [&["maintenance", "dedupe"][..], &["maintenance", "renormalize", "--json"][..]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let db = store::connect(&aoc::config::DatabaseUrl::new(url.clone())).await.unwrap();
        sql(&db, "UPDATE events SET raw = '' WHERE id = (SELECT MIN(id) FROM events)").await;
        db.close().await.unwrap();
    });

    let out = run(&["maintenance", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("violation [raw_empty]"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 violation"));
    let out = run(&["maintenance", "verify", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["violation_counts"]["raw_empty"], 1);
}
