//! The Sources page's service: collection health per tenant and source, the recent coverage
//! ledger, collecting on demand, and the tenants stored in the database (through
//! [`TenantService`], which owns their validation, sealing and audit trail).

use std::sync::Arc;

use app::auth::{Caller, Permission};
use app::dto::{CollectRequest, CollectionRun, NewTenantForm, SourceHealthRow, SourcesOverview, TenantRow};
use app::error::{AppError, ErrorCode};
use app::input::CoverageRequest;
use chrono::{Duration, Utc};
use sea_orm::DatabaseConnection;

use super::{annotations::audit, db_failure, OversightService};
use crate::ingest::collector::Collector;
use crate::ingest::health::{source_health, Schedule};
use crate::normalize::Source;
use crate::tenants::{input as tenant_input, Actor, TenantService, TenantView};

/// How far back the Sources page shows the coverage ledger, in hours.
pub const COVERAGE_HOURS: i64 = 48;
/// Most coverage windows read per source (five content types an hour for 48 hours is 240).
const COVERAGE_PER_SOURCE: u32 = 400;

/// Sources over the collector, the tenant store and the database.
#[derive(Clone)]
pub struct DbSourceService {
    db: DatabaseConnection,
    collector: Arc<Collector>,
    schedule: Schedule,
    tenants: Arc<TenantService>,
}

impl DbSourceService {
    pub fn new(
        db: DatabaseConnection,
        collector: Arc<Collector>,
        schedule: Schedule,
        tenants: Arc<TenantService>,
    ) -> Self {
        Self { db, collector, schedule, tenants }
    }
}

impl DbSourceService {
    /// The collector's runs, newest first.
    pub fn runs(&self) -> Vec<CollectionRun> {
        self.collector.progress()
    }
}

impl From<TenantView> for TenantRow {
    fn from(t: TenantView) -> Self {
        TenantRow {
            tenant_id: t.tenant_id,
            display_name: t.display_name,
            client_id: t.client_id,
            cloud: t.cloud,
            sources: t.sources,
            enabled: t.enabled,
            credential_kind: t.credential_kind,
            status: t.status.to_string(),
            status_reason: t.status_reason,
        }
    }
}

