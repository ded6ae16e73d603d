//! The events REST API, in the shape of the Python AOC so its scripts keep working:
//! `GET /api/events`, `GET /api/events/{id}`, `GET /api/filter-options`,
//! `PATCH /api/events/{id}/tags`, `GET|POST /api/events/{id}/comments`; and what is new:
//! export, histogram, comment edit/delete, coverage and the audit trail.
//!
//! `{id}` is the source's record id (the `id` a list returns). When two tenants hold a record
//! with the same id, `?tenant=` picks one. Every handler checks the caller's permission and
//! answers errors as `{"error": {"code", "message"}}`.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use app::auth::Permission;
use app::dto::{AuditEntry, Comment, FacetValue, Facets, Histogram, TagInfo};
use app::error::{AppError, ErrorCode};
use app::query::{EventFilter, EventQuery, PageRequest};

use super::ApiError;
use crate::auth::Authenticated;
use crate::services::annotations::validate_comment;
use crate::services::query::{QueryService, StoredEvent};
use crate::services::{db_failure, parse_tags, DbEventService};

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
    /// The source's record id (UAL `Id`, Graph `id`); the detail, tag and comment URLs take it.
    pub id: String,
    /// AOC's own row id.
    pub aoc_id: i64,
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
    pub ip: Option<String>,
}

impl ApiEvent {
    fn from_stored(e: StoredEvent) -> Self {
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
            id: e.record_id,
            aoc_id: e.id,
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
            actor: ApiActor { display: e.actor_display, upn: e.actor_upn, app_id: e.actor_app_id, ip: e.actor_ip },
            target_displays,
            targets,
            display_summary: e.summary,
            dedupe_key: e.dedupe_key,
            correlation_id: e.correlation_id,
            tags: e.tags,
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
    pub flattened: HashMap<String, String>,
    pub tag_details: Vec<TagInfo>,
    pub comments: Vec<Comment>,
    /// Same correlation id, or same actor within an hour (without raw records).
    pub related: Vec<ApiEvent>,
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

fn query_error(e: QueryRejection) -> ApiError {
    AppError::invalid_input("query", e.body_text()).into()
}

fn json_error(e: JsonRejection) -> ApiError {
    AppError::invalid_input("body", e.body_text()).into()
}

fn parse(filter: &EventFilter) -> Result<EventQuery, ApiError> {
    Ok(filter.parse(chrono::Utc::now())?)
}

/// `GET /api/events`: events matching the filters, newest first.
#[utoipa::path(get, path = "/api/events", tag = "events",
    params(EventFilter, PageParams),
    responses((status = 200, body = ApiEventPage), (status = 400, body = ApiErrorBody), (status = 403, body = ApiErrorBody)))]
pub async fn list_events(
    State(db): State<DatabaseConnection>,
    caller: Authenticated,
    filter: Result<Query<EventFilter>, QueryRejection>,
    page: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<ApiEventPage>, ApiError> {
    caller.require(Permission::ViewEvents)?;
    let Query(filter) = filter.map_err(query_error)?;
    let Query(page) = page.map_err(query_error)?;
    let page = PageRequest::parse(page.cursor.as_deref(), page.page_size.as_deref())?;
    let query = parse(&filter)?;
    let result = QueryService::new(db)
        .page(&query, page.cursor, page.page_size, true)
        .await
        .map_err(|e| db_failure("api_list_events", e))?;
    Ok(Json(ApiEventPage {
        items: result.items.into_iter().map(ApiEvent::from_stored).collect(),
        next_cursor: result.next_cursor.map(|c| c.encode()),
    }))
}

/// Which tenant's record, when ids collide.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TenantParam {
    /// Tenant id; needed only when two tenants hold a record with the same id.
    pub tenant: Option<String>,
}

