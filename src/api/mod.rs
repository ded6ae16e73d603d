//! HTTP endpoints outside the Leptos app: health, metrics and the REST API. Handlers are thin:
//! authorize, parse into a validated input type, call one service method, answer a DTO as JSON.
//! They hold no SQL; the services they call are the pages' services.

pub mod browser;
pub mod bulk_tags;
pub mod collection;
pub mod columns;
pub mod connection;
pub mod destinations;
pub mod detection;
pub mod events;
pub mod health;
pub mod investigate;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod runs;
pub mod saved_searches;
pub mod tenants;
pub mod tokens;
pub mod watchlists;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use app::error::AppError;

/// An [`AppError`] answered as JSON with the status its code stands for.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(serde_json::json!({ "error": self.0 }))).into_response()
    }
}

/// Largest server-function error body this middleware reads (errors are small JSON objects).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Middleware: a server function that fails answers with the status its [`AppError`] code stands
/// for. Leptos answers every server-function error with 500, including arguments that did not
/// decode, which are the caller's mistake.
pub async fn server_fn_error_status(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let response = next.run(request).await;
    if !response.headers().contains_key("serverfnerror") || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "server function error").into_response();
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}
