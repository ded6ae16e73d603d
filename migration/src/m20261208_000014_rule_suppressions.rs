//! Suppressions: a rule kept quiet for one entity (or for every entity) over a span of event
//! time, set by an administrator with a reason. The evaluator drops the matches they cover
//! before grouping, so a suppressed entity raises nothing and counts nothing.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let (id, ts) = if m.get_database_backend() == DbBackend::Postgres {
            ("BIGSERIAL PRIMARY KEY", "TIMESTAMPTZ")
        } else {
            ("INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT")
        };
        let conn = m.get_connection();
        conn.execute_unprepared(&format!(
            "CREATE TABLE rule_suppressions (
                id {id},
                rule_id BIGINT NOT NULL REFERENCES rules (id) ON DELETE CASCADE,
                entity TEXT NULL,
                starts_at {ts} NOT NULL,
                ends_at {ts} NOT NULL,
                reason TEXT NOT NULL,
                created_by TEXT NOT NULL,
                created_at {ts} NOT NULL
            )"
        ))
        .await?;
        conn.execute_unprepared("CREATE INDEX ix_rule_suppressions_rule ON rule_suppressions (rule_id, ends_at)")
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection().execute_unprepared("DROP TABLE IF EXISTS rule_suppressions").await.map(|_| ())
    }
}
