//! What analysts add to events (tags and comments) and AOC's own audit trail. Every change is
//! written in the same transaction as its audit-trail entry, with who and when.

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait};

use super::query::Sql;
use app::auth::Caller;
use app::dto::{AuditEntry, Comment, TagInfo, MAX_COMMENT_LEN, MAX_TAGS_PER_EVENT};
use app::error::AppError;

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

/// Validates a comment body: 1–10,000 characters after trimming, no NUL.
pub fn validate_comment(body: &str) -> Result<String, AppError> {
    let body = body.trim();
    if body.is_empty() {
        return Err(AppError::invalid_input("body", "a comment cannot be empty"));
    }
    if body.chars().count() > MAX_COMMENT_LEN {
        return Err(AppError::invalid_input("body", format!("a comment has at most {MAX_COMMENT_LEN} characters")));
    }
    if body.contains('\0') {
        return Err(AppError::invalid_input("body", "a comment cannot contain NUL characters"));
    }
    Ok(body.to_string())
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
    let backend = db.get_database_backend();
    let mut sql = Sql::new(
        backend,
        "INSERT INTO audit_trail (occurred_at, actor, action, target_kind, target_id, details, request_id) VALUES (",
    );
    // Like the tenant store: the actor is the caller's display name; the stable subject goes
    // into the details.
    let mut details = details;
    if let Some(map) = details.as_object_mut() {
        map.insert("actor_subject".into(), serde_json::Value::String(caller.subject.clone()));
    }
    let values = [
        sql.bind(Utc::now()),
        sql.bind(caller.display_name.clone()),
        sql.bind(action.to_string()),
        sql.bind(target_kind.to_string()),
        sql.bind(target_id),
        sql.bind(details.to_string()),
        sql.bind(request_id.map(str::to_string)),
    ];
    sql.push(&values.join(", "));
    sql.push(")");
    db.execute(sql.statement()).await.map(|_| ())
}

/// Annotations over one database.
#[derive(Clone)]
pub struct AnnotationService {
    db: DatabaseConnection,
}

async fn event_exists(db: &impl ConnectionTrait, event_id: i64) -> Result<Option<String>, DbErr> {
    let mut sql = Sql::new(db.get_database_backend(), "SELECT record_id FROM events WHERE id = ");
    let p = sql.bind(event_id);
    sql.push(&p);
    // PostgreSQL has no foreign key to the partitioned events table: the row lock makes a
    // deletion of the event (retention, dedupe) wait for this transaction, whose tag or comment
    // the deletion then removes with the event.
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        sql.push(" FOR KEY SHARE");
    }
    Ok(db.query_one(sql.statement()).await?.and_then(|r| r.try_get::<String>("", "record_id").ok()))
}

impl AnnotationService {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// The tags of an event, oldest first.
    pub async fn tags(&self, event_id: i64) -> Result<Vec<TagInfo>, DbErr> {
        let mut sql = Sql::new(
            self.db.get_database_backend(),
            "SELECT tag, created_by, created_at FROM event_tags WHERE event_id = ",
        );
        let p = sql.bind(event_id);
        sql.push(&p);
        sql.push(" ORDER BY created_at, tag");
        let rows = self.db.query_all(sql.statement()).await?;
        rows.iter()
            .map(|r| {
                Ok(TagInfo {
                    tag: r.try_get("", "tag")?,
                    created_by: r.try_get("", "created_by")?,
                    created_at: r.try_get("", "created_at")?,
                })
            })
            .collect()
    }

