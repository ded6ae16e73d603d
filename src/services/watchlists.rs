//! Watchlists: [`app::watchlist::WatchlistService`] for the Watchlists page and the REST API.
//! Every change is one transaction with its audit-trail entry (who, which list, how many items).

use app::auth::Caller;
use app::error::{AppError, ErrorCode};
use app::watchlist::{Watchlist, WatchlistInfo, WatchlistInput, WatchlistKind};
use chrono::Utc;
use sea_orm::{DatabaseConnection, TransactionTrait};

use super::annotations::audit;
use super::db_failure;
use crate::store::watchlists::{self as rows, WatchlistRow};

/// Watchlists over one database.
#[derive(Clone)]
pub struct DbWatchlistService {
    db: DatabaseConnection,
}

fn info(row: WatchlistRow) -> WatchlistInfo {
    WatchlistInfo {
        id: row.id,
        kind: WatchlistKind::parse(&row.kind).unwrap_or(WatchlistKind::User),
        name: row.name,
        description: row.description,
        item_count: row.item_count.max(0) as u64,
        created_by: row.created_by,
        updated_at: row.updated_at,
    }
}

fn not_found() -> AppError {
    AppError::new(ErrorCode::NotFound, "no watchlist has this id")
}

impl DbWatchlistService {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl app::watchlist::WatchlistService for DbWatchlistService {
    async fn list_watchlists(&self) -> Result<Vec<WatchlistInfo>, AppError> {
        Ok(rows::list(&self.db).await.map_err(|e| db_failure("list_watchlists", e))?.into_iter().map(info).collect())
    }

    async fn watchlist(&self, id: i64) -> Result<Watchlist, AppError> {
        let (row, items) =
            rows::get(&self.db, id).await.map_err(|e| db_failure("watchlist", e))?.ok_or_else(not_found)?;
        Ok(Watchlist { info: info(row), items })
    }

    async fn save_watchlist(
        &self,
        caller: &Caller,
        id: Option<i64>,
        input: WatchlistInput,
    ) -> Result<Watchlist, AppError> {
        let fail = |e| db_failure("save_watchlist", e);
        let txn = self.db.begin().await.map_err(fail)?;
        if rows::id_by_name(&txn, &input.name, id).await.map_err(fail)?.is_some() {
            return Err(AppError::new(
                ErrorCode::Conflict,
                format!("a watchlist named `{}` exists already", input.name),
            ));
        }
        let now = Utc::now();
        let (id, action) = match id {
            None => (rows::create(&txn, &input, &caller.display_name, now).await.map_err(fail)?, "watchlist.create"),
            Some(id) => {
                if !rows::replace(&txn, id, &input, now).await.map_err(fail)? {
                    return Err(not_found());
                }
                (id, "watchlist.replace")
            }
        };
        let details = serde_json::json!({"name": input.name, "kind": input.kind.as_str(), "items": input.items.len()});
        audit(&txn, caller, action, "watchlist", Some(id.to_string()), details, None).await.map_err(fail)?;
        txn.commit().await.map_err(fail)?;
        self.watchlist(id).await
    }

    async fn delete_watchlist(&self, caller: &Caller, id: i64) -> Result<(), AppError> {
        let fail = |e| db_failure("delete_watchlist", e);
        let txn = self.db.begin().await.map_err(fail)?;
        let (row, _) = rows::get(&txn, id).await.map_err(fail)?.ok_or_else(not_found)?;
        rows::delete(&txn, id).await.map_err(fail)?;
        let details = serde_json::json!({"name": row.name, "items": row.item_count});
        audit(&txn, caller, "watchlist.delete", "watchlist", Some(id.to_string()), details, None)
            .await
            .map_err(fail)?;
        txn.commit().await.map_err(fail)
    }
}
