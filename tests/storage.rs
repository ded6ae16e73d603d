//! The schema and the storage invariants, on SQLite and on PostgreSQL.

mod common;

use aoc::store::{self, synthetic};
use chrono::{TimeZone, Utc};
use common::{test_database, Backend};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Statement};

const TABLES: &[&str] = &[
    "tenants",
    "events",
    "event_tags",
    "comments",
    "rules",
    "alerts",
    "watermarks",
    "coverage_windows",
    "seen_blobs",
    "export_outbox",
    "sessions",
    "audit_trail",
    "collection_leases",
    "source_status",
];

async fn table_exists(db: &sea_orm::DatabaseConnection, table: &str) -> bool {
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Sqlite => format!("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '{table}'"),
        _ => {
            format!("SELECT 1 FROM information_schema.tables WHERE table_schema = 'public' AND table_name = '{table}'")
        }
    };
    db.query_one(Statement::from_string(backend, sql)).await.unwrap().is_some()
}

async fn migrations_go_up_down_and_up_again(backend: Backend) {
    let Some(database) = test_database(backend).await else {
        return;
    };
    let db = store::connect(&database.url).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    for table in TABLES {
        assert!(table_exists(&db, table).await, "{table} after up");
    }
    Migrator::down(&db, None).await.unwrap();
    for table in TABLES {
        assert!(!table_exists(&db, table).await, "{table} after down");
    }
    Migrator::up(&db, None).await.unwrap();
    for table in TABLES {
        assert!(table_exists(&db, table).await, "{table} after up again");
    }
    assert!(Migrator::get_pending_migrations(&db).await.unwrap().is_empty());
}

async fn the_same_record_is_stored_once_per_tenant(backend: Backend) {
    let Some(database) = test_database(backend).await else {
        return;
    };
    let db = store::connect(&database.url).await.unwrap();
    store::migrate(&db).await.unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
    assert_eq!(synthetic::generate(&db, 1_200, 7, 9, now).await.unwrap(), 1_200);
    // The same seed yields the same record ids: nothing new may be stored.
    assert_eq!(synthetic::generate(&db, 1_200, 7, 9, now).await.unwrap(), 0);
    assert_eq!(store::entities::events::Entity::find().count(&db).await.unwrap(), 1_200);
}

async fn timestamps_round_trip_at_microsecond_precision(backend: Backend) {
    let Some(database) = test_database(backend).await else {
        return;
    };
    let db = store::connect(&database.url).await.unwrap();
    store::migrate(&db).await.unwrap();
    let at = Utc.timestamp_micros(1_795_385_181_259_475).unwrap();
    let id = common::insert_event(&db, "rec-precise", at, "FileAccessed").await;
    let stored = store::entities::events::Entity::find_by_id(id).one(&db).await.unwrap().unwrap();
    assert_eq!(stored.occurred_at, at);
}

async fn retention_deletes_only_older_events_in_batches(backend: Backend) {
    let Some(database) = test_database(backend).await else { return };
    let db = store::connect(&database.url).await.unwrap();
    store::migrate(&db).await.unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
    // 2,000 events over 10 days: the generator spreads them evenly.
    synthetic::generate(&db, 2_000, 10, 3, now).await.unwrap();
    let cutoff = now - chrono::Duration::days(4);
    let old = store::entities::events::Entity::find()
        .filter(store::entities::events::Column::OccurredAt.lt(cutoff))
        .count(&db)
        .await
        .unwrap();
    assert!(old > 500, "{old}");
    let deleted = store::retention::delete_before(&db, cutoff, 137).await.unwrap();
    assert_eq!(deleted, old);
    assert_eq!(store::entities::events::Entity::find().count(&db).await.unwrap(), 2_000 - old);
    let oldest = store::entities::events::Entity::find()
        .order_by_asc(store::entities::events::Column::OccurredAt)
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert!(oldest.occurred_at >= cutoff);
}

