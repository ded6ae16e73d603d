//! Reading and annotating events: [`app::services::EventService`] for the pages' server
//! functions, and the same service's methods for the REST API, so both answer the same for the
//! same filter. Here live the one resolver of the ids in URLs ([`DbEventService::resolve`]) and
//! the one builder of an event's detail ([`DbEventService::detail`]); the SQL is in
//! `store::query` and `store::annotations`.

use std::collections::BTreeMap;

use app::auth::Caller;
use app::dto::{
    Comment, EventCursor, EventDetail, EventPage, EventSummary, FacetValue, Facets, Histogram, Severity, TagInfo,
};
use app::error::{AppError, ErrorCode};
use app::input::{CommentText, EventRef, ExportFormat, ExportRequest, FacetSearch, HistogramRequest, TagChange};
use app::query::{EventQuery, PageRequest};
use sea_orm::DatabaseConnection;

use super::annotations::{audit, AnnotationService};
use super::db_failure;
use crate::store::query::EventStore;
pub use crate::store::query::{StoredEvent, StoredPage};

/// Facet values per field.
pub const FACET_LIMIT: u32 = 50;
/// Most values a facet search answers.
pub const FACET_SEARCH_LIMIT: u32 = 100;
/// Related events shown on a detail page.
pub const RELATED_LIMIT: u32 = 20;
/// Most alerts an event's detail lists.
pub const EVENT_ALERTS_LIMIT: u64 = 20;
/// Most flattened field names a table page offers as columns.
pub const FIELD_NAMES_LIMIT: usize = 1000;
/// Rows read per step of an export.
const EXPORT_PAGE: u32 = 500;

/// Reading and annotating events.
#[derive(Clone)]
pub struct DbEventService {
    db: DatabaseConnection,
    store: EventStore,
    annotations: AnnotationService,
}

/// Everything known about one event: the event with its raw record and flattened fields, its
/// tags with who set them, its comments and related events (without raw records).
#[derive(Clone, Debug)]
pub struct StoredDetail {
    pub event: StoredEvent,
    pub tags: Vec<TagInfo>,
    pub comments: Vec<Comment>,
    pub related: Vec<StoredEvent>,
    /// The event's entries in AOC's audit trail, newest first.
    pub history: Vec<app::dto::AuditEntry>,
    /// The alerts the event is part of, newest first.
    pub alerts: Vec<app::dto::EventAlert>,
}

impl StoredDetail {
    /// The flattened name/value fields, sorted by name.
    pub fn flattened(&self) -> BTreeMap<String, String> {
        self.event.flattened.as_deref().and_then(|f| serde_json::from_str(f).ok()).unwrap_or_default()
    }
}

/// An event's tags after a change, with the ids that name the event.
#[derive(Clone, Debug)]
pub struct TaggedEvent {
    /// AOC's event id.
    pub event_id: i64,
    pub record_id: String,
    pub tags: Vec<TagInfo>,
}

impl From<StoredEvent> for EventSummary {
    fn from(e: StoredEvent) -> Self {
        EventSummary {
            actor: e.actor(),
            actor_name: None,
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
            watchlists: Vec::new(),
            fields: Default::default(),
        }
    }
}

impl From<StoredDetail> for EventDetail {
    fn from(d: StoredDetail) -> Self {
        let flattened = d.flattened().into_iter().collect();
        let event = d.event;
        let raw_text = event.raw.clone().unwrap_or_default();
        let raw = serde_json::from_str::<serde_json::Value>(&raw_text)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or(raw_text);
        EventDetail {
            content_type: event.content_type.clone(),
            dedupe_key: event.dedupe_key.clone(),
            ingested_at: event.ingested_at,
            correlation_id: event.correlation_id.clone(),
            actor_upn: event.actor_upn.clone(),
            actor_app_id: event.actor_app_id.clone(),
            actor_app_name: None,
            normalize_error_message: event.normalize_error.clone(),
            flattened,
            raw,
            tags: d.tags,
            comments: d.comments,
            related: d.related.into_iter().map(EventSummary::from).collect(),
            history: d.history,
            alerts: d.alerts,
            event: event.into(),
        }
    }
}

