//! A stored event: normalized fields beside the untouched raw record.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: String,
    pub source: String,
    pub content_type: Option<String>,
    pub record_id: String,
    pub dedupe_key: String,
    pub occurred_at: DateTimeUtc,
    pub ingested_at: DateTimeUtc,
    pub service: String,
    pub operation: String,
    pub result: String,
    pub actor_display: Option<String>,
    pub actor_upn: Option<String>,
    pub actor_app_id: Option<String>,
    pub actor_ip: Option<String>,
    /// JSON array of `{display, id, kind}`.
    #[sea_orm(column_type = "Text")]
    pub targets: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub target_display: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub summary: String,
    /// 0 = info ... 4 = critical.
    pub severity: i16,
    pub correlation_id: Option<String>,
    /// JSON object of flattened name/value fields.
    #[sea_orm(column_type = "Text")]
    pub flattened: String,
    /// The record exactly as received.
    #[sea_orm(column_type = "Text")]
    pub raw: String,
    /// Why normalization failed, when it did.
    #[sea_orm(column_type = "Text", nullable)]
    pub normalize_error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
