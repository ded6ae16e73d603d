//! The events REST API, in the shape of the Python AOC so its scripts keep working:
//! `GET /api/events`, `GET /api/events/{id}`, `GET /api/filter-options`,
//! `PATCH /api/events/{id}/tags`, `GET|POST /api/events/{id}/comments`; and what is new:
//! export, histogram, comment edit/delete, coverage and the audit trail.
//!
//! `{id}` in a URL is AOC's event id (`aoc_id` of a document, the `id` of the pages). For
//! Python AOC scripts a source record id (a document's `id` / `record_id`) is accepted in its
//! place; when several tenants hold that record id, `?tenant=` picks one (otherwise 409).
//! `services::DbEventService::resolve` is the one resolver.
//!
//! Every handler is an adapter: it checks the caller's permission, parses its input into a
//! validated type (`app::query`, `app::input`), calls one service method and answers a DTO;
//! errors are `{"error": {"code", "message"}}`.

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRef, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use app::auth::Permission;
use app::dto::{AuditPage, Comment, CoveragePage, FacetValue, Facets, Histogram, TagInfo};
use app::error::AppError;
use app::input::{
    parse_id, AuditTrailRequest, CommentText, CoverageRequest, EventRef, ExportFormat, ExportRequest, FacetSearch,
    HistogramRequest, TagChange,
};
use app::query::{EventFilter, PageRequest};
use app::services::EventService;

use super::ApiError;
use crate::auth::Authenticated;
use crate::services::events::{StoredDetail, StoredEvent};
use crate::services::{DbEventService, OversightService};
use crate::startup::AppState;

impl FromRef<AppState> for DbEventService {
    fn from_ref(state: &AppState) -> Self {
        DbEventService::new(state.db.clone())
    }
}

impl FromRef<AppState> for OversightService {
    fn from_ref(state: &AppState) -> Self {
        OversightService::new(state.db.clone())
    }
}

/// Paging parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–500, default 50.
    pub page_size: Option<String>,
}

/// An event in the AOC document shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiEvent {
    /// The source's record id (UAL `Id`, Graph `id`), as in the Python AOC; URLs accept it too.
    pub id: String,
    /// AOC's event id: the id of the detail, tag and comment URLs (and of the pages).
    pub aoc_id: i64,
    /// The source's record id (the same as `id`).
    pub record_id: String,
    pub tenant: String,
    /// `unified`, `directory`, `signin` or `intune`.
    pub source: String,
    pub content_type: Option<String>,
    /// When it happened (UTC, RFC 3339).
    pub timestamp: String,
    pub ingested_at: String,
    pub service: String,
    pub operation: String,
    pub result: String,
    pub severity: String,
    pub actor_display: Option<String>,
    pub actor: ApiActor,
    pub target_displays: Vec<String>,
    #[schema(value_type = Vec<Object>)]
    pub targets: Value,
    pub display_summary: String,
    pub dedupe_key: String,
    pub correlation_id: Option<String>,
    pub tags: Vec<String>,
    /// The watchlists its actor, app or address is on (in `GET /api/events`; absent when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub watchlists: Vec<String>,
    /// Why normalization failed (the raw record is kept).
    pub normalize_error: Option<String>,
    /// The record exactly as received (a JSON value; a string when it was not JSON).
    #[schema(value_type = Object)]
    pub raw: Value,
}

/// Who acted.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiActor {
    pub display: Option<String>,
    pub upn: Option<String>,
    pub app_id: Option<String>,
    /// The name of `app_id`, when known: Microsoft's first-party applications and the tenant's
    /// own (read from Graph `/servicePrincipals`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    pub ip: Option<String>,
}

