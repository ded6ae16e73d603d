//! The Office 365 Management Activity API: subscriptions (start, stop, list), content listing
//! by contentCreated window with `NextPageUri` paging, blob retrieval, notifications history,
//! DLP sensitive types, the AF error catalogue, the per-tenant request budget with
//! `PublisherIdentifier` accounting, and webhooks (validation on start, notifications later).
//!
//! Request checks return the finished error answer as their `Err` (an axum `Response`), which
//! is what the handlers send; boxing it would only add an allocation per refusal.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use futures_util::stream;
use serde_json::json;

use super::activity::Feed;
use super::content::{self, Blob, OVERSIZED_INDEX};
use super::faults::{self, Api};
use super::identity::{check_bearer, Audience, BearerProblem};
use super::state::{SimState, SimTenant, Subscription, Webhook, ROLE_ACTIVITY_FEED, ROLE_ACTIVITY_FEED_DLP};

const NO_PUBLISHER: &str = "00000000-0000-0000-0000-000000000000";

/// The Management Activity API routes (both `/api/v1.0/` and the `/api/v1/` variant).
pub fn routes() -> Router<Arc<SimState>> {
    let mut router = Router::new();
    for version in ["v1.0", "v1"] {
        let base = format!("/api/{version}/{{tenant}}/activity/feed");
        router = router
            .route(&format!("{base}/subscriptions/start"), post(start))
            .route(&format!("{base}/subscriptions/stop"), post(stop))
            .route(&format!("{base}/subscriptions/list"), get(list))
            .route(&format!("{base}/subscriptions/content"), get(content_list))
            .route(&format!("{base}/subscriptions/notifications"), get(notifications))
            .route(&format!("{base}/audit/{{content_id}}"), get(blob))
            .route(&format!("{base}/resources/dlpSensitiveTypes"), get(dlp_types));
    }
    router
}

/// An AF error.
fn af(status: u16, code: &str, message: impl Into<String>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    with_iis_headers((status, Json(json!({"error": {"code": code, "message": message.into()}}))).into_response())
}

/// The headers real responses carry.
fn with_iis_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert("cache-control", HeaderValue::from_static("no-cache"));
    h.insert("pragma", HeaderValue::from_static("no-cache"));
    h.insert("expires", HeaderValue::from_static("-1"));
    h.insert("server", HeaderValue::from_static("Microsoft-IIS/10.0"));
    h.insert("x-aspnet-version", HeaderValue::from_static("4.0.30319"));
    h.insert("x-powered-by", HeaderValue::from_static("ASP.NET"));
    response
}

fn json_body(body: String) -> Response {
    with_iis_headers(([(axum::http::header::CONTENT_TYPE, "application/json; charset=utf-8")], body).into_response())
}

/// Query parameters with lower-cased names: the API matches names case-insensitively.
fn query_map(raw: Option<String>) -> HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
        .collect()
}

fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
}

/// What every Management request goes through: statistics, faults, the request budget,
/// the bearer token, the tenant in the path, and the permission.
struct Caller<'a> {
    tenant: &'a SimTenant,
    roles: Vec<String>,
    client_id: String,
    publisher: String,
}

