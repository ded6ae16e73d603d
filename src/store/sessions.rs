//! Who signed in lately (from the audit trail) and the sessions administrators ended.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
};

use super::entities::{audit_trail, session_revocations};

/// Ends every session `subject` signed in at or before `at`.
pub async fn revoke(db: &impl ConnectionTrait, subject: &str, at: DateTime<Utc>, by: &str) -> Result<(), DbErr> {
    let row = session_revocations::ActiveModel {
        subject: Set(subject.to_string()),
        revoked_at: Set(at),
        revoked_by: Set(by.to_string()),
    };
    session_revocations::Entity::insert(row)
        .on_conflict(
            OnConflict::column(session_revocations::Column::Subject)
                .update_columns([session_revocations::Column::RevokedAt, session_revocations::Column::RevokedBy])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// Every revocation, by subject.
pub async fn revocations(db: &impl ConnectionTrait) -> Result<HashMap<String, DateTime<Utc>>, DbErr> {
    let rows = session_revocations::Entity::find().all(db).await?;
    Ok(rows.into_iter().map(|r| (r.subject, r.revoked_at)).collect())
}

/// A sign-in or sign-out from the audit trail.
#[derive(Debug, FromQueryResult)]
pub struct SessionEntry {
    pub action: String,
    pub actor: String,
    pub target_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

/// Sign-ins and sign-outs since `since`, oldest first.
pub async fn sign_ins_since(db: &impl ConnectionTrait, since: DateTime<Utc>) -> Result<Vec<SessionEntry>, DbErr> {
    audit_trail::Entity::find()
        .filter(audit_trail::Column::TargetKind.eq("session"))
        .filter(audit_trail::Column::Action.is_in(["sign_in", "sign_out"]))
        .filter(audit_trail::Column::OccurredAt.gte(since))
        .order_by_asc(audit_trail::Column::Id)
        .into_model::<SessionEntry>()
        .all(db)
        .await
}
