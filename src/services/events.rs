//! Reading events: keyset pagination over (occurred_at, id), newest first.

use app::dto::{EventListRequest, EventPage, EventSummary, Severity};
use app::error::AppError;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
};

use super::db_failure;
use crate::store::entities::events::{Column, Entity};

/// [`app::services::EventService`] over the database.
pub struct DbEventService {
    db: DatabaseConnection,
}

impl DbEventService {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// The columns the list shows (the raw record and flattened fields stay in the database).
#[derive(FromQueryResult)]
struct Row {
    id: i64,
    record_id: String,
    tenant_id: String,
    source: String,
    occurred_at: chrono::DateTime<chrono::Utc>,
    service: String,
    operation: String,
    result: String,
    actor_display: Option<String>,
    actor_upn: Option<String>,
    actor_app_id: Option<String>,
    actor_ip: Option<String>,
    target_display: Option<String>,
    summary: String,
    severity: i16,
    has_error: bool,
}

impl From<Row> for EventSummary {
    fn from(r: Row) -> Self {
        EventSummary {
            id: r.id,
            record_id: r.record_id,
            tenant_id: r.tenant_id,
            source: r.source,
            occurred_at: r.occurred_at,
            service: r.service,
            operation: r.operation,
            result: r.result,
            actor: r.actor_display.or(r.actor_upn).or(r.actor_app_id),
            actor_ip: r.actor_ip,
            targets: r.target_display,
            summary: r.summary,
            severity: Severity::from_level(r.severity),
            normalize_error: r.has_error,
        }
    }
}

#[async_trait::async_trait]
impl app::services::EventService for DbEventService {
    async fn list_events(&self, request: EventListRequest) -> Result<EventPage, AppError> {
        let mut query = Entity::find()
            .select_only()
            .columns([
                Column::Id,
                Column::RecordId,
                Column::TenantId,
                Column::Source,
                Column::OccurredAt,
                Column::Service,
                Column::Operation,
                Column::Result,
                Column::ActorDisplay,
                Column::ActorUpn,
                Column::ActorAppId,
                Column::ActorIp,
                Column::TargetDisplay,
                Column::Summary,
                Column::Severity,
            ])
            .column_as(Column::NormalizeError.is_not_null(), "has_error")
            .order_by_desc(Column::OccurredAt)
            .order_by_desc(Column::Id)
            .limit(u64::from(request.page_size) + 1);
        if let Some(cursor) = request.cursor {
            query = query.filter(
                Condition::any()
                    .add(Column::OccurredAt.lt(cursor.occurred_at))
                    .add(Column::OccurredAt.eq(cursor.occurred_at).and(Column::Id.lt(cursor.id))),
            );
        }
        let mut rows: Vec<Row> =
            query.into_model::<Row>().all(&self.db).await.map_err(|e| db_failure("list_events", e))?;
        let next_cursor = if rows.len() > request.page_size as usize {
            rows.truncate(request.page_size as usize);
            rows.last().map(|last| app::dto::EventCursor { occurred_at: last.occurred_at, id: last.id }.encode())
        } else {
            None
        };
        Ok(EventPage { items: rows.into_iter().map(EventSummary::from).collect(), next_cursor })
    }
}
