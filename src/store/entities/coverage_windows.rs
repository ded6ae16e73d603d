//! The coverage ledger: every window of every (tenant, source) and what became of it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "coverage_windows")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: String,
    pub source: String,
    /// The Management API content type, or "" for Graph sources.
    pub content_type: String,
    pub window_start: DateTimeUtc,
    pub window_end: DateTimeUtc,
    /// planned, done, failed, parked.
    pub state: String,
    pub record_count: i64,
    pub attempts: i32,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
