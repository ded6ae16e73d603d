//! `POST /api/events/tags`: the same tag change on several events (the Events page's bulk
//! tagging, for scripts).

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use app::auth::Permission;
use app::error::AppError;
use app::input::{EventRef, TagChange};
use app::server::MAX_BULK_EVENTS;
use app::services::EventService;

use super::events::ApiErrorBody;
use super::ApiError;
use crate::auth::Authenticated;
use crate::services::DbEventService;

/// Events (AOC event ids) and the tags to add to and remove from each.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkTagBody {
    pub ids: Vec<i64>,
    #[serde(default)]
    pub add: Vec<String>,
    #[serde(default)]
    pub remove: Vec<String>,
}

/// How many events were changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkTagResponse {
    pub tagged: usize,
}

/// `POST /api/events/tags`: every event is checked first (a missing one is 404 and nothing is
/// changed), then each is changed and recorded in the audit trail like a single change.
#[utoipa::path(post, path = "/api/events/tags", tag = "events", request_body = BulkTagBody,
    responses((status = 200, body = BulkTagResponse), (status = 400, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub async fn bulk_tags(
    State(events): State<DbEventService>,
    caller: Authenticated,
    body: Bytes,
) -> Result<Json<BulkTagResponse>, ApiError> {
    let caller = caller.require(Permission::TagEvents)?;
    let body: BulkTagBody = serde_json::from_slice(&body)
        .map_err(|e| AppError::invalid_input("body", format!("not a bulk tag change: {e}")))?;
    let mut ids = body.ids;
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() || ids.len() > MAX_BULK_EVENTS {
        return Err(AppError::invalid_input("ids", format!("name 1–{MAX_BULK_EVENTS} events")).into());
    }
    let change = TagChange::parse(None, &body.add, &body.remove)?;
    for id in &ids {
        events.resolve(&EventRef::Aoc(*id)).await?;
    }
    for id in &ids {
        events.change_tags(&caller, EventRef::Aoc(*id), change.clone()).await?;
    }
    Ok(Json(BulkTagResponse { tagged: ids.len() }))
}
