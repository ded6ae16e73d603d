//! A personal API token (only its hash is stored).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "api_tokens")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// Lower-case hex SHA-256 of the whole token.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// The token's first characters, to tell tokens apart in lists.
    pub prefix: String,
    pub owner_subject: String,
    pub owner_name: String,
    /// `reader`, `analyst` or `admin`.
    pub role: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub revoked_by: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
