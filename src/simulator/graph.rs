//! Microsoft Graph's audit resources: `/v1.0/auditLogs/directoryAudits`, `/v1.0/auditLogs/signIns`
//! and `/v1.0/deviceManagement/auditEvents`, with the OData subset real clients use (`$filter`
//! on the date field with ge/le/gt/lt joined by `and`, `$top`, `$orderby`, `@odata.nextLink`
//! paging), Graph's error bodies, licence and permission checks, and 429 + `Retry-After` at the
//! documented per-app limits. Also change-notification subscriptions with the validation
//! handshake.
//!
//! Records become visible a few minutes after their event time (and a few only hours later), so a
//! client that reads up to "now" without an overlap misses some.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use axum::{Json, Router};
use base64::Engine;
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::json;

use super::activity::{Feed, Record};
use super::faults::{self, graph_error, Api};
use super::identity::{check_bearer, AccessClaims, Audience, BearerProblem};
use super::state::{
    stable_hash, GraphSubscription, SimState, SimTenant, ROLE_APPLICATIONS, ROLE_AUDIT_LOG, ROLE_DIRECTORY, ROLE_INTUNE,
};

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// One Graph audit resource.
struct Resource {
    feed: Feed,
    /// Path after `/v1.0/`.
    path: &'static str,
    date_field: &'static str,
    default_top: usize,
    max_top: usize,
    /// Throttling bucket.
    bucket: &'static str,
}

const DIRECTORY: Resource = Resource {
    feed: Feed::DirectoryAudits,
    path: "auditLogs/directoryAudits",
    date_field: "activityDateTime",
    default_top: 100,
    max_top: 1000,
    bucket: "reports",
};
const SIGNINS: Resource = Resource {
    feed: Feed::SignIns,
    path: "auditLogs/signIns",
    date_field: "createdDateTime",
    default_top: 1000,
    max_top: 1000,
    bucket: "reports",
};
const INTUNE: Resource = Resource {
    feed: Feed::IntuneAuditEvents,
    path: "deviceManagement/auditEvents",
    date_field: "activityDateTime",
    default_top: 50,
    max_top: 1000,
    bucket: "intune",
};

/// The Graph routes.
pub fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route("/v1.0/auditLogs/directoryAudits", get(|s, q, h| list(s, q, h, &DIRECTORY)))
        .route("/v1.0/auditLogs/signIns", get(|s, q, h| list(s, q, h, &SIGNINS)))
        .route("/v1.0/deviceManagement/auditEvents", get(|s, q, h| list(s, q, h, &INTUNE)))
        .route("/v1.0/subscriptions", get(list_subscriptions).post(create_subscription))
        .route("/v1.0/domains", get(domains))
        .route("/v1.0/servicePrincipals", get(service_principals))
        .route("/v1.0/subscriptions/{id}", patch(renew_subscription).delete(delete_subscription))
}

/// `GET /v1.0/domains`: the tenant's domains (Domain.Read.All or Directory.Read.All). The
/// simulated tenants own their initial `onmicrosoft.com` domain and a vanity domain; the
/// vanity domain carries no mailboxes, so it only shows whether a client reads the list.
async fn domains(State(state): State<Arc<SimState>>, headers: HeaderMap) -> Response {
    let rid = request_id(&headers);
    let (claims, tenant) = match admit_tenant(&state, &headers, &rid).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    if !claims.roles.iter().any(|r| r == ROLE_DIRECTORY) {
        return insufficient_privileges(&rid);
    }
    let initial = &tenant.model.domain;
    let vanity = vanity_domain(initial);
    let domain = |id: &str, default: bool, initial: bool| {
        json!({"authenticationType": "Managed", "availabilityStatus": null, "id": id, "isAdminManaged": true,
               "isDefault": default, "isInitial": initial, "isRoot": true, "isVerified": true,
               "supportedServices": ["Email", "OfficeCommunicationsOnline"]})
    };
    let body = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#domains",
        "value": [domain(initial, false, true), domain(&vanity, true, false),
                  {"id": format!("unverified.{vanity}"), "isVerified": false, "isDefault": false, "isInitial": false}],
    });
    (StatusCode::OK, [("request-id", rid)], Json(body)).into_response()
}