/// Many collectors writing at once: on SQLite their batches are committed together (group
/// commit), yet each caller must get exactly its own outcome, every record is stored once, and
/// every completion is recorded.
async fn concurrent_batches_each_get_their_own_exact_outcome(backend: Backend) {
    use aoc::normalize::{normalize, Context, Source};
    use aoc::store::writer::{store_batch, Completion, EventRow, Subscribers};
    let Some(database) = test_database(backend).await else { return };
    let db = store::connect(&database.url).await.unwrap();
    store::migrate(&db).await.unwrap();
    let subscribers = Subscribers::default();
    let mut announced = subscribers.subscribe();
    let now = Utc::now();
    let tasks = (0..24usize).map(|task| {
        let (db, subscribers) = (db.clone(), subscribers.clone());
        async move {
            // Task t stores records 40t .. 40t+99: each overlaps the next two tasks' ranges, and
            // batch sizes vary so statements of both shapes are used.
            let size = 60 + task % 41;
            let rows: Vec<EventRow> = (task * 40..task * 40 + size)
                .map(|i| {
                    let raw = serde_json::json!({"Id": format!("rec-{i}"), "CreationTime": "2026-11-20T10:00:00",
                        "Operation": "FileAccessed", "Workload": "SharePoint", "UserId": "a@contoso.com", "RecordType": 6})
                    .to_string();
                    let n = normalize(Source::Unified, Some("Audit.SharePoint"), &raw, &Context::default());
                    EventRow::new("tenant-1", Source::Unified, Some("Audit.SharePoint"), raw, n, now)
                })
                .collect();
            let done = Completion::Blob {
                tenant_id: "tenant-1".into(),
                content_id: format!("blob-{task}"),
                content_type: "Audit.SharePoint".into(),
                created: now,
                records: size as i64,
            };
            let outcome = store_batch(&db, rows, &[done], &subscribers).await.unwrap();
            assert_eq!(outcome.inserted.len() as u64 + outcome.duplicates, size as u64, "task {task}");
            let own: Vec<String> = (task * 40..task * 40 + size).map(|i| format!("unified:rec-{i}")).collect();
            for e in &outcome.inserted {
                assert!(own.contains(&e.dedupe_key), "task {task} was told it inserted {}", e.dedupe_key);
                assert_eq!((e.tenant_id.as_str(), e.source), ("tenant-1", Source::Unified));
            }
            outcome.inserted.into_iter().map(|e| (e.dedupe_key, e.id)).collect::<Vec<_>>()
        }
    });
    let results = futures_util::future::join_all(tasks.map(tokio::spawn)).await;
    let mut keys: Vec<(String, i64)> = results.into_iter().flat_map(|r| r.unwrap()).collect();
    let claimed = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(claimed, keys.len(), "a record was reported inserted to two callers");
    // Records 0 .. the end of the last task's range: task 23 stores 60 + 23 % 41 = 83 from 920.
    let distinct = 23 * 40 + 83;
    assert_eq!(keys.len(), distinct);
    // Each reported id is the stored row of that record, and every new row is queued for the
    // full-text indexer once.
    let mut stored: Vec<(String, i64)> = store::entities::events::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.dedupe_key, e.id))
        .collect();
    stored.sort();
    assert_eq!(keys, stored);
    let queued = db
        .query_one(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS d FROM search_queue",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(queued.try_get::<i64>("", "n").unwrap(), distinct as i64);
    assert_eq!(queued.try_get::<i64>("", "d").unwrap(), distinct as i64);
    assert_eq!(store::entities::events::Entity::find().count(&db).await.unwrap(), distinct as u64);
    assert_eq!(store::entities::seen_blobs::Entity::find().count(&db).await.unwrap(), 24);
    let mut announced_count = 0;
    while let Ok(batch) = announced.try_recv() {
        announced_count += batch.len();
    }
    assert_eq!(announced_count, distinct, "subscribers see each new event once");
}

on_both_backends!(
    concurrent_batches_each_get_their_own_exact_outcome,
    retention_deletes_only_older_events_in_batches,
    migrations_go_up_down_and_up_again,
    the_same_record_is_stored_once_per_tenant,
    timestamps_round_trip_at_microsecond_precision,
);

/// PostgreSQL compresses new raw records and flattened fields with lz4 (cheaper on ingestion than
/// the default pglz); rolling the migration back restores pglz.
#[tokio::test]
async fn postgres_compresses_large_event_columns_with_lz4() {
    let Some(database) = test_database(Backend::Postgres).await else { return };
    let db = store::connect(&database.url).await.unwrap();
    store::migrate(&db).await.unwrap();
    let backend = db.get_database_backend();
    let big = format!(r#"{{"Id":"z1","Operation":"Set-Mailbox","Notes":"{}"}}"#, "forwarding rule ".repeat(600));
    let id = common::insert_event(&db, "z1", Utc::now(), "Set-Mailbox").await;
    db.execute(Statement::from_sql_and_values(
        backend,
        "UPDATE events SET raw = $1 WHERE id = $2",
        [big.clone().into(), id.into()],
    ))
    .await
    .unwrap();
    let method = |sql: &'static str| {
        let db = db.clone();
        async move {
            let row = db.query_one(Statement::from_string(backend, sql)).await.unwrap().unwrap();
            row.try_get::<Option<String>>("", "m").unwrap()
        }
    };
    assert_eq!(method("SELECT pg_column_compression(raw) AS m FROM events").await.as_deref(), Some("lz4"));
    // The workspace migration (index rebuild) changes nothing here; the partitioning migration
    // keeps it (its own roll-back too); the lz4 one restores pglz.
    Migrator::down(&db, Some(1)).await.unwrap();
    Migrator::down(&db, Some(1)).await.unwrap();
    assert_eq!(method("SELECT pg_column_compression(raw) AS m FROM events").await.as_deref(), Some("lz4"));
    Migrator::down(&db, Some(1)).await.unwrap();
    assert_eq!(
        method("SELECT CAST(attcompression AS TEXT) AS m FROM pg_attribute WHERE attrelid = 'events'::regclass AND attname = 'raw'")
            .await
            .as_deref(),
        Some("p")
    );
}