/// The row id of the event a URL names.
async fn resolve(db: &DatabaseConnection, record_id: &str, tenant: Option<&str>) -> Result<i64, ApiError> {
    if record_id.is_empty() || record_id.len() > 512 {
        return Err(AppError::invalid_input("id", "must be 1–512 characters").into());
    }
    let ids = QueryService::new(db.clone())
        .row_ids_for_record(record_id, tenant.map(str::trim).filter(|t| !t.is_empty()))
        .await
        .map_err(|e| db_failure("resolve_event", e))?;
    match ids.as_slice() {
        [] => Err(AppError::new(ErrorCode::NotFound, "no event has this id").into()),
        [id] => Ok(*id),
        _ => Err(AppError::new(
            ErrorCode::Conflict,
            "several tenants hold an event with this id: add ?tenant=<tenant id> to choose one",
        )
        .into()),
    }
}

/// `GET /api/events/{id}`: one event with flattened fields, tags, comments and related events.
#[utoipa::path(get, path = "/api/events/{id}", tag = "events",
    params(("id" = String, Path, description = "The source record id"), TenantParam),
    responses((status = 200, body = ApiEventDetail), (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn get_event(
    State(db): State<DatabaseConnection>,
    caller: Authenticated,
    Path(id): Path<String>,
    tenant: Result<Query<TenantParam>, QueryRejection>,
) -> Result<Json<ApiEventDetail>, ApiError> {
    caller.require(Permission::ViewEvents)?;
    let Query(tenant) = tenant.map_err(query_error)?;
    let row_id = resolve(&db, &id, tenant.tenant.as_deref()).await?;
    let service = DbEventService::new(db);
    let fail = |e| db_failure("api_get_event", e);
    let event = service
        .query
        .by_row_id(row_id)
        .await
        .map_err(fail)?
        .ok_or_else(|| ApiError(AppError::new(ErrorCode::NotFound, "no event has this id")))?;
    let related = service.query.related(&event, crate::services::RELATED_LIMIT).await.map_err(fail)?;
    let tag_details = service.annotations.tags(row_id).await.map_err(fail)?;
    let comments = service.annotations.comments(row_id).await.map_err(fail)?;
    let flattened = event.flattened.as_deref().and_then(|f| serde_json::from_str(f).ok()).unwrap_or_default();
    Ok(Json(ApiEventDetail {
        event: ApiEvent::from_stored(event),
        flattened,
        tag_details,
        comments,
        related: related.into_iter().map(ApiEvent::from_stored).collect(),
    }))
}

/// A tag change: `tags` replaces the set; otherwise `add` and `remove` change it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagChange {
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub add: Vec<String>,
    #[serde(default)]
    pub remove: Vec<String>,
}

/// The tags of an event after a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagsResponse {
    pub id: String,
    pub tags: Vec<String>,
    pub tag_details: Vec<TagInfo>,
}

/// `PATCH /api/events/{id}/tags`.
#[utoipa::path(patch, path = "/api/events/{id}/tags", tag = "events",
    params(("id" = String, Path, description = "The source record id"), TenantParam),
    request_body = TagChange,
    responses((status = 200, body = TagsResponse), (status = 400, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub async fn patch_tags(
    State(db): State<DatabaseConnection>,
    caller: Authenticated,
    Path(id): Path<String>,
    tenant: Result<Query<TenantParam>, QueryRejection>,
    body: Result<Json<TagChange>, JsonRejection>,
) -> Result<Json<TagsResponse>, ApiError> {
    let caller = caller.require(Permission::TagEvents)?;
    let Query(tenant) = tenant.map_err(query_error)?;
    let Json(change) = body.map_err(json_error)?;
    if change.tags.is_none() && change.add.is_empty() && change.remove.is_empty() {
        return Err(AppError::invalid_input("body", "give `tags` (the new set) or `add` / `remove`").into());
    }
    let replace = change.tags.as_deref().map(|t| parse_tags("tags", t)).transpose()?;
    let add = parse_tags("add", &change.add)?;
    let remove = parse_tags("remove", &change.remove)?;
    let row_id = resolve(&db, &id, tenant.tenant.as_deref()).await?;
    let tags = DbEventService::new(db)
        .annotations
        .change_tags(&caller, row_id, &add, &remove, replace.as_deref())
        .await
        .map_err(|e| ApiError(e.into_app_error("api_patch_tags")))?;
    Ok(Json(TagsResponse { id, tags: tags.iter().map(|t| t.tag.clone()).collect(), tag_details: tags }))
}

/// A new or edited comment.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CommentBody {
    /// 1–10,000 characters.
    pub body: String,
}

/// `GET /api/events/{id}/comments`.
#[utoipa::path(get, path = "/api/events/{id}/comments", tag = "events",
    params(("id" = String, Path, description = "The source record id"), TenantParam),
    responses((status = 200, body = Vec<Comment>), (status = 404, body = ApiErrorBody)))]
