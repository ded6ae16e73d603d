//! Export to a SIEM: `destinations` (where records go, with sealed credentials), the
//! transactional outbox `export_outbox` (reshaped: the seed table was never used) and
//! `destination_leases` (which AOC process delivers a destination right now).
//!
//! - An outbox item is an event or (later) an alert (`item_kind`) queued for one destination, in
//!   a `lane` (the event's source, or `alert`): items of a lane are delivered in id order.
//!   Delivered items are deleted; `state` is `pending` or `parked` (a permanent refusal, or the
//!   event was deleted before delivery).
//! - Items do not point at `events` with a foreign key: when an event goes (retention, dropping a
//!   partition, maintenance) its undelivered items are parked with a copy of the event in
//!   `payload` and the reason, instead of being deleted with it. On SQLite a row trigger does it;
//!   on PostgreSQL the functions of migration 7 that cleaned up after deleted events are replaced
//!   by versions that park instead of deleting.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::run;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Why an item was parked when its event was deleted.
pub const GONE_REASON: &str = "the event was removed (retention or maintenance) before it was delivered; \
     a copy is kept with this item and a retry sends it";

const SQLITE_UP: &[&str] = &[
    "DROP TABLE IF EXISTS export_outbox",
    "CREATE TABLE destinations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        secret_ciphertext TEXT NULL,
        receives TEXT NOT NULL DEFAULT 'all',
        min_severity INTEGER NOT NULL DEFAULT 0,
        filter_tenant TEXT NULL,
        filter_source TEXT NULL,
        filter_service TEXT NULL,
        filter_operation TEXT NULL,
        filter_result TEXT NULL,
        filter_actor TEXT NULL,
        format TEXT NOT NULL DEFAULT 'json',
        batch_size INTEGER NOT NULL DEFAULT 500,
        concurrency INTEGER NOT NULL DEFAULT 2,
        options TEXT NOT NULL DEFAULT '{}',
        enabled BOOLEAN NOT NULL DEFAULT TRUE,
        origin TEXT NOT NULL DEFAULT 'api',
        delivered_total BIGINT NOT NULL DEFAULT 0,
        last_delivered_at TEXT NULL,
        last_error TEXT NULL,
        last_error_at TEXT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX ux_destinations_name ON destinations (name)",
    "CREATE TABLE export_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        destination_id BIGINT NOT NULL REFERENCES destinations(id) ON DELETE CASCADE,
        item_kind TEXT NOT NULL DEFAULT 'event',
        event_id BIGINT NULL,
        alert_id BIGINT NULL,
        lane TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT NULL,
        payload TEXT NULL,
        created_at TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX ux_export_outbox_event ON export_outbox (destination_id, event_id)",
    "CREATE UNIQUE INDEX ux_export_outbox_alert ON export_outbox (destination_id, alert_id)",
    "CREATE INDEX ix_export_outbox_queue ON export_outbox (destination_id, state, lane, id)",
    "CREATE INDEX ix_export_outbox_event_id ON export_outbox (event_id)",
    "CREATE TABLE destination_leases (
        destination_id BIGINT NOT NULL PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at TEXT NOT NULL
    )",
];

/// SQLite: the row trigger that parks the undelivered items of a deleted event with a copy of it.
fn sqlite_trigger() -> String {
    format!(
        "CREATE TRIGGER tr_events_export_park AFTER DELETE ON events BEGIN
            UPDATE export_outbox SET state = 'parked', last_error = '{GONE_REASON}',
                payload = json_object('id', OLD.id, 'tenant_id', OLD.tenant_id, 'source', OLD.source,
                    'content_type', OLD.content_type, 'record_id', OLD.record_id, 'dedupe_key', OLD.dedupe_key,
                    'occurred_at', OLD.occurred_at, 'ingested_at', OLD.ingested_at, 'service', OLD.service,
                    'operation', OLD.operation, 'result', OLD.result, 'actor_display', OLD.actor_display,
                    'actor_upn', OLD.actor_upn, 'actor_app_id', OLD.actor_app_id, 'actor_ip', OLD.actor_ip,
                    'targets', OLD.targets, 'target_display', OLD.target_display, 'summary', OLD.summary,
                    'severity', OLD.severity, 'correlation_id', OLD.correlation_id, 'flattened', OLD.flattened,
                    'raw', OLD.raw, 'normalize_error', OLD.normalize_error)
            WHERE event_id = OLD.id AND item_kind = 'event';
        END"
    )
}

