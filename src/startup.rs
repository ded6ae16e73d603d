//! Builds the application: database, services, the axum router with the Leptos app, and the
//! middleware stack (request ids, tracing, metrics, caller resolution). Also used by the
//! integration tests, which start a real server on a random port.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use app::{shell, App};
use axum::extract::FromRef;
use axum::http::{HeaderName, HeaderValue, Request};
use axum::response::Redirect;
use axum::routing::get;
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use metrics_exporter_prometheus::PrometheusHandle;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::cors::CorsLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::api;
use crate::auth::{self, AuthGate};
use crate::config::Settings;
use crate::store;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What every handler can extract.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: DatabaseConnection,
    pub metrics: PrometheusHandle,
    pub auth: AuthGate,
    pub settings: Arc<Settings>,
}

/// A bound, ready-to-run AOC server.
pub struct Application {
    listener: TcpListener,
    router: Router,
    db: DatabaseConnection,
}

impl Application {
    /// Connects to the database, migrates it, and binds the listen address.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let db = store::connect(&settings.database_url).await?;
        store::migrate(&db).await?;
        Self::build_with_db(settings, db).await
    }

    /// Binds the listen address and builds the router over an already-migrated database.
    pub async fn build_with_db(settings: Settings, db: DatabaseConnection) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.listen_addr)
            .await
            .with_context(|| format!("could not listen on {}", settings.listen_addr))?;
        let local_addr = listener.local_addr()?;
        let mut leptos_options = leptos::config::get_configuration(None)
            .context("could not read the Leptos site configuration")?
            .leptos_options;
        leptos_options.site_addr = local_addr;
        let router = build_router(Arc::new(settings), db.clone(), leptos_options)?;
        Ok(Self { listener, router, db })
    }

    /// The address the server listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// The database the server uses.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        axum::serve(self.listener, self.router.into_make_service()).with_graceful_shutdown(shutdown).await
    }
}

fn build_router(settings: Arc<Settings>, db: DatabaseConnection, leptos_options: LeptosOptions) -> anyhow::Result<Router> {
    let services = crate::services::build(db.clone(), settings.clone());
    let state = AppState {
        leptos_options: leptos_options.clone(),
        db,
        metrics: api::metrics::recorder(),
        auth: AuthGate::from_settings(&settings),
        settings: settings.clone(),
    };
    let context = move || provide_context(services.clone());
    let routes = generate_route_list(App);

    let mut router = Router::new()
        .route("/health", get(api::health::health))
        .route("/metrics", get(api::metrics::metrics))
        .route("/", get(|| async { Redirect::to("/events") }))
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, shell))
        .layer(axum::middleware::from_fn(api::server_fn_error_status))
        .layer(axum::middleware::from_fn_with_state(state.auth.clone(), auth::attach_caller))
        .layer(axum::middleware::from_fn(api::metrics::track_requests))
        .with_state(state);

    if !settings.cors_origins.is_empty() {
        let origins = settings
            .cors_origins
            .iter()
            .map(|o| HeaderValue::from_str(o).context("CORS_ORIGINS holds an invalid origin"))
            .collect::<anyhow::Result<Vec<_>>>()?;
        router = router.layer(
            CorsLayer::new()
                .allow_origin(origins)
                .allow_methods([axum::http::Method::GET, axum::http::Method::POST, axum::http::Method::PATCH])
                .allow_headers([axum::http::header::CONTENT_TYPE, axum::http::header::AUTHORIZATION]),
        );
    }

    // Outermost first: give every request an id, trace it with that id, echo the id back.
    Ok(router.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let request_id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                // The path only: query strings can carry tokens (validationToken, cursors).
                tracing::info_span!("http", method = %request.method(), path = %request.uri().path(), request_id)
            }))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID)),
    ))
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this is called, so a
/// signal that arrives before the future is first polled is not lost.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => tokio::select! {
                    _ = interrupt.recv() => tracing::info!("SIGINT received, shutting down"),
                    _ = terminate.recv() => tracing::info!("SIGTERM received, shutting down"),
                },
                _ => {
                    tracing::warn!("could not install signal handlers; stop AOC by killing the process");
                    std::future::pending::<()>().await
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C received, shutting down");
    }
}
