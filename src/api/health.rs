//! `GET /health`: 200 when the database answers, 503 when it does not. Public (load balancers
//! and orchestrators call it without credentials); it reveals no tenant data.

use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use sea_orm::DatabaseConnection;
use serde_json::json;

/// Reports the server's and the database's status.
pub async fn health(State(db): State<DatabaseConnection>) -> impl IntoResponse {
    let backend = crate::store::backend_name(&db);
    let started = Instant::now();
    let ping = db.ping().await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    match ping {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({
                "status": "ok",
                "version": env!("CARGO_PKG_VERSION"),
                "database": { "status": "ok", "backend": backend, "latency_ms": (latency_ms * 100.0).round() / 100.0 },
            })),
        ),
        Err(error) => {
            tracing::warn!(error = %error, backend, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({
                    "status": "unavailable",
                    "version": env!("CARGO_PKG_VERSION"),
                    "database": { "status": "unreachable", "backend": backend },
                })),
            )
        }
    }
}
