//! `event_hours`: events per (tenant, source, UTC hour), kept exact by triggers on `events`
//! (migration `m20261130_000005_event_hours`). The histogram and the facet total read it instead
//! of counting rows when the query filters on nothing but tenant, source and time.
//!
//! On PostgreSQL every write statement appends signed delta rows (so concurrent writers never
//! wait on a shared counter); [`compact`] folds them into one row per key, once a minute
//! ([`run`]). Readers always sum.

use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, FromQueryResult, Statement};

/// Seconds per rollup bucket.
pub const HOUR: i64 = 3600;

/// Folds the delta rows into one row per (tenant, source, hour) and drops keys that sum to
/// zero; returns how many rows it replaced. Safe while other transactions write: the delete
/// only takes rows its statement sees, and a second compaction waits for the first's row locks.
pub async fn compact(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => {
            "WITH d AS (DELETE FROM event_hours RETURNING tenant_id, source, hour, n) \
             INSERT INTO event_hours (tenant_id, source, hour, n) \
             SELECT tenant_id, source, hour, SUM(n) FROM d GROUP BY tenant_id, source, hour HAVING SUM(n) <> 0"
        }
        // One row per key already; only empty hours (after retention) go.
        _ => "DELETE FROM event_hours WHERE n = 0",
    };
    Ok(db.execute(Statement::from_string(backend, sql)).await?.rows_affected())
}

/// Compacts once a minute, forever (spawned at start-up).
pub async fn run(db: sea_orm::DatabaseConnection) {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        match compact(&db).await {
            Ok(n) => tracing::debug!(rows = n, "hourly counts compacted"),
            Err(e) => tracing::warn!(error = %e, "compacting the hourly counts failed; will retry"),
        }
    }
}

/// Rows in `event_hours` (on PostgreSQL, the delta rows waiting to be compacted included).
pub async fn rows(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    let row = super::sql::Count::find_by_statement(Statement::from_string(
        db.get_database_backend(),
        "SELECT COUNT(*) AS n FROM event_hours",
    ))
    .one(db)
    .await?;
    Ok(row.map_or(0, |r| r.n).max(0) as u64)
}

/// The hour (since the epoch, UTC) of `events.occurred_at` in SQL, as the triggers of
/// migration `m20261130_000005_event_hours` compute it.
pub fn hour_of_occurred_at(backend: DatabaseBackend) -> &'static str {
    match backend {
        DatabaseBackend::Postgres => "CAST(FLOOR(EXTRACT(EPOCH FROM occurred_at) / 3600) AS BIGINT)",
        _ => "unixepoch(occurred_at) / 3600",
    }
}

/// Rebuilds `event_hours` from the events (`aoc maintenance recount`), in one statement on
/// PostgreSQL so the delete and the count see one snapshot while others write; returns the
/// rows written.
pub async fn recount(db: &sea_orm::DatabaseConnection) -> Result<u64, DbErr> {
    use sea_orm::TransactionTrait;
    let backend = db.get_database_backend();
    let fill = format!(
        "INSERT INTO event_hours (tenant_id, source, hour, n) \
         SELECT tenant_id, source, {}, COUNT(*) FROM events GROUP BY 1, 2, 3",
        hour_of_occurred_at(backend)
    );
    if backend == DatabaseBackend::Postgres {
        let sql = format!("WITH d AS (DELETE FROM event_hours) {fill}");
        return Ok(db.execute(Statement::from_string(backend, sql)).await?.rows_affected());
    }
    let txn = db.begin().await?;
    txn.execute(Statement::from_string(backend, "DELETE FROM event_hours")).await?;
    let written = txn.execute(Statement::from_string(backend, fill)).await?.rows_affected();
    txn.commit().await?;
    Ok(written)
}