impl ApiEvent {
    /// The document of a stored event (also what export sends).
    pub fn from_stored(e: StoredEvent) -> Self {
        let targets: Value = serde_json::from_str(&e.targets).unwrap_or(Value::Array(vec![]));
        let target_displays = targets
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|t| t.get("display").or_else(|| t.get("id")).and_then(Value::as_str))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let raw = e
            .raw
            .as_deref()
            .map(|r| serde_json::from_str(r).unwrap_or_else(|_| Value::String(r.to_string())))
            .unwrap_or(Value::Null);
        ApiEvent {
            id: e.record_id.clone(),
            aoc_id: e.id,
            record_id: e.record_id,
            tenant: e.tenant_id,
            source: e.source,
            content_type: e.content_type,
            timestamp: e.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            ingested_at: e.ingested_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            service: e.service,
            operation: e.operation,
            result: e.result,
            severity: app::dto::Severity::from_level(e.severity).as_str().to_string(),
            actor_display: e.actor_display.clone().or_else(|| e.actor_upn.clone()).or_else(|| e.actor_app_id.clone()),
            actor: ApiActor {
                app_name: e.actor_app_id.as_deref().and_then(app::appnames::name_of).map(str::to_string),
                display: e.actor_display,
                upn: e.actor_upn,
                app_id: e.actor_app_id,
                ip: e.actor_ip,
            },
            target_displays,
            targets,
            display_summary: e.summary,
            dedupe_key: e.dedupe_key,
            correlation_id: e.correlation_id,
            tags: e.tags,
            watchlists: Vec::new(),
            normalize_error: e.normalize_error,
            raw,
        }
    }
}

/// A page of events.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiEventPage {
    pub items: Vec<ApiEvent>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

/// One event with everything known about it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiEventDetail {
    #[serde(flatten)]
    pub event: ApiEvent,
    /// Flattened name/value fields.
    pub flattened: BTreeMap<String, String>,
    pub tag_details: Vec<TagInfo>,
    pub comments: Vec<Comment>,
    /// Same correlation id, or same actor within an hour (without raw records).
    pub related: Vec<ApiEvent>,
    /// The alerts the event is part of, newest first (at most 20).
    pub alerts: Vec<app::dto::EventAlert>,
}

/// The error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiErrorBody {
    pub error: ApiErrorDetail,
}

/// A stable code and a message.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiErrorDetail {
    /// unauthenticated, forbidden, not_found, invalid_input, conflict, unavailable, internal
    pub code: String,
    pub message: String,
}

impl From<StoredDetail> for ApiEventDetail {
    fn from(d: StoredDetail) -> Self {
        let flattened = d.flattened();
        ApiEventDetail {
            event: ApiEvent::from_stored(d.event),
            flattened,
            tag_details: d.tags,
            comments: d.comments,
            related: d.related.into_iter().map(ApiEvent::from_stored).collect(),
            alerts: d.alerts,
        }
    }
}

fn query_error(e: QueryRejection) -> ApiError {
    AppError::invalid_input("query", e.body_text()).into()
}

pub(crate) fn json_error(e: JsonRejection) -> ApiError {
    AppError::invalid_input("body", e.body_text()).into()
}

/// `GET /api/events`: events matching the filters, newest first.
#[utoipa::path(get, path = "/api/events", tag = "events",
    params(EventFilter, PageParams),
    responses((status = 200, body = ApiEventPage), (status = 400, body = ApiErrorBody), (status = 403, body = ApiErrorBody)))]
pub async fn list_events(
    State(events): State<DbEventService>,
    caller: Authenticated,
    filter: Result<Query<EventFilter>, QueryRejection>,
    page: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<ApiEventPage>, ApiError> {
    caller.require(Permission::ViewEvents)?;
    let Query(filter) = filter.map_err(query_error)?;
    let Query(page) = page.map_err(query_error)?;
    let page = PageRequest::parse(page.cursor.as_deref(), page.page_size.as_deref())?;
    let query = filter.validate()?;
    let result = events.search(&query, page, true).await?;
    let ids: Vec<i64> = result.items.iter().map(|e| e.id).collect();
    let mut on = events.watchlists_of(&ids).await?;
    let names = events.app_names(result.items.iter().filter_map(|e| e.actor_app_id.as_deref())).await?;
    Ok(Json(ApiEventPage {
        items: result
            .items
            .into_iter()
            .map(|e| {
                let watchlists = on.remove(&e.id).unwrap_or_default();
                let mut event = ApiEvent { watchlists, ..ApiEvent::from_stored(e) };
                event.actor.app_name = event.actor.app_id.as_deref().and_then(|id| names.name(id));
                event
            })
            .collect(),
        next_cursor: result.next_cursor.map(|c| c.encode()),
    }))
}

/// Which tenant's record, when a source record id is given and ids collide.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TenantParam {
    /// Tenant id; needed only when `{id}` is a source record id that two tenants hold.
    pub tenant: Option<String>,
}

