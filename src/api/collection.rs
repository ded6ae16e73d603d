//! Collection over HTTP: `GET` and `POST /api/fetch-audit-logs` (an on-demand collection, admin
//! only; it starts or joins the one run per tenant and source),
//! `GET /api/source-health`, and the push endpoints Microsoft calls
//! (`POST /api/webhooks/graph`, `POST /api/webhooks/management`). A notification only schedules
//! a collection; polling stays the source of truth.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use app::auth::Permission;
use app::error::AppError;

use super::ApiError;
use crate::auth::Authenticated;
use crate::ingest::health::{source_health, Schedule};
use crate::ingest::Collector;
use crate::normalize::Source;

/// What the collection endpoints need.
#[derive(Clone)]
pub struct CollectionState {
    pub collector: Arc<Collector>,
    pub schedule: Schedule,
    /// Expected `clientState` of Graph notifications.
    pub graph_client_state: Option<String>,
    /// Expected `Webhook-AuthID` of Management Activity API notifications.
    pub management_auth_id: Option<String>,
}

/// `GET /api/fetch-audit-logs?hours=N` (default 168, at most 720): collects now and answers a
/// per-source summary. Kept for scripts; `POST` is the same.
pub async fn fetch_audit_logs(
    State(state): State<CollectionState>,
    caller: Authenticated,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    caller.require(Permission::RunCollection)?;
    run_fetch(&state, query.get("hours").map(String::as_str)).await
}

/// `POST /api/fetch-audit-logs` with `hours` in the query, a JSON body (`{"hours": 24}`) or a
/// form body (`hours=24`).
pub async fn post_fetch_audit_logs(
    State(state): State<CollectionState>,
    caller: Authenticated,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    caller.require(Permission::RunCollection)?;
    let mut hours = query.get("hours").cloned();
    if !body.iter().all(u8::is_ascii_whitespace) {
        let json = headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.to_ascii_lowercase().contains("json"));
        if json {
            let value: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|_| AppError::invalid_input("body", "is not a JSON object such as {\"hours\": 24}"))?;
            match value.get("hours") {
                None | Some(serde_json::Value::Null) => {}
                Some(serde_json::Value::String(h)) => hours = Some(h.clone()),
                Some(other) => hours = Some(other.to_string()),
            }
        } else if let Some((_, h)) = url::form_urlencoded::parse(&body).find(|(k, _)| k == "hours") {
            hours = Some(h.into_owned());
        }
    }
    run_fetch(&state, hours.as_deref()).await
}

/// Validates `hours` and runs (or joins) the collection of every source of every tenant.
async fn run_fetch(state: &CollectionState, hours: Option<&str>) -> Result<Response, ApiError> {
    let hours = match hours.map(|h| h.trim()) {
        None | Some("") => 168,
        Some(h) => match h.parse::<u32>() {
            Ok(n) if (1..=720).contains(&n) => n,
            Ok(_) => return Err(AppError::invalid_input("hours", "must be between 1 and 720").into()),
            Err(_) => return Err(AppError::invalid_input("hours", "must be a whole number of hours").into()),
        },
    };
    if state.collector.connectors().is_empty() {
        return Err(AppError::new(
            app::error::ErrorCode::Conflict,
            "no tenant is configured: set TENANT_ID, CLIENT_ID and CLIENT_SECRET (or a certificate)",
        )
        .into());
    }
    let summary = state.collector.collect_all(Some(hours), true).await;
    Ok(Json(summary).into_response())
}

/// `GET /api/source-health`.
pub async fn get_source_health(
    State(state): State<CollectionState>,
    caller: Authenticated,
) -> Result<Response, ApiError> {
    caller.require(Permission::ViewEvents)?;
    let health = source_health(&state.collector.db, &state.collector.connectors(), state.schedule)
        .await
        .map_err(|e| crate::services::db_failure("source_health", e))?;
    Ok(Json(json!({ "sources": health })).into_response())
}

fn schedule_collection(state: &CollectionState, tenant: Option<&str>, source: Source) {
    for c in state.collector.connectors() {
        if tenant.is_some_and(|t| !t.eq_ignore_ascii_case(&c.tenant_id)) {
            continue;
        }
        state.collector.request_collection(&c, source);
    }
}

/// `POST /api/webhooks/graph`: answers the validation handshake (echo `validationToken` as
/// text/plain) and accepts change notifications whose `clientState` matches.
pub async fn graph_webhook(
    State(state): State<CollectionState>,
    RawQuery(raw): RawQuery,
    body: axum::body::Bytes,
) -> Response {
    let token = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "validationToken")
        .map(|(_, v)| v.into_owned());
    if let Some(token) = token {
        // The token is echoed verbatim as plain text, never as HTML.
        return (StatusCode::OK, [("content-type", "text/plain; charset=utf-8")], token).into_response();
    }
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"code": "invalid_input", "message": "the body is not a change notification"}})),
        )
            .into_response();
    };
    let Some(items) = payload.get("value").and_then(|v| v.as_array()) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"code": "invalid_input", "message": "the body has no `value` array"}})),
        )
            .into_response();
    };
    let Some(expected) = state.graph_client_state.as_deref() else {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": {"code": "unauthenticated", "message": "Graph notifications are not configured (GRAPH_WEBHOOK_CLIENT_STATE)"}}))).into_response();
    };
    let authentic =
        !items.is_empty() && items.iter().all(|n| n.get("clientState").and_then(|c| c.as_str()) == Some(expected));
    if !authentic {
        tracing::warn!("rejected a Graph notification with a wrong clientState");
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"code": "unauthenticated", "message": "clientState does not match"}})),
        )
            .into_response();
    }
    for n in items {
        let tenant = n.get("tenantId").and_then(|t| t.as_str());
        // Directory changes are what Graph can notify about; collect the directory audit log.
        schedule_collection(&state, tenant, Source::Directory);
    }
    StatusCode::ACCEPTED.into_response()
}

/// `POST /api/webhooks/management`: answers the validation POST and accepts content
/// notifications whose `Webhook-AuthID` matches.
pub async fn management_webhook(
    State(state): State<CollectionState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if headers.contains_key("webhook-validationcode") {
        // Validation: 200 is all Microsoft needs; the AuthID is checked when configured.
        let ok = state
            .management_auth_id
            .as_deref()
            .is_none_or(|id| headers.get("webhook-authid").and_then(|v| v.to_str().ok()) == Some(id));
        return if ok { StatusCode::OK.into_response() } else { StatusCode::UNAUTHORIZED.into_response() };
    }
    let Some(expected) = state.management_auth_id.as_deref() else {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": {"code": "unauthenticated", "message": "Management API notifications are not configured (MANAGEMENT_WEBHOOK_AUTH_ID)"}}))).into_response();
    };
    if headers.get("webhook-authid").and_then(|v| v.to_str().ok()) != Some(expected) {
        tracing::warn!("rejected a Management API notification with a wrong Webhook-AuthID");
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"code": "unauthenticated", "message": "Webhook-AuthID does not match"}})),
        )
            .into_response();
    }
    let Ok(items) = serde_json::from_slice::<Vec<serde_json::Value>>(&body) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": {"code": "invalid_input", "message": "the body is not a list of content notifications"}}))).into_response();
    };
    let tenants: std::collections::BTreeSet<String> =
        items.iter().filter_map(|n| n.get("tenantId")?.as_str().map(str::to_string)).collect();
    for t in tenants {
        schedule_collection(&state, Some(&t), Source::Unified);
    }
    StatusCode::OK.into_response()
}
