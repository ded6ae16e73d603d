//! Typed server functions, one area per file. Each is a thin adapter: establish the caller, check
//! the permission, validate input, call one service, return a DTO. Endpoints are fixed
//! (`/api/<name>`) so scripts and tests can rely on them.

mod events;
mod sources;
mod system;
mod tokens;

pub use events::*;
pub use sources::*;
pub use system::*;
pub use tokens::*;
mod bulk;
mod columns;
mod connection;
mod investigate;
mod saved;
mod watchlists;

pub use bulk::*;
pub use columns::*;
pub use connection::*;
pub use investigate::*;
pub use saved::*;
pub use watchlists::*;
mod detection;

pub use detection::*;
mod destinations;

pub use destinations::*;

use crate::auth::Permission;

/// The permission each server function requires, by its URL. The server refuses a server
/// function missing from this list (deny by default), checks the permission before the
/// arguments are decoded, and the route-matrix test walks every entry as every kind of caller.
/// Each function checks its permission again itself.
pub const ACCESS: &[(&str, Permission)] = &[
    ("/api/list_events", Permission::ViewEvents),
    ("/api/event_facets", Permission::ViewEvents),
    ("/api/facet_values", Permission::ViewEvents),
    ("/api/event_histogram", Permission::ViewEvents),
    ("/api/get_event", Permission::ViewEvents),
    ("/api/tag_event", Permission::TagEvents),
    ("/api/tag_events", Permission::TagEvents),
    ("/api/add_comment", Permission::CommentOnEvents),
    ("/api/edit_comment", Permission::CommentOnEvents),
    ("/api/delete_comment", Permission::DeleteComments),
    ("/api/server_info", Permission::ViewEvents),
    ("/api/api_tokens", Permission::ManageOwnTokens),
    ("/api/create_api_token", Permission::ManageOwnTokens),
    ("/api/revoke_api_token", Permission::ManageOwnTokens),
    ("/api/signed_in_people", Permission::ManageSettings),
    ("/api/end_sessions", Permission::ManageSettings),
    ("/api/sources_overview", Permission::ViewEvents),
    ("/api/collect_now", Permission::RunCollection),
    ("/api/add_tenant", Permission::ManageConnectors),
    ("/api/set_tenant_enabled", Permission::ManageConnectors),
    ("/api/remove_tenant", Permission::ManageConnectors),
    ("/api/test_connection", Permission::ManageConnectors),
    ("/api/audit_entries", Permission::ViewAuditTrail),
    ("/api/event_overview", Permission::ViewEvents),
    ("/api/summarize_events", Permission::ViewEvents),
    ("/api/summarize_stream", Permission::ViewEvents),
    ("/api/event_graph", Permission::ViewEvents),
    ("/api/event_map", Permission::ViewEvents),
    ("/api/list_watchlists", Permission::ViewEvents),
    ("/api/get_watchlist", Permission::ViewEvents),
    ("/api/save_watchlist", Permission::ManageRules),
    ("/api/delete_watchlist", Permission::ManageRules),
    ("/api/list_rules", Permission::ViewEvents),
    ("/api/get_rule", Permission::ViewEvents),
    ("/api/rule_fields", Permission::ViewEvents),
    ("/api/edit_rule", Permission::ManageRules),
    ("/api/backtest_draft", Permission::ManageRules),
    ("/api/set_rule_enabled", Permission::ManageRules),
    ("/api/delete_rule", Permission::ManageRules),
    ("/api/rule_suppressions", Permission::ViewEvents),
    ("/api/list_alerts", Permission::ViewEvents),
    ("/api/get_alert", Permission::ViewEvents),
    ("/api/triage_alert", Permission::HandleAlerts),
    ("/api/comment_alert", Permission::HandleAlerts),
    ("/api/bulk_triage_alerts", Permission::HandleAlerts),
    ("/api/suppress_rule", Permission::ManageRules),
    ("/api/end_suppression", Permission::ManageRules),
    ("/api/destinations_page", Permission::ManageSettings),
    ("/api/save_destination", Permission::ManageSettings),
    ("/api/set_destination_enabled", Permission::ManageSettings),
    ("/api/delete_destination", Permission::ManageSettings),
    ("/api/test_destination", Permission::ManageSettings),
    ("/api/retry_parked_items", Permission::ManageSettings),
    ("/api/list_saved_searches", Permission::ViewEvents),
    ("/api/save_search", Permission::ViewEvents),
    ("/api/delete_saved_search", Permission::ViewEvents),
    ("/api/event_table", Permission::ViewEvents),
    ("/api/event_columns", Permission::ViewEvents),
    ("/api/edit_event_columns", Permission::ViewEvents),
];

/// The permission the server function at `path` requires, if it is declared.
pub fn required_permission(path: &str) -> Option<Permission> {
    ACCESS.iter().find(|(p, _)| *p == path).map(|(_, permission)| *permission)
}

/// Server-side helpers shared by the server functions.
#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use leptos::prelude::use_context;

    use crate::auth::Caller;
    use crate::error::AppError;
    use crate::services::Services;

    /// The caller the server established for this request (see `src/auth`).
    pub fn caller() -> Result<Caller, AppError> {
        use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Caller>().cloned())
            .ok_or_else(AppError::unauthenticated)
    }

    /// The services provided to every request by the server.
    pub fn services() -> Result<Services, AppError> {
        use_context::<Services>().ok_or_else(|| {
            let reference = "services-missing";
            tracing::error!(reference, "Services were not provided to the Leptos context");
            AppError::internal(reference)
        })
    }
}
