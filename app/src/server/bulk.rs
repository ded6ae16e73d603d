//! Tagging several events at once (the Events page's selected rows).

use leptos::prelude::*;

use crate::error::AppError;

/// Most events one bulk change may name (a page holds at most 500).
pub const MAX_BULK_EVENTS: usize = 500;

/// Adds `tag` to every event of `ids` (AOC event ids; the page sends its checked rows as
/// `ids[N]`), or removes it when `remove` is true; answers how many events were changed.
#[server(endpoint = "tag_events")]
pub async fn tag_events(ids: Option<Vec<i64>>, tag: String, remove: Option<bool>) -> Result<usize, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;
    use crate::input::{EventRef, TagChange};

    let caller = caller()?;
    caller.require(Permission::TagEvents)?;
    let mut ids = ids.unwrap_or_default();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Err(AppError::invalid_input("ids", "select at least one event"));
    }
    if ids.len() > MAX_BULK_EVENTS {
        return Err(AppError::invalid_input("ids", format!("at most {MAX_BULK_EVENTS} events at once")));
    }
    let tag = [tag];
    let change =
        if remove.unwrap_or(false) { TagChange::parse(None, &[], &tag)? } else { TagChange::parse(None, &tag, &[])? };
    let events = services()?.events;
    for id in &ids {
        events.change_tags(&caller, EventRef::Aoc(*id), change.clone()).await?;
    }
    Ok(ids.len())
}
