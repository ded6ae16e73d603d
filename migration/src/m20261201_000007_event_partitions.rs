//! PostgreSQL: `events` and its full-text rows `event_search` become tables partitioned by
//! `occurred_at`, so retention drops whole partitions instead of deleting rows one by one.
//! SQLite: nothing to do.
//!
//! - Partitions start and end on UTC midnights: a day, a week or a month each, by RETENTION_DAYS
//!   (`store::partitions::width`): short retention wants fine partitions (a partition goes only
//!   when all of it has expired), long or no retention wants few (every query is planned over
//!   every partition). `event_partitions` lists them with their ranges; a new one is cut to fit
//!   between its neighbours, so a changed width never overlaps an old partition.
//! - A unique index of a partitioned table must contain the partition key, so the exactly-once
//!   index is (dedupe key, tenant, occurred_at) and the primary key (id, occurred_at). A record
//!   delivered again has the same id and time, so it still conflicts; the write path gives a
//!   record without a readable time the time already stored under its key (`store::writer`).
//! - Foreign keys cannot point at `events(id)` any more. The statement trigger
//!   `tr_events_deleted` deletes what pointed at deleted events (what `ON DELETE CASCADE` did),
//!   `tr_events_moved` keeps an event's full-text row in the partition of its time when an update
//!   moves the event, and dropping a partition cleans up after itself (`aoc_event_partition_drop`).
//! - Partitions come from `aoc_event_partition_ensure(time, width)`, called by the write path for
//!   the days of a batch and ahead of time by the partition task; a row no partition holds goes
//!   to `events_default`. A range whose rows are already in the default partition keeps using it
//!   (PostgreSQL refuses a partition that would take rows from the default partition).
//!
//! Existing rows are copied into the new tables (a long statement on a large database; run
//! `aoc migrate` before starting the new version).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::m20261130_000005_event_hours::POSTGRES_TRIGGERS;
use crate::run;

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

/// No planner statistics for the raw record and the flattened fields. Free-text searches filter
/// them with `ILIKE '%…%'`, whose selectivity the planner estimates by matching the pattern
/// against every sampled value — of every partition, at every planning: about 20 ms per search
/// with 32 day partitions, for an estimate no plan depends on. Without statistics it uses its
/// default. (`LIKE` does not copy the setting, so `aoc_event_partition_ensure` sets it on each new one.)
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
    // Every partition of both tables, by the range of times it holds (the same for both).
    "CREATE TABLE event_partitions (name TEXT NOT NULL PRIMARY KEY, lo TIMESTAMPTZ NOT NULL, hi TIMESTAMPTZ NOT NULL)",
    // Makes sure a partition holds the time `t`: if none does, creates one of `width` ('day',
    // 'week' or 'month', aligned in UTC) cut to the partitions before and after it, unless the
    // default partition already holds rows of that range (then returns false). Under an advisory
    // lock so two processes do not race; `lock_timeout` is the caller's to set.
    r#"CREATE FUNCTION aoc_event_partition_ensure(t timestamptz, width text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    lo timestamptz;
    hi timestamptz;
    suffix text;
