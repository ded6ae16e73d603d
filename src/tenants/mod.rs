//! Tenants stored in the database: add, list, change and remove Microsoft 365 tenants while AOC
//! runs, each with its own app registration, credential and cloud. This module owns the
//! `tenants` table, the sealing of its secrets (`crypto`), the checking of API input (`input`),
//! and keeping the collector's connectors in step with the table.
//!
//! Client secrets and private keys are sealed with AOC_ENCRYPTION_KEY before they are written and
//! are never returned: views carry only the credential's kind and the certificate's thumbprint.
//! Without the key no credential can be stored; a stored one that cannot be opened (the key is
//! missing or wrong) leaves its tenant listed as `unusable` and its sources failing with the
//! reason, instead of stopping AOC. A tenant configured in the environment (TENANT_ID) or by demo
//! mode takes precedence over a stored one with the same id. Every change is recorded in the audit
//! trail, without secrets.

pub mod crypto;
pub mod input;

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use app::auth::Caller;
use app::error::{AppError, ErrorCode};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, SqlErr, TransactionTrait,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::json;

use crate::config::{Cloud, CollectionSettings, Settings};
use crate::ingest::{ledger, Collector, Connector, Credential, SourceState};
use crate::store::entities::tenants;
use crypto::{CryptoError, SecretCipher, SecretKind};
use input::{certificate_thumbprint, sources_column, sources_from_column, CredentialInput, NewTenant, TenantChanges};

/// What the operator is told when a credential cannot be stored for want of a key.
const NO_KEY: &str = "tenant credentials are stored encrypted and AOC_ENCRYPTION_KEY is not set: generate a key \
     with `openssl rand -base64 32`, set AOC_ENCRYPTION_KEY to it (and keep a copy: stored credentials cannot be read \
     without it), then restart AOC";

/// Why a tenant operation failed. Messages never include a secret.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// No stored tenant has this id.
    #[error("no tenant {0} is stored in AOC")]
    NotFound(String),
    /// A tenant with this id is already stored.
    #[error("tenant {0} is already stored in AOC; change it with PATCH /api/tenants/{0}")]
    Exists(String),
    /// The tenant is configured outside the database, which takes precedence.
    #[error("tenant {tenant_id} is configured in {place} and collected from there; remove it there to manage it here")]
    Reserved { tenant_id: String, place: &'static str },
    /// A credential was given but AOC_ENCRYPTION_KEY is not set.
    #[error("{NO_KEY}")]
    NoKey,
    /// Sealing a secret failed.
    #[error("could not encrypt the {0}")]
    Seal(&'static str),
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] DbErr),
}

impl From<TenantError> for AppError {
    fn from(e: TenantError) -> Self {
        match e {
            TenantError::NotFound(_) => AppError::new(ErrorCode::NotFound, e.to_string()),
            TenantError::Exists(_) | TenantError::Reserved { .. } | TenantError::NoKey => {
                AppError::new(ErrorCode::Conflict, e.to_string())
            }
            TenantError::Seal(_) => {
                let reference = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
                tracing::error!(reference = %reference, error = %e, "sealing a tenant secret failed");
                AppError::internal(reference)
            }
            TenantError::Db(e) => crate::services::db_failure("tenants", e),
        }
    }
}

/// A stored tenant as the API shows it: never a secret or a private key.
#[derive(Clone, Debug, Serialize)]
pub struct TenantView {
    pub tenant_id: String,
    pub display_name: String,
    pub client_id: String,
    /// worldwide, gcc, gcchigh, dod or china.
    pub cloud: String,
    pub sources: Vec<String>,
    pub enabled: bool,
    /// `secret` or `certificate`.
    pub credential_kind: String,
    /// A client secret is stored (sealed).
    pub has_secret: bool,
    /// A certificate private key is stored (sealed).
    pub has_private_key: bool,
    /// SHA-1 thumbprint of the certificate, as the Entra admin center shows it.
    pub certificate_thumbprint: Option<String>,
    /// active (registered for collection), disabled, overridden (configured outside the database),
    /// unusable (its credential cannot be read), pending (picked up at the next refresh).
    pub status: &'static str,
    /// Why the status is not active.
    pub status_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Who asked for a change, for the audit trail.
pub struct Actor<'a> {
    pub caller: &'a Caller,
    /// The request's x-request-id.
    pub request_id: Option<&'a str>,
}

/// What this process has registered with the collector from the table.
#[derive(Default)]
struct Registry {
    /// Tenant id → the `updated_at` of the row its connector was built from.
    registered: HashMap<String, DateTime<Utc>>,
    /// Periodic collection loops of registered tenants.
    loops: HashMap<String, Vec<tokio::task::JoinHandle<()>>>,
}

