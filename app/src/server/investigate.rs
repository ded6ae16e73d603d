//! Server functions of the Investigate page: the overview and the AI summary of a search.

use leptos::prelude::*;
use leptos::server_fn::codec::{StreamingText, TextStream};

use crate::error::AppError;
use crate::investigate::{EntityGraph, Overview, SignInMap, Summary};
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

/// The same summary streamed as the model writes it: lines of JSON, each a
/// [`crate::investigate::SummaryChunk`] (`{"delta": …}`, then `{"done": …}` or `{"error": …}`).
#[server(endpoint = "summarize_stream", output = StreamingText)]
pub async fn summarize_stream(filter: Option<EventFilter>) -> Result<TextStream<AppError>, AppError> {
    use futures_util::StreamExt;

    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::ViewEvents)?;
    let filter = filter.unwrap_or_default();
    let query = filter.validate()?;
    let chunks = services()?.investigation.summarize_stream(&caller, filter, query).await?;
    // A chunk that cannot be written becomes an empty line, which the page skips.
    Ok(TextStream::new(chunks.map(|chunk| Ok(serde_json::to_string(&chunk).unwrap_or_default() + "\n"))))
}

/// The entity graph of the events matching `filter` (the heaviest 150 edges), laid out, with
/// the node kinds `kinds` (comma-separated; empty: all).
#[server(endpoint = "event_graph")]
pub async fn event_graph(filter: Option<EventFilter>, kinds: Option<String>) -> Result<EntityGraph, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    caller()?.require(Permission::ViewEvents)?;
    let query = filter.unwrap_or_default().validate()?;
    let kinds = crate::investigate::parse_graph_kinds(kinds.as_deref())?;
    services()?.investigation.graph(query, crate::investigate::GRAPH_EDGES, kinds).await
}

/// The sign-in map of the events matching `filter`: places, new countries, impossible travel.
#[server(endpoint = "event_map")]
pub async fn event_map(filter: Option<EventFilter>) -> Result<SignInMap, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    caller()?.require(Permission::ViewEvents)?;
    let query = filter.unwrap_or_default().validate()?;
    services()?.investigation.map(query).await
}
