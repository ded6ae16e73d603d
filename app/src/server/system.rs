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

/// A page of AOC's audit trail, newest first (administrators): `search` filters the page by
/// actor, action, target or details; `before` continues after a page.
#[server(endpoint = "audit_entries")]
pub async fn audit_entries(search: Option<String>, before: Option<String>) -> Result<crate::dto::AuditPage, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;
    use crate::input::AuditTrailRequest;

    let caller = caller()?;
    caller.require(Permission::ViewAuditTrail)?;
    if search.as_deref().is_some_and(|s| s.len() > crate::query::MAX_VALUE_LEN) {
        return Err(AppError::invalid_input("search", format!("longer than {} bytes", crate::query::MAX_VALUE_LEN)));
    }
    let request = AuditTrailRequest::parse(before.as_deref(), None, None, Some("200"))?;
    services()?.system.audit_trail(request, search).await
}