/// The tenant store, and the bridge from it to the collector.
pub struct TenantService {
    db: DatabaseConnection,
    cipher: Option<SecretCipher>,
    collector: Arc<Collector>,
    collection: CollectionSettings,
    /// The periodic collection interval, when periodic collection is on.
    periodic: Option<Duration>,
    /// Tenant ids (lower case) configured outside the database, and where.
    reserved: HashMap<String, &'static str>,
    registry: tokio::sync::Mutex<Registry>,
    /// One change at a time, so the collector follows the table in order.
    writes: tokio::sync::Mutex<()>,
}

impl TenantService {
    /// A store over `db` feeding `collector`. Tenants the collector already holds (the
    /// environment's, the demo's) take precedence over stored tenants with the same id.
    pub fn new(
        db: DatabaseConnection,
        settings: &Settings,
        collector: Arc<Collector>,
        periodic: Option<Duration>,
    ) -> Self {
        let reserved = collector
            .connectors()
            .iter()
            .map(|c| {
                let place = if c.demo { "demo mode (AOC_DEMO)" } else { "the environment (TENANT_ID)" };
                (c.tenant_id.to_ascii_lowercase(), place)
            })
            .collect();
        Self {
            db,
            cipher: settings.encryption_key.as_ref().map(SecretCipher::new),
            collector,
            collection: settings.collection.clone(),
            periodic,
            reserved,
            registry: tokio::sync::Mutex::new(Registry::default()),
            writes: tokio::sync::Mutex::new(()),
        }
    }

    /// Every stored tenant, by display name.
    pub async fn list(&self) -> Result<Vec<TenantView>, TenantError> {
        let mut rows = tenants::Entity::find().all(&self.db).await?;
        rows.sort_by(|a, b| {
            a.display_name
                .to_lowercase()
                .cmp(&b.display_name.to_lowercase())
                .then_with(|| a.tenant_id.cmp(&b.tenant_id))
        });
        Ok(rows.iter().map(|r| self.view(r)).collect())
    }

    /// One stored tenant.
    pub async fn get(&self, tenant_id: &str) -> Result<TenantView, TenantError> {
        Ok(self.view(&self.find(tenant_id).await?))
    }