/// The event a path and `?tenant=` name.
fn event_ref(id: &str, tenant: Result<Query<TenantParam>, QueryRejection>) -> Result<EventRef, ApiError> {
    let Query(tenant) = tenant.map_err(query_error)?;
    Ok(EventRef::parse(id, tenant.tenant.as_deref())?)
}

/// `GET /api/events/{id}`: one event with flattened fields, tags, comments and related events.
#[utoipa::path(get, path = "/api/events/{id}", tag = "events",
    params(("id" = String, Path, description = "AOC's event id (`aoc_id`), or a source record id"), TenantParam),
    responses((status = 200, body = ApiEventDetail), (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn get_event(
    State(events): State<DbEventService>,
    caller: Authenticated,
    Path(id): Path<String>,
    tenant: Result<Query<TenantParam>, QueryRejection>,
) -> Result<Json<ApiEventDetail>, ApiError> {
    caller.require(Permission::ViewEvents)?;
    let event = event_ref(&id, tenant)?;
    let mut detail: ApiEventDetail = events.detail(&event).await?.into();
    let ids = std::iter::once(&detail.event).chain(&detail.related).filter_map(|e| e.actor.app_id.as_deref());
    let names = events.app_names(ids).await?;
    for e in std::iter::once(&mut detail.event).chain(detail.related.iter_mut()) {
        e.actor.app_name = e.actor.app_id.as_deref().and_then(|id| names.name(id));
    }
    Ok(Json(detail))
}

/// A tag change: `tags` replaces the set; otherwise `add` and `remove` change it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagChangeBody {
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub add: Vec<String>,
    #[serde(default)]
    pub remove: Vec<String>,
}

/// The tags of an event after a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagsResponse {
    /// The source's record id.
    pub id: String,
    /// AOC's event id.
    pub aoc_id: i64,
    pub tags: Vec<String>,
    pub tag_details: Vec<TagInfo>,
}

/// `PATCH /api/events/{id}/tags`.
#[utoipa::path(patch, path = "/api/events/{id}/tags", tag = "events",
    params(("id" = String, Path, description = "AOC's event id (`aoc_id`), or a source record id"), TenantParam),
    request_body = TagChangeBody,
    responses((status = 200, body = TagsResponse), (status = 400, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub async fn patch_tags(
    State(events): State<DbEventService>,
    caller: Authenticated,
    Path(id): Path<String>,
    tenant: Result<Query<TenantParam>, QueryRejection>,
    body: Result<Json<TagChangeBody>, JsonRejection>,
) -> Result<Json<TagsResponse>, ApiError> {
    let caller = caller.require(Permission::TagEvents)?;
    let event = event_ref(&id, tenant)?;
    let Json(body) = body.map_err(json_error)?;
    let change = TagChange::parse(body.tags.as_deref(), &body.add, &body.remove)?;
    let tagged = events.retag(&caller, &event, &change).await?;
    Ok(Json(TagsResponse {
        id: tagged.record_id,
        aoc_id: tagged.event_id,
        tags: tagged.tags.iter().map(|t| t.tag.clone()).collect(),
        tag_details: tagged.tags,
    }))
}

/// A new or edited comment.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CommentBody {
    /// 1–10,000 characters.
    pub body: String,
}

/// `GET /api/events/{id}/comments`.
#[utoipa::path(get, path = "/api/events/{id}/comments", tag = "events",
    params(("id" = String, Path, description = "AOC's event id (`aoc_id`), or a source record id"), TenantParam),
    responses((status = 200, body = Vec<Comment>), (status = 404, body = ApiErrorBody)))]
pub async fn list_comments(
    State(events): State<DbEventService>,
    caller: Authenticated,
    Path(id): Path<String>,
    tenant: Result<Query<TenantParam>, QueryRejection>,
) -> Result<Json<Vec<Comment>>, ApiError> {
    caller.require(Permission::ViewEvents)?;
    let event = event_ref(&id, tenant)?;
    Ok(Json(events.comments(&event).await?))
}

