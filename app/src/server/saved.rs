//! Server functions of the Events page's saved searches.

use leptos::prelude::*;

use crate::error::AppError;
use crate::query::EventFilter;
use crate::saved::SavedSearch;

/// The caller's saved searches and every shared one, by name.
#[server(endpoint = "list_saved_searches")]
pub async fn list_saved_searches() -> Result<Vec<SavedSearch>, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::ViewEvents)?;
    services()?.saved_searches.list_saved_searches(&caller).await
}

/// Saves the search `filter` under `name`; `shared` (a checkbox: any value) lists it for everyone.
#[server(endpoint = "save_search")]
pub async fn save_search(
    name: String,
    shared: Option<String>,
    filter: Option<EventFilter>,
) -> Result<SavedSearch, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;
    use crate::saved::SavedSearchInput;

    let caller = caller()?;
    caller.require(Permission::ViewEvents)?;
    let shared = shared.is_some_and(|v| !matches!(v.trim(), "" | "false" | "off"));
    let input = SavedSearchInput::parse(&name, filter.unwrap_or_default(), shared, chrono::Utc::now())?;
    services()?.saved_searches.save_search(&caller, input).await
}

/// Deletes a saved search: one's own, or any for an administrator.
#[server(endpoint = "delete_saved_search")]
pub async fn delete_saved_search(id: i64) -> Result<(), AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::ViewEvents)?;
    services()?.saved_searches.delete_saved_search(&caller, id).await
}
