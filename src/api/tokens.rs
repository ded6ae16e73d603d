//! `/api/tokens`: personal API tokens. Anyone who may manage their own tokens (analysts and
//! admins) lists, creates and revokes theirs; admins see and revoke everyone's. A token cannot
//! create tokens.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

use app::auth::Permission;
use app::dto::{ApiTokenInfo, EndedSessions, NewApiToken, SignedInPerson};
use app::input::{parse_id, TokenRequest};
use app::services::AccessService;

use super::events::json_error;
use super::ApiError;
use crate::auth::Authenticated;
use crate::services::DbAccessService;
use crate::startup::AppState;

fn service(state: &AppState) -> DbAccessService {
    DbAccessService::new(state.db.clone(), state.auth.oidc())
}

/// Body of `POST /api/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// What the token is for.
    pub name: String,
    /// `reader`, `analyst` or `admin`; at most the caller's role (the default).
    #[serde(default)]
    pub role: Option<String>,
    /// Lifetime in days, 1–366 (default 90).
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// `GET /api/tokens`: the caller's tokens (every token for an admin), newest first.
#[utoipa::path(get, path = "/api/tokens", tag = "tokens",
    responses((status = 200, body = Vec<ApiTokenInfo>), (status = 403, body = super::events::ApiErrorBody)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Authenticated,
) -> Result<Json<Vec<ApiTokenInfo>>, ApiError> {
    let caller = caller.require(Permission::ManageOwnTokens)?;
    Ok(Json(service(&state).list_tokens(&caller).await?))
}

/// `POST /api/tokens`: creates a token acting for the caller; answers 201 with the token, which
/// is never shown again.
#[utoipa::path(post, path = "/api/tokens", tag = "tokens", request_body = TokenBody,
    responses((status = 201, body = NewApiToken), (status = 400, body = super::events::ApiErrorBody),
        (status = 403, body = super::events::ApiErrorBody), (status = 409, body = super::events::ApiErrorBody)))]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Authenticated,
    body: Result<Json<TokenBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let caller = caller.require(Permission::ManageOwnTokens)?;
    let Json(body) = body.map_err(json_error)?;
    let days = body.expires_in_days.map(|d| d.to_string());
    let request = TokenRequest::parse(&caller, &body.name, body.role.as_deref(), days.as_deref())?;
    let created = service(&state).create_token(&caller, request).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// `DELETE /api/tokens/{id}`: revokes a token (the owner's, or any for an admin); answers the
/// token as it is afterwards.
#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 200, body = ApiTokenInfo), (status = 404, body = super::events::ApiErrorBody)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<ApiTokenInfo>, ApiError> {
    let caller = caller.require(Permission::ManageOwnTokens)?;
    let id = parse_id("id", &id)?;
    Ok(Json(service(&state).revoke_token(&caller, id).await?))
}

/// `GET /api/sessions` (administrators): people who signed in within the absolute session
/// lifetime, whether their session may still be live, and when their sessions were last ended.
#[utoipa::path(get, path = "/api/sessions", tag = "tokens",
    responses((status = 200, body = Vec<SignedInPerson>), (status = 403, body = super::events::ApiErrorBody)))]
pub async fn list_sessions(
    State(state): State<AppState>,
    caller: Authenticated,
) -> Result<Json<Vec<SignedInPerson>>, ApiError> {
    caller.require(Permission::ManageSettings)?;
    Ok(Json(service(&state).signed_in_people().await?))
}

/// Body of `POST /api/sessions/end`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndSessionsBody {
    /// The person's subject (Entra object id), as `GET /api/sessions` lists it.
    pub subject: String,
    /// Also revoke the person's personal API tokens.
    #[serde(default)]
    pub revoke_tokens: bool,
}

/// `POST /api/sessions/end` (administrators): ends every session of a person on every replica
/// (within five seconds), optionally revoking their personal API tokens.
#[utoipa::path(post, path = "/api/sessions/end", tag = "tokens", request_body = EndSessionsBody,
    responses((status = 200, body = EndedSessions), (status = 400, body = super::events::ApiErrorBody),
        (status = 403, body = super::events::ApiErrorBody)))]
pub async fn end_sessions(
    State(state): State<AppState>,
    caller: Authenticated,
    body: Result<Json<EndSessionsBody>, JsonRejection>,
) -> Result<Json<EndedSessions>, ApiError> {
    let caller = caller.require(Permission::ManageSettings)?;
    let Json(body) = body.map_err(json_error)?;
    Ok(Json(service(&state).end_sessions(&caller, &body.subject, body.revoke_tokens).await?))
}