pub async fn list_comments(
    State(db): State<DatabaseConnection>,
    caller: Authenticated,
    Path(id): Path<String>,
    tenant: Result<Query<TenantParam>, QueryRejection>,
) -> Result<Json<Vec<Comment>>, ApiError> {
    caller.require(Permission::ViewEvents)?;
    let Query(tenant) = tenant.map_err(query_error)?;
    let row_id = resolve(&db, &id, tenant.tenant.as_deref()).await?;
    let comments =
        DbEventService::new(db).annotations.comments(row_id).await.map_err(|e| db_failure("api_comments", e))?;
    Ok(Json(comments))
}

/// `POST /api/events/{id}/comments`: answers 201 with the comment.
#[utoipa::path(post, path = "/api/events/{id}/comments", tag = "events",
    params(("id" = String, Path, description = "The source record id"), TenantParam),
    request_body = CommentBody,
    responses((status = 201, body = Comment), (status = 400, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub async fn post_comment(
    State(db): State<DatabaseConnection>,
    caller: Authenticated,
    Path(id): Path<String>,
    tenant: Result<Query<TenantParam>, QueryRejection>,
    body: Result<Json<CommentBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let caller = caller.require(Permission::CommentOnEvents)?;
    let Query(tenant) = tenant.map_err(query_error)?;
    let Json(body) = body.map_err(json_error)?;
    let text = validate_comment(&body.body)?;
    let row_id = resolve(&db, &id, tenant.tenant.as_deref()).await?;
    let comment = DbEventService::new(db)
        .annotations
        .add_comment(&caller, row_id, &text)
        .await
        .map_err(|e| ApiError(e.into_app_error("api_add_comment")))?;
    Ok((StatusCode::CREATED, Json(comment)).into_response())
}

/// `PATCH /api/events/{id}/comments/{comment_id}`: the author edits their comment.
#[utoipa::path(patch, path = "/api/events/{id}/comments/{comment_id}", tag = "events",
    params(("id" = String, Path), ("comment_id" = i64, Path), TenantParam),
    request_body = CommentBody,
    responses((status = 200, body = Comment), (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub async fn patch_comment(
    State(db): State<DatabaseConnection>,
    caller: Authenticated,
    Path((id, comment_id)): Path<(String, String)>,
    tenant: Result<Query<TenantParam>, QueryRejection>,
    body: Result<Json<CommentBody>, JsonRejection>,
) -> Result<Json<Comment>, ApiError> {
    let caller = caller.require(Permission::CommentOnEvents)?;
    let Query(tenant) = tenant.map_err(query_error)?;
    let comment_id = parse_comment_id(&comment_id)?;
    let Json(body) = body.map_err(json_error)?;
    let text = validate_comment(&body.body)?;
    let row_id = resolve(&db, &id, tenant.tenant.as_deref()).await?;
    let comment = DbEventService::new(db)
        .annotations
        .edit_comment(&caller, row_id, comment_id, &text)
        .await
        .map_err(|e| ApiError(e.into_app_error("api_edit_comment")))?;
    Ok(Json(comment))
}

/// `DELETE /api/events/{id}/comments/{comment_id}` (administrators): answers 204.
#[utoipa::path(delete, path = "/api/events/{id}/comments/{comment_id}", tag = "events",
    params(("id" = String, Path), ("comment_id" = i64, Path), TenantParam),
    responses((status = 204), (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub async fn delete_comment(
    State(db): State<DatabaseConnection>,
    caller: Authenticated,
    Path((id, comment_id)): Path<(String, String)>,
    tenant: Result<Query<TenantParam>, QueryRejection>,
) -> Result<StatusCode, ApiError> {
    let caller = caller.require(Permission::DeleteComments)?;
    let Query(tenant) = tenant.map_err(query_error)?;
    let comment_id = parse_comment_id(&comment_id)?;
    let row_id = resolve(&db, &id, tenant.tenant.as_deref()).await?;
    DbEventService::new(db)
        .annotations
        .delete_comment(&caller, row_id, comment_id)
        .await
        .map_err(|e| ApiError(e.into_app_error("api_delete_comment")))?;
    Ok(StatusCode::NO_CONTENT)
}

fn parse_comment_id(text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| AppError::invalid_input("comment_id", "must be a positive whole number").into())
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
    State(db): State<DatabaseConnection>,
    caller: Authenticated,
    filter: Result<Query<EventFilter>, QueryRejection>,
) -> Result<Json<FilterOptions>, ApiError> {
    caller.require(Permission::ViewEvents)?;
    let Query(filter) = filter.map_err(query_error)?;
    let query = parse(&filter)?;
    let facets = QueryService::new(db)
        .facets(&query, crate::services::FACET_LIMIT)
        .await
        .map_err(|e| db_failure("api_filter_options", e))?;
    Ok(Json(FilterOptions {
        services: names(&facets.service),
        operations: names(&facets.operation),
        results: names(&facets.result),
        actors: names(&facets.actor),
        severities: names(&facets.severity),
        facets,
    }))
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
    State(db): State<DatabaseConnection>,
    caller: Authenticated,
    filter: Result<Query<EventFilter>, QueryRejection>,
    params: Result<Query<HistogramParams>, QueryRejection>,
) -> Result<Json<Histogram>, ApiError> {
    caller.require(Permission::ViewEvents)?;
    let Query(filter) = filter.map_err(query_error)?;
    let Query(params) = params.map_err(query_error)?;
    let query = parse(&filter)?;
    let width = params
        .interval
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|i| {
            app::query::parse_last(i)
                .map(|d| d.num_seconds())
                .map_err(|_| AppError::invalid_input("interval", "expected a number followed by m, h or d, e.g. 1h"))
        })
        .transpose()?;
    let buckets = match params.buckets.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => 100,
        Some(b) => b
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| AppError::invalid_input("buckets", "must be a whole number from 1 to 1000"))?,
    };
    if let (Some(w), Some(s), Some(e)) = (width, query.start, query.end) {
        if (e - s).num_seconds() / w > 10_000 {
            return Err(
                AppError::invalid_input("interval", "too small for the time range (over 10,000 buckets)").into()
            );
        }
    }
    let histogram =
        QueryService::new(db).histogram(&query, width, buckets).await.map_err(|e| db_failure("api_histogram", e))?;
    Ok(Json(histogram))
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

/// Rows read per step of an export.
const EXPORT_PAGE: u32 = 500;

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
    State(db): State<DatabaseConnection>,
    caller: Authenticated,
    filter: Result<Query<EventFilter>, QueryRejection>,
    params: Result<Query<ExportParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let caller = caller.require(Permission::ViewEvents)?;
    let Query(filter) = filter.map_err(query_error)?;
    let Query(params) = params.map_err(query_error)?;
    let query = parse(&filter)?;
    let jsonl = match params.format.as_deref().map(str::trim).map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("csv") => false,
        Some("jsonl") | Some("ndjson") | Some("json") => true,
        Some(_) => return Err(AppError::invalid_input("format", "expected csv or jsonl").into()),
    };
    let limit = match params.limit.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => u64::MAX,
        Some(l) => l
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| AppError::invalid_input("limit", "must be a positive whole number"))?,
    };
    crate::services::annotations::audit(
        &db,
        &caller,
        "events.export",
        "events",
        None,
        serde_json::json!({ "format": if jsonl { "jsonl" } else { "csv" }, "filter": filter }),
        None,
    )
    .await
    .map_err(|e| db_failure("api_export", e))?;
    let service = QueryService::new(db);
    struct State {
        service: QueryService,
        query: EventQuery,
        cursor: Option<app::dto::EventCursor>,
        remaining: u64,
        first: bool,
        done: bool,
    }
    let start = State { service, query, cursor: None, remaining: limit, first: true, done: false };
    let stream = futures_util::stream::unfold(start, move |mut s| async move {
        if s.done {
            return None;
        }
        let size = EXPORT_PAGE.min(s.remaining.min(u64::from(EXPORT_PAGE)) as u32);
        match s.service.page(&s.query, s.cursor, size, jsonl).await {
            Ok(page) => {
                s.remaining -= page.items.len() as u64;
                s.cursor = page.next_cursor;
                s.done = page.next_cursor.is_none() || s.remaining == 0;
                let header = s.first;
                s.first = false;
                let bytes = if jsonl { jsonl_rows(page.items) } else { csv_rows(&page.items, header) };
                Some((Ok::<Bytes, std::io::Error>(bytes), s))
            }
            Err(e) => {
                // The status line is gone; cut the stream so the client sees an incomplete
                // transfer instead of a silently short file.
                let reference = db_failure("api_export_stream", e);
                s.done = true;
                Some((Err(std::io::Error::other(reference.message)), s))
            }
        }
    });
    let (content_type, extension) =
        if jsonl { ("application/x-ndjson", "jsonl") } else { ("text/csv; charset=utf-8", "csv") };
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