/// `GET /v1.0/servicePrincipals`: the tenant's applications (Application.Read.All or
/// Directory.Read.All), `$select` honoured for `appId`, `displayName` and `id`, `$top` 1–999
/// (default 100), paged with `@odata.nextLink` and an opaque `$skiptoken` as Graph does.
async fn service_principals(
    State(state): State<Arc<SimState>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let rid = request_id(&headers);
    let (claims, tenant) = match admit_tenant(&state, &headers, &rid).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    if !claims.roles.iter().any(|r| r == ROLE_DIRECTORY || r == ROLE_APPLICATIONS) {
        return insufficient_privileges(&rid);
    }
    let q: HashMap<String, String> = url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let top = match q.get("$top").map(|t| t.parse::<usize>()) {
        None => 100,
        Some(Ok(t)) if (1..=999).contains(&t) => t,
        Some(_) => return bad_request("Request_BadRequest", "Invalid value specified for 'top'.", &rid),
    };
    let skip = match q.get("$skiptoken") {
        None => 0,
        Some(token) => match token.strip_prefix("sp-").and_then(|n| n.parse::<usize>().ok()) {
            Some(n) => n,
            None => return bad_request("Request_BadRequest", "Invalid $skiptoken.", &rid),
        },
    };
    let select: Vec<String> = q
        .get("$select")
        .map(|s| s.split(',').map(|f| f.trim().to_string()).filter(|f| !f.is_empty()).collect())
        .unwrap_or_default();
    let all = &tenant.model.service_principals;
    let page: Vec<serde_json::Value> = all
        .iter()
        .skip(skip)
        .take(top)
        .map(|sp| {
            let full = json!({"id": sp.object_id, "appId": sp.app_id, "displayName": sp.display_name,
                              "servicePrincipalType": "Application", "accountEnabled": true});
            if select.is_empty() {
                return full;
            }
            let mut picked = serde_json::Map::new();
            for field in &select {
                if let Some(v) = full.get(field) {
                    picked.insert(field.clone(), v.clone());
                }
            }
            serde_json::Value::Object(picked)
        })
        .collect();
    let base = state.link_base();
    let mut body = json!({
        "@odata.context": format!("{base}/v1.0/$metadata#servicePrincipals"),
        "value": page,
    });
    if skip + top < all.len() {
        let mut next = url::form_urlencoded::Serializer::new(String::new());
        if let Some(s) = q.get("$select") {
            next.append_pair("$select", s);
        }
        next.append_pair("$top", &top.to_string());
        next.append_pair("$skiptoken", &format!("sp-{}", skip + top));
        body["@odata.nextLink"] = format!("{base}/v1.0/servicePrincipals?{}", next.finish()).into();
    }
    (StatusCode::OK, [("request-id", rid)], Json(body)).into_response()
}

/// The vanity domain of a simulated tenant: `contoso-0.onmicrosoft.com` → `contoso-0.example`.
pub fn vanity_domain(initial: &str) -> String {
    format!("{}.example", initial.split('.').next().unwrap_or("tenant"))
}

