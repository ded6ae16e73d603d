//! Saved searches: a named Events-page search, listed for the person who saved it and, when
//! shared, for everyone who may view events. Opening one is following its link (the Events page
//! with the saved filter in the address), so it can also be bookmarked or sent to a colleague.
//! Its owner deletes it; an administrator may delete any. Validation lives here, once, for the
//! REST API and the Events page.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::auth::{Caller, Role};
use crate::error::AppError;
use crate::query::EventFilter;

/// Longest saved-search name, in characters.
pub const MAX_NAME_LEN: usize = 100;

/// A stored search as the list shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SavedSearch {
    pub id: i64,
    pub name: String,
    /// The Events page's filter fields, as saved.
    pub filter: EventFilter,
    /// The Events page showing this search (`/events?...`).
    pub link: String,
    /// Listed for everyone, not only its owner.
    pub shared: bool,
    /// The owner's subject (the person's id).
    pub owner: String,
    /// The owner's name when it was saved.
    pub owner_name: String,
    pub created_at: DateTime<Utc>,
    /// The caller may delete it (it is theirs, or they are an administrator).
    pub can_delete: bool,
}

/// A validated saved search to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedSearchInput {
    pub name: String,
    pub filter: EventFilter,
    pub shared: bool,
}

impl SavedSearchInput {
    /// Checks the name (1–100 characters, no control characters) and the filter (every field
    /// as the Events page validates it, `now` anchoring relative ranges); a blank filter field is
    /// dropped, so the saved search is the one the page shows.
    pub fn parse(name: &str, filter: EventFilter, shared: bool, now: DateTime<Utc>) -> Result<Self, AppError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
            return Err(AppError::invalid_input(
                "name",
                format!("a saved search's name has 1–{MAX_NAME_LEN} characters"),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(AppError::invalid_input("name", "must not contain control characters (such as line breaks)"));
        }
        let keep = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
        let filter = EventFilter {
            tenant: keep(filter.tenant),
            source: keep(filter.source),
            service: keep(filter.service),
            operation: keep(filter.operation),
            actor: keep(filter.actor),
            target: keep(filter.target),
            result: keep(filter.result),
            severity: keep(filter.severity),
            min_severity: keep(filter.min_severity),
            tag: keep(filter.tag),
            start: keep(filter.start),
            end: keep(filter.end),
            last: keep(filter.last),
            search: keep(filter.search),
        };
        filter.parse(now)?;
        Ok(Self { name: name.to_string(), filter, shared })
    }
}

/// The Events page showing `filter`.
pub fn link(filter: &EventFilter) -> String {
    crate::pages::events::events_href(filter, None)
}

/// Whether `caller` may delete a saved search owned by `owner`.
pub fn may_delete(caller: &Caller, owner: &str) -> bool {
    caller.subject == owner || caller.role >= Role::Admin
}

/// Saved searches, implemented over the database by the server.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait SavedSearchService: Send + Sync {
    /// The caller's own saved searches and every shared one, by name.
    async fn list_saved_searches(&self, caller: &Caller) -> Result<Vec<SavedSearch>, AppError>;
    /// Stores a saved search owned by the caller (a name they already use is a conflict).
    async fn save_search(&self, caller: &Caller, input: SavedSearchInput) -> Result<SavedSearch, AppError>;
    /// Deletes a saved search: the caller's own, or any for an administrator.
    async fn delete_saved_search(&self, caller: &Caller, id: i64) -> Result<(), AppError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-08T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn names_and_filters_are_checked() {
        let filter = EventFilter { service: Some("Exchange".into()), tag: Some(" ".into()), ..Default::default() };
        let saved = SavedSearchInput::parse("  Exchange changes ", filter, true, now()).unwrap();
        assert_eq!(saved.name, "Exchange changes");
        assert_eq!(saved.filter, EventFilter { service: Some("Exchange".into()), ..Default::default() });
        for bad in ["", "   ", "two\nlines", &"x".repeat(MAX_NAME_LEN + 1)] {
            let e = SavedSearchInput::parse(bad, EventFilter::default(), false, now()).unwrap_err();
            assert!(e.message.contains("name"), "{bad:?}: {}", e.message);
        }
        let bad = EventFilter { last: Some("7w".into()), ..Default::default() };
        assert!(SavedSearchInput::parse("x", bad, false, now()).unwrap_err().message.contains("last"));
    }

    #[test]
    fn owners_and_administrators_delete() {
        let admin = Caller::local_admin();
        let reader = Caller { role: Role::Reader, subject: "reader".into(), ..Caller::local_admin() };
        assert!(may_delete(&reader, "reader"));
        assert!(!may_delete(&reader, "someone-else"));
        assert!(may_delete(&admin, "someone-else"));
    }
}