/// `POST /api/events/{id}/comments`: answers 201 with the comment.
#[utoipa::path(post, path = "/api/events/{id}/comments", tag = "events",
    params(("id" = String, Path, description = "AOC's event id (`aoc_id`), or a source record id"), TenantParam),
    request_body = CommentBody,
    responses((status = 201, body = Comment), (status = 400, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub async fn post_comment(
    State(events): State<DbEventService>,
    caller: Authenticated,
    Path(id): Path<String>,
    tenant: Result<Query<TenantParam>, QueryRejection>,
    body: Result<Json<CommentBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let caller = caller.require(Permission::CommentOnEvents)?;
    let event = event_ref(&id, tenant)?;
    let Json(body) = body.map_err(json_error)?;
    let text = CommentText::parse(&body.body)?;
    let comment = events.add_comment(&caller, event, text).await?;
    Ok((StatusCode::CREATED, Json(comment)).into_response())
}

/// `PATCH /api/events/{id}/comments/{comment_id}`: the author edits their comment.
#[utoipa::path(patch, path = "/api/events/{id}/comments/{comment_id}", tag = "events",
    params(("id" = String, Path), ("comment_id" = i64, Path), TenantParam),
    request_body = CommentBody,
    responses((status = 200, body = Comment), (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub async fn patch_comment(
    State(events): State<DbEventService>,
    caller: Authenticated,
    Path((id, comment_id)): Path<(String, String)>,
    tenant: Result<Query<TenantParam>, QueryRejection>,
    body: Result<Json<CommentBody>, JsonRejection>,
) -> Result<Json<Comment>, ApiError> {
    let caller = caller.require(Permission::CommentOnEvents)?;
    let event = event_ref(&id, tenant)?;
    let comment_id = parse_id("comment_id", &comment_id)?;
    let Json(body) = body.map_err(json_error)?;
    let text = CommentText::parse(&body.body)?;
    Ok(Json(events.edit_comment(&caller, event, comment_id, text).await?))
}

/// `DELETE /api/events/{id}/comments/{comment_id}` (administrators): answers 204.
#[utoipa::path(delete, path = "/api/events/{id}/comments/{comment_id}", tag = "events",
    params(("id" = String, Path), ("comment_id" = i64, Path), TenantParam),
    responses((status = 204), (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub async fn delete_comment(
    State(events): State<DbEventService>,
    caller: Authenticated,
    Path((id, comment_id)): Path<(String, String)>,
    tenant: Result<Query<TenantParam>, QueryRejection>,
) -> Result<StatusCode, ApiError> {
    let caller = caller.require(Permission::DeleteComments)?;
    let event = event_ref(&id, tenant)?;
    let comment_id = parse_id("comment_id", &comment_id)?;
    events.delete_comment(&caller, event, comment_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Filter options: the facets of the current filter, and their plain value lists.
#[derive(Debug, Serialize, ToSchema)]
pub struct FilterOptions {
    pub services: Vec<String>,
    pub operations: Vec<String>,
    pub results: Vec<String>,
    pub actors: Vec<String>,
    pub severities: Vec<String>,
    pub facets: Facets,
}

fn names(values: &[FacetValue]) -> Vec<String> {
    let mut names: Vec<String> = values.iter().map(|v| v.value.clone()).filter(|v| !v.is_empty()).collect();
    names.sort();
    names
}

/// `GET /api/filter-options`: distinct values (with counts) under the given filters.
#[utoipa::path(get, path = "/api/filter-options", tag = "events",
    params(EventFilter),
    responses((status = 200, body = FilterOptions), (status = 400, body = ApiErrorBody)))]
pub async fn filter_options(
    State(events): State<DbEventService>,
    caller: Authenticated,
    filter: Result<Query<EventFilter>, QueryRejection>,
) -> Result<Json<FilterOptions>, ApiError> {
    caller.require(Permission::ViewEvents)?;
    let Query(filter) = filter.map_err(query_error)?;
    let query = filter.validate()?;
    let facets = events.facets(query).await?;
    Ok(Json(FilterOptions {
        services: names(&facets.service),
        operations: names(&facets.operation),
        results: names(&facets.result),
        actors: names(&facets.actor),
        severities: names(&facets.severity),
        facets,
    }))
}

/// A search within one facet's values.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FacetSearchParams {
    /// `service`, `operation`, `result` or `actor`.
    pub field: Option<String>,
    /// Text the values contain (case-insensitive); an actor also matches by its app's name.
    pub contains: Option<String>,
}

/// The values of one facet.
#[derive(Debug, Serialize, ToSchema)]
pub struct FacetValueList {
    pub values: Vec<FacetValue>,
}

/// `GET /api/events/facet-values?field=actor&contains=adm&<the filters of GET /api/events>`:
/// the values of one facet containing a text, counted under every other filter (at most 100,
/// most frequent first).
#[utoipa::path(get, path = "/api/events/facet-values", tag = "events",
    params(FacetSearchParams, EventFilter),
    responses((status = 200, body = FacetValueList), (status = 400, body = ApiErrorBody)))]
pub async fn facet_values(
    State(events): State<DbEventService>,
    caller: Authenticated,
    search: Result<Query<FacetSearchParams>, QueryRejection>,
    filter: Result<Query<EventFilter>, QueryRejection>,
) -> Result<Json<FacetValueList>, ApiError> {
    caller.require(Permission::ViewEvents)?;
    let Query(search) = search.map_err(query_error)?;
    let Query(filter) = filter.map_err(query_error)?;
    let search = FacetSearch::parse(search.field.as_deref().unwrap_or(""), search.contains.as_deref().unwrap_or(""))?;
    let query = filter.validate()?;
    Ok(Json(FacetValueList { values: events.facet_values(query, search).await? }))
}

/// Histogram parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistogramParams {
    /// Bucket width: `1m`, `15m`, `1h`, `1d` ... (default: chosen for at most `buckets` buckets).
    pub interval: Option<String>,
    /// Most buckets when `interval` is not given: 1–1000, default 100.
    pub buckets: Option<String>,
}

/// `GET /api/events/histogram`: event counts over time under the filters.
#[utoipa::path(get, path = "/api/events/histogram", tag = "events",
    params(EventFilter, HistogramParams),
    responses((status = 200, body = Histogram), (status = 400, body = ApiErrorBody)))]
