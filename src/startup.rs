//! Builds the application: database, services, the axum router with the Leptos app, and the
//! middleware stack (request ids, tracing, metrics, caller resolution). Also used by the
//! integration tests, which start a real server on a random port.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use app::{shell, App};
use axum::extract::FromRef;
use axum::http::Method;
use axum::http::{HeaderName, HeaderValue, Request};
use axum::response::Redirect;
use axum::routing::{delete, get, patch, post, put};
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
use crate::api::collection::CollectionState;
use crate::api::routes::{Access, RouteSpec, RouteTable};
use crate::auth::{self, AuthGate};
use crate::config::Settings;
use crate::ingest::health::Schedule;
use crate::ingest::{Collector, Connector, Credential};
use crate::store;
use secrecy::ExposeSecret;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What every handler can extract.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: DatabaseConnection,
    pub metrics: PrometheusHandle,
    pub auth: AuthGate,
    pub settings: Arc<Settings>,
    pub collection: CollectionState,
    pub tenants: Arc<crate::tenants::TenantService>,
    pub destinations: Arc<crate::services::destinations::DestinationService>,
    pub investigation: crate::services::DbInvestigationService,
}

/// A bound, ready-to-run AOC server.
pub struct Application {
    listener: TcpListener,
    router: Router,
    routes: Vec<RouteSpec>,
    db: DatabaseConnection,
    collector: Arc<Collector>,
    /// The in-process simulator of demo mode.
    simulator: Option<crate::simulator::RunningSimulator>,
    background: Vec<tokio::task::JoinHandle<()>>,
}

/// The simulator settings of demo mode: one tenant with a week of history.
fn demo_simulator_config() -> crate::simulator::SimConfig {
    crate::simulator::SimConfig { seed: 2026, tenants: 1, history_days: 8, events_per_day: 3_000, ..Default::default() }
}

/// The connector of the demo tenant of an in-process simulator.
pub fn demo_connector(sim: &crate::simulator::RunningSimulator) -> Connector {
    let tenant = &sim.state.tenants[0];
    let app = &tenant.apps[0];
    Connector {
        tenant_id: tenant.model.tenant_id.clone(),
        client_id: app.client_id.clone(),
        credential: Credential::Secret(app.secret.clone().into()),
        cloud: crate::config::Cloud::Worldwide,
        login_url: sim.base_url.clone(),
        graph_url: sim.base_url.clone(),
        management_url: sim.base_url.clone(),
        publisher_id: tenant.model.tenant_id.clone(),
        sources: crate::normalize::Source::ALL.to_vec(),
        management_rpm: 2000,
        demo: true,
        domains: Vec::new(),
    }
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
        let simulator = if settings.collection.demo {
            let sim = crate::simulator::spawn(demo_simulator_config(), "127.0.0.1:0".parse()?)
                .await
                .context("could not start the demo simulator")?;
            tracing::info!(simulator = %sim.base_url, "demo mode: collecting the built-in simulator's demo tenant");
            Some(sim)
        } else {
            None
        };
        let collector = Arc::new(crate::ingest::build_collector(
            &settings.collection,
            db.clone(),
            simulator.as_ref().map(demo_connector),
        )?);
        let periodic = settings.collection.periodic_fetch || settings.collection.demo;
        let interval = std::time::Duration::from_secs(u64::from(settings.collection.fetch_interval_minutes) * 60);
        let mut background =
            if periodic { crate::ingest::scheduler::spawn(collector.clone(), interval) } else { Vec::new() };
        // Tenants stored in the database, after the environment's and the demo's (which win).
        let tenants = Arc::new(crate::tenants::TenantService::new(
            db.clone(),
            &settings,
            collector.clone(),
            periodic.then_some(interval),
        ));
        tenants.sync().await.context("could not load the tenants stored in the database")?;
        background.push(tenants.spawn_refresh(std::time::Duration::from_secs(60)));
        if settings.retention_days.is_some()
            || sea_orm::ConnectionTrait::get_database_backend(&db) == sea_orm::DbBackend::Postgres
        {
            background.push(tokio::spawn(crate::store::retention::run(db.clone(), settings.retention_days)));
        }
        background.push(tokio::spawn(crate::store::search::run(db.clone())));
        // The built-in rule pack (rules already stored keep their edits), and the evaluator.
        let seeded =
            crate::services::detection::seed_builtin(&db).await.context("could not store the built-in rules")?;
        if seeded > 0 {
            tracing::info!(rules = seeded, "stored the built-in detection rules");
        }
        if settings.alerts_enabled {
            background.push(crate::services::detection::spawn_evaluator(
                db.clone(),
                &collector.subscribers,
                std::time::Duration::from_secs(5),
            ));
        }
        background.push(tokio::spawn(crate::store::rollup::run(db.clone())));
        let collection = CollectionState {
            collector: collector.clone(),
            schedule: Schedule { periodic, interval },
            graph_client_state: settings.collection.graph_client_state.as_ref().map(|s| s.expose_secret().to_string()),
            management_auth_id: settings.collection.management_auth_id.as_ref().map(|s| s.expose_secret().to_string()),
        };
        let sessions = if settings.auth.enabled && settings.fixed_caller.is_none() {
            let store =
                crate::auth::session::DbSessionStore::open(&db).await.context("could not prepare the session table")?;
            background.push(tokio::spawn({
                use tower_sessions::session_store::ExpiredDeletion;
                let store = store.clone();
                async move {
                    if let Err(e) = store.continuously_delete_expired(std::time::Duration::from_secs(300)).await {
                        tracing::error!(error = %e, "stopped deleting expired sessions");
                    }
                }
            }));
            Some(store)
        } else {
            None
        };
        let settings = Arc::new(settings);
        // Export: the destinations (the environment's kept in step) and, unless
        // AOC_EXPORT_WORKER=false, the delivery worker.
        let exporter = Arc::new(crate::export::worker::Exporter::new(
            db.clone(),
            &settings,
            crate::export::worker::Tuning::default(),
        ));
        let destinations = Arc::new(crate::services::destinations::DestinationService::new(
            db.clone(),
            settings.clone(),
            exporter.clone(),
        ));
        destinations.sync_environment().await.context("could not set up the SIEM_WEBHOOK_URL destination")?;
        if settings.siem.worker {
            background.push(exporter.spawn());
        }
        let (router, routes) =
            build_router(settings, db.clone(), leptos_options, collection, tenants, destinations, sessions)?;
        Ok(Self { listener, router, routes, db, collector, simulator, background })
    }

    /// Every declared REST, webhook and operations route with who may call it.
    pub fn routes(&self) -> &[RouteSpec] {
        &self.routes
    }

    /// The collection engine.
    pub fn collector(&self) -> Arc<Collector> {
        self.collector.clone()
    }

    /// The demo simulator, in demo mode.
    pub fn simulator(&self) -> Option<&crate::simulator::RunningSimulator> {
        self.simulator.as_ref()
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
        let result = axum::serve(self.listener, self.router.into_make_service()).with_graceful_shutdown(shutdown).await;
        for task in &self.background {
            task.abort();
        }
        if let Some(sim) = self.simulator {
            sim.stop();
        }
        result
    }
}

