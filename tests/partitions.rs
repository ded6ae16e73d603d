//! PostgreSQL's day partitions (migration 7, `store::partitions`): retention drops whole days
//! and what pointed at their events; exactly-once holds across partitions, also for records
//! whose time cannot be read; existing databases are moved into partitions. The exactly-once
//! test runs on SQLite too: both backends must agree.

mod common;

use aoc::maintenance;
use aoc::normalize::{self, Source};
use aoc::store::writer::{store_batch, EventRow, Subscribers};
use aoc::store::{self, partitions, retention, search};
use chrono::{DateTime, Duration, DurationRound, NaiveDate, Utc};
use common::{test_database, Backend};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::json;

const TENANT: &str = "contoso.example";
const CONTENT_TYPE: &str = "Audit.Exchange";

fn now_micros() -> DateTime<Utc> {
    Utc::now().duration_trunc(Duration::microseconds(1)).unwrap()
}

/// A record as a collector stores it, collected at `collected`.
fn row(raw: &str, collected: DateTime<Utc>) -> EventRow {
    let n = normalize::normalize(Source::Unified, Some(CONTENT_TYPE), raw, &normalize::Context::default());
    EventRow::new(TENANT, Source::Unified, Some(CONTENT_TYPE), raw.to_string(), n, collected)
}

