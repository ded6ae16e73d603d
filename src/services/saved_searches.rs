//! Saved searches: [`app::saved::SavedSearchService`] for the Events page and the REST API.
//! Saving and deleting are each one transaction with its audit-trail entry.

use app::auth::Caller;
use app::error::{AppError, ErrorCode};
use app::query::EventFilter;
use app::saved::{may_delete, SavedSearch, SavedSearchInput};
use chrono::Utc;
use sea_orm::{DatabaseConnection, TransactionTrait};

use super::annotations::audit;
use super::db_failure;
use crate::store::saved_searches::{self as rows, SavedSearchRow};

/// Saved searches over one database.
#[derive(Clone)]
pub struct DbSavedSearchService {
    db: DatabaseConnection,
}

impl DbSavedSearchService {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn view(caller: &Caller, row: SavedSearchRow) -> SavedSearch {
    // Written by `save_search` from a validated filter; an unreadable one opens the plain list.
    let filter: EventFilter = serde_json::from_str(&row.filter).unwrap_or_default();
    SavedSearch {
        id: row.id,
        link: app::saved::link(&filter),
        name: row.name,
        filter,
        shared: row.shared,
        can_delete: may_delete(caller, &row.owner_subject),
        owner: row.owner_subject,
        owner_name: row.owner_name,
        created_at: row.created_at,
    }
}

fn not_found() -> AppError {
    AppError::new(ErrorCode::NotFound, "no saved search you can see has this id")
}

#[async_trait::async_trait]
impl app::saved::SavedSearchService for DbSavedSearchService {
    async fn list_saved_searches(&self, caller: &Caller) -> Result<Vec<SavedSearch>, AppError> {
        let rows =
            rows::list_visible(&self.db, &caller.subject).await.map_err(|e| db_failure("list_saved_searches", e))?;
        Ok(rows.into_iter().map(|r| view(caller, r)).collect())
    }

    async fn save_search(&self, caller: &Caller, input: SavedSearchInput) -> Result<SavedSearch, AppError> {
        let fail = |e| db_failure("save_search", e);
        let filter_json = serde_json::to_string(&input.filter).map_err(|e| {
            tracing::error!(error = %e, "could not encode a saved search's filter");
            AppError::internal("saved-search-encode")
        })?;
        let txn = self.db.begin().await.map_err(fail)?;
        if rows::name_taken(&txn, &caller.subject, &input.name).await.map_err(fail)? {
            return Err(AppError::new(
                ErrorCode::Conflict,
                format!("you have a saved search named `{}` already", input.name),
            ));
        }
        let owner = (caller.subject.as_str(), caller.display_name.as_str());
        let id = rows::create(&txn, &input.name, &filter_json, input.shared, owner, Utc::now()).await.map_err(fail)?;
        let details = serde_json::json!({"name": input.name, "shared": input.shared, "filter": input.filter});
        audit(&txn, caller, "saved_search.create", "saved_search", Some(id.to_string()), details, None)
            .await
            .map_err(fail)?;
        let row = rows::get(&txn, id).await.map_err(fail)?.ok_or_else(not_found)?;
        txn.commit().await.map_err(fail)?;
        Ok(view(caller, row))
    }

    async fn delete_saved_search(&self, caller: &Caller, id: i64) -> Result<(), AppError> {
        let fail = |e| db_failure("delete_saved_search", e);
        let txn = self.db.begin().await.map_err(fail)?;
        let row = rows::get(&txn, id).await.map_err(fail)?;
        // Someone else's private search does not exist for the caller.
        let row = row.filter(|r| r.shared || r.owner_subject == caller.subject || may_delete(caller, &r.owner_subject));
        let row = row.ok_or_else(not_found)?;
        if !may_delete(caller, &row.owner_subject) {
            return Err(AppError::forbidden("delete a saved search someone else saved"));
        }
        rows::delete(&txn, id).await.map_err(fail)?;
        let details = serde_json::json!({"name": row.name, "owner": row.owner_subject});
        audit(&txn, caller, "saved_search.delete", "saved_search", Some(id.to_string()), details, None)
            .await
            .map_err(fail)?;
        txn.commit().await.map_err(fail)
    }
}
