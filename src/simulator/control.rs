//! The control API under `/_sim/`: tenants and their test credentials, licences, faults, the
//! simulated clock, request statistics, and ground truth (every record id published so far), so
//! tests can prove a client collected everything exactly once. It is a test and demo interface:
//! the simulator only ever listens on addresses its operator chooses.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::json;

use super::activity::Feed;
use super::config::Faults;
use super::content::{self, Blob};
use super::identity::{APP_CERT_PEM, APP_KEY_PEM};
use super::state::{SimState, TenantFlags};

pub fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route("/_sim/health", get(|| async { "ok" }))
        .route("/_sim/tenants", get(tenants))
        .route("/_sim/tenants/{tenant}/flags", patch(set_flags))
        .route("/_sim/tenants/{tenant}/subscriptions/{content_type}/disable", post(disable_subscription))
        .route("/_sim/faults", get(get_faults).put(put_faults).patch(patch_faults))
        .route("/_sim/faults/reset", post(reset_faults))
        .route("/_sim/clock", get(get_clock).post(advance_clock))
        .route("/_sim/stats", get(stats))
        .route("/_sim/stats/reset", post(reset_stats))
        .route("/_sim/ground-truth", get(ground_truth))
}

fn problem(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// The simulated tenants with their apps' test credentials and licences.
pub fn tenants_json(state: &SimState) -> serde_json::Value {
    let flags = state.runtime().flags.clone();
    let base = state.base_url();
    json!({
        "base_url": base,
        "login_base_url": base,
        "graph_base_url": base,
        "management_base_url": base,
        "certificate_pem": APP_CERT_PEM,
        "private_key_pem": APP_KEY_PEM,
        "tenants": state.tenants.iter().map(|t| json!({
            "tenant_id": t.model.tenant_id,
            "domain": t.model.domain,
            "display_name": t.model.display_name,
            "flags": flags[t.index],
            "apps": t.apps,
        })).collect::<Vec<_>>(),
    })
}

async fn tenants(State(state): State<Arc<SimState>>) -> Json<serde_json::Value> {
    Json(tenants_json(&state))
}

async fn set_flags(
    State(state): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    Json(patch): Json<serde_json::Value>,
) -> Response {
    let Some(t) = state.tenant(&tenant) else { return problem(StatusCode::NOT_FOUND, "unknown tenant") };
    let mut rt = state.runtime();
    let mut current = serde_json::to_value(&rt.flags[t.index]).unwrap_or_default();
    if let (Some(obj), Some(p)) = (current.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            obj.insert(k.clone(), v.clone());
        }
    }
    match serde_json::from_value::<TenantFlags>(current) {
        Ok(flags) => {
            rt.flags[t.index] = flags.clone();
            Json(json!(flags)).into_response()
        }
        Err(e) => problem(StatusCode::BAD_REQUEST, format!("invalid flags: {e}")),
    }
}