fn record(id: &str, time: DateTime<Utc>) -> String {
    json!({
        "Id": id, "CreationTime": time.format("%Y-%m-%dT%H:%M:%S").to_string(), "Operation": "Set-Mailbox",
        "Workload": "Exchange", "RecordType": 1, "UserId": "adele.vance@contoso.example", "ResultStatus": "True",
        "ClientIP": "203.0.113.7", "Parameters": [{"Name": "Identity", "Value": format!("mailbox {id}")}]
    })
    .to_string()
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db.query_one(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn ids(db: &DatabaseConnection, sql: &str) -> Vec<i64> {
    let rows = db.query_all(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    rows.iter().map(|r| r.try_get_by_index::<i64>(0).unwrap()).collect()
}

/// Records whose time cannot be read get the time they were collected; collected again on
/// another day (another partition), alone or by two batches at once, each is still stored once.
async fn records_without_a_readable_time_are_stored_once_whenever_they_come(backend: Backend) {
    let Some(database) = test_database(backend).await else { return };
    let db = store::connect(&database.url).await.unwrap();
    store::migrate(&db).await.unwrap();
    let subscribers = Subscribers::default();
    let now = now_micros();
    let midnight = now.duration_trunc(Duration::days(1)).unwrap();
    let raws = |round: usize| {
        vec![
            // An id but a time that is not one, and an id with no time at all.
            json!({"Id": format!("bad-time-{round}"), "CreationTime": "not a time", "Operation": "Set-Mailbox"}).to_string(),
            json!({"Id": format!("no-time-{round}"), "Operation": "Set-Mailbox"}).to_string(),
            // No id and no time (the key is a hash of the bytes), and not JSON at all.
            json!({"Operation": "Remove-Mailbox", "Round": round}).to_string(),
            format!("{{ truncated record of round {round}"),
            // Readable records on both sides of midnight, one of them not normalizable.
            json!({"Id": format!("late-{round}"), "CreationTime": (midnight - Duration::seconds(1)).format("%Y-%m-%dT%H:%M:%S").to_string()}).to_string(),
            record(&format!("early-{round}"), midnight),
        ]
    };
    let first = store_batch(&db, raws(0).iter().map(|r| row(r, now - Duration::days(2))).collect(), &[], &subscribers)
        .await
        .unwrap();
    assert_eq!(first.inserted.len(), 6);
    assert!(first.normalize_errors >= 4, "{first:?}");
    for collected in [now - Duration::days(1), now, now + Duration::hours(30)] {
        let again =
            store_batch(&db, raws(0).iter().map(|r| row(r, collected)).collect(), &[], &subscribers).await.unwrap();
        assert_eq!((again.inserted.len(), again.duplicates), (0, 6), "collected again at {collected}");
    }
    // Two collectors holding the same records at once, collected on different days.
    for round in 1..=12 {
        let (db_a, db_b, s_a, s_b) = (db.clone(), db.clone(), subscribers.clone(), subscribers.clone());
        let (a, b) = (raws(round), raws(round));
        let (a, b) = tokio::join!(
            tokio::spawn(async move {
                store_batch(&db_a, a.iter().map(|r| row(r, now - Duration::days(1))).collect(), &[], &s_a).await
            }),
            tokio::spawn(async move { store_batch(&db_b, b.iter().map(|r| row(r, now)).collect(), &[], &s_b).await }),
        );
        let (a, b) = (a.unwrap().unwrap(), b.unwrap().unwrap());
        assert_eq!(a.inserted.len() + b.inserted.len(), 6, "round {round}");
    }
    assert_eq!(count(&db, "SELECT COUNT(*) FROM events").await, 13 * 6);
    assert_eq!(count(&db, "SELECT COUNT(DISTINCT dedupe_key) FROM events").await, 13 * 6);
    // The first delivery's collection time stays the time of the records that had none.
    let stored = db
        .query_all(Statement::from_string(
            db.get_database_backend(),
            "SELECT occurred_at FROM events WHERE dedupe_key IN ('unified:bad-time-0', 'unified:no-time-0')",
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<DateTime<Utc>>("", "occurred_at").unwrap())
        .collect::<Vec<_>>();
    assert_eq!(stored, vec![now - Duration::days(2); 2]);
    assert!(maintenance::verify(&db).await.unwrap().is_ok());
}

on_both_backends!(records_without_a_readable_time_are_stored_once_whenever_they_come);

/// Partitions (and the parent) that keep planner statistics of raw records or flattened fields
/// (migration 7 turns them off: estimating `ILIKE` against them cost ~20 ms per search).
const RAW_STATISTICS: &str = "SELECT COUNT(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
     WHERE c.relname LIKE 'events%' AND c.relkind IN ('r', 'p') AND a.attname IN ('raw', 'flattened') AND a.attstattarget <> 0";

fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).unwrap().and_utc()
}

/// Retention on PostgreSQL drops the days that ended before the cut-off — their events, full-text
/// rows, queue entries, tags, comments and hourly counts — keeps the day the cut-off falls in
/// whole, and deletes the default partition's old rows one by one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_drops_whole_days_with_what_pointed_at_them() {
    let Some(database) = test_database(Backend::Postgres).await else { return };
    let db = store::connect(&database.url).await.unwrap();
    store::migrate(&db).await.unwrap();
    let subscribers = Subscribers::default();
    let now = now_micros();
    let today = now.date_naive();
    // 13 days of events at 00:00:00, 05:17:03 and 23:59:59 (a day's edges), and five events long
    // ago, which get no partition of their own.
    let mut times = Vec::new();
    for d in 0..13 {
        let start = day_start(today - Duration::days(d));
        times.extend([start, start + Duration::seconds(5 * 3600 + 17 * 60 + 3), start + Duration::seconds(86_399)]);
    }
    let long_ago: Vec<DateTime<Utc>> = (0..5).map(|i| now - Duration::days(200) - Duration::hours(i)).collect();
    times.extend(&long_ago);
    let rows: Vec<EventRow> = times.iter().enumerate().map(|(i, t)| row(&record(&format!("r{i}"), *t), now)).collect();
    let stored = store_batch(&db, rows, &[], &subscribers).await.unwrap();
    assert_eq!(stored.inserted.len(), times.len());
    assert_eq!(count(&db, "SELECT COUNT(*) FROM events_default").await, 5);
    assert_eq!(count(&db, RAW_STATISTICS).await, 0, "planner statistics of raw records on a new day");
    search::index_pending(&db).await.unwrap();
    assert_eq!(count(&db, "SELECT COUNT(*) FROM event_search").await, times.len() as i64);

    let cutoff = now - Duration::days(10);
    let expired_day_end = |t: &DateTime<Utc>| day_start(t.date_naive() + Duration::days(1)) <= cutoff;
    let expired: Vec<i64> = ids(
        &db,
        &format!(
            "SELECT id FROM events WHERE occurred_at < '{}' ORDER BY id",
            day_start(cutoff.date_naive()).to_rfc3339()
        ),
    )
    .await;
    let straddling = count(
        &db,
        &format!(
            "SELECT COUNT(*) FROM events WHERE occurred_at >= '{}' AND occurred_at < '{}'",
            day_start(cutoff.date_naive()).to_rfc3339(),
            cutoff.to_rfc3339()
        ),
    )
    .await;
    assert!(straddling >= 1, "the cut-off's day holds events older than the cut-off");
    assert_eq!(expired.len(), times.iter().filter(|t| expired_day_end(t)).count());
    // What points at two expired events (one in the default partition, one in a day's) and at
    // a kept one: a tag, a comment, a queue entry.
    let in_default = ids(&db, "SELECT MIN(id) FROM events_default").await[0];
    let in_day =
        ids(&db, &format!("SELECT MIN(id) FROM events_p{}", (today - Duration::days(12)).format("%Y%m%d"))).await[0];
    let kept = ids(&db, "SELECT MAX(id) FROM events").await[0];
    assert!(expired.contains(&in_default) && expired.contains(&in_day) && !expired.contains(&kept));
    for id in [in_default, in_day, kept] {
        db.execute_unprepared(&format!(
            "INSERT INTO event_tags (event_id, tag, created_by, created_at) VALUES ({id}, 'case-7', 'analyst', now()); \
             INSERT INTO comments (event_id, author, body, created_at) VALUES ({id}, 'analyst', 'seen', now()); \
             INSERT INTO search_queue (event_id) VALUES ({id})"
        ))
        .await
        .unwrap();
    }

    let deleted = retention::apply(&db, cutoff).await.unwrap();
    assert_eq!(deleted, expired.len() as u64);
    let remaining = ids(&db, "SELECT id FROM events ORDER BY id").await;
    assert_eq!(remaining.len(), times.len() - expired.len());
    assert!(remaining.iter().all(|id| !expired.contains(id)));
    // Kept whole: the cut-off's day still has its events older than the cut-off.
    assert_eq!(
        count(&db, &format!("SELECT COUNT(*) FROM events WHERE occurred_at < '{}'", cutoff.to_rfc3339())).await,
        straddling
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM events_default").await, 0);
    assert!(partitions::ranges(&db).await.unwrap().iter().all(|(_, _, hi)| *hi > cutoff));
    for table in ["event_tags", "comments", "search_queue"] {
        assert_eq!(ids(&db, &format!("SELECT event_id FROM {table} ORDER BY event_id")).await, vec![kept], "{table}");
    }
    assert_eq!(count(&db, "SELECT COUNT(*) FROM event_search").await, remaining.len() as i64);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM event_search s JOIN events e ON e.id = s.event_id AND e.occurred_at = s.occurred_at"
        )
        .await,
        remaining.len() as i64
    );
    let report = maintenance::verify(&db).await.unwrap();
    assert!(report.is_ok(), "{report}");
    // Nothing left to do; a record of a dropped day collected again is stored again.
    assert_eq!(retention::apply(&db, cutoff).await.unwrap(), 0);
    let again = store_batch(&db, vec![row(&record("r36", times[36]), now)], &[], &subscribers).await.unwrap();
    assert!(expired_day_end(&times[36]));
    assert_eq!(again.inserted.len(), 1);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM events_default").await, 0);
    // Without foreign keys, `verify` is what notices a row pointing at no event.
    db.execute_unprepared("INSERT INTO comments (event_id, author, body, created_at) VALUES (424242, 'a', 'b', now())")
        .await
        .unwrap();
    let report = maintenance::verify(&db).await.unwrap();
    assert_eq!(report.violation_counts.get("orphaned_rows"), Some(&1), "{report}");
}

