//! Detection: rules, alerts grouped per rule and entity, the events of each alert, comments and
//! the history of every triage change, and the durable evaluation cursor.
//!
//! - The first schema's `rules` and `alerts` (one alert per rule and event) were never used; they
//!   are replaced. An alert now stands for the matches of one rule on one entity within the
//!   rule's window; `alert_events` lists its events.
//! - `detection_cursor` holds the id of the last event the rules have seen. The evaluator commits
//!   the alerts it raises together with the advanced cursor, so every new event is evaluated
//!   exactly once, across crashes. It starts at the newest stored event: history is what the
//!   backtest is for.
//! - PostgreSQL: `alert_events` cannot point at the partitioned `events` by a foreign key; the
//!   functions that clean up after deleted events and dropped partitions are rewritten to clean
//!   `alert_events` (they cleaned the old `alerts`). SQLite: foreign keys cascade.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables, with `{ID}`, `{TS}`, `{BOOL_TRUE}`... filled per backend.
const TABLES: &[&str] = &[
    "CREATE TABLE rules (
        id {ID},
        uid TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        kind TEXT NOT NULL DEFAULT 'match',
        severity SMALLINT NOT NULL DEFAULT 2,
        enabled BOOLEAN NOT NULL DEFAULT TRUE,
        hunting BOOLEAN NOT NULL DEFAULT FALSE,
        builtin BOOLEAN NOT NULL DEFAULT FALSE,
        owner TEXT NOT NULL DEFAULT '',
        sources TEXT NOT NULL DEFAULT '[]',
        tags TEXT NOT NULL DEFAULT '[]',
        definition TEXT NOT NULL,
        sigma_id TEXT NULL,
        sigma_yaml TEXT NULL,
        created_by TEXT NOT NULL,
        created_at {TS} NOT NULL,
        updated_at {TS} NOT NULL
    )",
    "CREATE UNIQUE INDEX ux_rules_uid ON rules (uid)",
    "CREATE UNIQUE INDEX ux_rules_name ON rules (name)",
    "CREATE TABLE alerts (
        id {ID},
        rule_id BIGINT NOT NULL REFERENCES rules (id) ON DELETE CASCADE,
        tenant_id TEXT NOT NULL,
        group_key TEXT NOT NULL,
        title TEXT NOT NULL,
        severity SMALLINT NOT NULL,
        status TEXT NOT NULL DEFAULT 'new',
        assignee TEXT NULL,
        hunting BOOLEAN NOT NULL DEFAULT FALSE,
        count BIGINT NOT NULL DEFAULT 0,
        first_seen {TS} NOT NULL,
        last_seen {TS} NOT NULL,
        entities TEXT NOT NULL DEFAULT '{}',
        matched TEXT NOT NULL DEFAULT '[]',
        created_at {TS} NOT NULL,
        updated_at {TS} NOT NULL
    )",
    "CREATE INDEX ix_alerts_group ON alerts (rule_id, tenant_id, group_key, last_seen)",
    "CREATE INDEX ix_alerts_status ON alerts (status, id)",
    "CREATE TABLE alert_events (
        alert_id BIGINT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
        event_id BIGINT NOT NULL {EVENT_FK},
        occurred_at {TS} NOT NULL,
        PRIMARY KEY (alert_id, event_id)
    )",
    "CREATE INDEX ix_alert_events_event ON alert_events (event_id)",
    "CREATE TABLE alert_comments (
        id {ID},
        alert_id BIGINT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
        author TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at {TS} NOT NULL
    )",
    "CREATE INDEX ix_alert_comments_alert ON alert_comments (alert_id, id)",
    "CREATE TABLE alert_history (
        id {ID},
        alert_id BIGINT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        details TEXT NOT NULL DEFAULT '{}',
        occurred_at {TS} NOT NULL
    )",
    "CREATE INDEX ix_alert_history_alert ON alert_history (alert_id, id)",
    "CREATE TABLE detection_cursor (
        name TEXT NOT NULL PRIMARY KEY,
        position BIGINT NOT NULL,
        updated_at {TS} NOT NULL
    )",
    "INSERT INTO detection_cursor (name, position, updated_at) \
     SELECT 'rules', COALESCE(MAX(id), 0), CURRENT_TIMESTAMP FROM events",
];