const POSTGRES_UP: &[&str] = &[
    "DROP TABLE IF EXISTS export_outbox",
    "CREATE TABLE destinations (
        id BIGSERIAL PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        secret_ciphertext TEXT NULL,
        receives TEXT NOT NULL DEFAULT 'all',
        min_severity SMALLINT NOT NULL DEFAULT 0,
        filter_tenant TEXT NULL,
        filter_source TEXT NULL,
        filter_service TEXT NULL,
        filter_operation TEXT NULL,
        filter_result TEXT NULL,
        filter_actor TEXT NULL,
        format TEXT NOT NULL DEFAULT 'json',
        batch_size INTEGER NOT NULL DEFAULT 500,
        concurrency INTEGER NOT NULL DEFAULT 2,
        options TEXT NOT NULL DEFAULT '{}',
        enabled BOOLEAN NOT NULL DEFAULT TRUE,
        origin TEXT NOT NULL DEFAULT 'api',
        delivered_total BIGINT NOT NULL DEFAULT 0,
        last_delivered_at TIMESTAMPTZ NULL,
        last_error TEXT NULL,
        last_error_at TIMESTAMPTZ NULL,
        created_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL
    )",
    "CREATE UNIQUE INDEX ux_destinations_name ON destinations (name)",
    "CREATE TABLE export_outbox (
        id BIGSERIAL PRIMARY KEY,
        destination_id BIGINT NOT NULL REFERENCES destinations(id) ON DELETE CASCADE,
        item_kind TEXT NOT NULL DEFAULT 'event',
        event_id BIGINT NULL,
        alert_id BIGINT NULL,
        lane TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TIMESTAMPTZ NOT NULL,
        last_error TEXT NULL,
        payload TEXT NULL,
        created_at TIMESTAMPTZ NOT NULL
    )",
    "CREATE UNIQUE INDEX ux_export_outbox_event ON export_outbox (destination_id, event_id)",
    "CREATE UNIQUE INDEX ux_export_outbox_alert ON export_outbox (destination_id, alert_id)",
    "CREATE INDEX ix_export_outbox_queue ON export_outbox (destination_id, state, lane, id)",
    "CREATE INDEX ix_export_outbox_event_id ON export_outbox (event_id)",
    "CREATE TABLE destination_leases (
        destination_id BIGINT NOT NULL PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL
    )",
];