async fn admit<'a>(
    state: &'a SimState,
    tenant_path: &str,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    method: &str,
) -> Result<Caller<'a>, Response> {
    let publisher = query.get("publisheridentifier").cloned();
    {
        let mut rt = state.runtime();
        rt.stats.management_requests += 1;
        if publisher.is_none() {
            rt.stats.management_requests_without_publisher += 1;
        }
    }
    if let Some(injected) = faults::before_request(state, Api::Management).await {
        return Err(injected);
    }
    let claims = match check_bearer(state, headers, Audience::Management) {
        Ok(c) => c,
        Err(BearerProblem::WrongAudience) | Err(BearerProblem::Invalid) | Err(BearerProblem::Missing) => {
            return Err(with_iis_headers(
                (StatusCode::UNAUTHORIZED, Json(json!({"Message": "Authorization has been denied for this request."})))
                    .into_response(),
            ))
        }
        Err(BearerProblem::Expired) => {
            return Err(with_iis_headers(
                (
                    StatusCode::UNAUTHORIZED,
                    Json(json!({"Message": "Authorization has been denied for this request. The token is expired."})),
                )
                    .into_response(),
            ))
        }
    };
    if !is_guid(tenant_path) {
        return Err(af(400, "AF20013", format!("The tenant ID {tenant_path} in the request is not a valid GUID.")));
    }
    if !claims.tid.eq_ignore_ascii_case(tenant_path) {
        return Err(af(
            401,
            "AF20010",
            format!("The tenant ID {tenant_path} in the URL does not match the tenant ID {} in the token.", claims.tid),
        ));
    }
    let Some(tenant) = state.tenant(tenant_path) else {
        return Err(af(
            400,
            "AF20011",
            format!("Specified tenant ID ({tenant_path}) does not exist in the system or has been deleted."),
        ));
    };
    let publisher_key = publisher.clone().unwrap_or_else(|| NO_PUBLISHER.to_string());
    // The per-tenant budget, counted per publisher over a sliding minute.
    let over_budget = {
        let mut rt = state.runtime();
        let now = Instant::now();
        let minute = std::time::Duration::from_secs(60);
        let log = rt.management_log.entry((tenant.index, publisher_key.clone())).or_default();
        while log.front().is_some_and(|t| now.duration_since(*t) >= minute) {
            log.pop_front();
        }
        let over = log.len() as u32 >= state.config.management_budget_per_minute;
        if !over {
            log.push_back(now);
        }
        let all = rt.management_tenant_log.entry(tenant.index).or_default();
        while all.front().is_some_and(|t| now.duration_since(*t) >= minute) {
            all.pop_front();
        }
        if !over {
            all.push_back(now);
        }
        let in_minute = all.len() as u64;
        rt.stats.max_management_requests_per_minute = rt.stats.max_management_requests_per_minute.max(in_minute);
        over
    };
    if over_budget {
        return Err(faults::management_throttled(state, method, &publisher_key));
    }
    if !claims.roles.iter().any(|r| r == ROLE_ACTIVITY_FEED) {
        return Err(af(
            401,
            "AF10001",
            format!(
                "The permission set ({}) sent in the request does not include the expected permission.",
                claims.roles.join(",")
            ),
        ));
    }
    if !state.runtime().flags[tenant.index].unified_audit {
        return Err(af(
            400,
            &format!(
                "StartSubscription [TenantId={},ContentType=Audit.General,ApplicationId={},PublisherId={publisher_key}] failed. Exception",
                tenant.model.tenant_id, claims.appid
            ),
            format!("Microsoft.Office.Compliance.Audit.DataServiceException: Tenant {} does not exist.", tenant.model.tenant_id),
        ));
    }
    Ok(Caller { tenant, roles: claims.roles, client_id: claims.appid, publisher: publisher_key })
}

/// The content type parameter, checked against the caller's permissions.
fn content_type(query: &HashMap<String, String>, caller: &Caller) -> Result<Feed, Response> {
    let Some(name) = query.get("contenttype") else {
        return Err(af(400, "AF20001", "Missing parameter: contentType."));
    };
    let Some(feed) = Feed::from_content_type(name) else {
        return Err(af(400, "AF20020", format!("The specified content type is not valid: {name}.")));
    };
    if feed == Feed::DlpAll && !caller.roles.iter().any(|r| r == ROLE_ACTIVITY_FEED_DLP) {
        return Err(af(
            401,
            "AF10001",
            format!("The permission set ({}) sent in the request does not include the expected permission ActivityFeed.ReadDlp.", caller.roles.join(",")),
        ));
    }
    Ok(feed)
}

fn subscription_json(feed: Feed, sub: &Subscription) -> serde_json::Value {
    json!({
        "contentType": feed.content_type(),
        "status": if sub.enabled { "enabled" } else { "disabled" },
        "webhook": sub.webhook.as_ref().map(|w| json!({"status": w.status, "address": w.address, "authId": w.auth_id, "expiration": w.expiration})),
    })
}