/// The first schema's shapes, for `down`.
const OLD_TABLES: &[&str] = &[
    "CREATE TABLE rules (id {ID}, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '', \
     enabled BOOLEAN NOT NULL DEFAULT TRUE, severity SMALLINT NOT NULL DEFAULT 2, kind TEXT NOT NULL DEFAULT 'native', \
     definition TEXT NOT NULL, created_by TEXT NOT NULL, created_at {TS} NOT NULL, updated_at {TS} NOT NULL)",
    "CREATE UNIQUE INDEX ux_rules_name ON rules (name)",
    "CREATE TABLE alerts (id {ID}, rule_id BIGINT NOT NULL REFERENCES rules (id) ON DELETE CASCADE, \
     event_id BIGINT NOT NULL {EVENT_FK}, tenant_id TEXT NOT NULL, severity SMALLINT NOT NULL DEFAULT 2, \
     title TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'open', created_at {TS} NOT NULL, handled_by TEXT NULL, \
     handled_at {TS} NULL)",
    "CREATE UNIQUE INDEX ux_alerts_rule_event ON alerts (rule_id, event_id)",
    "CREATE INDEX ix_alerts_status_time ON alerts (status, created_at)",
];

/// The PostgreSQL functions that delete what pointed at deleted events.
const CLEANUP_FUNCTIONS: &[&str] =
    &["aoc_event_partition_drop(text)", "aoc_events_deleted()", "aoc_events_truncated()"];

/// Runs `statements` as one script on one connection: a pooled SQLite connection caches the
/// schema, and one that did not see a table dropped refuses to create its namesake.
async fn run_script(m: &SchemaManager<'_>, statements: &[String]) -> Result<(), DbErr> {
    let script = statements.join(";\n");
    m.get_connection().execute_unprepared(&script).await.map(|_| ())
}

fn fill(sql: &str, backend: DbBackend) -> String {
    let (id, ts, event_fk) = if backend == DbBackend::Postgres {
        ("BIGSERIAL PRIMARY KEY", "TIMESTAMPTZ", "")
    } else {
        ("INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT", "REFERENCES events (id) ON DELETE CASCADE")
    };
    sql.replace("{ID}", id).replace("{TS}", ts).replace("{EVENT_FK}", event_fk)
}

/// Rewrites the PostgreSQL clean-up functions with `edit` (each is read back from the catalog,
/// so whatever else later migrations put in them is kept).
async fn rewrite_cleanup(m: &SchemaManager<'_>, edit: impl Fn(String) -> String) -> Result<(), DbErr> {
    let conn = m.get_connection();
    for function in CLEANUP_FUNCTIONS {
        let sql = format!("SELECT pg_get_functiondef('{function}'::regprocedure) AS d");
        let Some(row) = conn.query_one(Statement::from_string(DbBackend::Postgres, sql)).await? else {
            continue;
        };
        let definition: String = row.try_get("", "d")?;
        conn.execute_unprepared(&edit(definition)).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let backend = m.get_database_backend();
        let mut script = vec!["DROP TABLE IF EXISTS alerts".to_string(), "DROP TABLE IF EXISTS rules".to_string()];
        script.extend(TABLES.iter().map(|s| fill(s, backend)));
        run_script(m, &script).await?;
        if backend == DbBackend::Postgres {
            rewrite_cleanup(m, |d| {
                d.replace("DELETE FROM alerts WHERE event_id", "DELETE FROM alert_events WHERE event_id")
                    .replace("comments, alerts,", "comments, alert_events, alert_history, alert_comments, alerts,")
            })
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let backend = m.get_database_backend();
        let mut script: Vec<String> =
            ["detection_cursor", "alert_history", "alert_comments", "alert_events", "alerts", "rules"]
                .iter()
                .map(|t| format!("DROP TABLE IF EXISTS {t}"))
                .collect();
        script.extend(OLD_TABLES.iter().map(|s| fill(s, backend)));
        run_script(m, &script).await?;
        if backend == DbBackend::Postgres {
            rewrite_cleanup(m, |d| {
                d.replace("DELETE FROM alert_events WHERE event_id", "DELETE FROM alerts WHERE event_id")
                    .replace("comments, alert_events, alert_history, alert_comments, alerts,", "comments, alerts,")
            })
            .await?;
        }
        Ok(())
    }
}
