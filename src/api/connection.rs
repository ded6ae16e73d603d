//! `POST /api/tenants/{tenant_id}/test`: Test connection of a stored tenant, for administrators
//! (`ManageConnectors`). Read calls only; see `crate::ingest::check`.

use axum::extract::{Path, State};
use axum::Json;

use app::auth::Permission;
use app::connection::ConnectionTest;
use app::services::SourceService;

use super::ApiError;
use crate::auth::Authenticated;
use crate::services::DbSourceService;
use crate::startup::AppState;

/// `POST /api/tenants/{tenant_id}/test`: per step (token per API, subscription list, one Graph
/// page per source) whether it works, and for what fails the fix.
pub async fn test_tenant(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(tenant_id): Path<String>,
) -> Result<Json<ConnectionTest>, ApiError> {
    let caller = caller.require(Permission::ManageConnectors)?;
    let service = DbSourceService::new(
        state.db.clone(),
        state.collection.collector.clone(),
        state.collection.schedule,
        state.tenants.clone(),
    );
    Ok(Json(service.test_connection(&caller, &tenant_id).await?))
}
