//! Implementations of the app crate's service traits over the database, and the services the REST
//! API calls beside them. Transaction boundaries and audit-trail writes live here; server
//! functions and REST handlers only call these, and these call `store` for every query.

mod access;
pub mod annotations;
pub mod app_names;
pub mod bench;
pub mod columns;
pub mod destinations;
pub mod detection;
pub mod detection_pages;
pub mod events;
pub mod geo;
pub mod graph;
pub mod investigate_bench;
pub mod investigation;
pub mod map;
mod oversight;
pub mod pages_bench;
pub mod saved_searches;
pub mod sources;
pub mod summary_prompt;
mod system;
pub mod watchlists;

use std::sync::Arc;

use app::error::AppError;
use sea_orm::{DatabaseConnection, DbErr};

pub use access::DbAccessService;
pub use events::{DbEventService, FACET_LIMIT, RELATED_LIMIT};
pub use investigation::DbInvestigationService;
pub use oversight::OversightService;
pub use saved_searches::DbSavedSearchService;
pub use sources::DbSourceService;
pub use system::DbSystemService;
pub use watchlists::DbWatchlistService;

use crate::config::Settings;

/// Builds every service over one database connection; `sources` is built by the caller, which
/// owns the collector and the tenant store; `oidc` is the sign-in provider when sign-in is on
/// (personal API tokens and sessions need it).
pub fn build(
    db: DatabaseConnection,
    settings: Arc<Settings>,
    demo: bool,
    oidc: Option<Arc<crate::auth::oidc::Oidc>>,
    sources: DbSourceService,
    destinations: Arc<dyn app::services::DestinationAdmin>,
) -> app::services::Services {
    app::services::Services {
        events: Arc::new(DbEventService::new(db.clone())),
        access: Arc::new(DbAccessService::new(db.clone(), oidc)),
        investigation: Arc::new(investigation_service(&db, &settings)),
        watchlists: Arc::new(DbWatchlistService::new(db.clone())),
        detection: Arc::new(detection_pages::DbDetectionPort::new(db.clone())),
        saved_searches: Arc::new(DbSavedSearchService::new(db.clone())),
        columns: Arc::new(columns::DbColumnService::new(db.clone())),
        system: Arc::new(DbSystemService::new(db, settings, demo)),
        sources: Arc::new(sources),
        destinations,
    }
}

/// The investigation service, with the language model client when one is configured.
pub fn investigation_service(db: &DatabaseConnection, settings: &Settings) -> DbInvestigationService {
    let llm = settings.llm.clone().and_then(|llm| match crate::llm::LlmClient::new(llm) {
        Ok(client) => Some(client),
        Err(e) => {
            tracing::error!(error = %e, "could not build the language model client; AI summaries are off");
            None
        }
    });
    DbInvestigationService::new(db.clone(), llm).with_geoip(geoip(settings))
}

/// The IP database GEOIP_DATABASE names, opened once per process; without it (unset or
/// unreadable) addresses count as unlocated on the sign-in map.
fn geoip(settings: &Settings) -> Option<Arc<geo::GeoIp>> {
    static OPENED: std::sync::Mutex<Option<(std::path::PathBuf, Arc<geo::GeoIp>)>> = std::sync::Mutex::new(None);
    let path = settings.geoip_database.as_ref()?;
    let mut opened = OPENED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, g)) = opened.as_ref().filter(|(p, _)| p == path) {
        return Some(g.clone());
    }
    match geo::GeoIp::open(path) {
        Ok(g) => {
            let g = Arc::new(g);
            *opened = Some((path.clone(), g.clone()));
            Some(g)
        }
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "could not open the IP database (GEOIP_DATABASE); addresses stay unlocated on the map");
            None
        }
    }
}

/// Logs a database failure once, with a reference the user can quote, and returns a user-safe
/// error (database text never reaches the browser).
pub(crate) fn db_failure(operation: &'static str, error: DbErr) -> AppError {
    let reference = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    let unavailable = matches!(error, DbErr::ConnectionAcquire(_) | DbErr::Conn(_));
    tracing::error!(reference = %reference, operation, error = %error, "database operation failed");
    if unavailable {
        let mut e = AppError::new(
            app::error::ErrorCode::Unavailable,
            format!("the database is unavailable right now (reference {reference})"),
        );
        e.reference = Some(reference);
        e
    } else {
        AppError::internal(reference)
    }
}
