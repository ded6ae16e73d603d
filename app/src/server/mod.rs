//! Typed server functions, one area per file. Each is a thin adapter: establish the caller, check
//! the permission, validate input, call one service, return a DTO. Endpoints are fixed
//! (`/api/<name>`) so scripts and tests can rely on them.

mod events;
mod system;

pub use events::*;
pub use system::*;

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
