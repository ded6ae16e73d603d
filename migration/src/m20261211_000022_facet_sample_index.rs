//! The Events page's field list counts the newest matching events (`store::query::FACET_SAMPLE`).
//! Read through `ix_events_time (occurred_at, id)`, each of those events' fat rows was read for
//! five short columns: 113 ms for 50,000 events on SQLite, warm. `ix_events_time_facets` holds
//! those columns after the time, so the newest events' values come from the index alone (45 ms
//! for 50,000, 8 ms for 10,000). It replaces `ix_events_time`, whose columns are its first two,
//! so paging newest first walks it as before and every stored event still costs one insert into
//! one such B-tree. The same statements on SQLite and PostgreSQL (there on the partitioned
//! parent).

use sea_orm_migration::prelude::*;

use crate::run;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE INDEX ix_events_time_facets ON events \
     (occurred_at, id, service, operation, result, severity, actor_upn, actor_display, actor_app_id)",
    "DROP INDEX IF EXISTS ix_events_time",
];

const DOWN: &[&str] =
    &["CREATE INDEX ix_events_time ON events (occurred_at, id)", "DROP INDEX IF EXISTS ix_events_time_facets"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        run(m, UP).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        run(m, DOWN).await
    }
}
