//! The investigation REST API: `GET /api/events/overview` (exact counts by service, operation,
//! result and actor over every event matching the filters of `GET /api/events`, with the newest
//! failures and samples as event documents) and `POST /api/events/summary` (a language model's
//! summary of the same result, whole or, with `Accept: text/event-stream`, streamed as
//! server-sent events; 503 when none is configured).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use app::auth::Permission;
use app::dto::FacetValue;
use app::error::AppError;
use app::investigate::{Summary, SummaryChunk};
use app::query::EventFilter;

use super::events::{ApiErrorBody, ApiEvent};
use super::ApiError;
use crate::auth::Authenticated;
use crate::services::DbInvestigationService;

/// Counts over every matching event, most frequent first (at most 50 values per dimension; the
/// rest is `total` less the listed counts), with examples.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiOverview {
    pub total: u64,
    pub by_service: Vec<FacetValue>,
    pub by_operation: Vec<FacetValue>,
    pub by_result: Vec<FacetValue>,
    pub by_actor: Vec<FacetValue>,
    /// The newest failed events (at most 10), raw records included.
    pub failures: Vec<ApiEvent>,
    /// The newest events (at most 50), raw records included.
    pub samples: Vec<ApiEvent>,
}

/// `GET /api/events/overview`: the overview of every event matching the filters.
#[utoipa::path(get, path = "/api/events/overview", tag = "events",
    params(EventFilter),
    responses((status = 200, body = ApiOverview), (status = 400, body = ApiErrorBody)))]
pub async fn overview(
    State(service): State<DbInvestigationService>,
    caller: Authenticated,
    filter: Result<Query<EventFilter>, QueryRejection>,
) -> Result<Json<ApiOverview>, ApiError> {
    caller.require(Permission::ViewEvents)?;
    let Query(filter) = filter.map_err(|e| AppError::invalid_input("query", e.body_text()))?;
    let query = filter.validate()?;
    let o = service.overview_of(&query, true).await?;
    Ok(Json(ApiOverview {
        total: o.counts.total,
        by_service: o.counts.by_service,
        by_operation: o.counts.by_operation,
        by_result: o.counts.by_result,
        by_actor: o.counts.by_actor,
        failures: o.failures.into_iter().map(ApiEvent::from_stored).collect(),
        samples: o.samples.into_iter().map(ApiEvent::from_stored).collect(),
    }))
}

/// What to summarise.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SummaryBody {
    /// The filters of `GET /api/events` (all optional).
    #[serde(default)]
    pub filter: EventFilter,
}

/// `POST /api/events/summary`: a language model's summary of the events matching the filter.
/// With `Accept: text/event-stream` the answer is streamed as server-sent events: `delta`
/// events (`{"text": …}`) as the model writes, then one `done` (the summary, as without
/// streaming) or one `error` (`{"error": {"code", "message"}}`).
#[utoipa::path(post, path = "/api/events/summary", tag = "events",
    request_body = SummaryBody,
    responses((status = 200, body = Summary, description = "the summary; with `Accept: text/event-stream`, \
        a stream of `delta`, then `done` or `error` events"), (status = 400, body = ApiErrorBody),
        (status = 503, description = "no language model configured, or it failed", body = ApiErrorBody)))]
pub async fn summary(
    State(service): State<DbInvestigationService>,
    caller: Authenticated,
    headers: HeaderMap,
    body: Result<Json<SummaryBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let caller = caller.require(Permission::ViewEvents)?;
    let Json(body) = body.map_err(|e| AppError::invalid_input("body", e.body_text()))?;
    let query = body.filter.validate()?;
    let streamed = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.split(',').any(|t| t.trim().starts_with("text/event-stream")));
    if !streamed {
        return Ok(Json(service.summary(&caller, &body.filter, &query).await?).into_response());
    }
    let chunks = service.summary_stream(&caller, &body.filter, &query).await?;
    let events = chunks.map(|chunk| {
        let event = match chunk {
            SummaryChunk::Delta(text) => Event::default().event("delta").json_data(serde_json::json!({ "text": text })),
            SummaryChunk::Done(summary) => Event::default().event("done").json_data(summary),
            SummaryChunk::Error(error) => {
                Event::default().event("error").json_data(serde_json::json!({ "error": error }))
            }
        };
        Ok::<_, std::convert::Infallible>(event.unwrap_or_else(|_| Event::default().event("error").data("{}")))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()).into_response())
}

