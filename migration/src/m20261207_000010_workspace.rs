//! The analyst's workspace: the full-text index is rebuilt with the tokenizer that cuts compound
//! words where their case changes (`New-InboxRule` → `new inbox rule … inboxrule`), so searches
//! for `inbox rule`, `InboxRule` and `forward*` find events stored before this version too.
//!
//! The index is emptied and every event queued again; the background indexer rebuilds it in
//! batches while searches stay complete (they scan the raw records of queued events).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        let statements = match m.get_database_backend() {
            // Contentless FTS5 with `contentless_delete=1` accepts a plain DELETE.
            DbBackend::Sqlite => {
                ["DELETE FROM event_search", "INSERT OR IGNORE INTO search_queue (event_id) SELECT id FROM events"]
            }
            _ => [
                "TRUNCATE event_search",
                "INSERT INTO search_queue (event_id) SELECT id FROM events ON CONFLICT DO NOTHING",
            ],
        };
        for sql in statements {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        // An index built by the newer tokenizer still answers the older queries' tokens.
        Ok(())
    }
}
