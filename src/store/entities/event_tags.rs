//! A tag an analyst put on an event, with who and when.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "event_tags")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: i64,
    /// Normalized: trimmed, lower-case (see `app::dto::normalize_tag`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub tag: String,
    /// The subject of the caller who set it.
    pub created_by: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
