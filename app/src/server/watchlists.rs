//! Server functions of the Watchlists page.

use leptos::prelude::*;

use crate::error::AppError;
use crate::watchlist::{Watchlist, WatchlistInfo};

/// Every watchlist, by name.
#[server(endpoint = "list_watchlists")]
pub async fn list_watchlists() -> Result<Vec<WatchlistInfo>, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    caller()?.require(Permission::ViewEvents)?;
    services()?.watchlists.list_watchlists().await
}

/// One watchlist with its items.
#[server(endpoint = "get_watchlist")]
pub async fn get_watchlist(id: i64) -> Result<Watchlist, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    caller()?.require(Permission::ViewEvents)?;
    services()?.watchlists.watchlist(id).await
}

/// Creates a watchlist (no `id`) or replaces one, from CSV text (a header row, then one item
/// per row).
#[server(endpoint = "save_watchlist")]
pub async fn save_watchlist(
    id: Option<String>,
    name: String,
    kind: String,
    description: Option<String>,
    csv: String,
) -> Result<Watchlist, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;
    use crate::watchlist::WatchlistInput;

    let caller = caller()?;
    caller.require(Permission::ManageRules)?;
    let id =
        id.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(|s| crate::input::parse_id("id", s)).transpose()?;
    let input = WatchlistInput::from_csv(&name, &kind, description.as_deref(), &csv)?;
    services()?.watchlists.save_watchlist(&caller, id, input).await
}

/// Deletes a watchlist.
#[server(endpoint = "delete_watchlist")]
pub async fn delete_watchlist(id: i64) -> Result<(), AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::ManageRules)?;
    services()?.watchlists.delete_watchlist(&caller, id).await
}