pub async fn histogram(
    State(events): State<DbEventService>,
    caller: Authenticated,
    filter: Result<Query<EventFilter>, QueryRejection>,
    params: Result<Query<HistogramParams>, QueryRejection>,
) -> Result<Json<Histogram>, ApiError> {
    caller.require(Permission::ViewEvents)?;
    let Query(filter) = filter.map_err(query_error)?;
    let Query(params) = params.map_err(query_error)?;
    let request = HistogramRequest::parse(filter.validate()?, params.interval.as_deref(), params.buckets.as_deref())?;
    Ok(Json(events.histogram(request).await?))
}

/// Export parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `csv` (default) or `jsonl`.
    pub format: Option<String>,
    /// Most events exported (default: all that match).
    pub limit: Option<String>,
}

/// CSV columns of an export.
const CSV_HEADER: [&str; 14] = [
    "id",
    "timestamp",
    "tenant",
    "source",
    "service",
    "operation",
    "result",
    "severity",
    "actor",
    "actor_ip",
    "targets",
    "summary",
    "tags",
    "dedupe_key",
];

/// A cell that a spreadsheet would read as a formula gets a leading `'` (tenant data is
/// attacker-controlled).
fn csv_cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

fn csv_rows(items: &[StoredEvent], header: bool) -> Bytes {
    let mut writer = csv::Writer::from_writer(Vec::with_capacity(items.len() * 256));
    if header {
        let _ = writer.write_record(CSV_HEADER);
    }
    for e in items {
        let row = [
            e.record_id.clone(),
            e.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            e.tenant_id.clone(),
            e.source.clone(),
            e.service.clone(),
            e.operation.clone(),
            e.result.clone(),
            app::dto::Severity::from_level(e.severity).as_str().to_string(),
            e.actor().unwrap_or_default(),
            e.actor_ip.clone().unwrap_or_default(),
            e.target_display.clone().unwrap_or_default(),
            e.summary.clone(),
            e.tags.join(";"),
            e.dedupe_key.clone(),
        ];
        let _ = writer.write_record(row.iter().map(|c| csv_cell(c)));
    }
    Bytes::from(writer.into_inner().unwrap_or_default())
}

fn jsonl_rows(items: Vec<StoredEvent>) -> Bytes {
    let mut out = Vec::with_capacity(items.len() * 1024);
    for e in items {
        if serde_json::to_writer(&mut out, &ApiEvent::from_stored(e)).is_ok() {
            out.push(b'\n');
        }
    }
    Bytes::from(out)
}

