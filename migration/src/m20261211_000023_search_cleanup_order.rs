//! PostgreSQL: an event deleted while the search indexer held its queue entry could leave a
//! full-text row behind. The delete trigger removed the event's full-text rows first, then its
//! queue entry, which waited for the indexer's lock; the indexer then committed the full-text row
//! the trigger had already looked for. Removing the queue entry first makes the trigger wait
//! before it looks: under READ COMMITTED its next statement sees, and deletes, what the indexer
//! committed. (SQLite has one writer at a time; the indexer there writes only the events whose
//! queue entries it removed itself.)

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::run;

#[derive(DeriveMigrationName)]
pub struct Migration;

const OUTBOX: &str = "UPDATE export_outbox o SET state = 'parked', last_error = 'the event was removed (retention or \
     maintenance) before it was delivered; a copy is kept with this item and a retry sends it', payload = \
     row_to_json(e)::text FROM old_rows e WHERE o.event_id = e.id AND o.item_kind = 'event';";

fn function(queue_first: bool) -> String {
    let search =
        "DELETE FROM event_search s USING old_rows o WHERE s.event_id = o.id AND s.occurred_at = o.occurred_at;";
    let queue = "DELETE FROM search_queue WHERE event_id IN (SELECT id FROM old_rows);";
    let (first, second) = if queue_first { (queue, search) } else { (search, queue) };
    format!(
        "CREATE OR REPLACE FUNCTION aoc_events_deleted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
    {first}
    {second}
    DELETE FROM event_tags WHERE event_id IN (SELECT id FROM old_rows);
    DELETE FROM comments WHERE event_id IN (SELECT id FROM old_rows);
    DELETE FROM alert_events WHERE event_id IN (SELECT id FROM old_rows);
    {OUTBOX}
    RETURN NULL;
END $$"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        run(m, &[&function(true)]).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        run(m, &[&function(false)]).await
    }
}
