//! HTTP endpoints outside the Leptos app: health, metrics, and (later) the REST API. Handlers are
//! thin: authorize, validate, call a service, answer JSON.

pub mod health;
pub mod metrics;

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
