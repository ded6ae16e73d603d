//! The watchlists REST API: `GET|POST /api/watchlists`, `GET|PUT|DELETE /api/watchlists/{id}`.
//! A watchlist is sent as JSON (`name`, `kind`, `description`, and `items` or `csv`) or as a CSV
//! body (`Content-Type: text/csv`) with `name`, `kind` and `description` in the query string.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use app::auth::Permission;
use app::error::AppError;
use app::input::parse_id;
use app::watchlist::{Watchlist, WatchlistInfo, WatchlistInput, WatchlistItem, WatchlistService};

use super::events::ApiErrorBody;
use super::ApiError;
use crate::auth::Authenticated;
use crate::services::DbWatchlistService;

impl axum::extract::FromRef<crate::startup::AppState> for DbWatchlistService {
    fn from_ref(state: &crate::startup::AppState) -> Self {
        DbWatchlistService::new(state.db.clone())
    }
}

/// A watchlist as JSON: `items`, or `csv` text (a header row, then one item per row).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WatchlistBody {
    #[serde(default)]
    pub name: String,
    /// `user`, `ip`, `app` or `domain`.
    #[serde(default)]
    pub kind: String,
    pub description: Option<String>,
    pub items: Option<Vec<WatchlistItem>>,
    pub csv: Option<String>,
}

/// Name, kind and description of a watchlist uploaded as a CSV body.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CsvParams {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub description: Option<String>,
}

fn input(
    headers: &HeaderMap,
    params: Result<Query<CsvParams>, QueryRejection>,
    body: &Bytes,
) -> Result<WatchlistInput, AppError> {
    let Query(params) = params.map_err(|e| AppError::invalid_input("query", e.body_text()))?;
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    if content_type.starts_with("text/csv") || content_type.starts_with("text/plain") {
        let text = std::str::from_utf8(body).map_err(|_| AppError::invalid_input("body", "the CSV is not UTF-8"))?;
        return WatchlistInput::from_csv(
            params.name.as_deref().unwrap_or(""),
            params.kind.as_deref().unwrap_or("user"),
            params.description.as_deref(),
            text,
        );
    }
    let body: WatchlistBody =
        serde_json::from_slice(body).map_err(|e| AppError::invalid_input("body", format!("not a watchlist: {e}")))?;
    match (body.items, body.csv) {
        (Some(_), Some(_)) => Err(AppError::invalid_input("body", "give `items` or `csv`, not both")),
        (None, Some(csv)) => WatchlistInput::from_csv(&body.name, &body.kind, body.description.as_deref(), &csv),
        (items, None) => {
            WatchlistInput::parse(&body.name, &body.kind, body.description.as_deref(), items.unwrap_or_default())
        }
    }
}

/// `GET /api/watchlists`: every watchlist (without items), by name.
#[utoipa::path(get, path = "/api/watchlists", tag = "watchlists", responses((status = 200, body = Vec<WatchlistInfo>)))]
pub async fn list(
    State(service): State<DbWatchlistService>,
    caller: Authenticated,
) -> Result<Json<Vec<WatchlistInfo>>, ApiError> {
    caller.require(Permission::ViewEvents)?;
    Ok(Json(service.list_watchlists().await?))
}

/// `POST /api/watchlists`: a new watchlist (JSON, or a CSV body with `?name=&kind=`).
#[utoipa::path(post, path = "/api/watchlists", tag = "watchlists", params(CsvParams), request_body = WatchlistBody,
    responses((status = 201, body = Watchlist), (status = 400, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn create(
    State(service): State<DbWatchlistService>,
    caller: Authenticated,
    headers: HeaderMap,
    params: Result<Query<CsvParams>, QueryRejection>,
    body: Bytes,
) -> Result<(StatusCode, Json<Watchlist>), ApiError> {
    let caller = caller.require(Permission::ManageRules)?;
    let input = input(&headers, params, &body)?;
    Ok((StatusCode::CREATED, Json(service.save_watchlist(&caller, None, input).await?)))
}

/// `GET /api/watchlists/{id}`: one watchlist with its items.
#[utoipa::path(get, path = "/api/watchlists/{id}", tag = "watchlists", params(("id" = i64, Path)),
    responses((status = 200, body = Watchlist), (status = 404, body = ApiErrorBody)))]
pub async fn get(
    State(service): State<DbWatchlistService>,
    caller: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Watchlist>, ApiError> {
    caller.require(Permission::ViewEvents)?;
    Ok(Json(service.watchlist(parse_id("id", &id)?).await?))
}

/// `PUT /api/watchlists/{id}`: replaces a watchlist's name, kind, description and items.
#[utoipa::path(put, path = "/api/watchlists/{id}", tag = "watchlists", params(("id" = i64, Path), CsvParams),
    request_body = WatchlistBody,
    responses((status = 200, body = Watchlist), (status = 400, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub async fn replace(
    State(service): State<DbWatchlistService>,
    caller: Authenticated,
    Path(id): Path<String>,
    headers: HeaderMap,
    params: Result<Query<CsvParams>, QueryRejection>,
    body: Bytes,
) -> Result<Json<Watchlist>, ApiError> {
    let caller = caller.require(Permission::ManageRules)?;
    let id = parse_id("id", &id)?;
    let input = input(&headers, params, &body)?;
    Ok(Json(service.save_watchlist(&caller, Some(id), input).await?))
}

/// `DELETE /api/watchlists/{id}`.
#[utoipa::path(delete, path = "/api/watchlists/{id}", tag = "watchlists", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ApiErrorBody)))]
pub async fn delete(
    State(service): State<DbWatchlistService>,
    caller: Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let caller = caller.require(Permission::ManageRules)?;
    service.delete_watchlist(&caller, parse_id("id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
