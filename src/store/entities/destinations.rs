//! Where records are exported (a SIEM webhook, ...): see `crate::export`. The credential is
//! sealed by `tenants::crypto` and never returned.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "destinations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Unique.
    pub name: String,
    /// `webhook`.
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub endpoint: String,
    /// `v1:` + base64(nonce || AES-256-GCM ciphertext) of the credential (webhook: `whsec_` secret).
    #[sea_orm(column_type = "Text", nullable)]
    pub secret_ciphertext: Option<String>,
    /// all, filter, min_severity or alerts.
    pub receives: String,
    pub min_severity: i16,
    pub filter_tenant: Option<String>,
    pub filter_source: Option<String>,
    pub filter_service: Option<String>,
    pub filter_operation: Option<String>,
    pub filter_result: Option<String>,
    pub filter_actor: Option<String>,
    /// json.
    pub format: String,
    pub batch_size: i32,
    pub concurrency: i32,
    /// Kind-specific settings (JSON object).
    #[sea_orm(column_type = "Text")]
    pub options: String,
    pub enabled: bool,
    /// `api` or `environment` (SIEM_WEBHOOK_URL: the URL and secret stay in the environment).
    pub origin: String,
    pub delivered_total: i64,
    pub last_delivered_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
