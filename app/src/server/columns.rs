//! Server functions of the Events table: its pages with the caller's columns, and the column
//! chooser.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::columns::EventColumns;
use crate::dto::EventPage;
use crate::error::AppError;
use crate::query::EventFilter;

/// One page of the Events table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventTablePage {
    /// The events matching the filter, newest first; each carries the flattened fields its
    /// columns name.
    pub page: EventPage,
    /// The caller's columns.
    pub columns: EventColumns,
    /// Every flattened field name of the page's events, sorted: the columns one may add.
    pub fields: Vec<String>,
}

/// One page of events matching `filter` for the caller's Events table. `cursor` is the
/// `next_cursor` of the previous page.
#[server(endpoint = "event_table")]
pub async fn event_table(cursor: Option<String>, filter: Option<EventFilter>) -> Result<EventTablePage, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;
    use crate::query::PageRequest;

    let caller = caller()?;
    caller.require(Permission::ViewEvents)?;
    let page = PageRequest::parse(cursor.as_deref(), None)?;
    let query = filter.unwrap_or_default().validate()?;
    let services = services()?;
    let columns = services.columns.event_columns(&caller).await?;
    let wanted = crate::columns::flattened_fields(&columns.columns);
    let (page, fields) = services.events.table_page(query, page, &wanted).await?;
    Ok(EventTablePage { page, columns, fields })
}

/// The caller's Events columns.
#[server(endpoint = "event_columns")]
pub async fn get_event_columns() -> Result<EventColumns, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::ViewEvents)?;
    services()?.columns.event_columns(&caller).await
}

/// Changes the caller's Events columns: `op` is `add` (with `column`), `remove:N`, `left:N`,
/// `right:N` (N counts from 0 after the time) or `reset`.
#[server(endpoint = "edit_event_columns")]
pub async fn edit_event_columns(op: String, column: Option<String>) -> Result<EventColumns, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;
    use crate::columns::ColumnEdit;

    let caller = caller()?;
    caller.require(Permission::ViewEvents)?;
    let edit = ColumnEdit::parse(&op, column.as_deref())?;
    let services = services()?;
    if edit == ColumnEdit::Reset {
        return services.columns.set_event_columns(&caller, None).await;
    }
    let current = services.columns.event_columns(&caller).await?;
    let columns = edit.apply(current.columns)?;
    services.columns.set_event_columns(&caller, Some(columns)).await
}
