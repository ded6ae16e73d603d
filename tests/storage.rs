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

on_both_backends!(
    retention_deletes_only_older_events_in_batches,
    migrations_go_up_down_and_up_again,
    the_same_record_is_stored_once_per_tenant,
    timestamps_round_trip_at_microsecond_precision,
);