/// When a record shows up in Graph: 1–10 minutes after it happened, for about 3 % of records
/// 30 minutes to 2 hours.
pub fn visible_at(record: &Record) -> DateTime<Utc> {
    let h = stable_hash(&[record.id.as_bytes(), b"graph-lag"]);
    let lag = if h % 100 < 3 { 1_800 + (h >> 8) % 5_400 } else { 60 + (h >> 8) % 540 };
    record.time + Duration::seconds(lag as i64)
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

fn bad_request(code: &str, message: &str, rid: &str) -> Response {
    graph_error(StatusCode::BAD_REQUEST, code, message, Some(rid))
}

/// Authenticates a Graph call and returns the token's claims.
async fn admit(state: &SimState, headers: &HeaderMap, rid: &str) -> Result<AccessClaims, Response> {
    state.runtime().stats.graph_requests += 1;
    if let Some(injected) = faults::before_request(state, Api::Graph).await {
        return Err(injected);
    }
    check_bearer(state, headers, Audience::Graph).map_err(|problem| {
        let message = match problem {
            BearerProblem::Missing => "Access token is empty.",
            BearerProblem::Expired => "Access token has expired or is not yet valid.",
            BearerProblem::WrongAudience => "Access token validation failure. Invalid audience.",
            BearerProblem::Invalid => "Access token validation failure.",
        };
        graph_error(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", message, Some(rid))
    })
}

/// [`admit`], and the tenant the token was issued for.
async fn admit_tenant<'a>(
    state: &'a SimState,
    headers: &HeaderMap,
    rid: &str,
) -> Result<(AccessClaims, &'a SimTenant), Response> {
    let claims = admit(state, headers, rid).await?;
    match state.tenant(&claims.tid) {
        Some(tenant) => Ok((claims, tenant)),
        None => Err(graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token validation failure.",
            Some(rid),
        )),
    }
}

/// Graph's answer when the app lacks the directory permission a resource needs.
fn insufficient_privileges(rid: &str) -> Response {
    graph_error(
        StatusCode::FORBIDDEN,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
        Some(rid),
    )
}

/// A sliding-window limit per (tenant, app, bucket); `Err(seconds)` to wait when over it.
fn throttle(state: &SimState, tenant: usize, app: &str, bucket: &'static str) -> Result<(), u64> {
    let (limit, window) = if bucket == "intune" {
        (state.config.intune_limit, state.config.intune_window_secs)
    } else {
        (state.config.graph_reports_limit, state.config.graph_reports_window_secs)
    };
    if limit == 0 {
        return Ok(());
    }
    let window = std::time::Duration::from_secs(window.max(1));
    let now = Instant::now();
    let mut rt = state.runtime();
    let log = rt.graph_log.entry((tenant, app.to_string(), bucket)).or_default();
    while log.front().is_some_and(|t| now.duration_since(*t) >= window) {
        log.pop_front();
    }
    if log.len() as u32 >= limit {
        let oldest = *log.front().expect("over the limit means the log is not empty");
        let wait = window.saturating_sub(now.duration_since(oldest)).as_secs_f64().ceil().max(1.0) as u64;
        rt.stats.throttled += 1;
        return Err(wait);
    }
    log.push_back(now);
    Ok(())
}

/// Date bounds from `$filter`.
#[derive(Default, Debug, PartialEq)]
struct Bounds {
    lower: Option<(DateTime<Utc>, bool)>,
    upper: Option<(DateTime<Utc>, bool)>,
}

impl Bounds {
    fn contains(&self, t: DateTime<Utc>) -> bool {
        let lower_ok = self.lower.is_none_or(|(b, inclusive)| if inclusive { t >= b } else { t > b });
        let upper_ok = self.upper.is_none_or(|(b, inclusive)| if inclusive { t <= b } else { t < b });
        lower_ok && upper_ok
    }
}

