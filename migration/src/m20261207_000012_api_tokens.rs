//! Personal API tokens, and administrators ending people's sessions.
//!
//! Personal API tokens: a person without an app registration of their own creates a named token
//! with an expiry and a role no higher than their own. Only a SHA-256 hash of the token is kept
//! (the token is 256 random bits, so a fast hash is as good as a slow one); `prefix` is its first
//! characters, shown in lists so people can tell their tokens apart.
//!
//! `session_revocations`: a session of `subject` signed in at or before `revoked_at` is ended on
//! its next request (sessions live in tower-sessions' own table, keyed by an opaque id).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ApiTokens::Table)
                .col(ColumnDef::new(ApiTokens::Id).big_integer().not_null().auto_increment().primary_key())
                .col(string(ApiTokens::Name))
                .col(string_uniq(ApiTokens::TokenHash))
                .col(string(ApiTokens::Prefix))
                .col(string(ApiTokens::OwnerSubject))
                .col(string(ApiTokens::OwnerName))
                .col(string(ApiTokens::Role))
                .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                .col(timestamp_with_time_zone(ApiTokens::ExpiresAt))
                .col(timestamp_with_time_zone_null(ApiTokens::LastUsedAt))
                .col(timestamp_with_time_zone_null(ApiTokens::RevokedAt))
                .col(string_null(ApiTokens::RevokedBy))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_api_tokens_owner").table(ApiTokens::Table).col(ApiTokens::OwnerSubject).to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SessionRevocations::Table)
                .col(ColumnDef::new(SessionRevocations::Subject).string().not_null().primary_key())
                .col(timestamp_with_time_zone(SessionRevocations::RevokedAt))
                .col(string(SessionRevocations::RevokedBy))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SessionRevocations::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(ApiTokens::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    Name,
    TokenHash,
    Prefix,
    OwnerSubject,
    OwnerName,
    Role,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
    RevokedBy,
}

#[derive(DeriveIden)]
enum SessionRevocations {
    Table,
    Subject,
    RevokedAt,
    RevokedBy,
}