/// What a tenant administrator does when disabling the subscription: listings then answer AF20023.
async fn disable_subscription(
    State(state): State<Arc<SimState>>,
    Path((tenant, content_type)): Path<(String, String)>,
) -> Response {
    let Some(t) = state.tenant(&tenant) else { return problem(StatusCode::NOT_FOUND, "unknown tenant") };
    let Some(feed) = Feed::from_content_type(&content_type) else {
        return problem(StatusCode::NOT_FOUND, "unknown content type");
    };
    let now = state.clock.now();
    let mut rt = state.runtime();
    let sub = rt.subscriptions.entry((t.index, feed)).or_default();
    sub.enabled = false;
    if let Some(last) = sub.intervals.last_mut() {
        last.1.get_or_insert(now);
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn get_faults(State(state): State<Arc<SimState>>) -> Json<Faults> {
    Json(state.runtime().faults.clone())
}

async fn put_faults(State(state): State<Arc<SimState>>, Json(faults): Json<Faults>) -> Json<Faults> {
    state.runtime().faults = faults.clone();
    Json(faults)
}

async fn patch_faults(State(state): State<Arc<SimState>>, Json(patch): Json<serde_json::Value>) -> Response {
    let mut rt = state.runtime();
    let mut current = serde_json::to_value(&rt.faults).unwrap_or_default();
    if let (Some(obj), Some(p)) = (current.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            obj.insert(k.clone(), v.clone());
        }
    }
    match serde_json::from_value::<Faults>(current) {
        Ok(faults) => {
            rt.faults = faults.clone();
            Json(faults).into_response()
        }
        Err(e) => problem(StatusCode::BAD_REQUEST, format!("invalid faults: {e}")),
    }
}

async fn reset_faults(State(state): State<Arc<SimState>>) -> Json<Faults> {
    state.runtime().faults = Faults::default();
    Json(Faults::default())
}

async fn get_clock(State(state): State<Arc<SimState>>) -> Json<serde_json::Value> {
    Json(json!({ "now": state.clock.now().to_rfc3339(), "origin": state.origin.to_rfc3339() }))
}

#[derive(Deserialize)]
struct Advance {
    #[serde(default)]
    advance_seconds: i64,
    /// `true` stops the clock, `false` lets it run again.
    freeze: Option<bool>,
}

async fn advance_clock(State(state): State<Arc<SimState>>, Json(advance): Json<Advance>) -> Json<serde_json::Value> {
    if let Some(freeze) = advance.freeze {
        state.clock.freeze(freeze);
    }
    state.clock.advance(Duration::seconds(advance.advance_seconds));
    Json(json!({ "now": state.clock.now().to_rfc3339() }))
}

async fn stats(State(state): State<Arc<SimState>>) -> Json<serde_json::Value> {
    Json(json!(state.runtime().stats))
}

async fn reset_stats(State(state): State<Arc<SimState>>) -> StatusCode {
    let mut rt = state.runtime();
    rt.stats = Default::default();
    rt.fetched_blobs.clear();
    rt.management_tenant_log.clear();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct TruthQuery {
    tenant: String,
    /// `unified`, `directory`, `signin`, `intune`, or one content type (`Audit.Exchange`).
    source: String,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

/// Record ids published so far that a perfect client could collect now: for the Management API,
/// the records of every listed, unexpired blob with contentCreated in `[since, until)` (default:
/// the last seven days); for Graph, every visible record with event time in `[since, until)`
/// (default: everything). Duplicates are counted once.
async fn ground_truth(State(state): State<Arc<SimState>>, Query(q): Query<TruthQuery>) -> Response {
    let Some(t) = state.tenant(&q.tenant) else { return problem(StatusCode::NOT_FOUND, "unknown tenant") };
    let now = state.clock.now();
    let ids = match truth_ids(&state, t.index, &q.source, q.since, q.until, now) {
        Ok(ids) => ids,
        Err(message) => return problem(StatusCode::BAD_REQUEST, message),
    };
    Json(json!({ "tenant": t.model.tenant_id, "source": q.source, "now": now.to_rfc3339(), "count": ids.len(), "ids": ids })).into_response()
}

/// The ground-truth id set (sorted) for one tenant and source.
pub fn truth_ids(
    state: &SimState,
    tenant: usize,
    source: &str,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Vec<String>, String> {
    let graph_feed = match source {
        "directory" => Some(Feed::DirectoryAudits),
        "signin" => Some(Feed::SignIns),
        "intune" => Some(Feed::IntuneAuditEvents),
        _ => None,
    };
    let mut ids = BTreeSet::new();
    if let Some(feed) = graph_feed {
        ids.extend(super::graph::ground_truth(
            state,
            tenant,
            feed,
            since.unwrap_or(state.origin),
            until.unwrap_or(now),
        ));
    } else {
        let feeds: Vec<Feed> = match source {
            "unified" => Feed::CONTENT_TYPES.to_vec(),
            other => vec![Feed::from_content_type(other).ok_or_else(|| format!("unknown source {other:?}"))?],
        };
        let since = since.unwrap_or(now - Duration::days(7));
        let until = until.unwrap_or(now);
        let oversized_mb = state.runtime().faults.oversized_blob_mb;
        for feed in feeds {
            for blob in content::blobs_created_in(state, tenant, feed, since, until) {
                if !content::is_listed(state, &blob, now) || content::is_expired(state, &blob, now) {
                    continue;
                }
                if blob == Blob::oversized(state, tenant) {
                    for i in 0..content::oversized_record_count(oversized_mb) {
                        ids.insert(content::oversized_record(state, tenant, i).0);
                    }
                } else {
                    ids.extend(content::blob_record_texts(state, &blob).into_iter().map(|(id, _)| id));
                }
            }
        }
    }
    Ok(ids.into_iter().collect())
}