/// Parses `field ge|gt|le|lt|eq <DateTimeOffset>` clauses joined by `and`.
fn parse_filter(text: &str, field: &str) -> Result<Bounds, String> {
    let mut bounds = Bounds::default();
    let lower = text.to_ascii_lowercase();
    let mut clauses = Vec::new();
    let mut start = 0;
    while let Some(pos) = lower[start..].find(" and ") {
        clauses.push(&text[start..start + pos]);
        start += pos + 5;
    }
    clauses.push(&text[start..]);
    for clause in clauses {
        let parts: Vec<&str> = clause.split_whitespace().collect();
        let [name, op, value] = parts[..] else {
            return Err(format!("Invalid filter clause: '{}'.", clause.trim()));
        };
        if name != field {
            return Err(format!("Invalid filter clause: filtering on '{name}' is not supported here; use '{field}'."));
        }
        let t = DateTime::parse_from_rfc3339(value)
            .map_err(|_| format!("Invalid filter clause: '{value}' is not a valid DateTimeOffset (use e.g. 2025-03-01T00:00:00Z without quotes)."))?
            .with_timezone(&Utc);
        match op.to_ascii_lowercase().as_str() {
            "ge" => bounds.lower = Some((t, true)),
            "gt" => bounds.lower = Some((t, false)),
            "le" => bounds.upper = Some((t, true)),
            "lt" => bounds.upper = Some((t, false)),
            "eq" => {
                bounds.lower = Some((t, true));
                bounds.upper = Some((t, true));
            }
            other => return Err(format!("Invalid filter clause: operator '{other}' is not supported.")),
        }
    }
    Ok(bounds)
}

/// Position after which the next page starts.
fn encode_skiptoken(descending: bool, time: DateTime<Utc>, id: &str) -> String {
    B64URL.encode(format!("{}|{}|{id}", if descending { "d" } else { "a" }, time.timestamp_micros()))
}

fn decode_skiptoken(token: &str) -> Option<(bool, DateTime<Utc>, String)> {
    let text = String::from_utf8(B64URL.decode(token).ok()?).ok()?;
    let mut parts = text.splitn(3, '|');
    let descending = match parts.next()? {
        "d" => true,
        "a" => false,
        _ => return None,
    };
    let micros: i64 = parts.next()?.parse().ok()?;
    Some((descending, DateTime::from_timestamp_micros(micros)?, parts.next()?.to_string()))
}

fn query_pairs(raw: Option<String>) -> HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
        .collect()
}