/// `POST /subscriptions/start?contentType=...` with an optional `{"webhook": {...}}` body.
async fn start(
    State(state): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = query_map(raw);
    let (caller, feed) = match admit_feed(&state, &tenant, &headers, &query, "StartSubscription").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let webhook_request = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(v) => v.get("webhook").filter(|w| !w.is_null()).cloned(),
            Err(_) => return af(400, "AF20002", "Invalid parameter type: request body. Expected type: JSON."),
        }
    };
    let now = state.clock.now();
    let mut webhook = None;
    if let Some(w) = webhook_request {
        let address = w.get("address").and_then(|a| a.as_str()).unwrap_or_default().to_string();
        let auth_id = w.get("authId").and_then(|a| a.as_str()).map(str::to_string);
        let expiration = w.get("expiration").and_then(|a| a.as_str()).filter(|e| !e.is_empty()).map(str::to_string);
        if !(address.starts_with("https://") || state.config.allow_http_webhooks && address.starts_with("http://")) {
            return af(
                400,
                "AF20021",
                format!(
                    "The webhook endpoint {{{address}}} could not be validated. The address must begin with HTTPS."
                ),
            );
        }
        if let Some(exp) = &expiration {
            match parse_time(exp) {
                Some(t) if t <= now => {
                    return af(400, "AF20003", format!("Expiration {exp} provided is set to past date and time."))
                }
                Some(_) => {}
                None => return af(400, "AF20002", "Invalid parameter type: expiration. Expected type: datetime."),
            }
        }
        if let Err(why) = super::webhooks::validate_management_webhook(&address, auth_id.as_deref()).await {
            return af(400, "AF20021", format!("The webhook endpoint {{{address}}} could not be validated. {why}"));
        }
        webhook = Some(Webhook { address, auth_id, expiration, status: "enabled".into() });
    }
    let mut rt = state.runtime();
    let throttle = std::time::Duration::from_secs(state.config.start_throttle_secs);
    let sub = rt.subscriptions.entry((caller.tenant.index, feed)).or_default();
    let changes = !sub.enabled || webhook.is_some();
    if !changes {
        return af(400, "AF20024", "The subscription is already enabled. No property change.");
    }
    if state.config.start_throttle_secs > 0 && sub.last_start.is_some_and(|t| t.elapsed() < throttle) {
        drop(rt);
        return faults::management_throttled(&state, "StartSubscription", &caller.publisher);
    }
    if !sub.enabled {
        // The first start covers the tenant's history; a restart only what comes after it.
        let from = if sub.intervals.is_empty() { state.origin } else { now };
        if !sub.intervals.is_empty() {
            sub.restarted_at = Some(now);
        }
        sub.intervals.push((from, None));
        sub.enabled = true;
        sub.notified_until = Some(now);
    }
    if webhook.is_some() {
        sub.webhook = webhook;
        sub.notified_until = Some(now);
    }
    sub.last_start = Some(Instant::now());
    let body = subscription_json(feed, sub);
    rt.stats.subscription_starts += 1;
    drop(rt);
    json_body(body.to_string())
}

/// `POST /subscriptions/stop?contentType=...`.
async fn stop(
    State(state): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = query_map(raw);
    let (caller, feed) = match admit_feed(&state, &tenant, &headers, &query, "StopSubscription").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let now = state.clock.now();
    let mut rt = state.runtime();
    let sub = rt.subscriptions.entry((caller.tenant.index, feed)).or_default();
    if !sub.enabled {
        return af(
            400,
            "AF20022",
            format!("No subscription found for the specified content type: {}.", feed.content_type().unwrap_or("")),
        );
    }
    sub.enabled = false;
    if let Some(last) = sub.intervals.last_mut() {
        last.1 = Some(now);
    }
    with_iis_headers(StatusCode::OK.into_response())
}

/// `GET /subscriptions/list`.
async fn list(
    State(state): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = query_map(raw);
    let caller = match admit(&state, &tenant, &headers, &query, "ListSubscriptions").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let rt = state.runtime();
    let items: Vec<serde_json::Value> = Feed::CONTENT_TYPES
        .iter()
        .filter_map(|f| {
            rt.subscriptions
                .get(&(caller.tenant.index, *f))
                .filter(|s| !s.intervals.is_empty())
                .map(|s| subscription_json(*f, s))
        })
        .collect();
    json_body(serde_json::Value::Array(items).to_string())
}