/// `GET /api/events/export`: every matching event as CSV or JSON lines, newest first, streamed
/// page by page (memory does not grow with the result).
#[utoipa::path(get, path = "/api/events/export", tag = "events",
    params(EventFilter, ExportParams),
    responses((status = 200, description = "text/csv or application/x-ndjson"), (status = 400, body = ApiErrorBody)))]
pub async fn export(
    State(events): State<DbEventService>,
    caller: Authenticated,
    filter: Result<Query<EventFilter>, QueryRejection>,
    params: Result<Query<ExportParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let caller = caller.require(Permission::ViewEvents)?;
    let Query(filter) = filter.map_err(query_error)?;
    let Query(params) = params.map_err(query_error)?;
    let request = ExportRequest::parse(filter, params.format.as_deref(), params.limit.as_deref(), chrono::Utc::now())?;
    let format = request.format;
    let pages = events.export(&caller, request).await?;
    let stream = futures_util::stream::unfold((pages, true), move |(mut pages, first)| async move {
        match pages.next_page().await {
            Ok(None) => None,
            Ok(Some(items)) => {
                let bytes = match format {
                    ExportFormat::Jsonl => jsonl_rows(items),
                    ExportFormat::Csv => csv_rows(&items, first),
                };
                Some((Ok::<Bytes, std::io::Error>(bytes), (pages, false)))
            }
            // The status line is gone; cut the stream so the client sees an incomplete transfer
            // instead of a silently short file.
            Err(e) => Some((Err(std::io::Error::other(e.message)), (pages, false))),
        }
    });
    let (content_type, extension) = match format {
        ExportFormat::Jsonl => ("application/x-ndjson", "jsonl"),
        ExportFormat::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    let filename = format!("aoc-events-{}.{extension}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"));
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Coverage parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CoverageParams {
    pub tenant: Option<String>,
    pub source: Option<String>,
    /// `planned`, `done`, `failed` or `parked`.
    pub state: Option<String>,
    /// Only windows starting at or after this time (RFC 3339 or date).
    pub start: Option<String>,
    /// Show windows before this window id (paging).
    pub before: Option<String>,
    /// 1–1000, default 200.
    pub page_size: Option<String>,
}

/// `GET /api/coverage`: the coverage ledger, per (tenant, source, content type, window).
#[utoipa::path(get, path = "/api/coverage", tag = "collection",
    params(CoverageParams),
    responses((status = 200, body = CoveragePage), (status = 400, body = ApiErrorBody)))]
pub async fn coverage(
    State(oversight): State<OversightService>,
    caller: Authenticated,
    params: Result<Query<CoverageParams>, QueryRejection>,
) -> Result<Json<CoveragePage>, ApiError> {
    caller.require(Permission::ViewEvents)?;
    let Query(p) = params.map_err(query_error)?;
    let request = CoverageRequest::parse(
        p.tenant.as_deref(),
        p.source.as_deref(),
        p.state.as_deref(),
        p.start.as_deref(),
        p.before.as_deref(),
        p.page_size.as_deref(),
    )?;
    Ok(Json(oversight.coverage(&request).await?))
}

/// Audit-trail parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Entries before this id (paging).
    pub before: Option<String>,
    /// Only entries about this kind of target (`event`, `tenant`, `events`...).
    pub target_kind: Option<String>,
    /// With `target_kind`: only this target.
    pub target_id: Option<String>,
    /// 1–500, default 100.
    pub page_size: Option<String>,
}

/// `GET /api/audit-trail` (administrators): who changed what in AOC, newest first.
#[utoipa::path(get, path = "/api/audit-trail", tag = "audit",
    params(AuditParams),
    responses((status = 200, body = AuditPage), (status = 403, body = ApiErrorBody)))]
pub async fn audit_trail(
    State(oversight): State<OversightService>,
    caller: Authenticated,
    params: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    caller.require(Permission::ViewAuditTrail)?;
    let Query(p) = params.map_err(query_error)?;
    let request = AuditTrailRequest::parse(
        p.before.as_deref(),
        p.target_kind.as_deref(),
        p.target_id.as_deref(),
        p.page_size.as_deref(),
    )?;
    Ok(Json(oversight.audit_trail(&request).await?))
}