/// PostgreSQL: migration 7's clean-up functions with the outbox parked instead of deleted.
fn postgres_functions(park: bool) -> Vec<String> {
    let outbox_from = |source: &str| {
        if park {
            format!(
                "UPDATE export_outbox o SET state = 'parked', last_error = '{GONE_REASON}', payload = row_to_json(e)::text \
                 FROM {source} e WHERE o.event_id = e.id AND o.item_kind = 'event'"
            )
        } else {
            format!("DELETE FROM export_outbox WHERE event_id IN (SELECT id FROM {source})")
        }
    };
    let drop_outbox = if park {
        format!(
            "EXECUTE format('UPDATE export_outbox o SET state = ''parked'', last_error = %L, payload = row_to_json(e)::text \
             FROM %I e WHERE o.event_id = e.id AND o.item_kind = ''event''', '{GONE_REASON}', part_name)"
        )
    } else {
        "EXECUTE format('DELETE FROM export_outbox WHERE event_id IN (SELECT id FROM %I)', part_name)".to_string()
    };
    let truncated_outbox = if park {
        format!("UPDATE export_outbox SET state = 'parked', last_error = '{GONE_REASON}' WHERE item_kind = 'event';\n    TRUNCATE event_search, search_queue, event_tags, comments, alert_events, alert_history, alert_comments, alerts;")
    } else {
        "TRUNCATE event_search, search_queue, event_tags, comments, alert_events, alert_history, alert_comments, alerts, export_outbox;".to_string()
    };
    vec![
        format!(
            r#"CREATE OR REPLACE FUNCTION aoc_event_partition_drop(part_name text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    bounds event_partitions%ROWTYPE;
    search text;
    n bigint;
BEGIN
    SELECT * INTO bounds FROM event_partitions WHERE name = part_name;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    search := 'event_search_p' || substr(part_name, length('events_p') + 1);
    LOCK TABLE events, event_search IN ACCESS EXCLUSIVE MODE;
    EXECUTE format('ALTER TABLE events DETACH PARTITION %I', part_name);
    EXECUTE format('ALTER TABLE event_search DETACH PARTITION %I', search);
    EXECUTE format('DROP TABLE %I', search);
    EXECUTE format('SELECT COUNT(*) FROM %I', part_name) INTO n;
    EXECUTE format('DELETE FROM event_tags WHERE event_id IN (SELECT id FROM %I)', part_name);
    EXECUTE format('DELETE FROM comments WHERE event_id IN (SELECT id FROM %I)', part_name);
    EXECUTE format('DELETE FROM alert_events WHERE event_id IN (SELECT id FROM %I)', part_name);
    {drop_outbox};
    EXECUTE format('DELETE FROM search_queue WHERE event_id IN (SELECT id FROM %I)', part_name);
    DELETE FROM event_hours
    WHERE hour >= CAST(FLOOR(EXTRACT(EPOCH FROM bounds.lo) / 3600) AS BIGINT)
      AND hour < CAST(FLOOR(EXTRACT(EPOCH FROM bounds.hi) / 3600) AS BIGINT);
    EXECUTE format('DROP TABLE %I', part_name);
    DELETE FROM event_partitions WHERE name = part_name;
    RETURN n;
END $$"#
        ),
        format!(
            r#"CREATE OR REPLACE FUNCTION aoc_events_deleted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
    DELETE FROM event_search s USING old_rows o WHERE s.event_id = o.id AND s.occurred_at = o.occurred_at;
    DELETE FROM search_queue WHERE event_id IN (SELECT id FROM old_rows);
    DELETE FROM event_tags WHERE event_id IN (SELECT id FROM old_rows);
    DELETE FROM comments WHERE event_id IN (SELECT id FROM old_rows);
    DELETE FROM alert_events WHERE event_id IN (SELECT id FROM old_rows);
    {};
    RETURN NULL;
END $$"#,
            outbox_from("old_rows")
        ),
        format!(
            r#"CREATE OR REPLACE FUNCTION aoc_events_truncated() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
    {truncated_outbox}
    RETURN NULL;
END $$"#
        ),
    ]
}

/// The seed table as migration 1 made it (for `down`).
const SEED_OUTBOX: &str = "CREATE TABLE export_outbox (
    id {ID},
    event_id BIGINT NOT NULL,
    destination VARCHAR NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at {TS} NOT NULL,
    last_error TEXT NULL,
    created_at {TS} NOT NULL,
    delivered_at {TS} NULL
)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if m.get_database_backend() == DbBackend::Postgres {
            run(m, POSTGRES_UP).await?;
            for function in postgres_functions(true) {
                db.execute_unprepared(&function).await?;
            }
        } else {
            run(m, SQLITE_UP).await?;
            db.execute_unprepared(&sqlite_trigger()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        let postgres = m.get_database_backend() == DbBackend::Postgres;
        if postgres {
            for function in postgres_functions(false) {
                db.execute_unprepared(&function).await?;
            }
        } else {
            db.execute_unprepared("DROP TRIGGER IF EXISTS tr_events_export_park").await?;
        }
        run(m, &["DROP TABLE IF EXISTS destination_leases", "DROP TABLE IF EXISTS export_outbox"]).await?;
        run(m, &["DROP TABLE IF EXISTS destinations"]).await?;
        let (id, ts) = if postgres {
            ("BIGSERIAL PRIMARY KEY", "TIMESTAMPTZ")
        } else {
            ("INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT")
        };
        db.execute_unprepared(&SEED_OUTBOX.replace("{ID}", id).replace("{TS}", ts)).await?;
        Ok(())
    }
}
