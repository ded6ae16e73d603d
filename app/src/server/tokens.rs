//! Server functions of the API-tokens page.
//!
//! A token created by a form sent without JavaScript comes back through the page: the server
//! keeps it in the person's session until the page that the browser is sent back to shows it
//! (once). With JavaScript the answer carries it and the session never holds it.

use leptos::prelude::*;

use crate::dto::{ApiTokenInfo, ApiTokenPage, EndedSessions, NewApiToken, SignedInPerson};
use crate::error::AppError;

#[cfg(feature = "ssr")]
const FRESH_TOKEN: &str = "aoc.fresh_api_token";

/// The caller's tokens (everyone's for an admin), and a token just created without JavaScript.
#[server(endpoint = "api_tokens")]
pub async fn list_api_tokens() -> Result<ApiTokenPage, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::ManageOwnTokens)?;
    let mut page = services()?.access.page(&caller).await?;
    if let Some(session) = session() {
        page.fresh = session.remove::<NewApiToken>(FRESH_TOKEN).await.ok().flatten();
    }
    Ok(page)
}

/// Creates a personal API token acting for the caller.
#[server(endpoint = "create_api_token")]
pub async fn create_api_token(
    name: String,
    role: Option<String>,
    expires_in_days: Option<String>,
) -> Result<NewApiToken, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;
    use crate::input::TokenRequest;

    let caller = caller()?;
    caller.require(Permission::ManageOwnTokens)?;
    let request = TokenRequest::parse(&caller, &name, role.as_deref(), expires_in_days.as_deref())?;
    let created = services()?.access.create_token(&caller, request).await?;
    if plain_form_post() {
        if let Some(session) = session() {
            if session.insert(FRESH_TOKEN, &created).await.is_err() {
                tracing::warn!("could not hand a new API token to the page through the session");
            }
        }
    }
    Ok(created)
}

/// Revokes a token (the caller's own, or any for an admin).
#[server(endpoint = "revoke_api_token")]
pub async fn revoke_api_token(id: String) -> Result<ApiTokenInfo, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::ManageOwnTokens)?;
    let id = crate::input::parse_id("id", &id)?;
    services()?.access.revoke_token(&caller, id).await
}

#[cfg(feature = "ssr")]
fn session() -> Option<tower_sessions::Session> {
    use_context::<http::request::Parts>().and_then(|parts| parts.extensions.get::<tower_sessions::Session>().cloned())
}

/// Whether the request is a form sent by a browser without JavaScript (it asks for HTML and
/// gets redirected back to the page).
#[cfg(feature = "ssr")]
pub(super) fn plain_form_post() -> bool {
    use_context::<http::request::Parts>().is_some_and(|parts| {
        parts.headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"))
    })
}

/// People who signed in lately (administrators).
#[server(endpoint = "signed_in_people")]
pub async fn signed_in_people() -> Result<Vec<SignedInPerson>, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::ManageSettings)?;
    services()?.access.signed_in_people().await
}

/// Ends every session of a person, optionally revoking their API tokens (administrators).
#[server(endpoint = "end_sessions")]
pub async fn end_sessions(subject: String, revoke_tokens: Option<String>) -> Result<EndedSessions, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::ManageSettings)?;
    let revoke_tokens = revoke_tokens.is_some_and(|v| matches!(v.as_str(), "on" | "true" | "1"));
    services()?.access.end_sessions(&caller, &subject, revoke_tokens).await
}