/// The list of `facets` named `name` (one of `app::query::FACET_FIELDS`).
fn facet_list<'a>(facets: &'a mut Facets, name: &str) -> &'a mut Vec<app::dto::FacetValue> {
    match name {
        "service" => &mut facets.service,
        "operation" => &mut facets.operation,
        "result" => &mut facets.result,
        "actor" => &mut facets.actor,
        _ => &mut facets.severity,
    }
}

fn not_found() -> AppError {
    AppError::new(ErrorCode::NotFound, "no event has this id")
}

impl DbEventService {
    /// Names for the application ids among `values` (Microsoft's and the tenants' own).
    pub async fn app_names<'a>(
        &self,
        values: impl IntoIterator<Item = &'a str>,
    ) -> Result<super::app_names::AppNames, AppError> {
        super::app_names::AppNames::load(&self.db, values).await
    }

    /// Marks the watchlists each of `items` is on and names their applications.
    async fn mark_and_name(&self, items: &mut [EventSummary]) -> Result<(), AppError> {
        let ids: Vec<i64> = items.iter().map(|e| e.id).collect();
        let on = self.watchlists_of(&ids).await?;
        for item in items.iter_mut() {
            item.watchlists = on.get(&item.id).cloned().unwrap_or_default();
        }
        super::app_names::name_events(&self.db, items).await
    }

    /// For each of the events `ids`, the watchlists it is on (events on none are absent).
    pub async fn watchlists_of(&self, ids: &[i64]) -> Result<std::collections::HashMap<i64, Vec<String>>, AppError> {
        crate::store::watchlists::memberships(&self.db, ids).await.map_err(|e| db_failure("watchlists", e))
    }

    pub fn new(db: DatabaseConnection) -> Self {
        Self { store: EventStore::new(db.clone()), annotations: AnnotationService::new(db.clone()), db }
    }

    /// AOC's event id of the event `event` names: the one resolver of ids in URLs.
    ///
    /// [`EventRef::Aoc`] is taken as it is (what it names is checked by the operation that uses
    /// it). A REST path that is a number naming an event (of `tenant`, when given) is that event;
    /// otherwise the path is a source record id, looked up through the indexed dedupe keys: no
    /// match is 404, several (tenants) without `tenant` 409.
    pub async fn resolve(&self, event: &EventRef) -> Result<i64, AppError> {
        let (aoc_id, text, tenant) = match event {
            EventRef::Aoc(id) => return Ok(*id),
            EventRef::Path { aoc_id, text, tenant } => (*aoc_id, text, tenant.as_deref()),
        };
        if let Some(id) = aoc_id {
            let owner = self.store.tenant_of(id).await.map_err(|e| db_failure("resolve_event", e))?;
            if owner.is_some_and(|owner| tenant.is_none_or(|t| t == owner)) {
                return Ok(id);
            }
        }
        let ids = self.store.row_ids_for_record(text, tenant).await.map_err(|e| db_failure("resolve_event", e))?;
        match ids.as_slice() {
            [] => Err(not_found()),
            [id] => Ok(*id),
            _ => Err(AppError::new(
                ErrorCode::Conflict,
                "several tenants hold an event with this id: add ?tenant=<tenant id> to choose one",
            )),
        }
    }

    /// One page of events matching `query`, newest first; `with_raw` adds the raw records and
    /// flattened fields.
    pub async fn search(&self, query: &EventQuery, page: PageRequest, with_raw: bool) -> Result<StoredPage, AppError> {
        self.store.page(query, page.cursor, page.page_size, with_raw).await.map_err(|e| db_failure("list_events", e))
    }

    /// Everything known about one event: the one place an event's detail is assembled.
    pub async fn detail(&self, event: &EventRef) -> Result<StoredDetail, AppError> {
        let id = self.resolve(event).await?;
        let fail = |e| db_failure("event_detail", e);
        let event = self.store.by_row_id(id).await.map_err(fail)?.ok_or_else(not_found)?;
        let (related, tags, comments, history, alerts) = tokio::try_join!(
            self.store.related(&event, RELATED_LIMIT),
            self.annotations.tags(id),
            self.annotations.comments(id),
            self.annotations.history(id),
            crate::store::detection::event_alerts(&self.db, id, EVENT_ALERTS_LIMIT),
        )
        .map_err(fail)?;
        let alerts = alerts
            .into_iter()
            .map(|a| app::dto::EventAlert {
                id: a.id,
                title: a.title,
                rule: a.rule_name,
                severity: app::dto::Severity::from_level(a.severity).as_str().into(),
                status: a.status,
                hunting: a.hunting,
                last_seen: a.last_seen,
            })
            .collect();
        Ok(StoredDetail { event, tags, comments, related, history, alerts })
    }

    /// The comments of an event, oldest first.
    pub async fn comments(&self, event: &EventRef) -> Result<Vec<Comment>, AppError> {
        let id = self.resolve(event).await?;
        // A path was resolved to an existing event; AOC's id is checked here.
        if matches!(event, EventRef::Aoc(_))
            && self.store.tenant_of(id).await.map_err(|e| db_failure("comments", e))?.is_none()
        {
            return Err(not_found());
        }
        self.annotations.comments(id).await.map_err(|e| db_failure("comments", e))
    }

    /// Changes an event's tags; answers its tags afterwards and the ids that name it.
    pub async fn retag(&self, caller: &Caller, event: &EventRef, change: &TagChange) -> Result<TaggedEvent, AppError> {
        let id = self.resolve(event).await?;
        self.annotations.change_tags(caller, id, change).await.map_err(|e| e.into_app_error("change_tags"))
    }

    /// Starts an export: records it in the audit trail, then hands out the matching events page
    /// by page (memory does not grow with the result).
    pub async fn export(&self, caller: &Caller, request: ExportRequest) -> Result<ExportPages, AppError> {
        audit(
            &self.db,
            caller,
            "events.export",
            "events",
            None,
            serde_json::json!({ "format": request.format.as_str(), "filter": request.filter }),
            None,
        )
        .await
        .map_err(|e| db_failure("export", e))?;
        Ok(ExportPages {
            store: self.store.clone(),
            with_raw: request.format == ExportFormat::Jsonl,
            query: request.query,
            cursor: None,
            remaining: request.limit,
            done: false,
        })
    }
}

