//! The Microsoft Graph client for the audit resources (directoryAudits, signIns, Intune
//! auditEvents) and the tenant's domains: URLs with `$filter` on the date field and `$top`,
//! `@odata.nextLink` paging through `links::guard`, bodies fetched again when they arrive cut
//! off, and Graph's errors mapped to source states (unlicensed, permission missing, ...). Knows
//! nothing of the database: the collector (`graph`) decides the window and stores the pages.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use serde::Deserialize;

use super::connector::{Api, Connector};
use super::error::IngestError;
use super::http::{ApiClient, ApiRefusal, Budget, CallError};
use super::links::{guard, ApiPaths};
use super::retry::{Attempts, Backoff};
use super::token::without_url;
use super::wire::GraphPage;
use crate::normalize::Source;

/// Pages of one run before giving up.
const MAX_PAGES: u32 = 100_000;
/// Pages of the domain list read at most.
const MAX_DOMAIN_PAGES: usize = 20;
/// Pages of service principals read per tenant (999 each).
const MAX_SERVICE_PRINCIPAL_PAGES: usize = 100;
/// The longest application name kept.
const MAX_APP_NAME: usize = 256;

/// A Graph audit resource and how it is read.
pub struct Resource {
    pub path: &'static str,
    /// The date field `$filter` runs on.
    pub field: &'static str,
    pub budget: Budget,
    /// How far back each run re-reads, for records Graph publishes late.
    pub overlap: Duration,
    /// How far back Graph keeps records.
    pub retention: Duration,
    permission_hint: &'static str,
}

/// The resource of a Graph source.
pub fn resource(source: Source) -> Resource {
    let reports_hint = "grant the app the Microsoft Graph application permissions AuditLog.Read.All and Directory.Read.All, with admin consent";
    match source {
        Source::Directory => Resource {
            path: "auditLogs/directoryAudits",
            field: "activityDateTime",
            budget: Budget::GraphReports,
            overlap: Duration::hours(3),
            retention: Duration::days(30),
            permission_hint: reports_hint,
        },
        Source::Signin => Resource {
            path: "auditLogs/signIns",
            field: "createdDateTime",
            budget: Budget::GraphReports,
            overlap: Duration::hours(3),
            retention: Duration::days(30),
            permission_hint: reports_hint,
        },
        _ => Resource {
            path: "deviceManagement/auditEvents",
            field: "activityDateTime",
            budget: Budget::GraphIntune,
            overlap: Duration::hours(3),
            retention: Duration::days(365),
            permission_hint: "grant the app the Microsoft Graph application permission DeviceManagementApps.Read.All, with admin consent",
        },
    }
}

/// The URL to request for an `@odata.nextLink`: on the configured endpoint, or refused.
fn follow(c: &Connector, link: &str) -> Result<String, IngestError> {
    Ok(guard(&c.graph_url, link, ApiPaths::Graph)?)
}

/// What a Graph refusal means for the source.
fn refusal_error(r: &Resource, refusal: &ApiRefusal) -> IngestError {
    let detail = format!("HTTP {} {}: {}", refusal.status, refusal.code, refusal.message);
    match (refusal.status, refusal.code.as_str()) {
        (403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant") => IngestError::Unlicensed {
            what: "sign-in logs need Microsoft Entra ID P1 or P2 in the tenant (Graph: Authentication_RequestFromNonPremiumTenantOrB2CTenant)".into(),
            detail,
        },
        (403, _) if refusal.message.to_ascii_lowercase().contains("licens") => IngestError::Unlicensed {
            what: format!("{} needs a licence the tenant does not have", r.path),
            detail,
        },
        (403, code) => {
            IngestError::Permission { what: format!("{} ({code})", r.path), detail, hint: r.permission_hint.into() }
        }
        (401, code) => IngestError::Auth {
            code: None,
            detail: format!("{} ({code}): {}", r.path, refusal.message),
            hint: "check the app's credential and CLOUD".into(),
        },
        (status, code) => IngestError::fatal_with(
            format!("{}: Graph refused the request (HTTP {status} {code}); check the app's permissions and CLOUD", r.path),
            detail,
        ),
    }
}

#[derive(Deserialize)]
struct DomainPage {
    #[serde(default)]
    value: Vec<Domain>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

#[derive(Deserialize)]
struct ServicePrincipalPage {
    #[serde(default)]
    value: Vec<ServicePrincipal>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

#[derive(Deserialize)]
struct ServicePrincipal {
    #[serde(rename = "appId", default)]
    app_id: Option<String>,
    #[serde(rename = "displayName", default)]
    display_name: Option<String>,
}

#[derive(Deserialize)]
struct Domain {
    id: String,
    #[serde(rename = "isVerified", default)]
    is_verified: bool,
}

/// A page of a Graph audit resource: its records as raw text and the next page's URL.
pub struct Page {
    pub records: Vec<String>,
    pub next: Option<String>,
}

/// The Microsoft Graph client.
pub struct GraphClient {
    api: Arc<ApiClient>,
}

impl GraphClient {
    pub fn new(api: Arc<ApiClient>) -> Self {
        Self { api }
    }

    /// The first page's URL of `r` for records dated within `[lower, upper]`.
    pub fn first_url(
        &self,
        c: &Connector,
        r: &Resource,
        lower: DateTime<Utc>,
        upper: DateTime<Utc>,
    ) -> Result<String, IngestError> {
        let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut first = reqwest::Url::parse(&format!("{}/v1.0/{}", c.graph_url, r.path))
            .map_err(|_| IngestError::fatal("GRAPH_BASE_URL is not a valid URL"))?;
        first
            .query_pairs_mut()
            .append_pair("$filter", &format!("{} ge {} and {} le {}", r.field, fmt(lower), r.field, fmt(upper)))
            .append_pair("$top", "1000");
        Ok(first.to_string())
    }