#[async_trait::async_trait]
impl app::services::SourceService for DbSourceService {
    async fn overview(&self, caller: &Caller) -> Result<SourcesOverview, AppError> {
        let health: Vec<SourceHealthRow> = source_health(&self.db, &self.collector.connectors(), self.schedule)
            .await
            .map_err(|e| db_failure("source_health", e))?
            .into_iter()
            .map(|h| SourceHealthRow {
                tenant_id: h.tenant_id,
                source: h.source,
                state: serde_json::to_value(h.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                reason: h.reason,
                lag_seconds: h.lag_seconds,
                last_success_at: h.last_success_at,
                last_attempt_at: h.last_attempt_at,
                last_error: h.last_error,
                consecutive_failures: h.consecutive_failures,
                records_last_hour: h.records_last_hour,
            })
            .collect();
        let coverage_since = Utc::now() - Duration::hours(COVERAGE_HOURS);
        // Per source, its newest windows: a source with few long windows (a Graph backfill
        // spanning days) is not crowded out by one with many short ones (five content types
        // an hour), and a long window that started before the range still counts.
        let oversight = OversightService::new(self.db.clone());
        let mut coverage = Vec::new();
        let mut keys: Vec<(String, String)> = Vec::new();
        for h in &health {
            let key = (h.tenant_id.clone(), h.source.clone());
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        for (tenant, source) in keys {
            let request = CoverageRequest {
                tenant: Some(tenant),
                source: Some(source),
                state: None,
                start: None,
                before: None,
                page_size: COVERAGE_PER_SOURCE,
            };
            let page = oversight.coverage(&request).await?;
            coverage.extend(page.items.into_iter().filter(|w| w.window_end > coverage_since));
        }
        let tenants = if caller.can(Permission::ManageConnectors) {
            Some(self.tenants.list().await?.into_iter().map(TenantRow::from).collect())
        } else {
            None
        };
        Ok(SourcesOverview {
            health,
            coverage,
            coverage_since,
            tenants,
            can_collect: caller.can(Permission::RunCollection),
            runs: self.runs(),
        })
    }

    async fn collect_now(&self, caller: &Caller, request: CollectRequest) -> Result<u32, AppError> {
        let hours = request.look_back(Utc::now())?;
        let tenant = request.tenant_id.as_deref().map(str::trim).filter(|t| !t.is_empty());
        let only = match request.source.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(name) => Some(
                Source::ALL
                    .into_iter()
                    .find(|s| s.as_str() == name)
                    .ok_or_else(|| AppError::invalid_input("source", "one of unified, directory, signin, intune"))?,
            ),
        };
        let connectors: Vec<_> = self
            .collector
            .connectors()
            .into_iter()
            .filter(|c| tenant.is_none_or(|t| c.tenant_id.eq_ignore_ascii_case(t)))
            .collect();
        if let Some(t) = tenant.filter(|_| connectors.is_empty()) {
            return Err(AppError::new(ErrorCode::NotFound, format!("no tenant {t} is collected")));
        }
        let mut scheduled = 0u32;
        let mut sources = Vec::new();
        for c in connectors {
            for source in c.sources.iter().filter(|s| only.is_none_or(|o| o == **s)) {
                self.collector.request_collection_back(&c, *source, hours);
                scheduled += 1;
                sources.push(format!("{}/{}", c.tenant_id, source.as_str()));
            }
        }
        audit(
            &self.db,
            caller,
            "collection.request",
            "collection",
            None,
            serde_json::json!({ "sources": sources, "hours": hours }),
            None,
        )
        .await
        .map_err(|e| db_failure("collect_now", e))?;
        Ok(scheduled)
    }

    async fn add_tenant(&self, caller: &Caller, form: NewTenantForm) -> Result<(), AppError> {
        let mut body = serde_json::json!({
            "tenant_id": form.tenant_id.trim(),
            "display_name": form.display_name.trim(),
            "client_id": form.client_id.trim(),
        });
        // The credential typed: a secret, or a certificate and its key (the validation refuses
        // both, or neither, naming the fields).
        let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
        if !form.client_secret.is_empty() {
            body["client_secret"] = form.client_secret.clone().into();
        }
        if let Some(pem) = given(&form.certificate_pem) {
            body["certificate_pem"] = pem.into();
        }
        if let Some(pem) = given(&form.private_key_pem) {
            body["private_key_pem"] = pem.into();
        }
        if let Some(cloud) = form.cloud.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            body["cloud"] = cloud.into();
        }
        if let Some(sources) = form.sources.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            let list: Vec<&str> = sources.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
            body["sources"] = list.into();
        }
        let new = tenant_input::parse_new_tenant(body.to_string().as_bytes())?;
        self.tenants.create(Actor { caller, request_id: None }, new).await?;
        Ok(())
    }

    async fn set_tenant_enabled(&self, caller: &Caller, tenant_id: &str, enabled: bool) -> Result<(), AppError> {
        let tenant_id = tenant_input::parse_tenant_id(tenant_id)?;
        let changes = tenant_input::TenantChanges { enabled: Some(enabled), ..Default::default() };
        self.tenants.update(Actor { caller, request_id: None }, &tenant_id, changes).await?;
        Ok(())
    }

    async fn remove_tenant(&self, caller: &Caller, tenant_id: &str) -> Result<(), AppError> {
        let tenant_id = tenant_input::parse_tenant_id(tenant_id)?;
        self.tenants.delete(Actor { caller, request_id: None }, &tenant_id).await?;
        Ok(())
    }

    async fn test_connection(
        &self,
        caller: &Caller,
        tenant_id: &str,
    ) -> Result<app::connection::ConnectionTest, AppError> {
        let tenant_id = tenant_input::parse_tenant_id(tenant_id)?;
        let (connector, problem) = self.tenants.connector(&tenant_id).await?;
        let test = match problem {
            // The stored credential cannot be used: nothing to send to Microsoft.
            Some(problem) => app::connection::ConnectionTest {
                tenant_id: tenant_id.clone(),
                ok: false,
                checks: vec![app::connection::ConnectionCheck {
                    step: "the stored credential".into(),
                    source: None,
                    ok: false,
                    detail: problem.clone(),
                    fix: Some(problem),
                }],
            },
            None => self.collector.test_connection(&connector).await,
        };
        let failed: Vec<&str> = test.checks.iter().filter(|c| !c.ok).map(|c| c.step.as_str()).collect();
        audit(
            &self.db,
            caller,
            "tenant.test_connection",
            "tenant",
            Some(tenant_id.clone()),
            serde_json::json!({ "ok": test.ok, "failed": failed }),
            None,
        )
        .await
        .map_err(|e| db_failure("test_connection", e))?;
        Ok(test)
    }
}