/// A database of the previous version keeps every event, id, full-text row and tag when its
/// events move into day partitions, and can go back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_events_move_into_day_partitions_and_back() {
    let Some(database) = test_database(Backend::Postgres).await else { return };
    let db = store::connect(&database.url).await.unwrap();
    Migrator::up(&db, Some(6)).await.unwrap();
    let now = now_micros();
    let mut expected = Vec::new();
    for i in 0..40i64 {
        let at = now - Duration::hours(7 * i);
        let id = common::insert_event(&db, &format!("old-{i}"), at, "Set-Mailbox").await;
        expected.push((id, at));
    }
    db.execute_unprepared(
        "INSERT INTO event_search (event_id, doc) SELECT id, to_tsvector('simple', raw) FROM events WHERE id % 2 = 0; \
         DELETE FROM search_queue WHERE event_id % 2 = 0; \
         INSERT INTO event_tags (event_id, tag, created_by, created_at) SELECT id, 'kept', 'analyst', now() FROM events WHERE id % 5 = 0",
    )
    .await
    .unwrap();
    let snapshot = |db: DatabaseConnection| async move {
        let events = db
            .query_all(Statement::from_string(DbBackend::Postgres, "SELECT id, occurred_at FROM events ORDER BY id"))
            .await
            .unwrap()
            .iter()
            .map(|r| (r.try_get::<i64>("", "id").unwrap(), r.try_get::<DateTime<Utc>>("", "occurred_at").unwrap()))
            .collect::<Vec<_>>();
        let searched = ids(&db, "SELECT event_id FROM event_search ORDER BY event_id").await;
        let queued = ids(&db, "SELECT event_id FROM search_queue ORDER BY event_id").await;
        let tagged = ids(&db, "SELECT event_id FROM event_tags ORDER BY event_id").await;
        (events, searched, queued, tagged)
    };
    let before = snapshot(db.clone()).await;
    assert_eq!(before.0, expected);

    // Only the partitioning migration (later ones rebuild the full-text index).
    Migrator::up(&db, Some(1)).await.unwrap();
    assert_eq!(snapshot(db.clone()).await, before);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM events_default").await, 0);
    assert_eq!(count(&db, RAW_STATISTICS).await, 0);
    // Recent days (all of these) get a partition each.
    let days: std::collections::BTreeSet<NaiveDate> = expected.iter().map(|(_, t)| t.date_naive()).collect();
    let ranges = partitions::ranges(&db).await.unwrap();
    assert_eq!(
        ranges.iter().map(|(_, lo, hi)| (*lo, *hi)).collect::<Vec<_>>(),
        days.iter().map(|d| (day_start(*d), day_start(*d + Duration::days(1)))).collect::<Vec<_>>()
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM event_search s JOIN events e ON e.id = s.event_id AND e.occurred_at = s.occurred_at"
        )
        .await,
        20
    );
    let report = maintenance::verify(&db).await.unwrap();
    assert!(report.is_ok(), "{report}");
    // New ids continue after the old ones.
    let next = common::insert_event(&db, "new-1", now, "Set-Mailbox").await;
    assert!(next > expected.iter().map(|(id, _)| *id).max().unwrap());

    Migrator::down(&db, Some(1)).await.unwrap();
    let mut after = snapshot(db.clone()).await;
    after.0.retain(|(id, _)| *id != next);
    after.2.retain(|id| *id != next);
    assert_eq!(after, before);
    // The foreign keys are back: deleting an event takes its tag with it.
    db.execute_unprepared(&format!("DELETE FROM events WHERE id = {}", expected[4].0)).await.unwrap();
    assert_eq!(count(&db, &format!("SELECT COUNT(*) FROM event_tags WHERE event_id = {}", expected[4].0)).await, 0);
}