    /// Adds and removes tags (already normalized); `replace` sets exactly that set. Returns the
    /// tags after the change.
    pub async fn change_tags(
        &self,
        caller: &Caller,
        event_id: i64,
        add: &[String],
        remove: &[String],
        replace: Option<&[String]>,
    ) -> Result<Vec<TagInfo>, AnnotationError> {
        let txn = self.db.begin().await?;
        let backend = txn.get_database_backend();
        let Some(record_id) = event_exists(&txn, event_id).await? else {
            return Err(AnnotationError::Refused(Refusal::NotFound("the event".into())));
        };
        let current: Vec<String> = {
            let mut sql = Sql::new(backend, "SELECT tag FROM event_tags WHERE event_id = ");
            let p = sql.bind(event_id);
            sql.push(&p);
            txn.query_all(sql.statement()).await?.iter().filter_map(|r| r.try_get("", "tag").ok()).collect()
        };
        let (to_add, to_remove): (Vec<String>, Vec<String>) = match replace {
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
        let now = Utc::now();
        for tag in &to_add {
            let mut sql = Sql::new(backend, "INSERT INTO event_tags (event_id, tag, created_by, created_at) VALUES (");
            let v = [sql.bind(event_id), sql.bind(tag.clone()), sql.bind(caller.subject.clone()), sql.bind(now)];
            sql.push(&v.join(", "));
            sql.push(")");
            txn.execute(sql.statement()).await?;
        }
        for tag in &to_remove {
            let mut sql = Sql::new(backend, "DELETE FROM event_tags WHERE event_id = ");
            let a = sql.bind(event_id);
            let b = sql.bind(tag.clone());
            sql.push(&format!("{a} AND tag = {b}"));
            txn.execute(sql.statement()).await?;
        }
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
        Ok(self.tags(event_id).await?)
    }

    /// The comments of an event, oldest first.
    pub async fn comments(&self, event_id: i64) -> Result<Vec<Comment>, DbErr> {
        let mut sql = Sql::new(
            self.db.get_database_backend(),
            "SELECT id, author, body, created_at, updated_at FROM comments WHERE event_id = ",
        );
        let p = sql.bind(event_id);
        sql.push(&p);
        sql.push(" ORDER BY created_at, id");
        let rows = self.db.query_all(sql.statement()).await?;
        rows.iter().map(comment_from_row).collect()
    }

    /// Adds a comment (body already validated).
    pub async fn add_comment(&self, caller: &Caller, event_id: i64, body: &str) -> Result<Comment, AnnotationError> {
        let txn = self.db.begin().await?;
        let backend = txn.get_database_backend();
        let Some(record_id) = event_exists(&txn, event_id).await? else {
            return Err(AnnotationError::Refused(Refusal::NotFound("the event".into())));
        };
        let now = Utc::now();
        let mut sql = Sql::new(backend, "INSERT INTO comments (event_id, author, body, created_at) VALUES (");
        let v = [sql.bind(event_id), sql.bind(caller.subject.clone()), sql.bind(body.to_string()), sql.bind(now)];
        sql.push(&v.join(", "));
        sql.push(") RETURNING id, author, body, created_at, updated_at");
        let row = txn.query_one(sql.statement()).await?.ok_or_else(|| DbErr::RecordNotInserted)?;
        let comment = comment_from_row(&row)?;
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
        &self,
        db: &impl ConnectionTrait,
        event_id: i64,
        comment_id: i64,
    ) -> Result<String, AnnotationError> {
        let mut sql = Sql::new(db.get_database_backend(), "SELECT author FROM comments WHERE id = ");
        let a = sql.bind(comment_id);
        let b = sql.bind(event_id);
        sql.push(&format!("{a} AND event_id = {b}"));
        match db.query_one(sql.statement()).await? {
            Some(row) => Ok(row.try_get("", "author")?),
            None => Err(AnnotationError::Refused(Refusal::NotFound("the comment".into()))),
        }
    }

    /// Edits a comment; only its author may.
    pub async fn edit_comment(
        &self,
        caller: &Caller,
        event_id: i64,
        comment_id: i64,
        body: &str,
    ) -> Result<Comment, AnnotationError> {
        let txn = self.db.begin().await?;
        let author = self.comment_author(&txn, event_id, comment_id).await?;
        if author != caller.subject {
            return Err(AnnotationError::Refused(Refusal::Forbidden("edit someone else's comment".into())));
        }
        let mut sql = Sql::new(txn.get_database_backend(), "UPDATE comments SET body = ");
        let v = [sql.bind(body.to_string()), sql.bind(Utc::now()), sql.bind(comment_id)];
        sql.push(&format!(
            "{}, updated_at = {} WHERE id = {} RETURNING id, author, body, created_at, updated_at",
            v[0], v[1], v[2]
        ));
        let row = txn.query_one(sql.statement()).await?.ok_or_else(|| DbErr::RecordNotUpdated)?;
        let comment = comment_from_row(&row)?;
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

    /// Deletes a comment (the caller's permission is checked by the handler: admins only).
    pub async fn delete_comment(&self, caller: &Caller, event_id: i64, comment_id: i64) -> Result<(), AnnotationError> {
        let txn = self.db.begin().await?;
        let author = self.comment_author(&txn, event_id, comment_id).await?;
        let mut sql = Sql::new(txn.get_database_backend(), "DELETE FROM comments WHERE id = ");
        let p = sql.bind(comment_id);
        sql.push(&p);
        txn.execute(sql.statement()).await?;
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

    /// Audit-trail entries newest first, before `before_id` when given; optionally of one target.
    pub async fn audit_trail(
        &self,
        before_id: Option<i64>,
        target_kind: Option<&str>,
        target_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, DbErr> {
        let mut sql = Sql::new(
            self.db.get_database_backend(),
            "SELECT id, occurred_at, actor, action, target_kind, target_id, details FROM audit_trail WHERE 1=1",
        );
        if let Some(before) = before_id {
            let p = sql.bind(before);
            sql.push(&format!(" AND id < {p}"));
        }
        if let Some(kind) = target_kind {
            let p = sql.bind(kind.to_string());
            sql.push(&format!(" AND target_kind = {p}"));
        }
        if let Some(id) = target_id {
            let p = sql.bind(id.to_string());
            sql.push(&format!(" AND target_id = {p}"));
        }
        sql.push(&format!(" ORDER BY id DESC LIMIT {limit}"));
        let rows = self.db.query_all(sql.statement()).await?;
        rows.iter()
            .map(|r| {
                let details: String = r.try_get("", "details")?;
                Ok(AuditEntry {
                    id: r.try_get("", "id")?,
                    occurred_at: r.try_get("", "occurred_at")?,
                    actor: r.try_get("", "actor")?,
                    action: r.try_get("", "action")?,
                    target_kind: r.try_get("", "target_kind")?,
                    target_id: r.try_get("", "target_id")?,
                    details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
                })
            })
            .collect()
    }
}

fn comment_from_row(r: &sea_orm::QueryResult) -> Result<Comment, DbErr> {
    Ok(Comment {
        id: r.try_get("", "id")?,
        author: r.try_get("", "author")?,
        body: r.try_get("", "body")?,
        created_at: r.try_get("", "created_at")?,
        updated_at: r.try_get("", "updated_at")?,
    })
}
