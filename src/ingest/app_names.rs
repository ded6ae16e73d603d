//! The tenant's own application names, read from Graph `GET /v1.0/servicePrincipals` (needs
//! Application.Read.All or Directory.Read.All) about once a day per tenant and stored
//! (`store::app_names`), so pages show "Contoso HR Sync" where a record holds only its
//! application id. A refusal is logged once with the fix and asked again a day later; a failure
//! is retried after ten minutes. Collection never waits on or fails because of this: the
//! lookup runs beside it, and without names the ids are shown as they are.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sea_orm::DatabaseConnection;

use super::connector::Connector;
use super::graph_client::GraphClient;
use super::http::CallError;

const FRESH: Duration = Duration::from_secs(24 * 3600);
const RETRY_FAILED: Duration = Duration::from_secs(600);

/// When each tenant's names are next due.
#[derive(Default)]
pub struct AppNameCache {
    due: Mutex<HashMap<String, Instant>>,
}

impl AppNameCache {
    /// Whether `tenant`'s names are due; when they are, marks them taken for ten minutes (so
    /// the sources of a tenant starting at once make one lookup).
    pub fn take_due(&self, tenant: &str) -> bool {
        let now = Instant::now();
        let mut due = self.due.lock().unwrap_or_else(|p| p.into_inner());
        match due.get(tenant) {
            Some(at) if *at > now => false,
            _ => {
                due.insert(tenant.to_string(), now + RETRY_FAILED);
                true
            }
        }
    }

    /// Reads `c`'s application names from Graph and stores them; the next lookup is due in a
    /// day after an answer or a refusal, in ten minutes after a failure.
    pub async fn refresh(&self, graph: &GraphClient, db: &DatabaseConnection, c: &Connector) {
        let next = match graph.service_principals(c).await {
            Ok(names) => match crate::store::app_names::replace(db, &c.tenant_id, &names).await {
                Ok(()) => {
                    tracing::debug!(tenant = %c.tenant_id, apps = names.len(), "application names read from Graph");
                    FRESH
                }
                Err(e) => {
                    tracing::warn!(tenant = %c.tenant_id, error = %e, "storing the application names failed; will retry in 10 minutes");
                    RETRY_FAILED
                }
            },
            Err(CallError::Refused(r)) if r.status == 403 || r.status == 401 => {
                tracing::info!(
                    tenant = %c.tenant_id,
                    code = %r.code,
                    "AOC may not read the tenant's applications (Graph /servicePrincipals answered {}); grant \
                     Application.Read.All to show the tenant's own application names instead of their ids",
                    r.status
                );
                FRESH
            }
            Err(e) => {
                let reason = match e {
                    CallError::Refused(r) => format!("HTTP {} {}", r.status, r.code),
                    CallError::Failed(e) => e.to_string(),
                };
                tracing::warn!(tenant = %c.tenant_id, %reason, "reading the tenant's applications failed; will retry in 10 minutes");
                RETRY_FAILED
            }
        };
        self.due.lock().unwrap_or_else(|p| p.into_inner()).insert(c.tenant_id.clone(), Instant::now() + next);
    }
}
