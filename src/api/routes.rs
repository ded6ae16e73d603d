//! The route table: every HTTP route outside the Leptos pages is added through [`RouteTable`],
//! which makes each one declare who may call it ([`Access`]). The declared permission is enforced
//! here, before the handler extracts anything (so a caller without it learns nothing from input
//! validation), and the handler checks it again itself. The table is kept so the route-matrix
//! test can walk every route as every kind of caller; server functions declare theirs in
//! [`app::server::ACCESS`].

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Router;

use app::auth::{Caller, Permission};
use app::error::AppError;

use super::ApiError;

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone who can reach AOC: health, metrics, the OpenAPI document.
    Public,
    /// Microsoft's push notifications: authenticated by their shared secret (clientState,
    /// Webhook-AuthID), not by a caller.
    Webhook,
    /// An established caller holding this permission.
    Requires(Permission),
}

/// One declared route.
#[derive(Clone, Debug)]
pub struct RouteSpec {
    pub method: Method,
    /// The axum path, with `{name}` for parameters.
    pub path: &'static str,
    pub access: Access,
}

/// A router whose routes each declare their [`Access`].
pub struct RouteTable<S> {
    router: Router<S>,
    specs: Vec<RouteSpec>,
}

impl<S: Clone + Send + Sync + 'static> Default for RouteTable<S> {
    fn default() -> Self {
        Self { router: Router::new(), specs: Vec::new() }
    }
}

impl<S: Clone + Send + Sync + 'static> RouteTable<S> {
    /// Adds `handler` for `method` at `path`, callable as `access` says.
    pub fn add(mut self, method: Method, path: &'static str, access: Access, handler: MethodRouter<S>) -> Self {
        let handler = match access {
            Access::Requires(permission) => handler.layer(axum::middleware::from_fn_with_state(permission, enforce)),
            Access::Public | Access::Webhook => handler,
        };
        self.router = self.router.route(path, handler);
        self.specs.push(RouteSpec { method, path, access });
        self
    }

    /// The router and the declarations.
    pub fn finish(self) -> (Router<S>, Vec<RouteSpec>) {
        (self.router, self.specs)
    }
}

/// Refuses a request whose caller is missing (401) or lacks `permission` (403).
async fn enforce(State(permission): State<Permission>, request: Request, next: Next) -> Response {
    let verdict = match request.extensions().get::<Caller>() {
        None => Err(AppError::unauthenticated()),
        Some(caller) => caller.require(permission),
    };
    match verdict {
        Ok(()) => next.run(request).await,
        Err(e) => ApiError(e).into_response(),
    }
}

/// Whether `path` is the URL of a registered server function.
fn is_server_fn(path: &str) -> bool {
    leptos::server_fn::axum::server_fn_paths().any(|(p, _)| p == path)
}

/// Middleware: a server function runs only when [`app::server::ACCESS`] declares it and the caller
/// holds the permission it names; the check comes before its arguments are decoded.
pub async fn guard_server_fns(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !path.starts_with("/api/") || request.method() != Method::POST || !is_server_fn(path) {
        return next.run(request).await;
    }
    let Some(permission) = app::server::required_permission(path) else {
        tracing::error!(path, "refused a server function that declares no permission in app::server::ACCESS");
        return server_fn_error(path, AppError::forbidden("call an undeclared server function"));
    };
    let verdict = match request.extensions().get::<Caller>() {
        None => Err(AppError::unauthenticated()),
        Some(caller) => caller.require(permission),
    };
    match verdict {
        Ok(()) => next.run(request).await,
        Err(e) => server_fn_error(path, e),
    }
}

/// An error answered the way a server function answers one (the `serverfnerror` header and the
/// [`AppError`] as JSON), so the browser side decodes it like any other, with its own status.
fn server_fn_error(path: &str, error: AppError) -> Response {
    let status = axum::http::StatusCode::from_u16(error.code.http_status())
        .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(&error).unwrap_or_default();
    let mut response = (status, [(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response();
    if let Ok(value) = axum::http::HeaderValue::from_str(path) {
        response.headers_mut().insert(leptos::server_fn::error::SERVER_FN_ERROR_HEADER, value);
    }
    response
}