/// One coverage window.
#[derive(Debug, Serialize, ToSchema)]
pub struct CoverageWindow {
    pub id: i64,
    pub tenant: String,
    pub source: String,
    pub content_type: String,
    pub window_start: chrono::DateTime<chrono::Utc>,
    pub window_end: chrono::DateTime<chrono::Utc>,
    pub state: String,
    pub record_count: i64,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A page of coverage windows, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct CoveragePage {
    pub items: Vec<CoverageWindow>,
    /// Pass as `before` for the next page.
    pub next_before: Option<i64>,
}

fn optional_id(parameter: &str, text: Option<&str>) -> Result<Option<i64>, ApiError> {
    match text.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(t) => t
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| AppError::invalid_input(parameter, "must be a positive whole number").into()),
    }
}

fn bounded_page(text: Option<&str>, default: u32, max: u32) -> Result<u32, ApiError> {
    match text.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(t) => t.parse::<u32>().ok().filter(|n| (1..=max).contains(n)).ok_or_else(|| {
            AppError::invalid_input("page_size", format!("must be a whole number from 1 to {max}")).into()
        }),
    }
}

/// `GET /api/coverage`: the coverage ledger, per (tenant, source, content type, window).
#[utoipa::path(get, path = "/api/coverage", tag = "collection",
    params(CoverageParams),
    responses((status = 200, body = CoveragePage), (status = 400, body = ApiErrorBody)))]