/// Graph parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GraphParams {
    /// Most edges kept, the heaviest (1–1000, default 150).
    pub max_edges: Option<String>,
    /// `json` (default) or `graphml`.
    pub format: Option<String>,
    /// Node kinds to draw, comma-separated: `actor`, `operation`, `target`, `ip` (default all;
    /// without `operation`, actors link straight to targets).
    pub kinds: Option<String>,
}

/// `GET /api/events/graph`: who did what to what over every event matching the filters —
/// nodes (actors, operations, targets, IPs) and edges weighted by events, capped to the heaviest.
#[utoipa::path(get, path = "/api/events/graph", tag = "events",
    params(EventFilter, GraphParams),
    responses((status = 200, body = app::investigate::EntityGraph, description = "JSON, or GraphML with format=graphml"),
        (status = 400, body = ApiErrorBody)))]
pub async fn graph(
    State(service): State<DbInvestigationService>,
    caller: Authenticated,
    filter: Result<Query<EventFilter>, QueryRejection>,
    params: Result<Query<GraphParams>, QueryRejection>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    caller.require(Permission::ViewEvents)?;
    let Query(filter) = filter.map_err(|e| AppError::invalid_input("query", e.body_text()))?;
    let Query(params) = params.map_err(|e| AppError::invalid_input("query", e.body_text()))?;
    let cap = match params.max_edges.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => app::investigate::GRAPH_EDGES,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=app::investigate::MAX_GRAPH_EDGES).contains(n))
            .ok_or_else(|| AppError::invalid_input("max_edges", "must be a whole number from 1 to 1000"))?,
    };
    let graphml = match params.format.as_deref().map(str::trim).unwrap_or("json") {
        "" | "json" => false,
        "graphml" => true,
        _ => return Err(AppError::invalid_input("format", "expected json or graphml").into()),
    };
    let kinds = app::investigate::parse_graph_kinds(params.kinds.as_deref())?;
    let query = filter.validate()?;
    let graph = service.graph_of(&query, cap, &kinds).await?;
    Ok(if graphml {
        (
            [
                (axum::http::header::CONTENT_TYPE, "application/graphml+xml"),
                (axum::http::header::CONTENT_DISPOSITION, "attachment; filename=\"aoc-graph.graphml\""),
            ],
            crate::services::graph::graphml(&graph),
        )
            .into_response()
    } else {
        Json(graph).into_response()
    })
}

/// `GET /api/events/map`: where the events matching the filters come from — places (sign-in
/// coordinates, else the country, else the address through the IP database), how many events
/// could not be placed (private addresses apart), sign-ins from a country new for the person,
/// and impossible travel. Computed over the newest 100,000 matching events (`capped` says when
/// more matched).
#[utoipa::path(get, path = "/api/events/map", tag = "events",
    params(EventFilter),
    responses((status = 200, body = app::investigate::SignInMap), (status = 400, body = ApiErrorBody)))]
pub async fn map(
    State(service): State<DbInvestigationService>,
    caller: Authenticated,
    filter: Result<Query<EventFilter>, QueryRejection>,
) -> Result<Json<app::investigate::SignInMap>, ApiError> {
    caller.require(Permission::ViewEvents)?;
    let Query(filter) = filter.map_err(|e| AppError::invalid_input("query", e.body_text()))?;
    let query = filter.validate()?;
    Ok(Json(service.map_of(&query, app::investigate::MAP_EVENT_CAP).await?))
}
