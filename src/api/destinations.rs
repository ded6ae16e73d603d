//! Export destinations over HTTP, for administrators (`ManageSettings`):
//! `GET|POST /api/destinations`, `GET|PUT|DELETE /api/destinations/{id}`,
//! `POST /api/destinations/{id}/test`, `GET /api/destinations/{id}/parked`,
//! `POST /api/destinations/{id}/retry`, `POST /api/destinations/{id}/backfill`.
//! Answers never carry a destination's secret.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use app::auth::Permission;
use app::error::AppError;

use super::ApiError;
use crate::auth::Authenticated;
use crate::export::input::{parse_destination, parse_time};
use crate::services::destinations::{Actor, DestinationService};

fn request_id(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-request-id").and_then(|v| v.to_str().ok())
}

fn parse_id(id: &str) -> Result<i64, ApiError> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| AppError::invalid_input("id", "must be a destination id").into())
}

fn object(body: &[u8]) -> Result<serde_json::Map<String, Value>, ApiError> {
    if body.is_empty() {
        return Ok(Default::default());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(AppError::invalid_input("body", "must be a JSON object").into()),
    }
}

/// `GET /api/destinations`: `{"destinations": [...]}`.
pub async fn list_destinations(
    State(service): State<Arc<DestinationService>>,
    caller: Authenticated,
) -> Result<Response, ApiError> {
    caller.require(Permission::ManageSettings)?;
    Ok(Json(json!({ "destinations": service.list().await? })).into_response())
}

/// `POST /api/destinations`: 201 with the destination.
pub async fn create_destination(
    State(service): State<Arc<DestinationService>>,
    caller: Authenticated,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let caller = caller.require(Permission::ManageSettings)?;
    let input = parse_destination(&body, true).map_err(AppError::from)?;
    let view = service.create(Actor { caller: &caller, request_id: request_id(&headers) }, input).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `GET /api/destinations/{id}`.
pub async fn get_destination(
    State(service): State<Arc<DestinationService>>,
    caller: Authenticated,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Permission::ManageSettings)?;
    Ok(Json(service.get(parse_id(&id)?).await?).into_response())
}

/// `PUT /api/destinations/{id}`: changes the fields given.
pub async fn update_destination(
    State(service): State<Arc<DestinationService>>,
    caller: Authenticated,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let caller = caller.require(Permission::ManageSettings)?;
    let id = parse_id(&id)?;
    let input = parse_destination(&body, false).map_err(AppError::from)?;
    let view = service.update(Actor { caller: &caller, request_id: request_id(&headers) }, id, input).await?;
    Ok(Json(view).into_response())
}

/// `DELETE /api/destinations/{id}`: 204; its queue goes with it.
pub async fn delete_destination(
    State(service): State<Arc<DestinationService>>,
    caller: Authenticated,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let caller = caller.require(Permission::ManageSettings)?;
    let id = parse_id(&id)?;
    service.delete(Actor { caller: &caller, request_id: request_id(&headers) }, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/destinations/{id}/test`: delivers one synthetic record; `{"delivered", "status", "answer"}`.
pub async fn test_destination(
    State(service): State<Arc<DestinationService>>,
    caller: Authenticated,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let caller = caller.require(Permission::ManageSettings)?;
    let id = parse_id(&id)?;
    let outcome = service.test(Actor { caller: &caller, request_id: request_id(&headers) }, id).await?;
    Ok(Json(outcome).into_response())
}

/// Paging of parked items.
#[derive(Debug, Default, Deserialize)]
pub struct ParkedParams {
    /// The last item id of the previous page.
    pub after: Option<String>,
    /// 1–500, default 100.
    pub limit: Option<String>,
}

/// `GET /api/destinations/{id}/parked`: `{"items": [...]}`, oldest first.
pub async fn list_parked(
    State(service): State<Arc<DestinationService>>,
    caller: Authenticated,
    Path(id): Path<String>,
    params: Result<Query<ParkedParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(Permission::ManageSettings)?;
    let id = parse_id(&id)?;
    let Query(params) = params.map_err(|e| AppError::invalid_input("query", e.body_text()))?;
    let after = match params.after.as_deref() {
        None | Some("") => 0,
        Some(a) => a.parse::<i64>().map_err(|_| AppError::invalid_input("after", "must be an item id"))?,
    };
    let limit = match params.limit.as_deref() {
        None | Some("") => 100,
        Some(l) => l
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| AppError::invalid_input("limit", "must be 1 to 500"))?,
    };
    let items = service.parked(id, after, limit).await?;
    Ok(Json(json!({ "items": items })).into_response())
}

/// `POST /api/destinations/{id}/retry`: `{"items": [ids]}` or `{}` for every parked item;
/// `{"requeued": n}`.
pub async fn retry_parked(
    State(service): State<Arc<DestinationService>>,
    caller: Authenticated,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let caller = caller.require(Permission::ManageSettings)?;
    let id = parse_id(&id)?;
    let map = object(&body)?;
    let ids = match map.get("items") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|v| v.as_i64().ok_or_else(|| AppError::invalid_input("items", "must be a list of item ids")))
                .collect::<Result<Vec<i64>, AppError>>()?,
        ),
        Some(_) => return Err(AppError::invalid_input("items", "must be a list of item ids").into()),
    };
    let n = service.retry(Actor { caller: &caller, request_id: request_id(&headers) }, id, ids).await?;
    Ok(Json(json!({ "requeued": n })).into_response())
}

/// `POST /api/destinations/{id}/backfill`: `{"from": RFC 3339}`; `{"queued": n}`.
pub async fn backfill(
    State(service): State<Arc<DestinationService>>,
    caller: Authenticated,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let caller = caller.require(Permission::ManageSettings)?;
    let id = parse_id(&id)?;
    let map = object(&body)?;
    let from = match map.get("from") {
        Some(Value::String(s)) => parse_time("from", s).map_err(AppError::from)?,
        _ => return Err(AppError::invalid_input("from", "is required: an RFC 3339 time").into()),
    };
    let n = service.backfill(Actor { caller: &caller, request_id: request_id(&headers) }, id, from).await?;
    Ok(Json(json!({ "queued": n })).into_response())
}