/// Parses the documented and observed time formats (UTC; optional seconds, fraction and `Z`).
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim().trim_end_matches('Z').trim_end_matches('z');
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Some(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, format) {
            return Some(Utc.from_utc_datetime(&dt));
        }
    }
    DateTime::parse_from_rfc3339(text.trim()).ok().map(|d| d.with_timezone(&Utc))
}

/// The listing window, checked against the rules (both or neither, at most 24 h, start before
/// end, start no more than seven days back).
fn window(query: &HashMap<String, String>, now: DateTime<Utc>) -> Result<(DateTime<Utc>, DateTime<Utc>), Response> {
    let message = "Start time and end time must both be specified (or both omitted) and must be less than or equal to 24 hours apart, with the start time prior to end time and start time no more than 7 days in the past.";
    match (query.get("starttime"), query.get("endtime")) {
        (None, None) => Ok((now - Duration::hours(24), now)),
        (Some(_), None) | (None, Some(_)) => Err(af(400, "AF20030", message)),
        (Some(s), Some(e)) => {
            let Some(start) = parse_time(s) else {
                return Err(af(400, "AF20002", "Invalid parameter type: startTime. Expected type: datetime."));
            };
            let Some(end) = parse_time(e) else {
                return Err(af(400, "AF20002", "Invalid parameter type: endTime. Expected type: datetime."));
            };
            // Microsoft tolerates about an hour beyond seven days.
            let too_old = start < now - Duration::days(7) - Duration::hours(1);
            if start >= end || end - start > Duration::hours(24) || too_old {
                return Err(af(400, "AF20055", message));
            }
            Ok((start, end))
        }
    }
}

fn descriptor(state: &SimState, tenant: &SimTenant, blob: &Blob, base: &str) -> serde_json::Value {
    let id = blob.content_id(state);
    json!({
        "contentType": blob.feed.content_type(),
        "contentId": id,
        "contentUri": format!("{base}/api/v1.0/{}/activity/feed/audit/{id}", tenant.model.tenant_id),
        "contentCreated": blob.created.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "contentExpiration": blob.expiration.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
    })
}

/// The `nextPage` token: an opaque-looking string carrying the offset and a check value.
fn next_page_token(start: DateTime<Utc>, offset: usize) -> String {
    let check = super::state::stable_hash(&[&start.timestamp().to_le_bytes(), &offset.to_le_bytes()]) % 1_000_000;
    format!("{}R{offset:09}{check:06}", start.format("%Y%m%d%H"))
}

fn parse_next_page(token: &str, start: DateTime<Utc>) -> Option<usize> {
    let (_, rest) = token.split_once('R')?;
    if rest.len() != 15 {
        return None;
    }
    let offset: usize = rest[..9].parse().ok()?;
    (next_page_token(start, offset) == token).then_some(offset)
}

/// What operations on one content type check: the caller and the content type.
async fn admit_feed<'a>(
    state: &'a SimState,
    tenant: &str,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    method: &str,
) -> Result<(Caller<'a>, Feed), Response> {
    let caller = admit(state, tenant, headers, query, method).await?;
    let feed = content_type(query, &caller)?;
    Ok((caller, feed))
}

/// What listing operations check: the caller, the content type, the subscription and the window.
async fn admit_window<'a>(
    state: &'a SimState,
    tenant: &str,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    method: &str,
) -> Result<(Caller<'a>, Feed, DateTime<Utc>, (DateTime<Utc>, DateTime<Utc>)), Response> {
    let (caller, feed) = admit_feed(state, tenant, headers, query, method).await?;
    subscription_usable(state, caller.tenant.index, feed)?;
    let now = state.clock.now();
    let window = window(query, now)?;
    Ok((caller, feed, now, window))
}

