//! AOC's own audit trail: who changed what in AOC (tags, comments, exports, tenants).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_trail")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub occurred_at: DateTimeUtc,
    /// The caller's display name (the stable subject is in `details`).
    pub actor: String,
    /// `event.tags.change`, `events.export`, `tenant.create` ...
    pub action: String,
    /// `event`, `events`, `tenant` ...
    pub target_kind: String,
    pub target_id: Option<String>,
    /// A JSON object; never secrets or record bodies.
    #[sea_orm(column_type = "Text")]
    pub details: String,
    pub request_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