pub async fn coverage(
    State(db): State<DatabaseConnection>,
    caller: Authenticated,
    params: Result<Query<CoverageParams>, QueryRejection>,
) -> Result<Json<CoveragePage>, ApiError> {
    caller.require(Permission::ViewEvents)?;
    let Query(params) = params.map_err(query_error)?;
    let before = optional_id("before", params.before.as_deref())?;
    let page_size = bounded_page(params.page_size.as_deref(), 200, 1000)?;
    let mut sql = crate::services::query::Sql::new(
        db.get_database_backend(),
        "SELECT id, tenant_id, source, content_type, window_start, window_end, state, record_count, attempts, \
         last_error, updated_at FROM coverage_windows WHERE 1=1",
    );
    if let Some(t) = params.tenant.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let p = sql.bind(t.to_string());
        sql.push(&format!(" AND tenant_id = {p}"));
    }
    if let Some(s) = params.source.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        if crate::normalize::Source::parse(s).is_none() {
            return Err(AppError::invalid_input("source", "expected unified, directory, signin or intune").into());
        }
        let p = sql.bind(s.to_string());
        sql.push(&format!(" AND source = {p}"));
    }
    if let Some(s) = params.state.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        if !["planned", "done", "failed", "parked"].contains(&s) {
            return Err(AppError::invalid_input("state", "expected planned, done, failed or parked").into());
        }
        let p = sql.bind(s.to_string());
        sql.push(&format!(" AND state = {p}"));
    }
    if let Some(s) = params.start.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let p = sql.bind(app::query::parse_time("start", s)?);
        sql.push(&format!(" AND window_start >= {p}"));
    }
    if let Some(b) = before {
        let p = sql.bind(b);
        sql.push(&format!(" AND id < {p}"));
    }
    sql.push(&format!(" ORDER BY id DESC LIMIT {}", page_size + 1));
    let rows = db.query_all(sql.statement()).await.map_err(|e| db_failure("api_coverage", e))?;
    let mut items = Vec::with_capacity(rows.len());
    for r in &rows {
        let window = (|| -> Result<CoverageWindow, sea_orm::DbErr> {
            Ok(CoverageWindow {
                id: r.try_get("", "id")?,
                tenant: r.try_get("", "tenant_id")?,
                source: r.try_get("", "source")?,
                content_type: r.try_get("", "content_type")?,
                window_start: r.try_get("", "window_start")?,
                window_end: r.try_get("", "window_end")?,
                state: r.try_get("", "state")?,
                record_count: r.try_get("", "record_count")?,
                attempts: r.try_get("", "attempts")?,
                last_error: r.try_get("", "last_error")?,
                updated_at: r.try_get("", "updated_at")?,
            })
        })()
        .map_err(|e| db_failure("api_coverage", e))?;
        items.push(window);
    }
    let next_before = if items.len() > page_size as usize {
        items.truncate(page_size as usize);
        items.last().map(|w| w.id)
    } else {
        None
    };
    Ok(Json(CoveragePage { items, next_before }))
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

