//! State of the rules that look at more than one event: threshold, first-seen and sequence.
//!
//! - `rule_observations`: every event a stateful rule's condition (or a sequence's second step)
//!   matched, with the rule's entity and the value the rule counts or remembers. The evaluator
//!   writes them in the transaction that advances the evaluation cursor, and decides alerts from
//!   them, so the state survives restarts and is the same whatever the order and batching in
//!   which the events arrived. `step` is 0 for a condition match, 1 for a sequence's second step,
//!   2 for a first-seen rule's baseline (events stored before the rule existed: they never alert,
//!   they only make a value known).
//! - `alerts.window_start`: the window a threshold or sequence alert stands for, or the first
//!   occurrence a first-seen alert reports; NULL for match rules (which group by time instead).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn fill(sql: &str, backend: DbBackend) -> String {
    let (ts, event_fk) = if backend == DbBackend::Postgres {
        ("TIMESTAMPTZ", "")
    } else {
        ("TEXT", "REFERENCES events (id) ON DELETE CASCADE")
    };
    sql.replace("{TS}", ts).replace("{EVENT_FK}", event_fk)
}

const UP: &[&str] = &[
    "CREATE TABLE rule_observations (
        rule_id BIGINT NOT NULL REFERENCES rules (id) ON DELETE CASCADE,
        tenant_id TEXT NOT NULL,
        entity TEXT NOT NULL,
        step SMALLINT NOT NULL,
        value TEXT NOT NULL DEFAULT '',
        occurred_at {TS} NOT NULL,
        event_id BIGINT NOT NULL {EVENT_FK},
        PRIMARY KEY (rule_id, event_id, step)
    )",
    "CREATE INDEX ix_rule_observations_entity ON rule_observations (rule_id, tenant_id, entity, occurred_at)",
    "CREATE INDEX ix_rule_observations_value ON rule_observations (rule_id, tenant_id, entity, value, occurred_at)",
    "ALTER TABLE alerts ADD COLUMN window_start {TS} NULL",
];

const DOWN: &[&str] = &["DROP TABLE IF EXISTS rule_observations", "ALTER TABLE alerts DROP COLUMN window_start"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let backend = m.get_database_backend();
        for sql in UP {
            m.get_connection().execute_unprepared(&fill(sql, backend)).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for sql in DOWN {
            m.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
