//! The one place that answers "who is calling and what may they do". A middleware establishes the
//! [`Caller`] once per request and stores it in the request's extensions; server functions read
//! it from there (`app::server`), REST handlers through the [`Authenticated`] extractor, and both
//! ask [`Caller::require`] for the permission they need.
//!
//! With sign-in disabled every request is the local administrator, and `config` refuses a
//! non-loopback listen address unless the operator explicitly accepts the risk. With
//! `AUTH_ENABLED` a caller is a signed-in browser session or a bearer token (`oidc`); an
//! anonymous browser asking for a page is sent to sign in, everything else answers 401.

pub mod bench;
pub mod jwt;
pub mod oidc;
pub mod pages;
pub mod session;
pub mod tokens;

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

pub use app::auth::{Caller, Permission, Role};
use app::error::AppError;
use sea_orm::DatabaseConnection;

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
    /// OpenID Connect sign-in: browser sessions, bearer tokens of the provider, and personal API
    /// tokens (looked up in this database).
    Oidc(Arc<oidc::Oidc>, DatabaseConnection),
}

impl AuthGate {
    /// The gate the settings ask for.
    pub fn from_settings(settings: &Settings, db: &DatabaseConnection) -> anyhow::Result<Self> {
        Ok(match &settings.fixed_caller {
            Some(caller) => AuthGate::Fixed(caller.clone()),
            None if settings.auth.enabled => AuthGate::Oidc(Arc::new(oidc::Oidc::new(settings)?), db.clone()),
            None => AuthGate::Disabled,
        })
    }

    /// Whether AOC accepts personal API tokens (only with sign-in: without it every caller is
    /// the local administrator anyway).
    pub fn accepts_personal_tokens(&self) -> bool {
        matches!(self, AuthGate::Oidc(..))
    }

    /// The sign-in provider, when sign-in is on.
    pub fn oidc(&self) -> Option<Arc<oidc::Oidc>> {
        match self {
            AuthGate::Oidc(oidc, _) => Some(oidc.clone()),
            _ => None,
        }
    }

    /// The caller behind a request, if one can be established.
    pub async fn resolve(&self, parts: &Parts) -> Option<Caller> {
        match self {
            AuthGate::Disabled => Some(Caller::local_admin()),
            AuthGate::Fixed(caller) => caller.clone(),
            AuthGate::Oidc(oidc, db) => {
                if let Some(token) = oidc::bearer_token(&parts.headers) {
                    let caller = if tokens::is_personal_token(token) {
                        tokens::caller(db, token, chrono::Utc::now()).await
                    } else {
                        oidc.bearer_caller(token).await
                    };
                    return match caller {
                        Ok(caller) => Some(caller),
                        Err(reason) => {
                            tracing::warn!(reason, path = parts.uri.path(), "refused a bearer token");
                            None
                        }
                    };
                }
                let session = parts.extensions.get::<tower_sessions::Session>()?;
                oidc.session_caller(session, db).await
            }
        }
    }
}

/// Whether an anonymous request is a browser asking for a page (sent to sign in) rather than
/// an API call or an asset (answered 401).
fn wants_page(parts: &Parts) -> bool {
    let path = parts.uri.path();
    parts.method == axum::http::Method::GET
        && !["/api/", "/auth/", "/pkg/"].iter().any(|p| path.starts_with(p))
        && !["/health", "/metrics"].contains(&path)
        && parts
            .headers
            .get(axum::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
}

/// Middleware: attaches the caller (if any) to the request for handlers to check.
pub async fn attach_caller(State(gate): State<AuthGate>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    match gate.resolve(&parts).await {
        Some(caller) => {
            parts.extensions.insert(caller);
        }
        None if matches!(gate, AuthGate::Oidc(..)) && wants_page(&parts) => {
            let return_to = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let encoded: String = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
            return Redirect::to(&format!("/auth/login?return_to={encoded}")).into_response();
        }
        None => {}
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
