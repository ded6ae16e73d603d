//! The investigation REST API: `GET /api/events/overview` (exact counts by service, operation,
//! result and actor over every event matching the filters of `GET /api/events`, with the newest
//! failures and samples as event documents) and `POST /api/events/summary` (a language model's
//! summary of the same result; 503 when none is configured).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use app::auth::Permission;
use app::dto::FacetValue;
use app::error::AppError;
use app::investigate::Summary;
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
#[utoipa::path(post, path = "/api/events/summary", tag = "events",
    request_body = SummaryBody,
    responses((status = 200, body = Summary), (status = 400, body = ApiErrorBody),
        (status = 503, description = "no language model configured, or it failed", body = ApiErrorBody)))]
pub async fn summary(
    State(service): State<DbInvestigationService>,
    caller: Authenticated,
    body: Result<Json<SummaryBody>, JsonRejection>,
) -> Result<Json<Summary>, ApiError> {
    let caller = caller.require(Permission::ViewEvents)?;
    let Json(body) = body.map_err(|e| AppError::invalid_input("body", e.body_text()))?;
    let query = body.filter.validate()?;
    Ok(Json(service.summary(&caller, &body.filter, &query).await?))
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