/// An event whose time changes (renormalize, or a fix by hand) moves to the partition of its
/// new day, and its full-text row moves with it (`tr_events_moved`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_moved_to_another_day_keeps_its_full_text_row() {
    let Some(database) = test_database(Backend::Postgres).await else { return };
    let db = store::connect(&database.url).await.unwrap();
    store::migrate(&db).await.unwrap();
    let now = now_micros();
    let rows: Vec<EventRow> = (0..3).map(|i| row(&record(&format!("m{i}"), now - Duration::hours(i)), now)).collect();
    let ids: Vec<i64> =
        store_batch(&db, rows, &[], &Subscribers::default()).await.unwrap().inserted.iter().map(|e| e.id).collect();
    search::index_pending(&db).await.unwrap();
    let moved = |id: i64, days: i64| {
        let db = db.clone();
        async move {
            db.execute_unprepared(&format!(
                "UPDATE events SET occurred_at = occurred_at - INTERVAL '{days} days' WHERE id = {id}"
            ))
            .await
            .unwrap();
        }
    };
    moved(ids[0], 3).await;
    let aligned =
        "SELECT COUNT(*) FROM event_search s JOIN events e ON e.id = s.event_id AND e.occurred_at = s.occurred_at";
    assert_eq!(count(&db, aligned).await, 3);
    let report = maintenance::verify(&db).await.unwrap();
    assert!(report.is_ok(), "{report}");
    // Without the trigger the full-text row stays behind, and `verify` says so.
    db.execute_unprepared("DROP TRIGGER tr_events_moved ON events").await.unwrap();
    moved(ids[1], 2).await;
    assert_eq!(count(&db, aligned).await, 2);
    let report = maintenance::verify(&db).await.unwrap();
    assert_eq!(report.violation_counts.get("orphaned_rows"), Some(&1), "{report}");
}