/// `GET /subscriptions/content?contentType=...&startTime=...&endTime=...[&nextPage=...]`.
async fn content_list(
    State(state): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = query_map(raw);
    let (caller, feed, now, (start, end)) = match admit_window(&state, &tenant, &headers, &query, "ListContent").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let offset = match query.get("nextpage") {
        None => 0,
        Some(token) => match parse_next_page(token, start) {
            Some(o) => o,
            None => return af(400, "AF20031", format!("Invalid nextPage Input: {token}.")),
        },
    };
    let base = state.link_base();
    let listed: Vec<Blob> = content::blobs_created_in(&state, caller.tenant.index, feed, start, end)
        .into_iter()
        .filter(|b| content::is_listed(&state, b, now))
        .collect();
    let page_size = state.config.content_page_size.max(1);
    let page: Vec<serde_json::Value> =
        listed.iter().skip(offset).take(page_size).map(|b| descriptor(&state, caller.tenant, b, &base)).collect();
    let body = faults::corrupt_body(&state, serde_json::Value::Array(page).to_string());
    let mut response = json_body(body);
    if offset + page_size < listed.len() {
        let next = offset + page_size;
        let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.f").to_string();
        let ct = feed.content_type().unwrap_or_default();
        let token = next_page_token(start, next);
        // Microsoft's NextPageUri sometimes uses undocumented lower-case names and /api/v1/.
        let uri = if state.config.lowercase_next_page && (next / page_size) % 2 == 0 {
            format!(
                "{base}/api/v1/{}/activity/feed/subscriptions/content?contenttype={ct}&starttime={}&endtime={}&nextpage={token}",
                caller.tenant.model.tenant_id,
                fmt(start),
                fmt(end)
            )
        } else {
            format!(
                "{base}/api/v1.0/{}/activity/feed/subscriptions/content?contentType={ct}&startTime={}&endTime={}&nextPage={token}",
                caller.tenant.model.tenant_id,
                fmt(start),
                fmt(end)
            )
        };
        if let Ok(v) = HeaderValue::from_str(&uri) {
            response.headers_mut().insert("NextPageUri", v);
        }
    }
    response
}

/// AF20022 when never started, AF20023 when disabled (or lingering after a restart).
fn subscription_usable(state: &SimState, tenant: usize, feed: Feed) -> Result<(), Response> {
    let rt = state.runtime();
    let Some(sub) = rt.subscriptions.get(&(tenant, feed)) else {
        return Err(af(400, "AF20022", "No subscription found for the specified content type."));
    };
    if sub.intervals.is_empty() {
        return Err(af(400, "AF20022", "No subscription found for the specified content type."));
    }
    if !sub.enabled {
        return Err(af(400, "AF20023", "The subscription was disabled."));
    }
    let linger = rt.faults.lingering_disabled_secs as i64;
    if linger > 0 && sub.restarted_at.is_some_and(|t| state.clock.now() < t + Duration::seconds(linger)) {
        return Err(af(400, "AF20023", "The subscription was disabled."));
    }
    Ok(())
}

