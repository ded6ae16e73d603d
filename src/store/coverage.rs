//! Reading the coverage ledger (the collector writes it: `ingest::ledger`).

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::entities::coverage_windows;

/// Which windows to list.
#[derive(Clone, Debug, Default)]
pub struct WindowFilter<'a> {
    pub tenant: Option<&'a str>,
    pub source: Option<&'a str>,
    pub state: Option<&'a str>,
    /// Windows starting at or after this time.
    pub start: Option<DateTime<Utc>>,
    /// Windows with a smaller id (paging).
    pub before: Option<i64>,
}

/// Up to `limit` windows under `filter`, newest (highest id) first.
pub async fn windows(
    db: &impl ConnectionTrait,
    filter: &WindowFilter<'_>,
    limit: u32,
) -> Result<Vec<coverage_windows::Model>, DbErr> {
    use coverage_windows::Column;
    let mut select = coverage_windows::Entity::find();
    if let Some(tenant) = filter.tenant {
        select = select.filter(Column::TenantId.eq(tenant));
    }
    if let Some(source) = filter.source {
        select = select.filter(Column::Source.eq(source));
    }
    if let Some(state) = filter.state {
        select = select.filter(Column::State.eq(state));
    }
    if let Some(start) = filter.start {
        select = select.filter(Column::WindowStart.gte(start));
    }
    if let Some(before) = filter.before {
        select = select.filter(Column::Id.lt(before));
    }
    select.order_by_desc(Column::Id).limit(u64::from(limit)).all(db).await
}
