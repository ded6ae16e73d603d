//! PostgreSQL: `events` and its full-text rows `event_search` become tables partitioned by
//! `occurred_at`, one partition per UTC day, so retention drops a whole day instead of deleting
//! its rows one by one. SQLite: nothing to do.
//!
//! What partitioning changes, and what replaces it:
//! - A unique index of a partitioned table must contain the partition key, so the exactly-once
//!   index is (dedupe key, tenant, occurred_at) and the primary key (id, occurred_at). A record
//!   delivered again has the same id and time, so it still conflicts; the write path gives a
//!   record without a readable time the time already stored under its key (`store::writer`).
//! - Foreign keys cannot point at `events(id)` any more. The statement trigger
//!   `tr_events_deleted` deletes what pointed at deleted events (what `ON DELETE CASCADE` did),
//!   `tr_events_moved` keeps an event's full-text row in the partition of its time when an update
//!   moves the event, and dropping a day cleans up after itself (`aoc_event_day_drop`).
//! - Days get partitions from `aoc_event_day_ensure(day)`, called by the write path for the days
//!   of a batch and ahead of time by the partition task; a row of a day without a partition goes
//!   to `events_default`. A day whose rows are already in the default partition keeps using it
//!   (PostgreSQL refuses a partition that would take rows from the default partition).
//!
//! Existing rows are copied into the new tables (a long statement on a large database; run
//! `aoc migrate` before starting the new version).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns of `events`, in table order.
const COLUMNS: &str = "id, tenant_id, source, content_type, record_id, dedupe_key, occurred_at, ingested_at, \
     service, operation, result, actor_display, actor_upn, actor_app_id, actor_ip, targets, target_display, \
     summary, severity, correlation_id, flattened, raw, normalize_error";

/// The secondary indexes of `events`, as they were before (the unique one gains `occurred_at`).
const INDEXES: &[&str] = &[
    "CREATE UNIQUE INDEX ux_events_dedupe_tenant ON events (dedupe_key, tenant_id, occurred_at)",
    "CREATE INDEX ix_events_actor_time ON events (actor_upn, occurred_at)",
    "CREATE INDEX ix_events_operation_time ON events (operation, occurred_at)",
    "CREATE INDEX ix_events_service_time ON events (service, occurred_at)",
    "CREATE INDEX ix_events_severity_time ON events (severity, occurred_at)",
    "CREATE INDEX ix_events_tenant_source_ingested ON events (tenant_id, source, ingested_at)",
    "CREATE INDEX ix_events_tenant_time ON events (tenant_id, occurred_at)",
    "CREATE INDEX ix_events_time ON events (occurred_at, id)",
];

/// The hourly-count triggers of migration 5, on the new table.
const HOUR_TRIGGERS: &[&str] = &[
    "CREATE TRIGGER tr_event_hours_insert AFTER INSERT ON events REFERENCING NEW TABLE AS new_rows \
     FOR EACH STATEMENT EXECUTE PROCEDURE aoc_event_hours_insert()",
    "CREATE TRIGGER tr_event_hours_delete AFTER DELETE ON events REFERENCING OLD TABLE AS old_rows \
     FOR EACH STATEMENT EXECUTE PROCEDURE aoc_event_hours_delete()",
    "CREATE TRIGGER tr_event_hours_update AFTER UPDATE ON events REFERENCING OLD TABLE AS old_rows \
     NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE PROCEDURE aoc_event_hours_update()",
    "CREATE TRIGGER tr_event_hours_truncate AFTER TRUNCATE ON events \
     FOR EACH STATEMENT EXECUTE PROCEDURE aoc_event_hours_truncate()",
];

/// No planner statistics for the raw record and the flattened fields. Free-text searches filter
/// them with `ILIKE '%…%'`, whose selectivity the planner estimates by matching the pattern
/// against every sampled value — of every partition, at every planning: about 20 ms per search
/// with 32 day partitions, for an estimate no plan depends on. Without statistics it uses its
/// default. (`LIKE` does not copy the setting, so `aoc_event_day_ensure` sets it on each new day.)
const NO_RAW_STATISTICS: &str =
    "ALTER TABLE events ALTER COLUMN raw SET STATISTICS 0, ALTER COLUMN flattened SET STATISTICS 0";

/// Tables whose rows point at an event by `event_id`.
const CHILDREN: [&str; 5] = ["event_tags", "comments", "alerts", "export_outbox", "search_queue"];

