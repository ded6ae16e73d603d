//! Applying the injected faults to API requests and bodies.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::state::{Runtime, SimState};

/// Which API a request is for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Management,
    Graph,
}

/// Applies latency, stalls, 5xx and throttling faults before a request is served; `Some` is
/// the response to send instead.
pub async fn before_request(state: &SimState, api: Api) -> Option<Response> {
    let (latency, stall, server_error, throttle, retry_after) = {
        let mut rt = state.runtime();
        let latency = rt.faults.latency_ms;
        let stall = Runtime::take(&mut rt.faults.timeouts).then(|| rt.faults.stall_ms());
        let server_error = if Runtime::take(&mut rt.faults.server_errors) || rt.random_failure() {
            Some(if rt.stats.faults_injected.is_multiple_of(2) { 500 } else { 503 })
        } else {
            None
        };
        let throttle = match api {
            Api::Management => Runtime::take(&mut rt.faults.af429),
            Api::Graph => Runtime::take(&mut rt.faults.graph_429),
        };
        let injected = u64::from(stall.is_some()) + u64::from(server_error.is_some()) + u64::from(throttle);
        rt.stats.faults_injected += injected;
        (latency, stall, server_error, throttle, rt.faults.retry_after())
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    if let Some(ms) = stall {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        return Some((StatusCode::GATEWAY_TIMEOUT, "The gateway did not receive a response in time.").into_response());
    }
    if let Some(status) = server_error {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Some(match api {
            Api::Management => (
                status,
                axum::Json(
                    json!({"error": {"code": "AF50000", "message": "An internal error occurred. Retry the request."}}),
                ),
            )
                .into_response(),
            Api::Graph => graph_error(status, "UnknownError", "An internal server error occurred.", None),
        });
    }
    if throttle {
        return Some(match api {
            Api::Management => management_throttled(state, "Unknown", "injected"),
            Api::Graph => graph_throttled(retry_after),
        });
    }
    None
}

/// The AF429 answer, with the status the configuration asks for.
pub fn management_throttled(state: &SimState, method: &str, publisher: &str) -> Response {
    state.runtime().stats.throttled += 1;
    let status = StatusCode::from_u16(state.config.af429_status).unwrap_or(StatusCode::FORBIDDEN);
    (
        status,
        axum::Json(json!({"error": {"code": "AF429", "message": format!("Too many requests. Method={method}, PublisherId={publisher}")}})),
    )
        .into_response()
}

/// Graph's 429 with `Retry-After`.
pub fn graph_throttled(retry_after_secs: u64) -> Response {
    let mut response = graph_error(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequests",
        "Too many requests have been made in a short period of time. Please retry later.",
        None,
    );
    if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
        response.headers_mut().insert("retry-after", v);
    }
    response
}

/// Graph's error body: `{"error":{"code","message","innerError":{...}}}`.
pub fn graph_error(status: StatusCode, code: &str, message: &str, request_id: Option<&str>) -> Response {
    let request_id = request_id.map(str::to_string).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let body = json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                "request-id": request_id,
                "client-request-id": request_id,
            }
        }
    });
    (status, axum::Json(body)).into_response()
}

/// Applies the body faults (truncation, invalid JSON) to a JSON body about to be sent.
pub fn corrupt_body(state: &SimState, body: String) -> String {
    let (truncate, invalid) = {
        let mut rt = state.runtime();
        let truncate = Runtime::take(&mut rt.faults.truncated);
        let invalid = !truncate && Runtime::take(&mut rt.faults.invalid_json);
        rt.stats.faults_injected += u64::from(truncate) + u64::from(invalid);
        (truncate, invalid)
    };
    if truncate {
        let mut cut = body.len() / 2;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        body[..cut].to_string()
    } else if invalid {
        "<html><body><h1>Service Unavailable</h1>{\"error\": oops</body></html>".to_string()
    } else {
        body
    }
}