fn build_router(
    settings: Arc<Settings>,
    db: DatabaseConnection,
    leptos_options: LeptosOptions,
    collection: CollectionState,
    tenants: Arc<crate::tenants::TenantService>,
    destinations: Arc<crate::services::destinations::DestinationService>,
    sessions: Option<crate::auth::session::DbSessionStore>,
) -> anyhow::Result<(Router, Vec<RouteSpec>)> {
    let browser = api::browser::BrowserPolicy::from_settings(&settings, leptos_options.site_addr);
    let demo = collection.collector.connectors().iter().any(|c| c.demo);
    let auth = AuthGate::from_settings(&settings, &db)?;
    let sources = crate::services::DbSourceService::new(
        db.clone(),
        collection.collector.clone(),
        collection.schedule,
        tenants.clone(),
    );
    let services =
        crate::services::build(db.clone(), settings.clone(), demo, auth.oidc(), sources, destinations.clone());
    let db_for_investigation = db.clone();
    let state = AppState {
        leptos_options: leptos_options.clone(),
        db,
        metrics: api::metrics::recorder(),
        auth,
        settings: settings.clone(),
        collection,
        tenants,
        destinations,
        investigation: crate::services::investigation_service(&db_for_investigation, &settings),
    };
    let context = move || provide_context(services.clone());
    let routes = route_list();

    let (api_routes, route_specs) = api_routes().finish();
    let router = api_routes
        .route("/", get(|| async { Redirect::to("/events") }))
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, shell))
        .layer(axum::middleware::from_fn(api::server_fn_error_status))
        .layer(axum::middleware::from_fn(api::routes::guard_server_fns))
        .layer(axum::middleware::from_fn_with_state(state.auth.clone(), auth::attach_caller));
    // Sessions wrap caller resolution (which reads them) inside the browser protections.
    let router = match sessions {
        Some(store) => router.layer(auth::session::layer(store, &settings)),
        None => router,
    };
    let mut router = router
        .layer(axum::middleware::from_fn_with_state(browser, api::browser::protect))
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
                .allow_methods([
                    axum::http::Method::GET,
                    axum::http::Method::POST,
                    axum::http::Method::PATCH,
                    axum::http::Method::PUT,
                    axum::http::Method::DELETE,
                ])
                .allow_headers([axum::http::header::CONTENT_TYPE, axum::http::header::AUTHORIZATION]),
        );
    }

    // Outermost first: give every request an id, trace it with that id, echo the id back.
    let router = router.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let request_id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                // The path only: query strings can carry tokens (validationToken, cursors).
                tracing::info_span!("http", method = %request.method(), path = %request.uri().path(), request_id)
            }))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID)),
    );
    Ok((router, route_specs))
}

