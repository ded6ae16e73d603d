//! Server functions about the running server and the caller.

use leptos::prelude::*;

use crate::dto::ServerInfo;
use crate::error::AppError;

/// The server's version and effective (non-secret) settings, and who the caller is.
#[server(endpoint = "server_info")]
pub async fn get_server_info() -> Result<ServerInfo, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::ViewEvents)?;
    services()?.system.server_info(&caller).await
}
