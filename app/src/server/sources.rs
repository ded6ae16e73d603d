//! Server functions of the Sources page: health and coverage, collecting now, and the tenants
//! stored in the database (add, enable or disable, delete).

use leptos::prelude::*;

use crate::dto::SourcesOverview;
use crate::error::AppError;

/// Collection health, the last two days of the coverage ledger, and (for administrators) the
/// stored tenants.
#[server(endpoint = "sources_overview")]
pub async fn get_sources_overview() -> Result<SourcesOverview, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::ViewEvents)?;
    services()?.sources.overview(&caller).await
}

/// Schedules an immediate collection of every enabled source (or of `tenant_id` and `source`),
/// from the watermarks, with a look-back of `hours`, or again `from` a time; answers how many
/// sources were scheduled. The Sources page shows the runs' progress.
#[server(endpoint = "collect_now")]
pub async fn collect_now(
    hours: Option<String>,
    from: Option<String>,
    tenant_id: Option<String>,
    source: Option<String>,
) -> Result<u32, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::RunCollection)?;
    let request = crate::dto::CollectRequest { hours, from, tenant_id, source };
    services()?.sources.collect_now(&caller, request).await
}

/// Adds a tenant (checked like `POST /api/tenants`): a client secret, or a certificate and its
/// private key (PEM); the secret and the key are write-only.
#[server(endpoint = "add_tenant")]
#[allow(clippy::too_many_arguments)]
pub async fn add_tenant(
    tenant_id: String,
    display_name: String,
    client_id: String,
    client_secret: Option<String>,
    certificate_pem: Option<String>,
    private_key_pem: Option<String>,
    cloud: Option<String>,
    sources: Option<String>,
) -> Result<(), AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::ManageConnectors)?;
    let form = crate::dto::NewTenantForm {
        tenant_id,
        display_name,
        client_id,
        client_secret: client_secret.unwrap_or_default(),
        certificate_pem,
        private_key_pem,
        cloud,
        sources,
    };
    services()?.sources.add_tenant(&caller, form).await
}

/// Enables or disables a stored tenant.
#[server(endpoint = "set_tenant_enabled")]
pub async fn set_tenant_enabled(tenant_id: String, enabled: bool) -> Result<(), AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::ManageConnectors)?;
    services()?.sources.set_tenant_enabled(&caller, &tenant_id, enabled).await
}

/// Deletes a stored tenant (its events stay).
#[server(endpoint = "remove_tenant")]
pub async fn remove_tenant(tenant_id: String) -> Result<(), AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::ManageConnectors)?;
    services()?.sources.remove_tenant(&caller, &tenant_id).await
}