    /// Stores a new tenant and starts collecting it (when enabled).
    pub async fn create(&self, actor: Actor<'_>, new: NewTenant) -> Result<TenantView, TenantError> {
        let _one_at_a_time = self.writes.lock().await;
        if let Some(place) = self.reserved.get(&new.tenant_id) {
            return Err(TenantError::Reserved { tenant_id: new.tenant_id, place });
        }
        let cipher = self.cipher.as_ref().ok_or(TenantError::NoKey)?;
        if tenants::Entity::find().filter(tenants::Column::TenantId.eq(&new.tenant_id)).one(&self.db).await?.is_some() {
            return Err(TenantError::Exists(new.tenant_id));
        }
        let now = Utc::now();
        let mut row = tenants::ActiveModel {
            tenant_id: Set(new.tenant_id.clone()),
            display_name: Set(new.display_name.clone()),
            cloud: Set(new.cloud.as_str().to_string()),
            client_id: Set(new.client_id.clone()),
            sources: Set(sources_column(&new.sources)),
            enabled: Set(new.enabled),
            is_demo: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        let thumbprint = seal_credential(cipher, &new.tenant_id, &new.credential, &mut row)?;
        let details = json!({
            "display_name": new.display_name,
            "client_id": new.client_id,
            "cloud": new.cloud.as_str(),
            "sources": new.sources.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            "enabled": new.enabled,
            "credential_kind": new.credential.kind(),
            "certificate_thumbprint": thumbprint,
        });
        let txn = self.db.begin().await?;
        let stored = row.insert(&txn).await.map_err(|e| unique_violation(e, &new.tenant_id))?;
        record_change(&txn, &actor, "tenant.created", &new.tenant_id, details).await?;
        txn.commit().await.map_err(|e| unique_violation(e, &new.tenant_id))?;
        tracing::info!(tenant.id = %new.tenant_id, actor = %actor.caller.display_name, "tenant added");
        self.sync_after_change().await;
        Ok(self.view(&stored))
    }

    /// Changes a stored tenant; the collector follows at once.
    pub async fn update(
        &self,
        actor: Actor<'_>,
        tenant_id: &str,
        changes: TenantChanges,
    ) -> Result<TenantView, TenantError> {
        let _one_at_a_time = self.writes.lock().await;
        let current = self.find(tenant_id).await?;
        let mut changed: Vec<&'static str> = Vec::new();
        let mut details = serde_json::Map::new();
        let mut row = current.clone().into_active_model();
        if let Some(name) = changes.display_name.filter(|n| *n != current.display_name) {
            details.insert("display_name".into(), json!(name));
            changed.push("display_name");
            row.display_name = Set(name);
        }
        if let Some(client_id) = changes.client_id.filter(|c| *c != current.client_id) {
            details.insert("client_id".into(), json!(client_id));
            changed.push("client_id");
            row.client_id = Set(client_id);
        }
        if let Some(cloud) = changes.cloud.filter(|c| c.as_str() != current.cloud) {
            details.insert("cloud".into(), json!(cloud.as_str()));
            changed.push("cloud");
            row.cloud = Set(cloud.as_str().to_string());
        }
        if let Some(sources) = changes.sources.map(|s| sources_column(&s)).filter(|s| *s != current.sources) {
            details.insert(
                "sources".into(),
                json!(sources_from_column(&sources).iter().map(|s| s.as_str()).collect::<Vec<_>>()),
            );
            changed.push("sources");
            row.sources = Set(sources);
        }
        if let Some(enabled) = changes.enabled.filter(|e| *e != current.enabled) {
            details.insert("enabled".into(), json!(enabled));
            changed.push("enabled");
            row.enabled = Set(enabled);
        }
        if let Some(credential) = &changes.credential {
            // A credential is always a change: re-entering the same secret is how a rotation looks.
            let cipher = self.cipher.as_ref().ok_or(TenantError::NoKey)?;
            let thumbprint = seal_credential(cipher, &current.tenant_id, credential, &mut row)?;
            details.insert("credential_kind".into(), json!(credential.kind()));
            details.insert("certificate_thumbprint".into(), json!(thumbprint));
            changed.push(match credential {
                CredentialInput::Secret(_) => "client_secret",
                CredentialInput::Certificate { .. } => "certificate",
            });
        }
        if changed.is_empty() {
            return Ok(self.view(&current));
        }
        details.insert("changed".into(), json!(changed));
        row.updated_at = Set(Utc::now());
        let txn = self.db.begin().await?;
        let stored = row.update(&txn).await?;
        record_change(&txn, &actor, "tenant.updated", &current.tenant_id, serde_json::Value::Object(details)).await?;
        txn.commit().await?;
        let actor_name = &actor.caller.display_name;
        tracing::info!(tenant.id = %current.tenant_id, actor = %actor_name, changed = ?changed, "tenant changed");
        self.sync_after_change().await;
        Ok(self.view(&stored))
    }

    /// Removes a stored tenant and stops collecting it. Its events stay.
    pub async fn delete(&self, actor: Actor<'_>, tenant_id: &str) -> Result<(), TenantError> {
        let _one_at_a_time = self.writes.lock().await;
        let current = self.find(tenant_id).await?;
        let details = json!({ "display_name": current.display_name, "client_id": current.client_id });
        let txn = self.db.begin().await?;
        tenants::Entity::delete_by_id(current.id).exec(&txn).await?;
        record_change(&txn, &actor, "tenant.deleted", &current.tenant_id, details).await?;
        txn.commit().await?;
        tracing::info!(tenant.id = %current.tenant_id, actor = %actor.caller.display_name, "tenant removed");
        self.sync_after_change().await;
        Ok(())
    }

    /// Brings the collector in step with the table: registers enabled tenants that are new or
    /// changed, and removes disabled and deleted ones. Runs at start-up, after every change, and
    /// periodically (for changes made by other AOC processes on the same database).
    pub async fn sync(&self) -> Result<(), DbErr> {
        let mut registry = self.registry.lock().await;
        let rows = tenants::Entity::find().all(&self.db).await?;
        let wanted: HashMap<&str, &tenants::Model> = rows
            .iter()
            .filter(|r| r.enabled && !self.reserved.contains_key(&r.tenant_id))
            .map(|r| (r.tenant_id.as_str(), r))
            .collect();
        for (tenant_id, row) in &wanted {
            if registry.registered.get(*tenant_id) == Some(&row.updated_at) {
                continue;
            }
            let (connector, problem) = self.connector_for(row);
            match problem {
                None => {
                    let cloud = connector.cloud.as_str();
                    tracing::info!(tenant.id = %tenant_id, cloud, "collecting a stored tenant");
                    self.collector.add_connector(connector);
                }
                Some(problem) => {
                    tracing::error!(tenant.id = %tenant_id, problem = %problem, "a stored tenant cannot be collected");
                    // Health shows the reason at once, not only after the next collection.
                    for source in &connector.sources {
                        let _ = ledger::record_status(
                            &self.db,
                            tenant_id,
                            source.as_str(),
                            SourceState::Failing,
                            Some(&problem),
                        )
                        .await;
                    }
                    self.collector.add_unusable_connector(connector, problem);
                }
            }
            registry.registered.insert(tenant_id.to_string(), row.updated_at);
            if let Some(interval) = self.periodic {
                if !registry.loops.contains_key(*tenant_id) {
                    let loops = self.collector.spawn_periodic(tenant_id, interval);
                    registry.loops.insert(tenant_id.to_string(), loops);
                }
            }
        }
        let gone: Vec<String> =
            registry.registered.keys().filter(|id| !wanted.contains_key(id.as_str())).cloned().collect();
        for tenant_id in gone {
            self.collector.remove_connector(&tenant_id);
            registry.registered.remove(&tenant_id);
            for handle in registry.loops.remove(&tenant_id).unwrap_or_default() {
                // A run in progress finishes (it is its own task) and releases its lease.
                handle.abort();
            }
            tracing::info!(tenant.id = %tenant_id, "stopped collecting a stored tenant");
        }
        Ok(())
    }

    /// Re-reads the table every `every` until the service is dropped or the task aborted.
    pub fn spawn_refresh(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let service: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(service) = service.upgrade() else { break };
                if let Err(e) = service.sync().await {
                    tracing::warn!(error = %e, "could not refresh the stored tenants; retrying later");
                }
            }
        })
    }

    async fn sync_after_change(&self) {
        // The change is committed; a failed sync is retried by the periodic refresh.
        if let Err(e) = self.sync().await {
            tracing::warn!(error = %e, "could not apply a tenant change to the collector yet; retrying later");
        }
    }

    async fn find(&self, tenant_id: &str) -> Result<tenants::Model, TenantError> {
        tenants::Entity::find()
            .filter(tenants::Column::TenantId.eq(tenant_id))
            .one(&self.db)
            .await?
            .ok_or_else(|| TenantError::NotFound(tenant_id.to_string()))
    }

    /// The connector of the stored tenant `tenant_id` (enabled or not), and why it cannot be
    /// collected when it cannot (for Test connection).
    pub async fn connector(&self, tenant_id: &str) -> Result<(Connector, Option<String>), TenantError> {
        let row = self.find(tenant_id).await?;
        Ok(self.connector_for(&row))
    }

    /// The connector of a stored tenant, and why it cannot be collected when it cannot.
    fn connector_for(&self, row: &tenants::Model) -> (Connector, Option<String>) {
        let cloud = Cloud::parse(&row.cloud);
        let (credential, problem) = match (cloud, self.credential_for(row)) {
            (Some(_), Ok(credential)) => (credential, None),
            (None, _) => {
                (unusable_credential(), Some(format!("the stored cloud {:?} is not one AOC knows", row.cloud)))
            }
            (_, Err(problem)) => (unusable_credential(), Some(problem)),
        };
        let connector = Connector::configured(
            &self.collection,
            &row.tenant_id,
            &row.client_id,
            credential,
            cloud.unwrap_or(Cloud::Worldwide),
            sources_from_column(&row.sources),
        );
        (connector, problem)
    }

    /// Opens a stored tenant's credential; the error says what the operator should do.
    fn credential_for(&self, row: &tenants::Model) -> Result<Credential, String> {
        let kind = if row.auth_kind == "certificate" { SecretKind::PrivateKey } else { SecretKind::ClientSecret };
        let Some(cipher) = &self.cipher else {
            return Err(format!(
                "the stored {} of this tenant cannot be read: AOC_ENCRYPTION_KEY is not set; set it to the key the \
                 tenant was stored with and restart AOC",
                kind.describe()
            ));
        };
        let unreadable = |e: CryptoError| {
            format!(
                "the stored {} of this tenant cannot be read: {e}. Set AOC_ENCRYPTION_KEY to the key it was stored \
                 with, or enter the credential again (PATCH /api/tenants/{})",
                kind.describe(),
                row.tenant_id
            )
        };
        let missing = || {
            format!(
                "no {} is stored for this tenant; enter one (PATCH /api/tenants/{})",
                kind.describe(),
                row.tenant_id
            )
        };
        match row.auth_kind.as_str() {
            "secret" => {
                let sealed = row.secret_ciphertext.as_deref().ok_or_else(missing)?;
                cipher
                    .open(SecretKind::ClientSecret, &row.tenant_id, sealed)
                    .map(Credential::Secret)
                    .map_err(unreadable)
            }
            "certificate" => {
                let sealed = row.private_key_ciphertext.as_deref().ok_or_else(missing)?;
                let key = cipher.open(SecretKind::PrivateKey, &row.tenant_id, sealed).map_err(unreadable)?;
                let certificate = row.certificate_pem.as_deref().unwrap_or_default();
                Credential::from_pem(certificate, key.expose_secret())
                    .map_err(|e| format!("the stored certificate credential is unusable: {e}"))
            }
            other => Err(format!("the stored credential kind {other:?} is not one AOC knows")),
        }
    }

    fn view(&self, row: &tenants::Model) -> TenantView {
        let (status, status_reason) = if !row.enabled {
            ("disabled", None)
        } else if let Some(place) = self.reserved.get(&row.tenant_id) {
            ("overridden", Some(format!("configured in {place}, which takes precedence over the stored tenant")))
        } else if let Some(problem) = self.collector.problem(&row.tenant_id) {
            ("unusable", Some(problem))
        } else if self.collector.connector(&row.tenant_id).is_some() {
            ("active", None)
        } else {
            ("pending", Some("registered for collection at the next refresh (within a minute)".to_string()))
        };
        TenantView {
            tenant_id: row.tenant_id.clone(),
            display_name: row.display_name.clone(),
            client_id: row.client_id.clone(),
            cloud: row.cloud.clone(),
            sources: sources_from_column(&row.sources).iter().map(|s| s.as_str().to_string()).collect(),
            enabled: row.enabled,
            credential_kind: row.auth_kind.clone(),
            has_secret: row.secret_ciphertext.is_some(),
            has_private_key: row.private_key_ciphertext.is_some(),
            certificate_thumbprint: row.certificate_pem.as_deref().and_then(certificate_thumbprint),
            status,
            status_reason,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

impl Drop for TenantService {
    fn drop(&mut self) {
        for handle in self.registry.get_mut().loops.values().flatten() {
            handle.abort();
        }
    }
}

/// Stands in for the credential of a tenant that cannot be collected. Never sent: the collector
/// refuses such a tenant before any request.
fn unusable_credential() -> Credential {
    Credential::Secret(SecretString::from(String::new()))
}

/// Seals `credential` into `row` (clearing the other kind's columns); the certificate's
/// thumbprint, for a certificate.
fn seal_credential(
    cipher: &SecretCipher,
    tenant_id: &str,
    credential: &CredentialInput,
    row: &mut tenants::ActiveModel,
) -> Result<Option<String>, TenantError> {
    match credential {
        CredentialInput::Secret(secret) => {
            let sealed = cipher
                .seal(SecretKind::ClientSecret, tenant_id, secret.expose_secret())
                .map_err(|_| TenantError::Seal(SecretKind::ClientSecret.describe()))?;
            row.auth_kind = Set("secret".into());
            row.secret_ciphertext = Set(Some(sealed));
            row.certificate_pem = Set(None);
            row.private_key_ciphertext = Set(None);
            Ok(None)
        }
        CredentialInput::Certificate { certificate_pem, private_key_pem, thumbprint } => {
            let sealed = cipher
                .seal(SecretKind::PrivateKey, tenant_id, private_key_pem.expose_secret())
                .map_err(|_| TenantError::Seal(SecretKind::PrivateKey.describe()))?;
            row.auth_kind = Set("certificate".into());
            row.secret_ciphertext = Set(None);
            row.certificate_pem = Set(Some(certificate_pem.clone()));
            row.private_key_ciphertext = Set(Some(sealed));
            Ok(Some(thumbprint.clone()))
        }
    }
}

/// A second insert of the same tenant id racing past the existence check.
fn unique_violation(e: DbErr, tenant_id: &str) -> TenantError {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => TenantError::Exists(tenant_id.to_string()),
        _ => TenantError::Db(e),
    }
}

/// Appends a tenant change to the audit trail, in the change's transaction.
async fn record_change(
    txn: &impl ConnectionTrait,
    actor: &Actor<'_>,
    action: &str,
    tenant_id: &str,
    details: serde_json::Value,
) -> Result<(), DbErr> {
    crate::services::annotations::audit(
        txn,
        actor.caller,
        action,
        "tenant",
        Some(tenant_id.to_string()),
        details,
        actor.request_id,
    )
    .await
}