/// Partitions are a day, a week or a month by RETENTION_DAYS; a partition of one width is cut to
/// fit between those of another, events land in the partition of their time, and retention
/// drops exactly the partitions that ended before the cut-off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_of_mixed_widths_never_overlap_and_go_whole() {
    use aoc::store::partitions::Width;
    assert_eq!(Width::for_retention(None), Width::Month);
    assert_eq!(Width::for_retention(Some(7)), Width::Day);
    assert_eq!(Width::for_retention(Some(62)), Width::Day);
    assert_eq!(Width::for_retention(Some(63)), Width::Week);
    assert_eq!(Width::for_retention(Some(400)), Width::Week);
    assert_eq!(Width::for_retention(Some(401)), Width::Month);

    let Some(database) = test_database(Backend::Postgres).await else { return };
    let db = store::connect(&database.url).await.unwrap();
    store::migrate(&db).await.unwrap();
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    let ensure = |t: &'static str, width: &'static str| {
        let db = db.clone();
        async move {
            let row = db
                .query_one(Statement::from_string(
                    DbBackend::Postgres,
                    format!("SELECT aoc_event_partition_ensure('{t}', '{width}') AS ok"),
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get::<bool>("", "ok").unwrap()
        }
    };
    // 2026-03-16 is a Monday.
    assert!(ensure("2026-03-18T12:00:00Z", "day").await);
    assert!(ensure("2026-03-17T05:00:00Z", "week").await);
    assert!(ensure("2026-03-20T00:00:00Z", "week").await);
    assert!(ensure("2026-03-05T23:59:59Z", "month").await);
    assert!(ensure("2026-03-25T00:00:00Z", "month").await);
    assert!(ensure("2026-03-18T23:00:00Z", "month").await, "already held");
    let expected = [
        ("2026-03-01", "2026-03-16"),
        ("2026-03-16", "2026-03-18"),
        ("2026-03-18", "2026-03-19"),
        ("2026-03-19", "2026-03-23"),
        ("2026-03-23", "2026-04-01"),
    ];
    let ranges = partitions::ranges(&db).await.unwrap();
    let before: Vec<(DateTime<Utc>, DateTime<Utc>)> =
        ranges.iter().map(|(_, lo, hi)| (*lo, *hi)).filter(|(lo, _)| *lo < at("2026-04-02T00:00:00Z")).collect();
    assert_eq!(
        before,
        expected
            .iter()
            .map(|(a, b)| (at(&format!("{a}T00:00:00Z")), at(&format!("{b}T00:00:00Z"))))
            .collect::<Vec<_>>()
    );
    // Events land in the partition of their time; one with no partition in the default one,
    // whose range then gets none.
    let times = [
        "2026-03-01T00:00:00Z",
        "2026-03-15T23:59:59Z",
        "2026-03-16T00:00:00Z",
        "2026-03-18T23:59:59Z",
        "2026-03-19T00:00:00Z",
        "2026-03-31T23:59:59Z",
        "2026-05-10T08:00:00Z",
    ];
    for (i, t) in times.iter().enumerate() {
        common::insert_event(&db, &format!("w{i}"), at(t), "Set-Mailbox").await;
    }
    let placed = db
        .query_all(Statement::from_string(
            DbBackend::Postgres,
            "SELECT CAST(e.tableoid::regclass AS TEXT) AS part, p.lo, p.hi, e.occurred_at FROM events e \
             LEFT JOIN event_partitions p ON p.name = CAST(e.tableoid::regclass AS TEXT) ORDER BY e.occurred_at",
        ))
        .await
        .unwrap();
    for row in &placed[..6] {
        let (lo, hi, t): (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>) =
            (row.try_get("", "lo").unwrap(), row.try_get("", "hi").unwrap(), row.try_get("", "occurred_at").unwrap());
        assert!(lo <= t && t < hi, "{t} in [{lo}, {hi})");
    }
    assert_eq!(placed[6].try_get::<String>("", "part").unwrap(), "events_default");
    assert!(!ensure("2026-05-01T00:00:00Z", "month").await, "the default partition holds rows of May");
    assert!(ensure("2026-05-20T00:00:00Z", "day").await);

    // Retention: the partitions that ended by the cut-off go whole, the one it falls in stays.
    let deleted = retention::apply(&db, at("2026-03-19T06:00:00Z")).await.unwrap();
    assert_eq!(deleted, 4);
    let left = partitions::ranges(&db).await.unwrap();
    assert_eq!(left.first().map(|(_, lo, _)| *lo), Some(at("2026-03-19T00:00:00Z")));
    assert_eq!(count(&db, "SELECT COUNT(*) FROM events").await, 3);
    let report = maintenance::verify(&db).await.unwrap();
    assert!(report.is_ok(), "{report}");
}
