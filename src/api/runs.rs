//! Collection runs over REST: `GET /api/collection/runs` (what each source's run is doing, or
//! how its last one ended: windows done of planned, records, throttling) and
//! `POST /api/collection/runs` (start a collection in the background: every enabled source, or
//! one tenant or source, from the watermarks, with a look-back, or again from a time). The same
//! service as the Sources page's Collect now.

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use app::auth::Permission;
use app::dto::{CollectRequest, CollectionRun};
use app::error::AppError;
use app::services::SourceService;

use super::ApiError;
use crate::auth::Authenticated;
use crate::services::DbSourceService;
use crate::startup::AppState;

/// The runs of this server's collector, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunList {
    pub runs: Vec<CollectionRun>,
}

/// Sources scheduled.
#[derive(Debug, Serialize, ToSchema)]
pub struct Scheduled {
    pub scheduled: u32,
}

fn service(state: &AppState) -> DbSourceService {
    DbSourceService::new(
        state.db.clone(),
        state.collection.collector.clone(),
        state.collection.schedule,
        state.tenants.clone(),
    )
}

/// `GET /api/collection/runs`.
pub async fn list_runs(State(state): State<AppState>, caller: Authenticated) -> Result<Json<RunList>, ApiError> {
    caller.require(Permission::ViewEvents)?;
    Ok(Json(RunList { runs: service(&state).runs() }))
}

/// `POST /api/collection/runs` with `{"hours": "24"}`, `{"from": "2026-12-07T10:00:00Z",
/// "tenant_id": …, "source": "unified"}` or `{}` → 202 `{"scheduled": n}`.
pub async fn start_runs(
    State(state): State<AppState>,
    caller: Authenticated,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<(StatusCode, Json<Scheduled>), ApiError> {
    let caller = caller.require(Permission::RunCollection)?;
    let Json(body) = body.map_err(|e| AppError::invalid_input("body", e.body_text()))?;
    // Numbers are welcome where the form sends text.
    let text = |name: &str| match body.get(name) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(serde_json::Value::Number(n)) if name == "hours" => Ok(Some(n.to_string())),
        Some(_) => Err(AppError::invalid_input(name, "expected text")),
    };
    if let Some(unknown) = body
        .as_object()
        .and_then(|o| o.keys().find(|k| !["hours", "from", "tenant_id", "source"].contains(&k.as_str())).cloned())
    {
        return Err(AppError::invalid_input(&unknown, "unknown field (hours, from, tenant_id, source)").into());
    }
    if !body.is_object() {
        return Err(AppError::invalid_input("body", "expected a JSON object such as {\"hours\": 24}").into());
    }
    let request = CollectRequest {
        hours: text("hours")?,
        from: text("from")?,
        tenant_id: text("tenant_id")?,
        source: text("source")?,
    };
    let scheduled = service(&state).collect_now(&caller, request).await?;
    Ok((StatusCode::ACCEPTED, Json(Scheduled { scheduled })))
}
