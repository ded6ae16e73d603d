//! The ports server functions and REST handlers call. `src/services` implements them over the
//! database; server functions obtain them from context as [`Services`] and never touch storage
//! themselves. Every method takes validated input ([`crate::query`], [`crate::input`]).

use std::sync::Arc;

use crate::auth::Caller;
use crate::dto::{Comment, EventDetail, EventPage, Facets, Histogram, ServerInfo, TagInfo};
use crate::error::AppError;
use crate::input::{CommentText, EventRef, HistogramRequest, TagChange};
use crate::query::{EventQuery, PageRequest};

/// Reading and annotating events. Every method is called after the caller's permission was
/// checked; `caller` is passed where the service records who acted. Events are named by
/// [`EventRef`], resolved in one place by the implementation.
#[async_trait::async_trait]
pub trait EventService: Send + Sync {
    /// One page of events matching `query`, newest first.
    async fn list_events(&self, query: EventQuery, page: PageRequest) -> Result<EventPage, AppError>;
    /// Distinct values with counts under `query`.
    async fn facets(&self, query: EventQuery) -> Result<Facets, AppError>;
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
}

/// Every service, handed to server functions through Leptos context.
#[derive(Clone)]
pub struct Services {
    pub events: Arc<dyn EventService>,
    pub system: Arc<dyn SystemService>,
    pub investigation: Arc<dyn crate::investigate::InvestigationService>,
    pub watchlists: Arc<dyn crate::watchlist::WatchlistService>,
}
