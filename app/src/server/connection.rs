//! Server function of the Sources page's Test connection.

use leptos::prelude::*;

use crate::connection::ConnectionTest;
use crate::error::AppError;

/// Tries a stored tenant's credentials with read calls only (a token per API, the subscription
/// list, one Graph page of one record per source) and answers per step what works and the fix
/// for what fails.
#[server(endpoint = "test_connection")]
pub async fn test_connection(tenant_id: String) -> Result<ConnectionTest, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::ManageConnectors)?;
    services()?.sources.test_connection(&caller, &tenant_id).await
}
