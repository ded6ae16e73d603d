//! Server functions over stored events: search, facets, histogram, detail, tags and comments.

use leptos::prelude::*;

use crate::dto::{Comment, EventDetail, EventPage, Facets, Histogram, TagInfo};
use crate::error::AppError;
use crate::query::EventFilter;

/// One page of events matching `filter`, newest first. `cursor` is the `next_cursor` of the
/// previous page; `page_size` is 1–500 (default 50).
#[server(endpoint = "list_events")]
pub async fn list_events(
    cursor: Option<String>,
    page_size: Option<String>,
    filter: Option<EventFilter>,
) -> Result<EventPage, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;
    use crate::query::PageRequest;

    caller()?.require(Permission::ViewEvents)?;
    let page = PageRequest::parse(cursor.as_deref(), page_size.as_deref())?;
    let query = filter.unwrap_or_default().validate()?;
    services()?.events.list_events(query, page).await
}

/// Distinct values with counts under `filter` (they feed the filter dropdowns).
#[server(endpoint = "event_facets")]
pub async fn event_facets(filter: Option<EventFilter>) -> Result<Facets, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    caller()?.require(Permission::ViewEvents)?;
    let query = filter.unwrap_or_default().validate()?;
    services()?.events.facets(query).await
}

/// The values of the facet `field` (service, operation, result or actor) that contain
/// `contains`, counted under every other filter: the facet list's search ("more").
#[server(endpoint = "facet_values")]
pub async fn facet_values(
    filter: Option<EventFilter>,
    field: String,
    contains: String,
) -> Result<Vec<crate::dto::FacetValue>, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    caller()?.require(Permission::ViewEvents)?;
    let search = crate::input::FacetSearch::parse(&field, &contains)?;
    let query = filter.unwrap_or_default().validate()?;
    services()?.events.facet_values(query, search).await
}

/// Event counts over time under `filter`.
#[server(endpoint = "event_histogram")]
pub async fn event_histogram(filter: Option<EventFilter>) -> Result<Histogram, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    use crate::input::HistogramRequest;

    caller()?.require(Permission::ViewEvents)?;
    let request = HistogramRequest::chosen(filter.unwrap_or_default().validate()?);
    services()?.events.histogram(request).await
}

/// Everything about one event, by AOC's row id.
#[server(endpoint = "get_event")]
pub async fn get_event(id: i64) -> Result<EventDetail, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    use crate::input::EventRef;

    caller()?.require(Permission::ViewEvents)?;
    services()?.events.event_detail(EventRef::Aoc(id)).await
}

/// Adds a tag to an event, or removes it when `remove` is true.
#[server(endpoint = "tag_event")]
pub async fn tag_event(id: i64, tag: String, remove: Option<bool>) -> Result<Vec<TagInfo>, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    use crate::input::{EventRef, TagChange};

    let caller = caller()?;
    caller.require(Permission::TagEvents)?;
    let tag = [tag];
    let change =
        if remove.unwrap_or(false) { TagChange::parse(None, &[], &tag)? } else { TagChange::parse(None, &tag, &[])? };
    services()?.events.change_tags(&caller, EventRef::Aoc(id), change).await
}

/// Adds a comment to an event.
#[server(endpoint = "add_comment")]
pub async fn add_comment(id: i64, body: String) -> Result<Comment, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::CommentOnEvents)?;
    let body = crate::input::CommentText::parse(&body)?;
    services()?.events.add_comment(&caller, crate::input::EventRef::Aoc(id), body).await
}

/// Edits one of the caller's own comments.
#[server(endpoint = "edit_comment")]
pub async fn edit_comment(id: i64, comment_id: i64, body: String) -> Result<Comment, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::CommentOnEvents)?;
    let body = crate::input::CommentText::parse(&body)?;
    services()?.events.edit_comment(&caller, crate::input::EventRef::Aoc(id), comment_id, body).await
}

/// Deletes a comment (administrators).
#[server(endpoint = "delete_comment")]
pub async fn delete_comment(id: i64, comment_id: i64) -> Result<(), AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::DeleteComments)?;
    services()?.events.delete_comment(&caller, crate::input::EventRef::Aoc(id), comment_id).await
}
