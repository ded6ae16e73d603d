//! The ports server functions and REST handlers call. `src/services` implements them over the
//! database; server functions obtain them from context as [`Services`] and never touch storage
//! themselves. Every method takes validated input ([`crate::query`], [`crate::input`]).

use std::sync::Arc;

use crate::auth::Caller;
use crate::dto::{
    ApiTokenInfo, ApiTokenPage, Comment, EndedSessions, EventDetail, EventPage, Facets, Histogram, NewApiToken,
    NewTenantForm, ServerInfo, SignedInPerson, SourcesOverview, TagInfo,
};
use crate::error::AppError;
use crate::input::{CommentText, EventRef, HistogramRequest, TagChange, TokenRequest};
use crate::query::{EventQuery, PageRequest};

/// Reading and annotating events. Every method is called after the caller's permission was
/// checked; `caller` is passed where the service records who acted. Events are named by
/// [`EventRef`], resolved in one place by the implementation.
#[async_trait::async_trait]
pub trait EventService: Send + Sync {
    /// One page of events matching `query`, newest first.
    async fn list_events(&self, query: EventQuery, page: PageRequest) -> Result<EventPage, AppError>;
    /// A page for the Events table: like [`Self::list_events`], each event also carrying the
    /// flattened `fields` it has (the table's chosen columns), and the names of every flattened
    /// field of the page's events, sorted (what the column chooser offers).
    async fn table_page(
        &self,
        query: EventQuery,
        page: PageRequest,
        fields: &[String],
    ) -> Result<(EventPage, Vec<String>), AppError>;
    /// Distinct values with counts under `query`.
    async fn facets(&self, query: EventQuery) -> Result<Facets, AppError>;
    /// The values of one facet that contain a text, with counts under every other condition of
    /// `query` (most frequent first, at most 100).
    async fn facet_values(
        &self,
        query: EventQuery,
        search: crate::input::FacetSearch,
    ) -> Result<Vec<crate::dto::FacetValue>, AppError>;
    /// Counts per time bucket.
    async fn histogram(&self, request: HistogramRequest) -> Result<Histogram, AppError>;
    /// Everything about one event.
    async fn event_detail(&self, event: EventRef) -> Result<EventDetail, AppError>;
    /// Changes an event's tags; returns its tags afterwards.
    async fn change_tags(&self, caller: &Caller, event: EventRef, change: TagChange) -> Result<Vec<TagInfo>, AppError>;
    /// Adds a comment.
    async fn add_comment(&self, caller: &Caller, event: EventRef, body: CommentText) -> Result<Comment, AppError>;
    /// Edits the caller's own comment.
    async fn edit_comment(
        &self,
        caller: &Caller,
        event: EventRef,
        comment_id: i64,
        body: CommentText,
    ) -> Result<Comment, AppError>;
    /// Deletes a comment (admins).
    async fn delete_comment(&self, caller: &Caller, event: EventRef, comment_id: i64) -> Result<(), AppError>;
}

/// Facts about the running server.
#[async_trait::async_trait]
pub trait SystemService: Send + Sync {
    /// What the Settings page shows to `caller`.
    async fn server_info(&self, caller: &Caller) -> Result<ServerInfo, AppError>;
    /// A page of AOC's audit trail, newest first; `search` keeps the entries whose actor,
    /// action, target or details contain it (case-insensitive).
    async fn audit_trail(
        &self,
        request: crate::input::AuditTrailRequest,
        search: Option<String>,
    ) -> Result<crate::dto::AuditPage, AppError>;
}

/// Tenants, collection health, the coverage ledger and collecting on demand.
#[async_trait::async_trait]
pub trait SourceService: Send + Sync {
    /// Health, recent coverage and (for those who may manage them) the stored tenants.
    async fn overview(&self, caller: &Caller) -> Result<SourcesOverview, AppError>;
    /// Schedules an immediate collection of every enabled source (or the one tenant or source
    /// asked for), with the look-back asked for; returns how many sources.
    async fn collect_now(&self, caller: &Caller, request: crate::dto::CollectRequest) -> Result<u32, AppError>;
    /// Adds a tenant stored in the database.
    async fn add_tenant(&self, caller: &Caller, form: NewTenantForm) -> Result<(), AppError>;
    /// Enables or disables a stored tenant's collection.
    async fn set_tenant_enabled(&self, caller: &Caller, tenant_id: &str, enabled: bool) -> Result<(), AppError>;
    /// Deletes a stored tenant (its events stay).
    async fn remove_tenant(&self, caller: &Caller, tenant_id: &str) -> Result<(), AppError>;
    /// Tries a stored tenant's credentials with read calls only (see [`crate::connection`]).
    async fn test_connection(
        &self,
        caller: &Caller,
        tenant_id: &str,
    ) -> Result<crate::connection::ConnectionTest, AppError>;
}

