//! Source health: per (tenant, source), an honest state, the lag, the last success and error,
//! and records received in the last hour. A stopped or failing collector is never "ok".

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter};
use serde::Serialize;

use super::connector::Connector;
use super::management::CONTENT_TYPES;
use super::summary::SourceState;
use crate::normalize::Source;
use crate::store::entities::{events, source_status, watermarks};

/// The health of one (tenant, source).
#[derive(Clone, Debug, Serialize)]
pub struct SourceHealth {
    pub tenant_id: String,
    pub source: String,
    /// ok, lagging, throttled, failing, unlicensed, disabled.
    pub state: SourceState,
    /// Why the state is not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Seconds between now and the oldest watermark of the source.
    pub lag_seconds: Option<i64>,
    pub watermark: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub consecutive_failures: i32,
    pub records_last_hour: u64,
    /// Data from the built-in simulator.
    pub demo: bool,
}

/// How the collectors are run, for judging staleness.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    pub periodic: bool,
    pub interval: Duration,
}

async fn oldest_watermark(
    db: &DatabaseConnection,
    tenant: &str,
    source: Source,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    if source != Source::Unified {
        return super::ledger::watermark(db, tenant, source.as_str()).await;
    }
    let keys: Vec<String> = CONTENT_TYPES.iter().map(|ct| format!("unified:{ct}")).collect();
    let rows = watermarks::Entity::find()
        .filter(watermarks::Column::TenantId.eq(tenant))
        .filter(watermarks::Column::Source.is_in(keys))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|w| w.position).min())
}

/// Seconds between now and the oldest watermark of a source (`None` before its first run).
pub async fn lag_seconds(db: &DatabaseConnection, tenant: &str, source: Source) -> Result<Option<i64>, DbErr> {
    let watermark = oldest_watermark(db, tenant, source).await?;
    Ok(watermark.map(|w| (Utc::now() - w).num_seconds().max(0)))
}

/// The health of every source of every connector.
pub async fn source_health(
    db: &DatabaseConnection,
    connectors: &[Connector],
    schedule: Schedule,
) -> Result<Vec<SourceHealth>, DbErr> {
    let now = Utc::now();
    let stale_after = chrono::Duration::from_std(schedule.interval * 3).unwrap_or(chrono::Duration::minutes(15))
        + chrono::Duration::minutes(5);
    let mut out = Vec::new();
    for c in connectors {
        for source in Source::ALL {
            let status =
                source_status::Entity::find_by_id((c.tenant_id.clone(), source.as_str().to_string())).one(db).await?;
            let watermark = oldest_watermark(db, &c.tenant_id, source).await?;
            let records_last_hour = events::Entity::find()
                .filter(events::Column::TenantId.eq(c.tenant_id.as_str()))
                .filter(events::Column::Source.eq(source.as_str()))
                .filter(events::Column::IngestedAt.gte(now - chrono::Duration::hours(1)))
                .count(db)
                .await?;
            let last_success = status.as_ref().and_then(|s| s.last_success_at);
            let stored = status.as_ref().and_then(|s| SourceState::parse(&s.state));
            let last_error = || status.as_ref().and_then(|s| s.last_error.clone());
            let (state, reason) = if !c.sources.contains(&source) {
                (SourceState::Disabled, Some("not in SOURCES".to_string()))
            } else if stored == Some(SourceState::Unlicensed) {
                (SourceState::Unlicensed, last_error())
            } else if stored == Some(SourceState::Failing) {
                (SourceState::Failing, last_error())
            } else if !schedule.periodic {
                (SourceState::Disabled, Some("periodic collection is off (ENABLE_PERIODIC_FETCH); collect with `aoc fetch` or /api/fetch-audit-logs".to_string()))
            } else if last_success.is_none_or(|t| now - t > stale_after) {
                let since = last_success.map_or("ever".to_string(), |t| format!("since {}", t.to_rfc3339()));
                (SourceState::Failing, Some(format!("no successful collection {since}")))
            } else if stored == Some(SourceState::Throttled) {
                (SourceState::Throttled, last_error())
            } else if watermark.is_some_and(|w| now - w > stale_after) {
                (SourceState::Lagging, Some("collection is behind its schedule".to_string()))
            } else {
                (SourceState::Ok, None)
            };
            out.push(SourceHealth {
                tenant_id: c.tenant_id.clone(),
                source: source.as_str().into(),
                state,
                reason,
                lag_seconds: watermark.map(|w| (now - w).num_seconds().max(0)),
                watermark,
                last_success_at: last_success,
                last_attempt_at: status.as_ref().and_then(|s| s.last_attempt_at),
                last_error: status.as_ref().and_then(|s| s.last_error.clone()),
                consecutive_failures: status.as_ref().map_or(0, |s| s.consecutive_failures),
                records_last_hour,
                demo: c.demo,
            });
        }
    }
    Ok(out)
}
