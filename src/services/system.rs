//! Facts about the running server for the Settings page.

use std::sync::Arc;

use app::auth::Caller;
use app::dto::ServerInfo;
use app::error::AppError;
use sea_orm::DatabaseConnection;

use crate::config::Settings;

/// [`app::services::SystemService`] over the settings and database.
pub struct DbSystemService {
    db: DatabaseConnection,
    settings: Arc<Settings>,
    demo: bool,
}

impl DbSystemService {
    pub fn new(db: DatabaseConnection, settings: Arc<Settings>, demo: bool) -> Self {
        Self { db, settings, demo }
    }
}

#[async_trait::async_trait]
impl app::services::SystemService for DbSystemService {
    async fn server_info(&self, caller: &Caller) -> Result<ServerInfo, AppError> {
        let s = &self.settings;
        Ok(ServerInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            caller: caller.clone(),
            database_backend: crate::store::backend_name(&self.db).to_string(),
            auth_enabled: s.auth.enabled,
            periodic_fetch_enabled: s.collection.periodic_fetch || self.demo,
            fetch_interval_minutes: s.collection.fetch_interval_minutes,
            retention_days: s.retention_days,
            alerts_enabled: s.alerts_enabled,
            siem_enabled: s.siem.enabled,
            demo: self.demo,
        })
    }

    async fn audit_trail(
        &self,
        request: app::input::AuditTrailRequest,
        search: Option<String>,
    ) -> Result<app::dto::AuditPage, AppError> {
        let mut page = super::OversightService::new(self.db.clone()).audit_trail(&request).await?;
        if let Some(needle) = search.map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty()) {
            // The page is read first and filtered after, so paging (`next_before`) stays exact.
            page.items.retain(|e| {
                [e.actor.as_str(), e.action.as_str(), e.target_kind.as_str(), e.target_id.as_deref().unwrap_or("")]
                    .iter()
                    .any(|f| f.to_lowercase().contains(&needle))
                    || e.details.to_string().to_lowercase().contains(&needle)
            });
        }
        Ok(page)
    }
}
