//! The caller's Events columns over HTTP: `GET|PUT /api/me/columns`. The same list the Events
//! page's column chooser edits; anyone who may view events has their own.

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

use app::auth::Permission;
use app::columns::{ColumnService, EventColumns};
use app::error::AppError;

use super::events::ApiErrorBody;
use super::ApiError;
use crate::auth::Authenticated;
use crate::services::columns::DbColumnService;

impl axum::extract::FromRef<crate::startup::AppState> for DbColumnService {
    fn from_ref(state: &crate::startup::AppState) -> Self {
        DbColumnService::new(state.db.clone())
    }
}

/// The columns to remember: normalized names (`severity`, `service`, `operation`, `actor`,
/// `result`, `summary`, `tenant`, `source`, `targets`, `ip`, `record_id`) or flattened field
/// names, in order, after the time; `null` goes back to the defaults.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnsBody {
    pub columns: Option<Vec<String>>,
}

/// `GET /api/me/columns`: the caller's Events columns.
#[utoipa::path(get, path = "/api/me/columns", tag = "events", responses((status = 200, body = EventColumns)))]
pub async fn get_columns(
    State(service): State<DbColumnService>,
    caller: Authenticated,
) -> Result<Json<EventColumns>, ApiError> {
    let caller = caller.require(Permission::ViewEvents)?;
    Ok(Json(service.event_columns(&caller).await?))
}

/// `PUT /api/me/columns`: remembers the caller's Events columns.
#[utoipa::path(put, path = "/api/me/columns", tag = "events", request_body = ColumnsBody,
    responses((status = 200, body = EventColumns), (status = 400, body = ApiErrorBody)))]
pub async fn put_columns(
    State(service): State<DbColumnService>,
    caller: Authenticated,
    body: Bytes,
) -> Result<Json<EventColumns>, ApiError> {
    let caller = caller.require(Permission::ViewEvents)?;
    let body: ColumnsBody = serde_json::from_slice(&body)
        .map_err(|e| AppError::invalid_input("body", format!("not a column list: {e}")))?;
    Ok(Json(service.set_event_columns(&caller, body.columns).await?))
}
