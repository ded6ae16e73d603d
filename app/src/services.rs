//! The ports server functions call. `src/services` implements them over the database; server
//! functions obtain them from context as [`Services`] and never touch storage themselves.

use std::sync::Arc;

use crate::auth::Caller;
use crate::dto::{EventListRequest, EventPage, ServerInfo};
use crate::error::AppError;

/// Reading events.
#[async_trait::async_trait]
pub trait EventService: Send + Sync {
    /// One page of events, newest first.
    async fn list_events(&self, request: EventListRequest) -> Result<EventPage, AppError>;
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
