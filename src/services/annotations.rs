//! What analysts add to events (tags and comments) and AOC's own audit trail. Every change is
//! written in the same transaction as its audit-trail entry, with who and when; the rows are
//! read and written by `store::annotations`.

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait};

use app::auth::Caller;
use app::dto::{Comment, TagInfo, MAX_TAGS_PER_EVENT};
use app::error::AppError;
use app::input::TagChange;

use super::events::TaggedEvent;
use crate::store::annotations as rows;

/// Why an annotation change was refused (besides a database failure).
#[derive(Debug)]
pub enum Refusal {
    NotFound(String),
    Invalid(AppError),
    Forbidden(String),
}

/// An annotation failure: refused, or the database failed.
#[derive(Debug)]
pub enum AnnotationError {
    Refused(Refusal),
    Db(DbErr),
}

impl From<DbErr> for AnnotationError {
    fn from(e: DbErr) -> Self {
        Self::Db(e)
    }
}

impl AnnotationError {
    /// The user-facing error (database failures are logged with a reference).
    pub fn into_app_error(self, operation: &'static str) -> AppError {
        match self {
            AnnotationError::Refused(Refusal::NotFound(what)) => {
                AppError::new(app::error::ErrorCode::NotFound, format!("{what} does not exist"))
            }
            AnnotationError::Refused(Refusal::Invalid(e)) => e,
            AnnotationError::Refused(Refusal::Forbidden(what)) => AppError::forbidden(what),
            AnnotationError::Db(e) => super::db_failure(operation, e),
        }
    }
}

/// Writes an audit-trail entry (`details` a JSON object). It must never hold secrets or record
/// bodies.
pub async fn audit(
    db: &impl ConnectionTrait,
    caller: &Caller,
    action: &str,
    target_kind: &str,
    target_id: Option<String>,
    details: serde_json::Value,
    request_id: Option<&str>,
) -> Result<(), DbErr> {
    // Like the tenant store: the actor is the caller's display name; the stable subject goes
    // into the details.
    let mut details = details;
    if let Some(map) = details.as_object_mut() {
        map.insert("actor_subject".into(), serde_json::Value::String(caller.subject.clone()));
        if let app::auth::AuthMethod::ApiToken { token_id } = caller.method {
            map.insert("via_api_token".into(), serde_json::Value::from(token_id));
        }
    }
    rows::insert_audit(
        db,
        rows::NewAuditEntry {
            occurred_at: Utc::now(),
            actor: &caller.display_name,
            action,
            target_kind,
            target_id,
            details: &details,
            request_id,
        },
    )
    .await
}

/// Annotations over one database.
#[derive(Clone)]
pub struct AnnotationService {
    db: DatabaseConnection,
}

/// Most audit-trail entries shown with one event.
const HISTORY_LIMIT: u32 = 100;

impl AnnotationService {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// The tags of an event, oldest first.
    pub async fn tags(&self, event_id: i64) -> Result<Vec<TagInfo>, DbErr> {
        rows::tags(&self.db, event_id).await
    }

    /// Applies a validated tag change. Returns the tags after the change.
    pub async fn change_tags(
        &self,
        caller: &Caller,
        event_id: i64,
        change: &TagChange,
    ) -> Result<TaggedEvent, AnnotationError> {
        // On SQLite through the writer connection: a deferred transaction that reads and then
        // writes fails at once if another writer (the write path, the rule evaluator) committed
        // in between.
        let writer = crate::store::writer(&self.db).await?;
        let txn = writer.begin().await?;
        let Some(record_id) = rows::lock_event(&txn, event_id).await? else {
            return Err(AnnotationError::Refused(Refusal::NotFound("the event".into())));
        };
        let current: Vec<String> = rows::tags(&txn, event_id).await?.into_iter().map(|t| t.tag).collect();
        let (add, remove) = (&change.add, &change.remove);
        let (to_add, to_remove): (Vec<String>, Vec<String>) = match &change.replace {
            Some(wanted) => (
                wanted.iter().filter(|t| !current.contains(t)).cloned().collect(),
                current.iter().filter(|t| !wanted.contains(t)).cloned().collect(),
            ),
            None => (
                add.iter().filter(|t| !current.contains(t) && !remove.contains(t)).cloned().collect(),
                remove.iter().filter(|t| current.contains(t)).cloned().collect(),
            ),
        };
        let mut to_add = to_add;
        to_add.sort();
        to_add.dedup();
        if current.len() + to_add.len() - to_remove.len() > MAX_TAGS_PER_EVENT {
            return Err(AnnotationError::Refused(Refusal::Invalid(AppError::invalid_input(
                "tags",
                format!("an event has at most {MAX_TAGS_PER_EVENT} tags"),
            ))));
        }
        rows::insert_tags(&txn, event_id, &to_add, &caller.subject, Utc::now()).await?;
        rows::delete_tags(&txn, event_id, &to_remove).await?;
        if !to_add.is_empty() || !to_remove.is_empty() {
            audit(
                &txn,
                caller,
                "event.tags.change",
                "event",
                Some(event_id.to_string()),
                serde_json::json!({ "record_id": record_id, "added": to_add, "removed": to_remove }),
                None,
            )
            .await?;
        }
        txn.commit().await?;
        Ok(TaggedEvent { event_id, record_id, tags: self.tags(event_id).await? })
    }

