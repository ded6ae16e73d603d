//! The one place that answers "who is calling and what may they do". A middleware establishes the
//! [`Caller`] once per request and stores it in the request's extensions; server functions read
//! it from there (`app::server`), REST handlers through the [`Authenticated`] extractor, and both
//! ask [`Caller::require`] for the permission they need.
//!
//! Until OpenID Connect sign-in lands, the only mode is "disabled": every request is the local
//! administrator, and `config` refuses a non-loopback listen address in that mode unless the
//! operator explicitly accepts the risk.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

pub use app::auth::{Caller, Permission, Role};
use app::error::AppError;

use crate::api::ApiError;
use crate::config::Settings;

/// How callers are established.
#[derive(Clone, Debug)]
pub enum AuthGate {
    /// Sign-in is disabled: everyone is the local administrator (loopback only).
    Disabled,
    /// Every request is this caller, or anonymous (`None`). Only code sets it (the integration
    /// tests' route matrix, through `Settings::fixed_caller`); no environment variable does.
    Fixed(Option<Caller>),
}

impl AuthGate {
    /// The gate the settings ask for.
    pub fn from_settings(settings: &Settings) -> Self {
        debug_assert!(!settings.auth.enabled, "config refuses AUTH_ENABLED until sign-in exists");
        match &settings.fixed_caller {
            Some(caller) => AuthGate::Fixed(caller.clone()),
            None => AuthGate::Disabled,
        }
    }

    /// The caller behind a request, if one can be established.
    pub fn resolve(&self, _parts: &Parts) -> Option<Caller> {
        match self {
            AuthGate::Disabled => Some(Caller::local_admin()),
            AuthGate::Fixed(caller) => caller.clone(),
        }
    }
}

/// Middleware: attaches the caller (if any) to the request for handlers to check.
pub async fn attach_caller(State(gate): State<AuthGate>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    if let Some(caller) = gate.resolve(&parts) {
        parts.extensions.insert(caller);
    }
    next.run(Request::from_parts(parts, body)).await
}

/// Extractor for REST handlers: the established caller, or `401 unauthenticated`.
pub struct Authenticated(pub Caller);

impl Authenticated {
    /// The caller, when it holds `permission`; otherwise `403 forbidden`.
    pub fn require(self, permission: Permission) -> Result<Caller, ApiError> {
        self.0.require(permission)?;
        Ok(self.0)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().map(Authenticated).ok_or_else(|| AppError::unauthenticated().into())
    }
}
