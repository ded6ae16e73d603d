//! Retention (RETENTION_DAYS): events older than the cut-off are deleted without one long
//! transaction or a table locked for minutes.
//!
//! - PostgreSQL: whole partitions (a day, week or month each, by RETENTION_DAYS: see
//!   `store::partitions::Width`). A partition is dropped once all of it is older than the
//!   cut-off (so an event is kept up to one partition width longer than RETENTION_DAYS), with
//!   its full-text rows, hourly counts and the tags, comments, alerts and outbox rows of its
//!   events. Rows in the default partition (times no partition holds) are deleted in bounded
//!   batches.
//! - SQLite: bounded batches of the oldest events; tags, comments, alerts and outbox rows go
//!   with them (foreign keys cascade, triggers remove the full-text rows).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

/// Rows deleted per statement.
pub const BATCH: u64 = 5_000;

/// Deletes events that happened before `cutoff`, `batch` at a time; returns how many. Exact on
/// both backends (on PostgreSQL it deletes rows inside partitions too; retention itself uses
/// [`apply`]).
pub async fn delete_before(db: &DatabaseConnection, cutoff: DateTime<Utc>, batch: u64) -> Result<u64, DbErr> {
    delete_batches(db, "events", cutoff, batch).await
}

/// Deletes the events of `table` (the events table, or one of its partitions) that happened
/// before `cutoff`, `batch` at a time, through the events table so its triggers run.
async fn delete_batches(db: &DatabaseConnection, table: &str, cutoff: DateTime<Utc>, batch: u64) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    // On PostgreSQL the outer time condition skips the partitions that cannot hold them.
    let (p, outer) = if backend == DbBackend::Postgres { ("$1", "occurred_at < $1 AND ") } else { ("?", "") };
    let sql = format!(
        "DELETE FROM events WHERE {outer}id IN \
         (SELECT id FROM {table} WHERE occurred_at < {p} ORDER BY occurred_at LIMIT {batch})"
    );
    let mut total = 0;
    loop {
        let result = db.execute(Statement::from_sql_and_values(backend, &sql, [cutoff.into()])).await?;
        total += result.rows_affected();
        if result.rows_affected() < batch {
            return Ok(total);
        }
        // Let other writers in between batches.
        tokio::task::yield_now().await;
    }
}

/// One retention pass: what is older than `cutoff` goes (see the module comment for how
/// exactly on each backend); returns how many events.
pub async fn apply(db: &DatabaseConnection, cutoff: DateTime<Utc>) -> Result<u64, DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return delete_before(db, cutoff, BATCH).await;
    }
    let (_, dropped) = super::partitions::drop_partitions_before(db, cutoff).await?;
    Ok(dropped + delete_batches(db, "events_default", cutoff, BATCH).await?)
}

/// Every hour, forever: on PostgreSQL creates the coming days' partitions; with `days`
/// (RETENTION_DAYS) removes older events.
pub async fn run(db: DatabaseConnection, days: Option<u32>) {
    loop {
        super::partitions::ensure_ahead(&db).await;
        if let Some(days) = days {
            let cutoff = Utc::now() - chrono::Duration::days(i64::from(days));
            match apply(&db, cutoff).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, days, "retention deleted old events"),
                Err(e) => tracing::error!(error = %e, "retention failed; will retry in an hour"),
            }
        }
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
}