    /// One page of `r`; `number` counts the pages of the run (a paging loop is cut off).
    pub async fn page(&self, c: &Connector, r: &Resource, url: &str, number: u32) -> Result<Page, IngestError> {
        if number > MAX_PAGES {
            return Err(IngestError::transient(format!("{}: paging did not end after {MAX_PAGES} pages", r.path)));
        }
        let mut bad_bodies = Attempts::new(Backoff::BODY);
        loop {
            let response = match self.api.send(c, Api::Graph, r.budget, Method::GET, url, None).await {
                Ok(resp) => resp,
                Err(CallError::Refused(refusal)) => return Err(refusal_error(r, &refusal)),
                Err(CallError::Failed(e)) => return Err(e),
            };
            let failure = match response.bytes().await {
                Ok(bytes) => match serde_json::from_slice::<GraphPage>(&bytes) {
                    Ok(page) => {
                        let next = page.next_link.as_deref().map(|l| follow(c, l)).transpose()?;
                        let records = page.value.into_iter().map(|v| v.get().to_string()).collect();
                        return Ok(Page { records, next });
                    }
                    Err(_) => format!("{}: a page was not valid JSON", r.path),
                },
                Err(e) => format!("{}: the page download failed: {}", r.path, without_url(&e)),
            };
            if !bad_bodies.wait(None).await {
                return Err(IngestError::transient(failure));
            }
        }
    }

    /// The tenant's verified domains (`GET /v1.0/domains`; needs Domain.Read.All).
    pub async fn verified_domains(&self, c: &Connector) -> Result<Vec<String>, CallError> {
        let mut url = format!("{}/v1.0/domains?$select=id,isVerified", c.graph_url);
        let mut out = Vec::new();
        for _ in 0..MAX_DOMAIN_PAGES {
            let response = self.api.send(c, Api::Graph, Budget::GraphDirectory, Method::GET, &url, None).await?;
            let bytes = response.bytes().await.map_err(|e| {
                CallError::Failed(IngestError::transient(format!(
                    "the domain list download failed: {}",
                    without_url(&e)
                )))
            })?;
            let page: DomainPage = serde_json::from_slice(&bytes).map_err(|_| {
                CallError::Failed(IngestError::transient("Graph /domains did not answer a domain list"))
            })?;
            for d in page.value {
                let id = d.id.trim().to_ascii_lowercase();
                if d.is_verified && crate::config::is_domain_name(&id) && !out.contains(&id) {
                    out.push(id);
                }
            }
            match page.next_link {
                Some(next) => url = follow(c, &next)?,
                None => break,
            }
        }
        Ok(out)
    }

    /// The tenant's applications as (application id, display name), ids lower-cased
    /// (`GET /v1.0/servicePrincipals`; needs Application.Read.All). Entries without an id or a
    /// name, or whose id is not a GUID, are left out; names are cut at 256 characters.
    pub async fn service_principals(&self, c: &Connector) -> Result<Vec<(String, String)>, CallError> {
        let mut url = format!("{}/v1.0/servicePrincipals?$select=appId,displayName&$top=999", c.graph_url);
        let mut out: Vec<(String, String)> = Vec::new();
        for _ in 0..MAX_SERVICE_PRINCIPAL_PAGES {
            let response = self.api.send(c, Api::Graph, Budget::GraphDirectory, Method::GET, &url, None).await?;
            let bytes = response.bytes().await.map_err(|e| {
                CallError::Failed(IngestError::transient(format!(
                    "the service principal list download failed: {}",
                    without_url(&e)
                )))
            })?;
            let page: ServicePrincipalPage = serde_json::from_slice(&bytes).map_err(|_| {
                CallError::Failed(IngestError::transient(
                    "Graph /servicePrincipals did not answer a service principal list",
                ))
            })?;
            for sp in page.value {
                let (Some(id), Some(name)) = (sp.app_id, sp.display_name) else { continue };
                let id = id.trim().to_ascii_lowercase();
                let name: String = name.trim().chars().take(MAX_APP_NAME).collect();
                if uuid::Uuid::parse_str(&id).is_ok() && !name.is_empty() {
                    out.push((id, name));
                }
            }
            match page.next_link {
                Some(next) => url = follow(c, &next)?,
                None => break,
            }
        }
        out.sort();
        out.dedup_by(|a, b| a.0 == b.0);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_errors_map_to_states_without_graphs_text() {
        let r = resource(Source::Signin);
        let refusal =
            |status: u16, code: &str, message: &str| ApiRefusal { status, code: code.into(), message: message.into() };
        let e = refusal_error(&r, &refusal(403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant", "x"));
        assert!(matches!(e, IngestError::Unlicensed { .. }));
        let e = refusal_error(&r, &refusal(403, "Authorization_RequestDenied", "Insufficient privileges"));
        assert!(e.to_string().contains("AuditLog.Read.All") && !e.to_string().contains("Insufficient"));
        let e = refusal_error(&r, &refusal(400, "BadRequest", "Invalid filter clause"));
        assert!(matches!(e, IngestError::Fatal { .. }) && !e.to_string().contains("Invalid filter"));
    }
}