    /// The comments of an event, oldest first.
    pub async fn comments(&self, event_id: i64) -> Result<Vec<Comment>, DbErr> {
        rows::comments(&self.db, event_id).await
    }

    /// Who tagged or commented on an event and when (AOC's audit trail), newest first.
    pub async fn history(&self, event_id: i64) -> Result<Vec<app::dto::AuditEntry>, DbErr> {
        rows::audit_trail(&self.db, None, Some("event"), Some(&event_id.to_string()), HISTORY_LIMIT).await
    }

    /// Adds a comment (body already validated).
    pub async fn add_comment(&self, caller: &Caller, event_id: i64, body: &str) -> Result<Comment, AnnotationError> {
        // On SQLite through the writer connection: a deferred transaction that reads and then
        // writes fails at once if another writer (the write path, the rule evaluator) committed
        // in between.
        let writer = crate::store::writer(&self.db).await?;
        let txn = writer.begin().await?;
        let Some(record_id) = rows::lock_event(&txn, event_id).await? else {
            return Err(AnnotationError::Refused(Refusal::NotFound("the event".into())));
        };
        let comment = rows::insert_comment(&txn, event_id, &caller.subject, body, Utc::now()).await?;
        audit(
            &txn,
            caller,
            "event.comment.add",
            "event",
            Some(event_id.to_string()),
            serde_json::json!({ "record_id": record_id, "comment_id": comment.id }),
            None,
        )
        .await?;
        txn.commit().await?;
        Ok(comment)
    }

    async fn comment_author(
        db: &impl ConnectionTrait,
        event_id: i64,
        comment_id: i64,
    ) -> Result<String, AnnotationError> {
        rows::comment_author(db, event_id, comment_id)
            .await?
            .ok_or_else(|| AnnotationError::Refused(Refusal::NotFound("the comment".into())))
    }

    /// Edits a comment; only its author may.
    pub async fn edit_comment(
        &self,
        caller: &Caller,
        event_id: i64,
        comment_id: i64,
        body: &str,
    ) -> Result<Comment, AnnotationError> {
        // On SQLite through the writer connection: a deferred transaction that reads and then
        // writes fails at once if another writer (the write path, the rule evaluator) committed
        // in between.
        let writer = crate::store::writer(&self.db).await?;
        let txn = writer.begin().await?;
        let author = Self::comment_author(&txn, event_id, comment_id).await?;
        if author != caller.subject {
            return Err(AnnotationError::Refused(Refusal::Forbidden("edit someone else's comment".into())));
        }
        let comment = rows::update_comment(&txn, comment_id, body, Utc::now()).await?;
        audit(
            &txn,
            caller,
            "event.comment.edit",
            "event",
            Some(event_id.to_string()),
            serde_json::json!({ "comment_id": comment_id }),
            None,
        )
        .await?;
        txn.commit().await?;
        Ok(comment)
    }

    /// Deletes a comment (the caller's permission is checked by the adapter: admins only).
    pub async fn delete_comment(&self, caller: &Caller, event_id: i64, comment_id: i64) -> Result<(), AnnotationError> {
        // On SQLite through the writer connection: a deferred transaction that reads and then
        // writes fails at once if another writer (the write path, the rule evaluator) committed
        // in between.
        let writer = crate::store::writer(&self.db).await?;
        let txn = writer.begin().await?;
        let author = Self::comment_author(&txn, event_id, comment_id).await?;
        rows::delete_comment(&txn, comment_id).await?;
        audit(
            &txn,
            caller,
            "event.comment.delete",
            "event",
            Some(event_id.to_string()),
            serde_json::json!({ "comment_id": comment_id, "author": author }),
            None,
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}
