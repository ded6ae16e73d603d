//! Saved searches over HTTP: `GET|POST /api/saved-searches`, `DELETE /api/saved-searches/{id}`.
//! Anyone who may view events lists (their own and the shared ones), saves and deletes their own;
//! an administrator may delete any.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

use app::auth::Permission;
use app::error::AppError;
use app::input::parse_id;
use app::query::EventFilter;
use app::saved::{SavedSearch, SavedSearchInput, SavedSearchService};

use super::events::ApiErrorBody;
use super::ApiError;
use crate::auth::Authenticated;
use crate::services::DbSavedSearchService;

impl axum::extract::FromRef<crate::startup::AppState> for DbSavedSearchService {
    fn from_ref(state: &crate::startup::AppState) -> Self {
        DbSavedSearchService::new(state.db.clone())
    }
}

/// A search to save: its name, the Events filter fields (as `GET /api/events` takes them), and
/// whether everyone sees it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SavedSearchBody {
    pub name: String,
    #[serde(default)]
    pub filter: EventFilter,
    #[serde(default)]
    pub shared: bool,
}

/// `GET /api/saved-searches`: the caller's saved searches and every shared one, by name.
#[utoipa::path(get, path = "/api/saved-searches", tag = "saved-searches",
    responses((status = 200, body = Vec<SavedSearch>)))]
pub async fn list(
    State(service): State<DbSavedSearchService>,
    caller: Authenticated,
) -> Result<Json<Vec<SavedSearch>>, ApiError> {
    let caller = caller.require(Permission::ViewEvents)?;
    Ok(Json(service.list_saved_searches(&caller).await?))
}

/// `POST /api/saved-searches`: saves a search owned by the caller; 201 with it.
#[utoipa::path(post, path = "/api/saved-searches", tag = "saved-searches", request_body = SavedSearchBody,
    responses((status = 201, body = SavedSearch), (status = 400, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn create(
    State(service): State<DbSavedSearchService>,
    caller: Authenticated,
    body: Bytes,
) -> Result<(StatusCode, Json<SavedSearch>), ApiError> {
    let caller = caller.require(Permission::ViewEvents)?;
    let body: SavedSearchBody = serde_json::from_slice(&body)
        .map_err(|e| AppError::invalid_input("body", format!("not a saved search: {e}")))?;
    let input = SavedSearchInput::parse(&body.name, body.filter, body.shared, chrono::Utc::now())?;
    Ok((StatusCode::CREATED, Json(service.save_search(&caller, input).await?)))
}

/// `DELETE /api/saved-searches/{id}`: the caller's own, or any for an administrator.
#[utoipa::path(delete, path = "/api/saved-searches/{id}", tag = "saved-searches", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub async fn delete(
    State(service): State<DbSavedSearchService>,
    caller: Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let caller = caller.require(Permission::ViewEvents)?;
    service.delete_saved_search(&caller, parse_id("id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
