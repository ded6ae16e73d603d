//! How far each (tenant, source) has been collected: everything before `position` is stored.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "watermarks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// `directory`, `signin`, `intune`, or `unified:<content type>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub source: String,
    pub position: DateTimeUtc,
    #[sea_orm(column_type = "Text", nullable)]
    pub cursor: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