/// A page of audit-trail entries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    pub next_before: Option<i64>,
}

/// `GET /api/audit-trail` (administrators): who changed what in AOC, newest first.
#[utoipa::path(get, path = "/api/audit-trail", tag = "audit",
    params(AuditParams),
    responses((status = 200, body = AuditPage), (status = 403, body = ApiErrorBody)))]
pub async fn audit_trail(
    State(db): State<DatabaseConnection>,
    caller: Authenticated,
    params: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    caller.require(Permission::ViewAuditTrail)?;
    let Query(params) = params.map_err(query_error)?;
    let before = optional_id("before", params.before.as_deref())?;
    let page_size = bounded_page(params.page_size.as_deref(), 100, 500)?;
    let kind = params.target_kind.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let target_id = params.target_id.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if kind.is_none() && target_id.is_some() {
        return Err(AppError::invalid_input("target_kind", "needed with `target_id`").into());
    }
    let mut items = DbEventService::new(db)
        .annotations
        .audit_trail(before, kind, target_id, page_size + 1)
        .await
        .map_err(|e| db_failure("api_audit_trail", e))?;
    let next_before = if items.len() > page_size as usize {
        items.truncate(page_size as usize);
        items.last().map(|e| e.id)
    } else {
        None
    };
    Ok(Json(AuditPage { items, next_before }))
}
