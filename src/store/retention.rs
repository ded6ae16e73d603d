//! Retention (RETENTION_DAYS): events older than the cut-off are deleted in bounded batches, so
//! a large deletion never holds one long transaction or locks the table for minutes. Tags,
//! comments, alerts and outbox rows of a deleted event go with it (foreign keys cascade).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement};

/// Rows deleted per statement.
pub const BATCH: u64 = 5_000;

/// Deletes events that happened before `cutoff`, `batch` at a time; returns how many.
pub async fn delete_before(db: &DatabaseConnection, cutoff: DateTime<Utc>, batch: u64) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let placeholder = if backend == sea_orm::DbBackend::Postgres { "$1" } else { "?" };
    let sql = format!(
        "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE occurred_at < {placeholder} ORDER BY occurred_at LIMIT {batch})"
    );
    let mut total = 0;
    loop {
        let result = db.execute(Statement::from_sql_and_values(backend, sql.clone(), [cutoff.into()])).await?;
        total += result.rows_affected();
        if result.rows_affected() < batch {
            return Ok(total);
        }
        // Let other writers in between batches.
        tokio::task::yield_now().await;
    }
}

/// Runs retention every hour, forever (spawned at start-up when RETENTION_DAYS is set).
pub async fn run(db: DatabaseConnection, days: u32) {
    loop {
        let cutoff = Utc::now() - chrono::Duration::days(i64::from(days));
        match delete_before(&db, cutoff, BATCH).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, days, "retention deleted old events"),
            Err(e) => tracing::error!(error = %e, "retention failed; will retry in an hour"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
}
