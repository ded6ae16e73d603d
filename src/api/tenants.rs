//! Stored tenants over HTTP, for administrators (`ManageConnectors`):
//! `GET /api/tenants`, `POST /api/tenants`, `GET|PATCH|DELETE /api/tenants/{tenant_id}`.
//! Answers never carry a client secret or a private key (see `crate::tenants::TenantView`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use app::auth::Permission;

use super::ApiError;
use crate::auth::Authenticated;
use crate::tenants::input::{parse_changes, parse_new_tenant, parse_tenant_id, InputError};
use crate::tenants::{Actor, TenantError, TenantService};

impl From<TenantError> for ApiError {
    fn from(e: TenantError) -> Self {
        ApiError(e.into())
    }
}

impl From<InputError> for ApiError {
    fn from(e: InputError) -> Self {
        ApiError(e.into())
    }
}

fn request_id(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-request-id").and_then(|v| v.to_str().ok())
}

/// `GET /api/tenants`: `{"tenants": [...]}`.
pub async fn list_tenants(
    State(tenants): State<Arc<TenantService>>,
    caller: Authenticated,
) -> Result<Response, ApiError> {
    caller.require(Permission::ManageConnectors)?;
    let list = tenants.list().await?;
    Ok(Json(json!({ "tenants": list })).into_response())
}

/// `POST /api/tenants`: stores a tenant and starts collecting it; 201 with the tenant.
pub async fn create_tenant(
    State(tenants): State<Arc<TenantService>>,
    caller: Authenticated,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let caller = caller.require(Permission::ManageConnectors)?;
    let new = parse_new_tenant(&body)?;
    let actor = Actor { caller: &caller, request_id: request_id(&headers) };
    let view = tenants.create(actor, new).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `GET /api/tenants/{tenant_id}`.
pub async fn get_tenant(
    State(tenants): State<Arc<TenantService>>,
    caller: Authenticated,
    Path(tenant_id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Permission::ManageConnectors)?;
    let tenant_id = parse_tenant_id(&tenant_id)?;
    let view = tenants.get(&tenant_id).await?;
    Ok(Json(view).into_response())
}

/// `PATCH /api/tenants/{tenant_id}`: changes the named fields (a new credential rotates it).
pub async fn update_tenant(
    State(tenants): State<Arc<TenantService>>,
    caller: Authenticated,
    headers: HeaderMap,
    Path(tenant_id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let caller = caller.require(Permission::ManageConnectors)?;
    let tenant_id = parse_tenant_id(&tenant_id)?;
    let changes = parse_changes(&body)?;
    let actor = Actor { caller: &caller, request_id: request_id(&headers) };
    let view = tenants.update(actor, &tenant_id, changes).await?;
    Ok(Json(view).into_response())
}

/// `DELETE /api/tenants/{tenant_id}`: 204; the tenant's events stay.
pub async fn delete_tenant(
    State(tenants): State<Arc<TenantService>>,
    caller: Authenticated,
    headers: HeaderMap,
    Path(tenant_id): Path<String>,
) -> Result<Response, ApiError> {
    let caller = caller.require(Permission::ManageConnectors)?;
    let tenant_id = parse_tenant_id(&tenant_id)?;
    let actor = Actor { caller: &caller, request_id: request_id(&headers) };
    tenants.delete(actor, &tenant_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