const UP: &[&str] = &[
    // The sequence outlives the old table.
    "ALTER SEQUENCE events_id_seq OWNED BY NONE",
    "ALTER TABLE events RENAME TO events_unpartitioned",
    "ALTER TABLE event_search RENAME TO event_search_unpartitioned",
    "CREATE TABLE events (LIKE events_unpartitioned INCLUDING DEFAULTS INCLUDING COMPRESSION INCLUDING STORAGE) \
     PARTITION BY RANGE (occurred_at)",
    "CREATE TABLE events_default PARTITION OF events DEFAULT",
    "CREATE TABLE event_search (event_id BIGINT NOT NULL, occurred_at TIMESTAMPTZ NOT NULL, doc tsvector NOT NULL) \
     PARTITION BY RANGE (occurred_at)",
    "CREATE TABLE event_search_default PARTITION OF event_search DEFAULT",
    // One day's partitions of both tables. Under an advisory lock so two processes do not race;
    // `lock_timeout` is the caller's to set.
    r#"CREATE FUNCTION aoc_event_day_ensure(day date) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    suffix text := to_char(day, 'YYYYMMDD');
    lo timestamptz := day::timestamp AT TIME ZONE 'UTC';
    hi timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
BEGIN
    IF to_regclass('events_p' || suffix) IS NOT NULL THEN
        RETURN true;
    END IF;
    PERFORM pg_advisory_xact_lock(7320251201);
    IF to_regclass('events_p' || suffix) IS NOT NULL THEN
        RETURN true;
    END IF;
    IF EXISTS (SELECT 1 FROM events_default WHERE occurred_at >= lo AND occurred_at < hi)
       OR EXISTS (SELECT 1 FROM event_search_default WHERE occurred_at >= lo AND occurred_at < hi) THEN
        RETURN false;
    END IF;
    -- Created empty and attached: attaching locks the parent far less than CREATE ... PARTITION OF.
    EXECUTE format('CREATE TABLE %I (LIKE events INCLUDING DEFAULTS INCLUDING COMPRESSION INCLUDING STORAGE)', 'events_p' || suffix);
    EXECUTE format('ALTER TABLE %I ALTER COLUMN raw SET STATISTICS 0, ALTER COLUMN flattened SET STATISTICS 0', 'events_p' || suffix);
    EXECUTE format('ALTER TABLE events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', 'events_p' || suffix, lo, hi);
    EXECUTE format('CREATE TABLE %I (LIKE event_search INCLUDING DEFAULTS)', 'event_search_p' || suffix);
    EXECUTE format('ALTER TABLE event_search ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', 'event_search_p' || suffix, lo, hi);
    RETURN true;
END $$"#,
    // Drops one day (both tables) and what pointed at its events; returns how many events it held.
    r#"CREATE FUNCTION aoc_event_day_drop(day date) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    suffix text := to_char(day, 'YYYYMMDD');
    first_hour bigint := CAST(FLOOR(EXTRACT(EPOCH FROM day::timestamp AT TIME ZONE 'UTC') / 3600) AS BIGINT);
    n bigint;
BEGIN
    IF to_regclass('events_p' || suffix) IS NULL THEN
        RETURN 0;
    END IF;
    EXECUTE format('ALTER TABLE events DETACH PARTITION %I', 'events_p' || suffix);
    IF to_regclass('event_search_p' || suffix) IS NOT NULL THEN
        EXECUTE format('ALTER TABLE event_search DETACH PARTITION %I', 'event_search_p' || suffix);
        EXECUTE format('DROP TABLE %I', 'event_search_p' || suffix);
    END IF;
    EXECUTE format('SELECT COUNT(*) FROM %I', 'events_p' || suffix) INTO n;
    EXECUTE format('DELETE FROM event_tags WHERE event_id IN (SELECT id FROM %I)', 'events_p' || suffix);
    EXECUTE format('DELETE FROM comments WHERE event_id IN (SELECT id FROM %I)', 'events_p' || suffix);
    EXECUTE format('DELETE FROM alerts WHERE event_id IN (SELECT id FROM %I)', 'events_p' || suffix);
    EXECUTE format('DELETE FROM export_outbox WHERE event_id IN (SELECT id FROM %I)', 'events_p' || suffix);
    EXECUTE format('DELETE FROM search_queue WHERE event_id IN (SELECT id FROM %I)', 'events_p' || suffix);
    -- A day is whole hours, and all events of those hours were in this partition.
    DELETE FROM event_hours WHERE hour >= first_hour AND hour < first_hour + 24;
    EXECUTE format('DROP TABLE %I', 'events_p' || suffix);
    RETURN n;
END $$"#,
    // What `ON DELETE CASCADE` did.
    r#"CREATE FUNCTION aoc_events_deleted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
    DELETE FROM event_search s USING old_rows o WHERE s.event_id = o.id AND s.occurred_at = o.occurred_at;
    DELETE FROM search_queue WHERE event_id IN (SELECT id FROM old_rows);
    DELETE FROM event_tags WHERE event_id IN (SELECT id FROM old_rows);
    DELETE FROM comments WHERE event_id IN (SELECT id FROM old_rows);
    DELETE FROM alerts WHERE event_id IN (SELECT id FROM old_rows);
    DELETE FROM export_outbox WHERE event_id IN (SELECT id FROM old_rows);
    RETURN NULL;
END $$"#,
    // An event whose time changed keeps its full-text row beside it.
    r#"CREATE FUNCTION aoc_events_moved() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
    UPDATE event_search s SET occurred_at = n.occurred_at FROM old_rows o JOIN new_rows n ON n.id = o.id
    WHERE s.event_id = o.id AND s.occurred_at = o.occurred_at AND n.occurred_at <> o.occurred_at;
    RETURN NULL;
END $$"#,
    r#"CREATE FUNCTION aoc_events_truncated() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
    TRUNCATE event_search, search_queue, event_tags, comments, alerts, export_outbox;
    RETURN NULL;
END $$"#,
    // Partitions for the days already stored, then the rows.
    "SELECT aoc_event_day_ensure(d) FROM (SELECT DISTINCT CAST(occurred_at AT TIME ZONE 'UTC' AS date) AS d \
     FROM events_unpartitioned) days",
];

