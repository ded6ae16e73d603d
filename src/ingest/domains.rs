//! The tenant's own domains, for normalization: a mail forwarded to one of them is internal,
//! anything else external (severity of inbox rules and mailbox forwarding, detections).
//!
//! Two sources, merged: TENANT_DOMAINS (the environment's tenant, for domains Graph does not
//! list or when the app may not read them) and Graph `GET /v1.0/domains` (the verified domains;
//! needs Domain.Read.All or Directory.Read.All). The Graph answer is kept for a day; a refusal
//! is remembered for a day and logged once with the fix, a failure retried after ten minutes.
//! Collection never waits on or fails because of this: without domains normalization falls
//! back to the people on the record (`normalize::common::internal_domains`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::connector::Connector;
use super::graph_client::GraphClient;
use super::http::CallError;
use crate::normalize::Context;

const FRESH: Duration = Duration::from_secs(24 * 3600);
const RETRY_FAILED: Duration = Duration::from_secs(600);

#[derive(Clone)]
struct Entry {
    domains: Vec<String>,
    until: Instant,
}

/// Graph-discovered domains per tenant.
#[derive(Default)]
pub struct DomainCache {
    /// One slot per tenant, locked while its lookup runs: the content types of a tenant ask at
    /// once and wait for one lookup; other tenants do not wait for it.
    entries: std::sync::Mutex<HashMap<String, std::sync::Arc<tokio::sync::Mutex<Option<Entry>>>>>,
}

impl DomainCache {
    /// The normalization context of `c`: its configured domains and those Graph lists.
    pub async fn context(&self, graph: &GraphClient, c: &Connector) -> Context {
        let mut domains: Vec<String> = c.domains.iter().map(|d| d.trim().to_ascii_lowercase()).collect();
        let slot =
            self.entries.lock().unwrap_or_else(|p| p.into_inner()).entry(c.tenant_id.clone()).or_default().clone();
        let mut slot = slot.lock().await;
        let entry = match slot.as_ref() {
            Some(e) if e.until > Instant::now() => e.clone(),
            _ => slot.insert(lookup(graph, c).await).clone(),
        };
        drop(slot);
        for d in entry.domains {
            if !domains.contains(&d) {
                domains.push(d);
            }
        }
        Context { tenant_domains: domains }
    }
}

async fn lookup(graph: &GraphClient, c: &Connector) -> Entry {
    let now = Instant::now();
    match graph.verified_domains(c).await {
        Ok(domains) => {
            tracing::debug!(tenant = %c.tenant_id, domains = domains.len(), "tenant domains read from Graph");
            Entry { domains, until: now + FRESH }
        }
        Err(CallError::Refused(r)) if r.status == 403 || r.status == 401 => {
            tracing::info!(
                tenant = %c.tenant_id,
                code = %r.code,
                "AOC may not read the tenant's domains (Graph /domains answered {}); grant Domain.Read.All \
                 to tell internal from external recipients by the tenant's own domains, or set TENANT_DOMAINS",
                r.status
            );
            Entry { domains: Vec::new(), until: now + FRESH }
        }
        Err(e) => {
            let reason = match e {
                CallError::Refused(r) => format!("HTTP {} {}", r.status, r.code),
                CallError::Failed(e) => e.to_string(),
            };
            tracing::warn!(tenant = %c.tenant_id, %reason, "reading the tenant's domains failed; will retry in 10 minutes");
            Entry { domains: Vec::new(), until: now + RETRY_FAILED }
        }
    }
}
