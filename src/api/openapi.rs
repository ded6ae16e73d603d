//! The OpenAPI document of the REST API, generated from the handlers' annotations and the
//! request/response types (`utoipa`), served at `GET /api/openapi.json`.

use axum::Json;
use utoipa::OpenApi;

use super::{bulk_tags, columns, events, investigate, saved_searches, tokens, watchlists};

/// The REST API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "AOC REST API", description = "Events, tags, comments, export, coverage and the audit trail of AOC, the Admin Operations Center."),
    paths(
        events::list_events,
        events::get_event,
        events::patch_tags,
        bulk_tags::bulk_tags,
        events::list_comments,
        events::post_comment,
        events::patch_comment,
        events::delete_comment,
        events::filter_options,
        events::histogram,
        events::export,
        events::coverage,
        events::audit_trail,
        tokens::list_tokens,
        tokens::create_token,
        tokens::revoke_token,
        tokens::list_sessions,
        tokens::end_sessions,
        investigate::overview,
        investigate::summary,
        investigate::graph,
        investigate::map,
        watchlists::list,
        watchlists::create,
        watchlists::get,
        watchlists::replace,
        watchlists::delete,
        saved_searches::list,
        saved_searches::create,
        saved_searches::delete,
        columns::get_columns,
        columns::put_columns,
    ),
    tags(
        (name = "events", description = "Search, read, tag, comment on and export events"),
        (name = "collection", description = "What was collected"),
        (name = "audit", description = "Who changed what in AOC"),
        (name = "tokens", description = "Personal API tokens and people's sessions"),
        (name = "watchlists", description = "Named lists of users, IPs, apps or domains, used in search as watchlist:NAME"),
        (name = "saved-searches", description = "Named Events searches, one's own and shared ones"),
    )
)]
pub struct ApiDoc;

/// `GET /api/openapi.json`.
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_names_every_events_route() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        for path in
            ["/api/events", "/api/events/{id}", "/api/events/{id}/tags", "/api/events/export", "/api/filter-options"]
        {
            assert!(doc["paths"][path].is_object(), "{path} missing");
        }
        assert!(doc["components"]["schemas"]["ApiEvent"].is_object());
    }
}
