//! Personal API tokens (`api_tokens`): only hashes are stored.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};

use super::entities::api_tokens;

/// A token to store.
pub struct NewToken<'a> {
    pub name: &'a str,
    pub token_hash: &'a str,
    pub prefix: &'a str,
    pub owner_subject: &'a str,
    pub owner_name: &'a str,
    pub role: &'a str,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Stores a new token and returns its row.
pub async fn insert(db: &impl ConnectionTrait, token: NewToken<'_>) -> Result<api_tokens::Model, DbErr> {
    api_tokens::ActiveModel {
        name: Set(token.name.to_string()),
        token_hash: Set(token.token_hash.to_string()),
        prefix: Set(token.prefix.to_string()),
        owner_subject: Set(token.owner_subject.to_string()),
        owner_name: Set(token.owner_name.to_string()),
        role: Set(token.role.to_string()),
        created_at: Set(token.created_at),
        expires_at: Set(token.expires_at),
        last_used_at: Set(None),
        revoked_at: Set(None),
        revoked_by: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Tokens of `owner` (every token when `None`), newest first.
pub async fn list(db: &impl ConnectionTrait, owner: Option<&str>) -> Result<Vec<api_tokens::Model>, DbErr> {
    let mut select = api_tokens::Entity::find().order_by_desc(api_tokens::Column::Id);
    if let Some(owner) = owner {
        select = select.filter(api_tokens::Column::OwnerSubject.eq(owner));
    }
    select.all(db).await
}

/// One token by id.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Option<api_tokens::Model>, DbErr> {
    api_tokens::Entity::find_by_id(id).one(db).await
}

/// The token whose hash is `token_hash`.
pub async fn find_by_hash(db: &impl ConnectionTrait, token_hash: &str) -> Result<Option<api_tokens::Model>, DbErr> {
    api_tokens::Entity::find().filter(api_tokens::Column::TokenHash.eq(token_hash)).one(db).await
}

/// Marks a token revoked (once: a revoked token keeps its first revocation).
pub async fn revoke(db: &impl ConnectionTrait, id: i64, by: &str, at: DateTime<Utc>) -> Result<(), DbErr> {
    api_tokens::Entity::update_many()
        .col_expr(api_tokens::Column::RevokedAt, sea_orm::sea_query::Expr::value(at))
        .col_expr(api_tokens::Column::RevokedBy, sea_orm::sea_query::Expr::value(by.to_string()))
        .filter(api_tokens::Column::Id.eq(id))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .exec(db)
        .await
        .map(|_| ())
}

/// Records that a token was used at `at`.
pub async fn touch(db: &impl ConnectionTrait, id: i64, at: DateTime<Utc>) -> Result<(), DbErr> {
    api_tokens::Entity::update_many()
        .col_expr(api_tokens::Column::LastUsedAt, sea_orm::sea_query::Expr::value(at))
        .filter(api_tokens::Column::Id.eq(id))
        .exec(db)
        .await
        .map(|_| ())
}
