//! The investigation overview reads an index instead of the events: `ix_events_service_time`
//! (service, occurred_at) becomes `ix_events_service_overview`, the same key followed by the
//! other columns the overview counts and filters on most — operation, result, source and the
//! three actor columns — so its counts are an index-only scan, without reading the fat rows (raw
//! record and flattened fields, several KB each). Replacing the index, not adding one, keeps one
//! B-tree insert per stored event. The same statements on SQLite and PostgreSQL (there on the
//! partitioned parent, so every partition gets it).

use sea_orm_migration::prelude::*;

use crate::run;

#[derive(DeriveMigrationName)]
pub struct Migration;

// A new name, created before the old index goes: SQLite refused to re-create a name dropped
// just before through the migrator's connection pool ("index already exists").
const UP: &[&str] = &[
    "CREATE INDEX ix_events_service_overview ON events \
     (service, occurred_at, operation, result, source, actor_upn, actor_display, actor_app_id)",
    "DROP INDEX IF EXISTS ix_events_service_time",
];

const DOWN: &[&str] = &[
    "CREATE INDEX ix_events_service_time ON events (service, occurred_at)",
    "DROP INDEX IF EXISTS ix_events_service_overview",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        run(m, UP).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        run(m, DOWN).await
    }
}
