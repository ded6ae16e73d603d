//! Server functions of the Investigate page: the overview and the AI summary of a search.

use leptos::prelude::*;

use crate::error::AppError;
use crate::investigate::{EntityGraph, Overview, Summary};
use crate::query::EventFilter;

/// Exact counts by service, operation, result and actor over every event matching `filter`,
/// with the newest failures and samples.
#[server(endpoint = "event_overview")]
pub async fn event_overview(filter: Option<EventFilter>) -> Result<Overview, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    caller()?.require(Permission::ViewEvents)?;
    let query = filter.unwrap_or_default().validate()?;
    services()?.investigation.overview(query).await
}

/// A language model's summary of the events matching `filter` (503 when none is configured).
#[server(endpoint = "summarize_events")]
pub async fn summarize_events(filter: Option<EventFilter>) -> Result<Summary, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::ViewEvents)?;
    let filter = filter.unwrap_or_default();
    let query = filter.validate()?;
    services()?.investigation.summarize(&caller, filter, query).await
}

/// The entity graph of the events matching `filter` (the heaviest 150 edges), laid out.
#[server(endpoint = "event_graph")]
pub async fn event_graph(filter: Option<EventFilter>) -> Result<EntityGraph, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    caller()?.require(Permission::ViewEvents)?;
    let query = filter.unwrap_or_default().validate()?;
    services()?.investigation.graph(query, crate::investigate::GRAPH_EDGES).await
}
