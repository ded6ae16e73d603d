//! A Microsoft 365 tenant AOC collects from, stored by the API (the environment's tenant is not
//! stored). The client secret and the private key are sealed by `tenants::crypto`; the
//! certificate is public and stored as PEM.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The tenant's GUID, lower case (unique).
    pub tenant_id: String,
    pub display_name: String,
    /// worldwide, gcc, gcchigh, dod or china.
    pub cloud: String,
    /// The app registration's application id.
    pub client_id: String,
    /// `secret` or `certificate`.
    pub auth_kind: String,
    /// `v1:` + base64(nonce || AES-256-GCM ciphertext) of the client secret.
    #[sea_orm(column_type = "Text", nullable)]
    pub secret_ciphertext: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub certificate_pem: Option<String>,
    /// `v1:` + base64(nonce || AES-256-GCM ciphertext) of the private key PEM.
    #[sea_orm(column_type = "Text", nullable)]
    pub private_key_ciphertext: Option<String>,
    /// Comma-separated: unified, directory, signin, intune.
    pub sources: String,
    pub enabled: bool,
    pub is_demo: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