/// The pages' routes, walked from the app once per process. While Leptos walks the app it sets a
/// process-wide flag under which any resource first polled elsewhere never loads
/// (leptos-rs/leptos#4773): a second walk while another `Application` in the process renders a
/// page (tests and benchmarks start several) would hang that page forever.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// Every REST, webhook and operations route, each with who may call it.
fn api_routes() -> RouteTable<AppState> {
    use app::auth::Permission::*;
    use Access::{Public, Requires, Webhook};
    use Method as M;
    RouteTable::default()
        .add(M::GET, "/health", Public, get(api::health::health))
        .add(M::GET, "/metrics", Public, get(api::metrics::metrics))
        .add(M::GET, "/api/openapi.json", Public, get(api::openapi::openapi_json))
        .add(M::GET, "/auth/login", Public, get(auth::oidc::login))
        .add(M::GET, "/auth/callback", Public, get(auth::oidc::callback))
        .add(M::POST, "/auth/logout", Public, post(auth::oidc::logout))
        .add(M::GET, "/api/fetch-audit-logs", Requires(RunCollection), get(api::collection::fetch_audit_logs))
        .add(M::POST, "/api/fetch-audit-logs", Requires(RunCollection), post(api::collection::post_fetch_audit_logs))
        .add(M::GET, "/api/source-health", Requires(ViewEvents), get(api::collection::get_source_health))
        .add(M::GET, "/api/collection/runs", Requires(ViewEvents), get(api::runs::list_runs))
        .add(M::POST, "/api/collection/runs", Requires(RunCollection), post(api::runs::start_runs))
        .add(M::POST, "/api/webhooks/graph", Webhook, post(api::collection::graph_webhook))
        .add(M::POST, "/api/webhooks/management", Webhook, post(api::collection::management_webhook))
        .add(M::GET, "/api/events", Requires(ViewEvents), get(api::events::list_events))
        .add(M::GET, "/api/events/export", Requires(ViewEvents), get(api::events::export))
        .add(M::GET, "/api/events/histogram", Requires(ViewEvents), get(api::events::histogram))
        .add(M::GET, "/api/events/facet-values", Requires(ViewEvents), get(api::events::facet_values))
        .add(M::GET, "/api/events/overview", Requires(ViewEvents), get(api::investigate::overview))
        .add(M::POST, "/api/events/summary", Requires(ViewEvents), post(api::investigate::summary))
        .add(M::GET, "/api/events/graph", Requires(ViewEvents), get(api::investigate::graph))
        .add(M::GET, "/api/events/map", Requires(ViewEvents), get(api::investigate::map))
        .add(M::GET, "/api/events/{id}", Requires(ViewEvents), get(api::events::get_event))
        .add(M::PATCH, "/api/events/{id}/tags", Requires(TagEvents), patch(api::events::patch_tags))
        .add(M::POST, "/api/events/tags", Requires(TagEvents), post(api::bulk_tags::bulk_tags))
        .add(M::GET, "/api/events/{id}/comments", Requires(ViewEvents), get(api::events::list_comments))
        .add(M::POST, "/api/events/{id}/comments", Requires(CommentOnEvents), post(api::events::post_comment))
        .add(
            M::PATCH,
            "/api/events/{id}/comments/{comment_id}",
            Requires(CommentOnEvents),
            patch(api::events::patch_comment),
        )
        .add(
            M::DELETE,
            "/api/events/{id}/comments/{comment_id}",
            Requires(DeleteComments),
            delete(api::events::delete_comment),
        )
        .add(M::GET, "/api/watchlists", Requires(ViewEvents), get(api::watchlists::list))
        .add(M::POST, "/api/watchlists", Requires(ManageRules), post(api::watchlists::create))
        .add(M::GET, "/api/watchlists/{id}", Requires(ViewEvents), get(api::watchlists::get))
        .add(M::PUT, "/api/watchlists/{id}", Requires(ManageRules), put(api::watchlists::replace))
        .add(M::DELETE, "/api/watchlists/{id}", Requires(ManageRules), delete(api::watchlists::delete))
        .add(M::GET, "/api/saved-searches", Requires(ViewEvents), get(api::saved_searches::list))
        .add(M::POST, "/api/saved-searches", Requires(ViewEvents), post(api::saved_searches::create))
        .add(M::DELETE, "/api/saved-searches/{id}", Requires(ViewEvents), delete(api::saved_searches::delete))
        .add(M::GET, "/api/me/columns", Requires(ViewEvents), get(api::columns::get_columns))
        .add(M::PUT, "/api/me/columns", Requires(ViewEvents), put(api::columns::put_columns))
        .add(M::GET, "/api/filter-options", Requires(ViewEvents), get(api::events::filter_options))
        .add(M::GET, "/api/coverage", Requires(ViewEvents), get(api::events::coverage))
        .add(M::GET, "/api/audit-trail", Requires(ViewAuditTrail), get(api::events::audit_trail))
        .add(M::GET, "/api/rules", Requires(ViewEvents), get(api::detection::list_rules))
        .add(M::POST, "/api/rules", Requires(ManageRules), post(api::detection::create_rule))
        .add(M::POST, "/api/rules/backtest", Requires(ManageRules), post(api::detection::backtest_rule))
        .add(M::GET, "/api/rules/{id}", Requires(ViewEvents), get(api::detection::get_rule))
        .add(M::GET, "/api/rules/{id}/sigma", Requires(ViewEvents), get(api::detection::export_rule))
        .add(M::PUT, "/api/rules/{id}", Requires(ManageRules), put(api::detection::update_rule))
        .add(M::DELETE, "/api/rules/{id}", Requires(ManageRules), delete(api::detection::delete_rule))
        .add(M::GET, "/api/rules/{id}/suppressions", Requires(ViewEvents), get(api::detection::list_suppressions))
        .add(M::POST, "/api/rules/{id}/suppressions", Requires(ManageRules), post(api::detection::create_suppression))
        .add(M::DELETE, "/api/suppressions/{id}", Requires(ManageRules), delete(api::detection::delete_suppression))
        .add(M::GET, "/api/alerts", Requires(ViewEvents), get(api::detection::list_alerts))
        .add(M::POST, "/api/alerts/bulk", Requires(HandleAlerts), post(api::detection::bulk_triage))
        .add(M::GET, "/api/alerts/{id}", Requires(ViewEvents), get(api::detection::get_alert))
        .add(M::PATCH, "/api/alerts/{id}", Requires(HandleAlerts), patch(api::detection::patch_alert))
        .add(M::GET, "/api/alerts/{id}/comments", Requires(ViewEvents), get(api::detection::list_comments))
        .add(M::POST, "/api/alerts/{id}/comments", Requires(HandleAlerts), post(api::detection::post_comment))
        .add(M::GET, "/api/tenants", Requires(ManageConnectors), get(api::tenants::list_tenants))
        .add(M::POST, "/api/tenants", Requires(ManageConnectors), post(api::tenants::create_tenant))
        .add(M::GET, "/api/tenants/{tenant_id}", Requires(ManageConnectors), get(api::tenants::get_tenant))
        .add(M::PATCH, "/api/tenants/{tenant_id}", Requires(ManageConnectors), patch(api::tenants::update_tenant))
        .add(M::DELETE, "/api/tenants/{tenant_id}", Requires(ManageConnectors), delete(api::tenants::delete_tenant))
        .add(M::POST, "/api/tenants/{tenant_id}/test", Requires(ManageConnectors), post(api::connection::test_tenant))
        .add(M::GET, "/api/tokens", Requires(ManageOwnTokens), get(api::tokens::list_tokens))
        .add(M::POST, "/api/tokens", Requires(ManageOwnTokens), post(api::tokens::create_token))
        .add(M::DELETE, "/api/tokens/{id}", Requires(ManageOwnTokens), delete(api::tokens::revoke_token))
        .add(M::GET, "/api/sessions", Requires(ManageSettings), get(api::tokens::list_sessions))
        .add(M::POST, "/api/sessions/end", Requires(ManageSettings), post(api::tokens::end_sessions))
        .add(M::GET, "/api/destinations", Requires(ManageSettings), get(api::destinations::list_destinations))
        .add(M::POST, "/api/destinations", Requires(ManageSettings), post(api::destinations::create_destination))
        .add(M::GET, "/api/destinations/{id}", Requires(ManageSettings), get(api::destinations::get_destination))
        .add(M::PUT, "/api/destinations/{id}", Requires(ManageSettings), put(api::destinations::update_destination))
        .add(
            M::DELETE,
            "/api/destinations/{id}",
            Requires(ManageSettings),
            delete(api::destinations::delete_destination),
        )
        .add(
            M::POST,
            "/api/destinations/{id}/test",
            Requires(ManageSettings),
            post(api::destinations::test_destination),
        )
        .add(M::GET, "/api/destinations/{id}/parked", Requires(ManageSettings), get(api::destinations::list_parked))
        .add(M::POST, "/api/destinations/{id}/retry", Requires(ManageSettings), post(api::destinations::retry_parked))
        .add(M::POST, "/api/destinations/{id}/backfill", Requires(ManageSettings), post(api::destinations::backfill))
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