/// The pages of an export, newest events first.
pub struct ExportPages {
    store: EventStore,
    query: EventQuery,
    with_raw: bool,
    cursor: Option<EventCursor>,
    remaining: u64,
    done: bool,
}

impl ExportPages {
    /// The next page; `None` after the last.
    pub async fn next_page(&mut self) -> Result<Option<Vec<StoredEvent>>, AppError> {
        if self.done {
            return Ok(None);
        }
        let size = self.remaining.min(u64::from(EXPORT_PAGE)) as u32;
        let page = self.store.page(&self.query, self.cursor, size, self.with_raw).await.map_err(|e| {
            self.done = true;
            db_failure("export_stream", e)
        })?;
        self.remaining -= page.items.len() as u64;
        self.cursor = page.next_cursor;
        self.done = page.next_cursor.is_none() || self.remaining == 0;
        Ok(Some(page.items))
    }
}

#[async_trait::async_trait]
impl app::services::EventService for DbEventService {
    async fn list_events(&self, query: EventQuery, page: PageRequest) -> Result<EventPage, AppError> {
        let page = self.search(&query, page, false).await?;
        let mut items: Vec<EventSummary> = page.items.into_iter().map(EventSummary::from).collect();
        self.mark_and_name(&mut items).await?;
        Ok(EventPage { items, next_cursor: page.next_cursor.map(|c| c.encode()) })
    }

