//! [`app::services::EventService`] over the database: the query service for reading, the
//! annotation service for tags and comments.

use app::auth::Caller;
use app::dto::{Comment, EventDetail, EventPage, EventSummary, Facets, Histogram, Severity, TagInfo};
use app::error::{AppError, ErrorCode};
use app::query::{EventFilter, PageRequest};

use super::annotations::{validate_comment, AnnotationService};
use super::db_failure;
use super::query::{QueryService, StoredEvent};

/// Facet values per field.
pub const FACET_LIMIT: u32 = 50;
/// Histogram buckets at most.
pub const HISTOGRAM_BUCKETS: u32 = 100;
/// Related events shown on a detail page.
pub const RELATED_LIMIT: u32 = 20;

/// Reading and annotating events.
#[derive(Clone)]
pub struct DbEventService {
    pub query: QueryService,
    pub annotations: AnnotationService,
}

impl DbEventService {
    pub fn new(db: sea_orm::DatabaseConnection) -> Self {
        Self { query: QueryService::new(db.clone()), annotations: AnnotationService::new(db) }
    }
}

impl From<StoredEvent> for EventSummary {
    fn from(e: StoredEvent) -> Self {
        EventSummary {
            actor: e.actor(),
            id: e.id,
            record_id: e.record_id,
            tenant_id: e.tenant_id,
            source: e.source,
            occurred_at: e.occurred_at,
            service: e.service,
            operation: e.operation,
            result: e.result,
            actor_ip: e.actor_ip,
            targets: e.target_display,
            summary: e.summary,
            severity: Severity::from_level(e.severity),
            normalize_error: e.normalize_error.is_some(),
            tags: e.tags,
        }
    }
}

fn not_found() -> AppError {
    AppError::new(ErrorCode::NotFound, "the event does not exist")
}

/// Validates a list of tags as sent by a client.
pub fn parse_tags(parameter: &str, tags: &[String]) -> Result<Vec<String>, AppError> {
    tags.iter()
        .map(|t| app::dto::normalize_tag(t).map_err(|problem| AppError::invalid_input(parameter, problem)))
        .collect()
}

#[async_trait::async_trait]
impl app::services::EventService for DbEventService {
    async fn list_events(&self, filter: EventFilter, page: PageRequest) -> Result<EventPage, AppError> {
        let query = filter.parse(chrono::Utc::now())?;
        let page = self
            .query
            .page(&query, page.cursor, page.page_size, false)
            .await
            .map_err(|e| db_failure("list_events", e))?;
        Ok(EventPage {
            items: page.items.into_iter().map(EventSummary::from).collect(),
            next_cursor: page.next_cursor.map(|c| c.encode()),
        })
    }

    async fn facets(&self, filter: EventFilter) -> Result<Facets, AppError> {
        let query = filter.parse(chrono::Utc::now())?;
        self.query.facets(&query, FACET_LIMIT).await.map_err(|e| db_failure("facets", e))
    }

    async fn histogram(&self, filter: EventFilter) -> Result<Histogram, AppError> {
        let query = filter.parse(chrono::Utc::now())?;
        self.query.histogram(&query, None, HISTOGRAM_BUCKETS).await.map_err(|e| db_failure("histogram", e))
    }

    async fn event_detail(&self, id: i64) -> Result<EventDetail, AppError> {
        let event = self.query.by_row_id(id).await.map_err(|e| db_failure("event_detail", e))?.ok_or_else(not_found)?;
        let related = self.query.related(&event, RELATED_LIMIT).await.map_err(|e| db_failure("event_detail", e))?;
        let tags = self.annotations.tags(id).await.map_err(|e| db_failure("event_detail", e))?;
        let comments = self.annotations.comments(id).await.map_err(|e| db_failure("event_detail", e))?;
        let raw_text = event.raw.clone().unwrap_or_default();
        let raw = serde_json::from_str::<serde_json::Value>(&raw_text)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or(raw_text);
        let flattened: Vec<(String, String)> = event
            .flattened
            .as_deref()
            .and_then(|f| serde_json::from_str::<std::collections::BTreeMap<String, String>>(f).ok())
            .map(|m| m.into_iter().collect())
            .unwrap_or_default();
        Ok(EventDetail {
            content_type: event.content_type.clone(),
            dedupe_key: event.dedupe_key.clone(),
            ingested_at: event.ingested_at,
            correlation_id: event.correlation_id.clone(),
            actor_upn: event.actor_upn.clone(),
            actor_app_id: event.actor_app_id.clone(),
            normalize_error_message: event.normalize_error.clone(),
            flattened,
            raw,
            tags,
            comments,
            related: related.into_iter().map(EventSummary::from).collect(),
            event: event.into(),
        })
    }

    async fn change_tags(
        &self,
        caller: &Caller,
        id: i64,
        add: Vec<String>,
        remove: Vec<String>,
    ) -> Result<Vec<TagInfo>, AppError> {
        let add = parse_tags("add", &add)?;
        let remove = parse_tags("remove", &remove)?;
        self.annotations.change_tags(caller, id, &add, &remove, None).await.map_err(|e| e.into_app_error("change_tags"))
    }

    async fn add_comment(&self, caller: &Caller, id: i64, body: String) -> Result<Comment, AppError> {
        let body = validate_comment(&body)?;
        self.annotations.add_comment(caller, id, &body).await.map_err(|e| e.into_app_error("add_comment"))
    }

    async fn edit_comment(&self, caller: &Caller, id: i64, comment_id: i64, body: String) -> Result<Comment, AppError> {
        let body = validate_comment(&body)?;
        self.annotations.edit_comment(caller, id, comment_id, &body).await.map_err(|e| e.into_app_error("edit_comment"))
    }

    async fn delete_comment(&self, caller: &Caller, id: i64, comment_id: i64) -> Result<(), AppError> {
        self.annotations.delete_comment(caller, id, comment_id).await.map_err(|e| e.into_app_error("delete_comment"))
    }
}