/// `GET /audit/{contentId}`: the blob's records as a JSON array.
async fn blob(
    State(state): State<Arc<SimState>>,
    Path((tenant, content_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = query_map(raw);
    let caller = match admit(&state, &tenant, &headers, &query, "GetBlob").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(blob) = Blob::parse(&state, caller.tenant.index, &content_id) else {
        return if content_id.split('$').count() == 5 {
            af(400, "AF20050", format!("The specified content ({content_id}) doesn't exist."))
        } else {
            af(400, "AF20052", format!("Content ID {content_id} in the URL is invalid."))
        };
    };
    if blob.feed == Feed::DlpAll && !caller.roles.iter().any(|r| r == ROLE_ACTIVITY_FEED_DLP) {
        return af(
            401,
            "AF10001",
            "The permission set sent in the request does not include the expected permission ActivityFeed.ReadDlp.",
        );
    }
    if let Err(r) = subscription_usable(&state, caller.tenant.index, blob.feed) {
        return r;
    }
    let now = state.clock.now();
    let oversized = blob.index == OVERSIZED_INDEX;
    if oversized && state.runtime().faults.oversized_blob_mb == 0 {
        return af(400, "AF20050", format!("The specified content ({content_id}) doesn't exist."));
    }
    if !content::is_listed(&state, &blob, now) {
        return af(400, "AF20050", format!("The specified content ({content_id}) doesn't exist."));
    }
    if content::is_expired(&state, &blob, now) {
        return af(
            400,
            "AF20051",
            format!("Content requested with the key {content_id} has already expired. Content older than 7 days cannot be retrieved."),
        );
    }
    {
        let mut rt = state.runtime();
        rt.stats.blob_fetches += 1;
        if !rt.fetched_blobs.insert(format!("{}:{content_id}", caller.tenant.index)) {
            rt.stats.blob_refetches += 1;
        }
    }
    let _ = &caller.client_id;
    if oversized {
        return oversized_body(state.clone(), caller.tenant.index);
    }
    let records = content::blob_record_texts(&state, &blob);
    state.runtime().stats.records_served += records.len() as u64;
    let mut body = String::with_capacity(records.iter().map(|(_, j)| j.len() + 1).sum::<usize>() + 2);
    body.push('[');
    for (i, (_, json)) in records.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(json);
    }
    body.push(']');
    json_body(faults::corrupt_body(&state, body))
}

/// The oversized blob, generated record by record as the body streams out.
fn oversized_body(state: Arc<SimState>, tenant: usize) -> Response {
    let (mb, truncate) = {
        let mut rt = state.runtime();
        let truncate = super::state::Runtime::take(&mut rt.faults.truncated);
        (rt.faults.oversized_blob_mb, truncate)
    };
    let total = content::oversized_record_count(mb);
    let stop_at = if truncate { total / 2 } else { total };
    const CHUNK: u64 = 256;
    let chunks = stream::unfold(0u64, move |next| {
        let state = state.clone();
        async move {
            if next > stop_at {
                return None;
            }
            if next == stop_at {
                let tail = if stop_at == total { "]" } else { "" };
                return Some((Ok::<_, std::io::Error>(Bytes::from(tail)), next + 1));
            }
            let end = (next + CHUNK).min(stop_at);
            let mut buf = String::with_capacity((end - next) as usize * 1100);
            for i in next..end {
                buf.push(if i == 0 { '[' } else { ',' });
                buf.push_str(&content::oversized_record(&state, tenant, i).1);
            }
            state.runtime().stats.records_served += end - next;
            Some((Ok(Bytes::from(buf)), end))
        }
    });
    with_iis_headers(
        Response::builder()
            .header(axum::http::header::CONTENT_TYPE, "application/json; charset=utf-8")
            .body(Body::from_stream(chunks))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
    )
}

/// `GET /subscriptions/notifications`: the webhook delivery history (diagnostic only).
async fn notifications(
    State(state): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = query_map(raw);
    let (caller, feed, _now, (start, end)) =
        match admit_window(&state, &tenant, &headers, &query, "ListNotifications").await {
            Ok(v) => v,
            Err(r) => return r,
        };
    let log = super::webhooks::notification_log(&state, caller.tenant.index, feed, start, end);
    json_body(serde_json::Value::Array(log).to_string())
}

/// `GET /resources/dlpSensitiveTypes`: friendly names of sensitive information types.
async fn dlp_types(
    State(state): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = query_map(raw);
    if let Err(r) = admit(&state, &tenant, &headers, &query, "GetDlpSensitiveTypes").await {
        return r;
    }
    if headers.get("accept-language").and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains(',')) {
        return af(400, "AF20053", "More than one language was specified in the Accept-Language header.");
    }
    json_body(
        json!([
            {"id": "50842eb7-edc8-4019-85dd-5a5c1f2bb085", "name": "Credit Card Number"},
            {"id": "a44669fe-0d48-453d-a9b1-2cc83f2cba77", "name": "U.S. Social Security Number (SSN)"},
            {"id": "cb353f78-2b72-4c3c-8827-92ebe4f69fdf", "name": "ABA Routing Number"},
            {"id": "e7dc4711-11b7-4cb0-b88b-2c394a771f0e", "name": "EU Debit Card Number"}
        ])
        .to_string(),
    )
}