BEGIN
    IF EXISTS (SELECT 1 FROM event_partitions p WHERE p.lo <= t AND t < p.hi) THEN
        RETURN true;
    END IF;
    PERFORM pg_advisory_xact_lock(7320251201);
    IF EXISTS (SELECT 1 FROM event_partitions p WHERE p.lo <= t AND t < p.hi) THEN
        RETURN true;
    END IF;
    -- Attaching a partition locks both default partitions exclusively; a query that reads both
    -- tables locks them too, in its own order. Taking both here, one right after the other,
    -- keeps the window for a deadlock tiny, and the caller's lock_timeout (shorter than
    -- deadlock_timeout) makes this function, not the query, give up if one forms.
    LOCK TABLE events_default, event_search_default IN ACCESS EXCLUSIVE MODE;
    IF width NOT IN ('day', 'week', 'month') THEN
        RAISE EXCEPTION 'unknown partition width %', width;
    END IF;
    lo := date_trunc(width, t AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    hi := (date_trunc(width, t AT TIME ZONE 'UTC') + ('1 ' || width)::interval) AT TIME ZONE 'UTC';
    lo := greatest(lo, (SELECT max(p.hi) FROM event_partitions p WHERE p.hi <= t));
    hi := least(hi, (SELECT min(p.lo) FROM event_partitions p WHERE p.lo > t));
    IF EXISTS (SELECT 1 FROM events_default d WHERE d.occurred_at >= lo AND d.occurred_at < hi)
       OR EXISTS (SELECT 1 FROM event_search_default d WHERE d.occurred_at >= lo AND d.occurred_at < hi) THEN
        RETURN false;
    END IF;
    suffix := to_char(lo AT TIME ZONE 'UTC', 'YYYYMMDD');
    -- Created empty and attached: attaching locks the parent far less than CREATE ... PARTITION OF.
    EXECUTE format('CREATE TABLE %I (LIKE events INCLUDING DEFAULTS INCLUDING COMPRESSION INCLUDING STORAGE)', 'events_p' || suffix);
    EXECUTE format('ALTER TABLE %I ALTER COLUMN raw SET STATISTICS 0, ALTER COLUMN flattened SET STATISTICS 0', 'events_p' || suffix);
    EXECUTE format('ALTER TABLE events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', 'events_p' || suffix, lo, hi);
    EXECUTE format('CREATE TABLE %I (LIKE event_search INCLUDING DEFAULTS)', 'event_search_p' || suffix);
    EXECUTE format('ALTER TABLE event_search ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', 'event_search_p' || suffix, lo, hi);
    INSERT INTO event_partitions (name, lo, hi) VALUES ('events_p' || suffix, lo, hi);
    RETURN true;
END $$"#,
    // Drops one partition (both tables) and what pointed at its events; returns how many events
    // it held.
    r#"CREATE FUNCTION aoc_event_partition_drop(part_name text) RETURNS bigint LANGUAGE plpgsql AS $$
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
    -- Both tables at once, before anything else (see aoc_event_partition_ensure).
    LOCK TABLE events, event_search IN ACCESS EXCLUSIVE MODE;
    EXECUTE format('ALTER TABLE events DETACH PARTITION %I', part_name);
    EXECUTE format('ALTER TABLE event_search DETACH PARTITION %I', search);
    EXECUTE format('DROP TABLE %I', search);
    EXECUTE format('SELECT COUNT(*) FROM %I', part_name) INTO n;
    EXECUTE format('DELETE FROM event_tags WHERE event_id IN (SELECT id FROM %I)', part_name);
    EXECUTE format('DELETE FROM comments WHERE event_id IN (SELECT id FROM %I)', part_name);
    EXECUTE format('DELETE FROM alerts WHERE event_id IN (SELECT id FROM %I)', part_name);
    EXECUTE format('DELETE FROM export_outbox WHERE event_id IN (SELECT id FROM %I)', part_name);
    EXECUTE format('DELETE FROM search_queue WHERE event_id IN (SELECT id FROM %I)', part_name);
    -- Partitions start and end on UTC midnights, so they hold whole hours, and every event of
    -- those hours was in this partition.
    DELETE FROM event_hours
    WHERE hour >= CAST(FLOOR(EXTRACT(EPOCH FROM bounds.lo) / 3600) AS BIGINT)
      AND hour < CAST(FLOOR(EXTRACT(EPOCH FROM bounds.hi) / 3600) AS BIGINT);
    EXECUTE format('DROP TABLE %I', part_name);
    DELETE FROM event_partitions WHERE name = part_name;
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
    // Partitions for the days already stored (a month each for days more than 31 days back, so a
    // long history does not become hundreds of partitions), then the rows.
    "SELECT aoc_event_partition_ensure(d, CASE WHEN d < now() - INTERVAL '31 days' THEN 'month' ELSE 'day' END) \
     FROM (SELECT DISTINCT CAST(date_trunc('day', occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS timestamptz) AS d \
     FROM events_unpartitioned) days ORDER BY d",
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
    "DROP FUNCTION IF EXISTS aoc_event_partition_ensure(timestamptz, text)",
    "DROP FUNCTION IF EXISTS aoc_event_partition_drop(text)",
    "DROP TABLE IF EXISTS event_partitions",
    "DROP FUNCTION IF EXISTS aoc_events_deleted()",
    "DROP FUNCTION IF EXISTS aoc_events_moved()",
    "DROP FUNCTION IF EXISTS aoc_events_truncated()",
    "CREATE INDEX ix_event_search_doc ON event_search USING gin (doc)",
    "ALTER TABLE event_search ADD FOREIGN KEY (event_id) REFERENCES events(id) ON DELETE CASCADE",
];

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
        run(m, POSTGRES_TRIGGERS).await
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
        run(m, POSTGRES_TRIGGERS).await
    }
}
