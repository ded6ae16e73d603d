//! Search: a deferred full-text index and the lookups the REST API needs.
//!
//! Ingestion only appends the new event ids to `search_queue` (one small insert in the batch's
//! transaction); a background indexer moves them into the full-text index in batches. Queries
//! use the index for indexed events and scan the raw records of the (short) queue, so a search
//! is complete even while the index catches up. The measurements behind this design are in
//! the README ("Full text").
//!
//! - SQLite: `event_search` is a contentless FTS5 table whose rowid is the event id; a trigger
//!   removes index and queue entries of deleted events.
//! - PostgreSQL: `event_search(event_id, doc tsvector)` with a GIN index; foreign keys cascade.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create().name("ix_events_record_id").table(Events::Table).col(Events::RecordId).to_owned(),
        )
        .await?;
        let db = m.get_connection();
        match m.get_database_backend() {
            DbBackend::Sqlite => {
                for sql in [
                    "CREATE TABLE search_queue (event_id INTEGER NOT NULL PRIMARY KEY)",
                    "CREATE VIRTUAL TABLE event_search USING fts5(doc, content='', contentless_delete=1, \
                     tokenize='unicode61 remove_diacritics 2')",
                    "CREATE TRIGGER events_search_cleanup AFTER DELETE ON events BEGIN \
                     DELETE FROM event_search WHERE rowid = old.id; \
                     DELETE FROM search_queue WHERE event_id = old.id; END",
                ] {
                    db.execute_unprepared(sql).await?;
                }
            }
            _ => {
                for sql in [
                    "CREATE TABLE search_queue (event_id BIGINT NOT NULL PRIMARY KEY \
                     REFERENCES events(id) ON DELETE CASCADE)",
                    "CREATE TABLE event_search (event_id BIGINT NOT NULL PRIMARY KEY \
                     REFERENCES events(id) ON DELETE CASCADE, doc tsvector NOT NULL)",
                    "CREATE INDEX ix_event_search_doc ON event_search USING gin (doc)",
                ] {
                    db.execute_unprepared(sql).await?;
                }
            }
        }
        // Events stored before this migration are queued for indexing.
        db.execute_unprepared("INSERT INTO search_queue (event_id) SELECT id FROM events").await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if m.get_database_backend() == DbBackend::Sqlite {
            db.execute_unprepared("DROP TRIGGER IF EXISTS events_search_cleanup").await?;
        }
        db.execute_unprepared("DROP TABLE IF EXISTS event_search").await?;
        db.execute_unprepared("DROP TABLE IF EXISTS search_queue").await?;
        m.drop_index(Index::drop().name("ix_events_record_id").table(Events::Table).to_owned()).await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Events {
    Table,
    RecordId,
}