    async fn table_page(
        &self,
        query: EventQuery,
        page: PageRequest,
        fields: &[String],
    ) -> Result<(EventPage, Vec<String>), AppError> {
        let page = self
            .store
            .page_flattened(&query, page.cursor, page.page_size)
            .await
            .map_err(|e| db_failure("list_events", e))?;
        let mut names = std::collections::BTreeSet::new();
        let mut items = Vec::with_capacity(page.items.len());
        for event in page.items {
            let flattened: BTreeMap<String, String> =
                event.flattened.as_deref().and_then(|f| serde_json::from_str(f).ok()).unwrap_or_default();
            let mut item = EventSummary::from(event);
            item.fields = fields.iter().filter_map(|f| flattened.get(f).map(|v| (f.clone(), v.clone()))).collect();
            names.extend(flattened.into_keys());
            items.push(item);
        }
        self.mark_and_name(&mut items).await?;
        let names = names.into_iter().take(FIELD_NAMES_LIMIT).collect();
        Ok((EventPage { items, next_cursor: page.next_cursor.map(|c| c.encode()) }, names))
    }

    async fn facets(&self, query: EventQuery) -> Result<Facets, AppError> {
        let mut facets = self.store.facets(&query, FACET_LIMIT).await.map_err(|e| db_failure("facets", e))?;
        // A facet never filters itself: a field with a chosen value is counted again without
        // that choice, so its list still offers the other values (with the other filters on).
        for name in app::query::FACET_FIELDS {
            let Some(other) = query.without_facet(name) else { continue };
            let mut wider = self.store.facets(&other, FACET_LIMIT).await.map_err(|e| db_failure("facets", e))?;
            *facet_list(&mut facets, name) = std::mem::take(facet_list(&mut wider, name));
        }
        super::app_names::label_values(&self.db, &mut facets.actor).await?;
        Ok(facets)
    }

    async fn facet_values(&self, query: EventQuery, search: FacetSearch) -> Result<Vec<FacetValue>, AppError> {
        // Like the facet lists, a facet's values are counted without its own choice.
        let query = query.without_facet(search.field).unwrap_or(query);
        let mut values = self
            .store
            .facet_values(&query, search.field, &search.contains, FACET_SEARCH_LIMIT)
            .await
            .map_err(|e| db_failure("facet_values", e))?;
        if search.field == "actor" {
            super::app_names::label_values(&self.db, &mut values).await?;
        }
        Ok(values)
    }

    async fn histogram(&self, request: HistogramRequest) -> Result<Histogram, AppError> {
        self.store
            .histogram(&request.query, request.bucket_seconds, request.max_buckets)
            .await
            .map_err(|e| db_failure("histogram", e))
    }

    async fn event_detail(&self, event: EventRef) -> Result<EventDetail, AppError> {
        let mut detail: EventDetail = self.detail(&event).await?.into();
        super::app_names::name_detail(&self.db, &mut detail).await?;
        Ok(detail)
    }

    async fn change_tags(&self, caller: &Caller, event: EventRef, change: TagChange) -> Result<Vec<TagInfo>, AppError> {
        Ok(self.retag(caller, &event, &change).await?.tags)
    }

    async fn add_comment(&self, caller: &Caller, event: EventRef, body: CommentText) -> Result<Comment, AppError> {
        let id = self.resolve(&event).await?;
        self.annotations.add_comment(caller, id, body.as_str()).await.map_err(|e| e.into_app_error("add_comment"))
    }

    async fn edit_comment(
        &self,
        caller: &Caller,
        event: EventRef,
        comment_id: i64,
        body: CommentText,
    ) -> Result<Comment, AppError> {
        let id = self.resolve(&event).await?;
        self.annotations
            .edit_comment(caller, id, comment_id, body.as_str())
            .await
            .map_err(|e| e.into_app_error("edit_comment"))
    }

    async fn delete_comment(&self, caller: &Caller, event: EventRef, comment_id: i64) -> Result<(), AppError> {
        let id = self.resolve(&event).await?;
        self.annotations.delete_comment(caller, id, comment_id).await.map_err(|e| e.into_app_error("delete_comment"))
    }
}