async fn list(
    State(state): State<Arc<SimState>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    resource: &'static Resource,
) -> Response {
    let rid = request_id(&headers);
    let (claims, tenant) = match admit_tenant(&state, &headers, &rid).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let has = |role: &str| claims.roles.iter().any(|r| r == role);
    let flags = state.runtime().flags[tenant.index].clone();
    match resource.feed {
        Feed::IntuneAuditEvents => {
            if !has(ROLE_INTUNE) {
                return graph_error(StatusCode::FORBIDDEN, "Forbidden", "Application is not authorized to perform this operation. Application must have one of the following scopes: DeviceManagementApps.Read.All, DeviceManagementApps.ReadWrite.All", Some(&rid));
            }
            if !flags.intune {
                return graph_error(
                    StatusCode::FORBIDDEN,
                    "Forbidden",
                    "Tenant is not licensed for Microsoft Intune.",
                    Some(&rid),
                );
            }
        }
        _ => {
            if !has(ROLE_AUDIT_LOG) {
                return graph_error(
                    StatusCode::FORBIDDEN,
                    "Authentication_MSGraphPermissionMissing",
                    "Calling principal does not have required MSGraph permissions AuditLog.Read.All",
                    Some(&rid),
                );
            }
            if !has(ROLE_DIRECTORY) {
                return insufficient_privileges(&rid);
            }
            if resource.feed == Feed::SignIns && !flags.entra_p1 {
                return graph_error(
                    StatusCode::FORBIDDEN,
                    "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                    "Neither tenant is B2C or tenant doesn't have premium license",
                    Some(&rid),
                );
            }
        }
    }
    if let Err(wait) = throttle(&state, tenant.index, &claims.appid, resource.bucket) {
        return faults::graph_throttled(wait);
    }

    let q = query_pairs(raw);
    let bounds = match q.get("$filter") {
        None => Bounds::default(),
        Some(f) => match parse_filter(f, resource.date_field) {
            Ok(b) => b,
            Err(message) => return bad_request("BadRequest", &message, &rid),
        },
    };
    let top = match q.get("$top") {
        None => resource.default_top,
        Some(t) => match t.parse::<usize>() {
            Ok(n) if n >= 1 => n.min(resource.max_top),
            _ => {
                return bad_request(
                    "BadRequest",
                    &format!("Invalid value '{t}' for $top; it must be a positive integer."),
                    &rid,
                )
            }
        },
    };
    let mut descending = match q.get("$orderby").map(|o| o.trim().to_string()) {
        None => true,
        Some(o) => {
            let parts: Vec<&str> = o.split_whitespace().collect();
            match parts[..] {
                [f] if f == resource.date_field => false,
                [f, dir] if f == resource.date_field && dir.eq_ignore_ascii_case("asc") => false,
                [f, dir] if f == resource.date_field && dir.eq_ignore_ascii_case("desc") => true,
                _ => {
                    return bad_request(
                        "BadRequest",
                        &format!("$orderby is only supported on {}.", resource.date_field),
                        &rid,
                    )
                }
            }
        }
    };
    let after = match q.get("$skiptoken") {
        None => None,
        Some(token) => match decode_skiptoken(token) {
            Some((d, t, id)) => {
                descending = d;
                Some((t, id))
            }
            None => return bad_request("BadRequest", "Invalid $skiptoken.", &rid),
        },
    };

    let now = state.clock.now();
    let (page, more) = collect_page(&state, tenant.index, resource.feed, &bounds, descending, after.as_ref(), top, now);
    let base = state.link_base();
    let mut body = String::with_capacity(page.iter().map(|r| r.json.len() + 1).sum::<usize>() + 512);
    body.push_str(&format!("{{\"@odata.context\":\"{base}/v1.0/$metadata#{}\",", resource.path));
    if more {
        if let Some(last) = page.last() {
            let mut next = url::form_urlencoded::Serializer::new(String::new());
            if let Some(f) = q.get("$filter") {
                next.append_pair("$filter", f);
            }
            if let Some(o) = q.get("$orderby") {
                next.append_pair("$orderby", o);
            }
            next.append_pair("$top", &top.to_string());
            next.append_pair("$skiptoken", &encode_skiptoken(descending, last.time, &last.id));
            let link = format!("{base}/v1.0/{}?{}", resource.path, next.finish());
            body.push_str(&format!("\"@odata.nextLink\":{},", serde_json::Value::String(link)));
        }
    }
    body.push_str("\"value\":[");
    for (i, r) in page.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&r.json);
    }
    body.push_str("]}");
    state.runtime().stats.records_served += page.len() as u64;
    let body = faults::corrupt_body(&state, body);
    let mut response = (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8",
        )],
        body,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&rid) {
        response.headers_mut().insert("request-id", v.clone());
        response.headers_mut().insert("client-request-id", v);
    }
    response
}

/// Up to `top` visible records within `bounds`, ordered by (time, id), after the skiptoken
/// position; and whether more exist.
#[allow(clippy::too_many_arguments)]
fn collect_page(
    state: &SimState,
    tenant: usize,
    feed: Feed,
    bounds: &Bounds,
    descending: bool,
    after: Option<&(DateTime<Utc>, String)>,
    top: usize,
    now: DateTime<Utc>,
) -> (Vec<Record>, bool) {
    let hour = |t: DateTime<Utc>| t.duration_trunc(Duration::hours(1)).expect("hour divides time");
    let mut newest = hour(bounds.upper.map_or(now, |(t, _)| t.min(now)));
    let mut oldest = hour(bounds.lower.map_or(state.origin, |(t, _)| t.max(state.origin)));
    // Start where the previous page ended instead of scanning the hours already served.
    if let Some((t, _)) = after {
        if descending {
            newest = newest.min(hour(*t));
        } else {
            oldest = oldest.max(hour(*t));
        }
    }
    let beyond = |r: &Record| match after {
        None => true,
        Some((t, id)) => {
            if descending {
                (r.time, r.id.as_str()) < (*t, id.as_str())
            } else {
                (r.time, r.id.as_str()) > (*t, id.as_str())
            }
        }
    };
    let mut out: Vec<Record> = Vec::new();
    let mut h = if descending { newest } else { oldest };
    while (descending && h >= oldest) || (!descending && h <= newest) {
        let records = state.hour(tenant, feed, h);
        let mut matching: Vec<&Record> =
            records.iter().filter(|r| bounds.contains(r.time) && visible_at(r) <= now && beyond(r)).collect();
        matching.sort_by(|a, b| (a.time, &a.id).cmp(&(b.time, &b.id)));
        if descending {
            matching.reverse();
        }
        out.extend(matching.into_iter().cloned());
        if out.len() > top {
            break;
        }
        h = if descending { h - Duration::hours(1) } else { h + Duration::hours(1) };
    }
    let more = out.len() > top;
    out.truncate(top);
    (out, more)
}