const UP_AFTER_COPY: &[&str] = &[
    "DROP TABLE event_search_unpartitioned",
    // CASCADE drops the foreign keys that pointed at it (only those).
    "DROP TABLE events_unpartitioned CASCADE",
    "ALTER SEQUENCE events_id_seq OWNED BY events.id",
    "ALTER TABLE events ADD PRIMARY KEY (id, occurred_at)",
    NO_RAW_STATISTICS,
    "ALTER TABLE event_search ADD PRIMARY KEY (event_id, occurred_at)",
    "CREATE INDEX ix_event_search_doc ON event_search USING gin (doc)",
    "CREATE TRIGGER tr_events_deleted AFTER DELETE ON events REFERENCING OLD TABLE AS old_rows \
     FOR EACH STATEMENT EXECUTE PROCEDURE aoc_events_deleted()",
    "CREATE TRIGGER tr_events_moved AFTER UPDATE ON events REFERENCING OLD TABLE AS old_rows \
     NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE PROCEDURE aoc_events_moved()",
    "CREATE TRIGGER tr_events_truncated AFTER TRUNCATE ON events \
     FOR EACH STATEMENT EXECUTE PROCEDURE aoc_events_truncated()",
];

/// Back to one plain table each, with the foreign keys of migrations 1 and 3.
const DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS tr_events_deleted ON events",
    "DROP TRIGGER IF EXISTS tr_events_moved ON events",
    "DROP TRIGGER IF EXISTS tr_events_truncated ON events",
    "ALTER SEQUENCE events_id_seq OWNED BY NONE",
    "ALTER TABLE events RENAME TO events_partitioned",
    "ALTER TABLE event_search RENAME TO event_search_partitioned",
    "CREATE TABLE events (LIKE events_partitioned INCLUDING DEFAULTS INCLUDING COMPRESSION INCLUDING STORAGE)",
    "INSERT INTO events SELECT * FROM events_partitioned",
    "CREATE TABLE event_search (event_id BIGINT NOT NULL PRIMARY KEY, doc tsvector NOT NULL)",
    "INSERT INTO event_search (event_id, doc) SELECT event_id, doc FROM event_search_partitioned",
    "DROP TABLE event_search_partitioned",
    "DROP TABLE events_partitioned",
    "ALTER SEQUENCE events_id_seq OWNED BY events.id",
    "ALTER TABLE events ADD PRIMARY KEY (id)",
    "DROP FUNCTION IF EXISTS aoc_event_day_ensure(date)",
    "DROP FUNCTION IF EXISTS aoc_event_day_drop(date)",
    "DROP FUNCTION IF EXISTS aoc_events_deleted()",
    "DROP FUNCTION IF EXISTS aoc_events_moved()",
    "DROP FUNCTION IF EXISTS aoc_events_truncated()",
    "CREATE INDEX ix_event_search_doc ON event_search USING gin (doc)",
    "ALTER TABLE event_search ADD FOREIGN KEY (event_id) REFERENCES events(id) ON DELETE CASCADE",
];

async fn run(m: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    for sql in statements {
        m.get_connection().execute_unprepared(sql).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        run(m, UP).await?;
        let db = m.get_connection();
        db.execute_unprepared(&format!("INSERT INTO events ({COLUMNS}) SELECT {COLUMNS} FROM events_unpartitioned"))
            .await?;
        db.execute_unprepared(
            "INSERT INTO event_search (event_id, occurred_at, doc) SELECT s.event_id, e.occurred_at, s.doc \
             FROM event_search_unpartitioned s JOIN events_unpartitioned e ON e.id = s.event_id",
        )
        .await?;
        run(m, UP_AFTER_COPY).await?;
        run(m, INDEXES).await?;
        run(m, HOUR_TRIGGERS).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        run(m, DOWN).await?;
        let db = m.get_connection();
        for index in INDEXES {
            db.execute_unprepared(&index.replace("(dedupe_key, tenant_id, occurred_at)", "(dedupe_key, tenant_id)"))
                .await?;
        }
        for child in CHILDREN {
            db.execute_unprepared(&format!(
                "ALTER TABLE {child} ADD FOREIGN KEY (event_id) REFERENCES events(id) ON DELETE CASCADE"
            ))
            .await?;
        }
        run(m, HOUR_TRIGGERS).await
    }
}
