//! Rows of what analysts add to events (tags, comments) and of AOC's own audit trail, through
//! their SeaORM entities. Every function takes the connection or transaction to run on: the
//! services decide the transaction boundaries (a change and its audit-trail entry commit
//! together).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::LockType;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect,
};

use app::dto::{AuditEntry, Comment, TagInfo};

use super::entities::{audit_trail, comments, event_tags, events};

impl From<event_tags::Model> for TagInfo {
    fn from(t: event_tags::Model) -> Self {
        TagInfo { tag: t.tag, created_by: t.created_by, created_at: t.created_at }
    }
}

impl From<comments::Model> for Comment {
    fn from(c: comments::Model) -> Self {
        Comment { id: c.id, author: c.author, body: c.body, created_at: c.created_at, updated_at: c.updated_at }
    }
}

impl From<audit_trail::Model> for AuditEntry {
    fn from(a: audit_trail::Model) -> Self {
        AuditEntry {
            id: a.id,
            occurred_at: a.occurred_at,
            actor: a.actor,
            action: a.action,
            target_kind: a.target_kind,
            target_id: a.target_id,
            details: serde_json::from_str(&a.details).unwrap_or(serde_json::Value::Null),
        }
    }
}

#[derive(FromQueryResult)]
struct RecordIdRow {
    record_id: String,
}

/// The source record id of the event with AOC's row id `event_id`, when it exists. Inside a
/// transaction on PostgreSQL the row stays locked against deletion until the transaction ends:
/// there is no foreign key to the partitioned events table, so this makes a deletion of the
/// event (retention, dedupe) wait, and then remove the tag or comment with the event.
pub async fn lock_event(db: &impl ConnectionTrait, event_id: i64) -> Result<Option<String>, DbErr> {
    let mut select = events::Entity::find_by_id(event_id).select_only().column(events::Column::RecordId);
    if db.get_database_backend() == DbBackend::Postgres {
        select = select.lock(LockType::KeyShare);
    }
    Ok(select.into_model::<RecordIdRow>().one(db).await?.map(|r| r.record_id))
}

/// The tags of an event, oldest first.
pub async fn tags(db: &impl ConnectionTrait, event_id: i64) -> Result<Vec<TagInfo>, DbErr> {
    let rows = event_tags::Entity::find()
        .filter(event_tags::Column::EventId.eq(event_id))
        .order_by_asc(event_tags::Column::CreatedAt)
        .order_by_asc(event_tags::Column::Tag)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(TagInfo::from).collect())
}

/// Adds `tags` (not yet on the event) to an event.
pub async fn insert_tags(
    db: &impl ConnectionTrait,
    event_id: i64,
    tags: &[String],
    created_by: &str,
    created_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    if tags.is_empty() {
        return Ok(());
    }
    let rows = tags.iter().map(|tag| event_tags::ActiveModel {
        event_id: Set(event_id),
        tag: Set(tag.clone()),
        created_by: Set(created_by.to_string()),
        created_at: Set(created_at),
    });
    event_tags::Entity::insert_many(rows).exec_without_returning(db).await.map(|_| ())
}

/// Removes `tags` from an event.
pub async fn delete_tags(db: &impl ConnectionTrait, event_id: i64, tags: &[String]) -> Result<(), DbErr> {
    if tags.is_empty() {
        return Ok(());
    }
    event_tags::Entity::delete_many()
        .filter(event_tags::Column::EventId.eq(event_id))
        .filter(event_tags::Column::Tag.is_in(tags.iter().cloned()))
        .exec(db)
        .await
        .map(|_| ())
}

/// The comments of an event, oldest first.
pub async fn comments(db: &impl ConnectionTrait, event_id: i64) -> Result<Vec<Comment>, DbErr> {
    let rows = comments::Entity::find()
        .filter(comments::Column::EventId.eq(event_id))
        .order_by_asc(comments::Column::CreatedAt)
        .order_by_asc(comments::Column::Id)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(Comment::from).collect())
}

/// Stores a new comment and returns it.
pub async fn insert_comment(
    db: &impl ConnectionTrait,
    event_id: i64,
    author: &str,
    body: &str,
    created_at: DateTime<Utc>,
) -> Result<Comment, DbErr> {
    let row = comments::ActiveModel {
        event_id: Set(event_id),
        author: Set(author.to_string()),
        body: Set(body.to_string()),
        created_at: Set(created_at),
        updated_at: Set(None),
        ..Default::default()
    };
    Ok(row.insert(db).await?.into())
}

/// The author of comment `comment_id` on event `event_id`, when that comment exists.
pub async fn comment_author(
    db: &impl ConnectionTrait,
    event_id: i64,
    comment_id: i64,
) -> Result<Option<String>, DbErr> {
    let row = comments::Entity::find_by_id(comment_id).filter(comments::Column::EventId.eq(event_id)).one(db).await?;
    Ok(row.map(|c| c.author))
}

/// Replaces a comment's body and returns the comment.
pub async fn update_comment(
    db: &impl ConnectionTrait,
    comment_id: i64,
    body: &str,
    updated_at: DateTime<Utc>,
) -> Result<Comment, DbErr> {
    let row = comments::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(comment_id),
        body: Set(body.to_string()),
        updated_at: Set(Some(updated_at)),
        ..Default::default()
    };
    Ok(row.update(db).await?.into())
}

/// Deletes a comment.
pub async fn delete_comment(db: &impl ConnectionTrait, comment_id: i64) -> Result<(), DbErr> {
    comments::Entity::delete_by_id(comment_id).exec(db).await.map(|_| ())
}

/// An audit-trail entry to store.
pub struct NewAuditEntry<'a> {
    pub occurred_at: DateTime<Utc>,
    pub actor: &'a str,
    pub action: &'a str,
    pub target_kind: &'a str,
    pub target_id: Option<String>,
    /// A JSON object.
    pub details: &'a serde_json::Value,
    pub request_id: Option<&'a str>,
}

/// Appends an entry to the audit trail.
pub async fn insert_audit(db: &impl ConnectionTrait, entry: NewAuditEntry<'_>) -> Result<(), DbErr> {
    let row = audit_trail::ActiveModel {
        occurred_at: Set(entry.occurred_at),
        actor: Set(entry.actor.to_string()),
        action: Set(entry.action.to_string()),
        target_kind: Set(entry.target_kind.to_string()),
        target_id: Set(entry.target_id),
        details: Set(entry.details.to_string()),
        request_id: Set(entry.request_id.map(str::to_string)),
        ..Default::default()
    };
    audit_trail::Entity::insert(row).exec_without_returning(db).await.map(|_| ())
}

/// Audit-trail entries newest first, before `before_id` when given; optionally of one kind of
/// target, or one target.
pub async fn audit_trail(
    db: &impl ConnectionTrait,
    before_id: Option<i64>,
    target_kind: Option<&str>,
    target_id: Option<&str>,
    limit: u32,
) -> Result<Vec<AuditEntry>, DbErr> {
    let mut select = audit_trail::Entity::find();
    if let Some(before) = before_id {
        select = select.filter(audit_trail::Column::Id.lt(before));
    }
    if let Some(kind) = target_kind {
        select = select.filter(audit_trail::Column::TargetKind.eq(kind));
    }
    if let Some(id) = target_id {
        select = select.filter(audit_trail::Column::TargetId.eq(id));
    }
    let rows = select.order_by_desc(audit_trail::Column::Id).limit(u64::from(limit)).all(db).await?;
    Ok(rows.into_iter().map(AuditEntry::from).collect())
}
