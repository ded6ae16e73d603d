//! Server functions over stored events.

use leptos::prelude::*;

use crate::dto::EventPage;
use crate::error::AppError;

/// One page of stored events, newest first. `cursor` is the `next_cursor` of the previous page.
#[server(endpoint = "list_events")]
pub async fn list_events(cursor: Option<String>, page_size: Option<u32>) -> Result<EventPage, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;
    use crate::dto::EventListRequest;

    caller()?.require(Permission::ViewEvents)?;
    let request = EventListRequest::parse(cursor.as_deref(), page_size)?;
    services()?.events.list_events(request).await
}
