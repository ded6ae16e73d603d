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

use reqwest::Method;
use serde::Deserialize;

use super::connector::{Api, Connector};
use super::http::{ApiClient, Budget, CallError};
use crate::normalize::Context;

const FRESH: Duration = Duration::from_secs(24 * 3600);
const RETRY_FAILED: Duration = Duration::from_secs(600);
const MAX_PAGES: usize = 20;

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

#[derive(Deserialize)]
struct DomainPage {
    #[serde(default)]
    value: Vec<Domain>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

#[derive(Deserialize)]
struct Domain {
    id: String,
    #[serde(rename = "isVerified", default)]
    is_verified: bool,
}

impl DomainCache {
    /// The normalization context of `c`: its configured domains and those Graph lists.
    pub async fn context(&self, api: &ApiClient, c: &Connector) -> Context {
        let mut domains: Vec<String> = c.domains.iter().map(|d| d.trim().to_ascii_lowercase()).collect();
        let slot =
            self.entries.lock().unwrap_or_else(|p| p.into_inner()).entry(c.tenant_id.clone()).or_default().clone();
        let mut slot = slot.lock().await;
        let entry = match slot.as_ref() {
            Some(e) if e.until > Instant::now() => e.clone(),
            _ => slot.insert(lookup(api, c).await).clone(),
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

async fn lookup(api: &ApiClient, c: &Connector) -> Entry {
    let now = Instant::now();
    match fetch(api, c).await {
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

async fn fetch(api: &ApiClient, c: &Connector) -> Result<Vec<String>, CallError> {
    let mut url = format!("{}/v1.0/domains?$select=id,isVerified", c.graph_url);
    let mut out = Vec::new();
    for _ in 0..MAX_PAGES {
        let response = api.send(c, Api::Graph, Budget::GraphDirectory, Method::GET, &url, None).await?;
        let bytes = response.bytes().await.map_err(|e| {
            CallError::Failed(super::IngestError::Transient(format!(
                "the domain list download failed: {}",
                super::token::without_url(&e)
            )))
        })?;
        let page: DomainPage = serde_json::from_slice(&bytes).map_err(|_| {
            CallError::Failed(super::IngestError::Transient("Graph /domains did not answer a domain list".into()))
        })?;
        for d in page.value {
            let id = d.id.trim().to_ascii_lowercase();
            if d.is_verified && crate::config::is_domain_name(&id) && !out.contains(&id) {
                out.push(id);
            }
        }
        match page.next_link {
            Some(next) => url = super::graph::follow(c, &next)?,
            None => break,
        }
    }
    Ok(out)
}
