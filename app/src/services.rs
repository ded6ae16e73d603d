//! The ports server functions call. `src/services` implements them over the database; server
//! functions obtain them from context as [`Services`] and never touch storage themselves.

use std::sync::Arc;

use crate::auth::Caller;
use crate::dto::{Comment, EventDetail, EventPage, Facets, Histogram, ServerInfo, TagInfo};
use crate::error::AppError;
use crate::query::{EventFilter, PageRequest};

/// Reading and annotating events. Every method is called after the caller's permission was
/// checked; `caller` is passed where the service records who acted.
#[async_trait::async_trait]
pub trait EventService: Send + Sync {
    /// One page of events matching `filter`, newest first.
    async fn list_events(&self, filter: EventFilter, page: PageRequest) -> Result<EventPage, AppError>;
    /// Distinct values with counts under `filter`.
    async fn facets(&self, filter: EventFilter) -> Result<Facets, AppError>;
    /// Counts per time bucket under `filter`.
    async fn histogram(&self, filter: EventFilter) -> Result<Histogram, AppError>;
    /// Everything about one event (by AOC's row id).
    async fn event_detail(&self, id: i64) -> Result<EventDetail, AppError>;
    /// Adds and removes tags; returns the event's tags afterwards.
    async fn change_tags(
        &self,
        caller: &Caller,
        id: i64,
        add: Vec<String>,
        remove: Vec<String>,
    ) -> Result<Vec<TagInfo>, AppError>;
    /// Adds a comment.
    async fn add_comment(&self, caller: &Caller, id: i64, body: String) -> Result<Comment, AppError>;
    /// Edits the caller's own comment.
    async fn edit_comment(&self, caller: &Caller, id: i64, comment_id: i64, body: String) -> Result<Comment, AppError>;
    /// Deletes a comment (admins).
    async fn delete_comment(&self, caller: &Caller, id: i64, comment_id: i64) -> Result<(), AppError>;
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
}
