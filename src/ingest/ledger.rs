//! Collection bookkeeping in the database: leases (one collector per tenant and source across
//! every AOC process), watermarks, seen blobs, failed coverage windows, and source status.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Statement,
};

use super::summary::SourceState;
use crate::store::entities::{collection_leases, coverage_windows, seen_blobs, source_status, watermarks};

/// How long a lease lasts without renewal.
pub const LEASE_TTL: Duration = Duration::minutes(5);

/// Takes the lease on (tenant, source) for `holder`, if it is free, expired, or already ours.
pub async fn acquire_lease(db: &DatabaseConnection, tenant: &str, source: &str, holder: &str) -> Result<bool, DbErr> {
    let now = Utc::now();
    let model = collection_leases::ActiveModel {
        tenant_id: Set(tenant.into()),
        source: Set(source.into()),
        holder: Set(holder.into()),
        expires_at: Set(now + LEASE_TTL),
    };
    // Insert, or take over only when the current lease expired or is ours.
    let result = collection_leases::Entity::insert(model)
        .on_conflict(
            OnConflict::columns([collection_leases::Column::TenantId, collection_leases::Column::Source])
                .update_columns([collection_leases::Column::Holder, collection_leases::Column::ExpiresAt])
                .action_and_where(
                    Expr::col((collection_leases::Entity, collection_leases::Column::ExpiresAt))
                        .lt(now)
                        .or(Expr::col((collection_leases::Entity, collection_leases::Column::Holder)).eq(holder)),
                )
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(result == 1)
}

/// Extends our lease; `false` when it was lost (another process took it after it expired).
pub async fn renew_lease(db: &DatabaseConnection, tenant: &str, source: &str, holder: &str) -> Result<bool, DbErr> {
    let result = collection_leases::Entity::update_many()
        .col_expr(collection_leases::Column::ExpiresAt, Expr::value(Utc::now() + LEASE_TTL))
        .filter(collection_leases::Column::TenantId.eq(tenant))
        .filter(collection_leases::Column::Source.eq(source))
        .filter(collection_leases::Column::Holder.eq(holder))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Gives the lease back.
pub async fn release_lease(db: &DatabaseConnection, tenant: &str, source: &str, holder: &str) -> Result<(), DbErr> {
    collection_leases::Entity::delete_many()
        .filter(collection_leases::Column::TenantId.eq(tenant))
        .filter(collection_leases::Column::Source.eq(source))
        .filter(collection_leases::Column::Holder.eq(holder))
        .exec(db)
        .await?;
    Ok(())
}

/// The watermark of a (tenant, source key).
pub async fn watermark(db: &DatabaseConnection, tenant: &str, source: &str) -> Result<Option<DateTime<Utc>>, DbErr> {
    Ok(watermarks::Entity::find_by_id((tenant.to_string(), source.to_string())).one(db).await?.map(|w| w.position))
}

/// Which of `content_ids` are already stored.
pub async fn seen_blobs(
    db: &DatabaseConnection,
    tenant: &str,
    content_ids: &[String],
) -> Result<std::collections::HashSet<String>, DbErr> {
    let mut seen = std::collections::HashSet::new();
    for chunk in content_ids.chunks(500) {
        let rows = seen_blobs::Entity::find()
            .filter(seen_blobs::Column::TenantId.eq(tenant))
            .filter(seen_blobs::Column::ContentId.is_in(chunk.iter().cloned()))
            .all(db)
            .await?;
        seen.extend(rows.into_iter().map(|r| r.content_id));
    }
    Ok(seen)
}

/// The records of the blobs stored for a Unified Audit Log window of one content type.
pub async fn window_records(
    db: &DatabaseConnection,
    tenant: &str,
    content_type: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<i64, DbErr> {
    let backend = db.get_database_backend();
    let (p1, p2, p3, p4) =
        if backend == sea_orm::DbBackend::Postgres { ("$1", "$2", "$3", "$4") } else { ("?", "?", "?", "?") };
    let sql = format!(
        "SELECT CAST(COALESCE(SUM(record_count), 0) AS BIGINT) AS n FROM seen_blobs WHERE tenant_id = {p1} AND content_type = {p2} AND content_created >= {p3} AND content_created < {p4}"
    );
    let row = db
        .query_one(Statement::from_sql_and_values(
            backend,
            sql,
            [tenant.into(), content_type.into(), start.into(), end.into()],
        ))
        .await?;
    Ok(row.map(|r| r.try_get::<i64>("", "n").unwrap_or(0)).unwrap_or(0))
}

/// Coverage windows per state (done, failed, parked, ...), over every tenant and source.
pub async fn coverage_counts(db: &DatabaseConnection) -> Result<Vec<(String, i64)>, DbErr> {
    use sea_orm::{QuerySelect, SelectColumns};
    coverage_windows::Entity::find()
        .select_only()
        .select_column(coverage_windows::Column::State)
        .column_as(coverage_windows::Column::Id.count(), "n")
        .group_by(coverage_windows::Column::State)
        .into_tuple::<(String, i64)>()
        .all(db)
        .await
}

/// Records that a window failed (or is parked after too many attempts). `error` is the
/// user-safe message (with its error id), never Microsoft's or the database's text.
pub async fn window_failed(
    db: &impl ConnectionTrait,
    tenant: &str,
    source: &str,
    content_type: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    error: &str,
) -> Result<(), DbErr> {
    let existing = coverage_windows::Entity::find()
        .filter(coverage_windows::Column::TenantId.eq(tenant))
        .filter(coverage_windows::Column::Source.eq(source))
        .filter(coverage_windows::Column::ContentType.eq(content_type))
        .filter(coverage_windows::Column::WindowStart.eq(start))
        .one(db)
        .await?;
    let now = Utc::now();
    match existing {
        Some(w) => {
            let attempts = w.attempts + 1;
            // After many failed attempts the window is parked: visible in the ledger, still
            // retried, but no longer counted as routine failure.
            let state = if attempts >= 10 { "parked" } else { "failed" };
            coverage_windows::Entity::update_many()
                .col_expr(coverage_windows::Column::Attempts, Expr::value(attempts))
                .col_expr(coverage_windows::Column::State, Expr::value(state))
                .col_expr(coverage_windows::Column::LastError, Expr::value(error))
                .col_expr(coverage_windows::Column::UpdatedAt, Expr::value(now))
                .filter(coverage_windows::Column::Id.eq(w.id))
                .exec(db)
                .await?;
        }
        None => {
            coverage_windows::Entity::insert(coverage_windows::ActiveModel {
                tenant_id: Set(tenant.into()),
                source: Set(source.into()),
                content_type: Set(content_type.into()),
                window_start: Set(start),
                window_end: Set(end),
                state: Set("failed".into()),
                record_count: Set(0),
                attempts: Set(1),
                last_error: Set(Some(error.into())),
                updated_at: Set(now),
                ..Default::default()
            })
            .exec_without_returning(db)
            .await?;
        }
    }
    Ok(())
}

/// Records the outcome of a collection run in the source's status. `error` is the user-safe
/// message (with its error id).
pub async fn record_status(
    db: &DatabaseConnection,
    tenant: &str,
    source: &str,
    state: SourceState,
    error: Option<&str>,
) -> Result<(), DbErr> {
    let now = Utc::now();
    let existing = source_status::Entity::find_by_id((tenant.to_string(), source.to_string())).one(db).await?;
    let success = error.is_none() || state == SourceState::Unlicensed || state == SourceState::Disabled;
    let failures = match (&existing, success) {
        (_, true) => 0,
        (Some(e), false) => e.consecutive_failures + 1,
        (None, false) => 1,
    };
    let model = source_status::ActiveModel {
        tenant_id: Set(tenant.into()),
        source: Set(source.into()),
        state: Set(state.as_str().into()),
        last_success_at: Set(if error.is_none() {
            Some(now)
        } else {
            existing.as_ref().and_then(|e| e.last_success_at)
        }),
        last_attempt_at: Set(Some(now)),
        last_error: Set(error.map(str::to_string).or_else(|| {
            if success {
                None
            } else {
                existing.as_ref().and_then(|e| e.last_error.clone())
            }
        })),
        last_error_at: Set(if error.is_some() { Some(now) } else { existing.as_ref().and_then(|e| e.last_error_at) }),
        consecutive_failures: Set(failures),
        updated_at: Set(now),
    };
    source_status::Entity::insert(model)
        .on_conflict(
            OnConflict::columns([source_status::Column::TenantId, source_status::Column::Source])
                .update_columns([
                    source_status::Column::State,
                    source_status::Column::LastSuccessAt,
                    source_status::Column::LastAttemptAt,
                    source_status::Column::LastError,
                    source_status::Column::LastErrorAt,
                    source_status::Column::ConsecutiveFailures,
                    source_status::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}
