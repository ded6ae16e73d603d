//! Each person's Events columns: [`app::columns::ColumnService`] for the Events page and the
//! REST API, kept in `user_preferences` under `event_columns`.

use app::auth::Caller;
use app::columns::{validate, EventColumns};
use app::error::AppError;
use chrono::Utc;
use sea_orm::DatabaseConnection;

use super::db_failure;
use crate::store::preferences;

/// The preference's name.
const EVENT_COLUMNS: &str = "event_columns";

/// Column choices over one database.
#[derive(Clone)]
pub struct DbColumnService {
    db: DatabaseConnection,
}

impl DbColumnService {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl app::columns::ColumnService for DbColumnService {
    async fn event_columns(&self, caller: &Caller) -> Result<EventColumns, AppError> {
        let stored = preferences::get(&self.db, &caller.subject, EVENT_COLUMNS)
            .await
            .map_err(|e| db_failure("event_columns", e))?;
        // Written by `set_event_columns` from a validated list; anything unreadable (or no
        // longer valid) shows the defaults.
        let chosen = stored
            .and_then(|json| serde_json::from_str::<Vec<String>>(&json).ok())
            .and_then(|list| validate(&list).ok());
        Ok(match chosen {
            Some(columns) => EventColumns { columns, default: false },
            None => EventColumns::defaults(),
        })
    }

    async fn set_event_columns(&self, caller: &Caller, columns: Option<Vec<String>>) -> Result<EventColumns, AppError> {
        let fail = |e| db_failure("set_event_columns", e);
        // Checked before waiting for the writer: a bad list never queues behind a write.
        let columns = columns.map(|c| validate(&c)).transpose()?;
        let writer = crate::store::writer(&self.db).await.map_err(fail)?;
        match columns {
            Some(columns) => {
                let json = serde_json::to_string(&columns).map_err(|_| AppError::internal("columns-encode"))?;
                preferences::put(&*writer, &caller.subject, EVENT_COLUMNS, &json, Utc::now()).await.map_err(fail)?;
                Ok(EventColumns { default: false, columns })
            }
            None => {
                preferences::delete(&*writer, &caller.subject, EVENT_COLUMNS).await.map_err(fail)?;
                Ok(EventColumns::defaults())
            }
        }
    }
}