/// Every visible record id of a Graph feed with event time in `[since, until)`.
pub fn ground_truth(
    state: &SimState,
    tenant: usize,
    feed: Feed,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<String> {
    let now = state.clock.now();
    let bounds = Bounds { lower: Some((since, true)), upper: Some((until, false)) };
    let mut ids = Vec::new();
    let mut h = since.max(state.origin).duration_trunc(Duration::hours(1)).expect("hour divides time");
    while h < until.min(now) {
        for r in state.hour(tenant, feed, h).iter() {
            if bounds.contains(r.time) && visible_at(r) <= now {
                ids.push(r.id.clone());
            }
        }
        h += Duration::hours(1);
    }
    ids
}

/// User ids targeted by directory changes that became visible in `(since, now]`.
pub fn changed_users(state: &SimState, tenant: usize, since: DateTime<Utc>, now: DateTime<Utc>) -> Vec<String> {
    let mut users = Vec::new();
    let mut h =
        (since - Duration::hours(3)).max(state.origin).duration_trunc(Duration::hours(1)).expect("hour divides time");
    while h <= now {
        for r in state.hour(tenant, Feed::DirectoryAudits, h).iter() {
            let v = visible_at(r);
            if v > since && v <= now {
                if let Ok(record) = serde_json::from_str::<serde_json::Value>(&r.json) {
                    for target in record["targetResources"].as_array().into_iter().flatten() {
                        if target["type"].as_str() == Some("User") {
                            if let Some(id) = target["id"].as_str() {
                                users.push(id.to_string());
                            }
                        }
                    }
                }
            }
        }
        h += Duration::hours(1);
    }
    users.sort();
    users.dedup();
    users
}

/// Resources that support change notifications here (audit logs do not, as in Graph).
fn supports_notifications(resource: &str) -> bool {
    let r = resource.trim_start_matches('/').to_ascii_lowercase();
    r == "users" || r == "groups"
}

async fn create_subscription(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Json(body): Json<serde_json::Value>,
) -> Response {
    let rid = request_id(&headers);
    let (claims, tenant) = match admit_tenant(&state, &headers, &rid).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let field = |name: &str| body.get(name).and_then(|v| v.as_str()).map(str::to_string);
    let (Some(change_type), Some(url), Some(resource), Some(expiration)) =
        (field("changeType"), field("notificationUrl"), field("resource"), field("expirationDateTime"))
    else {
        return bad_request(
            "InvalidRequest",
            "changeType, notificationUrl, resource and expirationDateTime are required.",
            &rid,
        );
    };
    if !supports_notifications(&resource) {
        return bad_request(
            "InvalidRequest",
            &format!("Change notifications are not supported for resource '{resource}'."),
            &rid,
        );
    }
    if !(url.starts_with("https://") || state.config.allow_http_webhooks && url.starts_with("http://")) {
        return bad_request("InvalidRequest", "The notificationUrl must be an HTTPS URL.", &rid);
    }
    let Ok(expiration) = DateTime::parse_from_rfc3339(&expiration).map(|d| d.with_timezone(&Utc)) else {
        return bad_request("InvalidRequest", "expirationDateTime is not a valid DateTimeOffset.", &rid);
    };
    let now = state.clock.now();
    if expiration <= now || expiration > now + Duration::minutes(41_760) {
        return bad_request("InvalidRequest", "Subscription expiration can only be 41760 minutes in the future.", &rid);
    }
    let client_state = field("clientState");
    if client_state.as_ref().is_some_and(|c| c.len() > 128) {
        return bad_request("InvalidRequest", "clientState must be at most 128 characters.", &rid);
    }
    if let Err(message) = super::webhooks::validate_graph_notification_url(&url).await {
        return bad_request("ValidationError", &message, &rid);
    }
    let sub = GraphSubscription {
        id: uuid::Uuid::new_v4().to_string(),
        tenant: tenant.index,
        resource,
        change_type,
        notification_url: url,
        expiration,
        client_state,
        application_id: claims.appid,
        notified_until: now,
    };
    let json = serde_json::to_value(&sub).unwrap_or_default();
    state.runtime().graph_subscriptions.insert(sub.id.clone(), sub);
    (StatusCode::CREATED, Json(json)).into_response()
}

async fn list_subscriptions(State(state): State<Arc<SimState>>, headers: HeaderMap) -> Response {
    let rid = request_id(&headers);
    let claims = match admit(&state, &headers, &rid).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let value: Vec<serde_json::Value> = state
        .runtime()
        .graph_subscriptions
        .values()
        .filter(|s| s.application_id == claims.appid)
        .filter_map(|s| serde_json::to_value(s).ok())
        .collect();
    Json(json!({ "value": value })).into_response()
}

async fn renew_subscription(
    State(state): State<Arc<SimState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<serde_json::Value>,
) -> Response {
    let rid = request_id(&headers);
    if let Err(r) = admit(&state, &headers, &rid).await {
        return r;
    }
    let Some(exp) =
        body.get("expirationDateTime").and_then(|v| v.as_str()).and_then(|v| DateTime::parse_from_rfc3339(v).ok())
    else {
        return bad_request("InvalidRequest", "expirationDateTime is required.", &rid);
    };
    let mut rt = state.runtime();
    let Some(sub) = rt.graph_subscriptions.get_mut(&id) else {
        return graph_error(StatusCode::NOT_FOUND, "ResourceNotFound", "The object was not found.", Some(&rid));
    };
    sub.expiration = exp.with_timezone(&Utc);
    Json(serde_json::to_value(&*sub).unwrap_or_default()).into_response()
}

async fn delete_subscription(
    State(state): State<Arc<SimState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let rid = request_id(&headers);
    if let Err(r) = admit(&state, &headers, &rid).await {
        return r;
    }
    match state.runtime().graph_subscriptions.remove(&id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => graph_error(StatusCode::NOT_FOUND, "ResourceNotFound", "The object was not found.", Some(&rid)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_on_the_date_field_join_clauses_with_and() {
        let b = parse_filter(
            "activityDateTime ge 2025-03-01T00:00:00Z and activityDateTime lt 2025-03-02T00:00:00Z",
            "activityDateTime",
        )
        .unwrap();
        assert_eq!(b.lower.unwrap().0.to_rfc3339(), "2025-03-01T00:00:00+00:00");
        assert!(!b.upper.unwrap().1);
        assert!(parse_filter("category eq 'RoleManagement'", "activityDateTime").is_err());
        assert!(parse_filter("activityDateTime ge '2025-03-01T00:00:00Z'", "activityDateTime").is_err());
        assert!(parse_filter(
            "createdDateTime GE 2025-03-01T00:00:00.1234567Z AND createdDateTime le 2025-03-02T00:00:00Z",
            "createdDateTime"
        )
        .is_ok());
    }

    #[test]
    fn skiptokens_round_trip_and_reject_garbage() {
        let t = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        let token = encode_skiptoken(true, t, "Directory_x_1");
        assert_eq!(decode_skiptoken(&token), Some((true, t, "Directory_x_1".to_string())));
        assert_eq!(decode_skiptoken("not-a-token!"), None);
    }
}