/// Personal API tokens and people's sessions. Token callers hold `ManageOwnTokens`; admins
/// (`ManageSettings`) see and revoke everyone's tokens and end people's sessions.
#[async_trait::async_trait]
pub trait AccessService: Send + Sync {
    /// The caller's tokens, or every token for an admin.
    async fn list_tokens(&self, caller: &Caller) -> Result<Vec<ApiTokenInfo>, AppError>;
    /// Creates a token acting for the caller; the secret is in the answer only.
    async fn create_token(&self, caller: &Caller, request: TokenRequest) -> Result<NewApiToken, AppError>;
    /// Revokes a token of the caller's (any token, for an admin).
    async fn revoke_token(&self, caller: &Caller, id: i64) -> Result<ApiTokenInfo, AppError>;
    /// Whether the server accepts personal API tokens (sign-in is enabled).
    fn accepted(&self) -> bool;
    /// People who signed in within the absolute session lifetime, newest first (admins).
    async fn signed_in_people(&self) -> Result<Vec<SignedInPerson>, AppError>;
    /// Ends every session of `subject` (and revokes their API tokens when asked) (admins).
    async fn end_sessions(
        &self,
        caller: &Caller,
        subject: &str,
        revoke_tokens: bool,
    ) -> Result<EndedSessions, AppError>;
    /// The page, without the fresh token (server functions add it from the session).
    async fn page(&self, caller: &Caller) -> Result<ApiTokenPage, AppError> {
        Ok(ApiTokenPage {
            items: self.list_tokens(caller).await?,
            accepted: self.accepted(),
            max_role: caller.role,
            fresh: None,
        })
    }
}

/// Export destinations, for administrators (`ManageSettings`): the same service as
/// `/api/destinations`; changes are recorded in the audit trail with `caller`.
#[async_trait::async_trait]
pub trait DestinationAdmin: Send + Sync {
    /// Every destination with its queue, rate, parked items and last test.
    async fn destinations_page(&self) -> Result<crate::dto::DestinationsPage, AppError>;
    /// Adds a destination (`id` None) or changes one; returns its id.
    async fn save_destination(
        &self,
        caller: &Caller,
        id: Option<i64>,
        form: crate::dto::DestinationForm,
    ) -> Result<i64, AppError>;
    /// Switches delivery on or off.
    async fn set_destination_enabled(&self, caller: &Caller, id: i64, enabled: bool) -> Result<(), AppError>;
    /// Removes a destination with its queue.
    async fn delete_destination(&self, caller: &Caller, id: i64) -> Result<(), AppError>;
    /// Delivers one synthetic record and returns the far end's answer.
    async fn send_test(&self, caller: &Caller, id: i64) -> Result<crate::dto::DestinationTestResult, AppError>;
    /// Puts one parked item (or all, `item` None) back in the queue; returns how many.
    async fn retry_parked(&self, caller: &Caller, id: i64, item: Option<i64>) -> Result<u64, AppError>;
}

/// Every service, handed to server functions through Leptos context.
#[derive(Clone)]
pub struct Services {
    pub events: Arc<dyn EventService>,
    pub system: Arc<dyn SystemService>,
    pub access: Arc<dyn AccessService>,
    pub sources: Arc<dyn SourceService>,
    pub investigation: Arc<dyn crate::investigate::InvestigationService>,
    pub watchlists: Arc<dyn crate::watchlist::WatchlistService>,
    pub detection: Arc<dyn crate::detection::DetectionPort>,
    pub destinations: Arc<dyn DestinationAdmin>,
    pub saved_searches: Arc<dyn crate::saved::SavedSearchService>,
    pub columns: Arc<dyn crate::columns::ColumnService>,
}
