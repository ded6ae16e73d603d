//! The Office 365 Management Activity API client: URLs, the subscriptions (list, start the
//! missing ones at most every 15 minutes, AF20024 means already on), content listing by
//! contentCreated window following NextPageUri in every variant, blob requests, and the AF
//! error codes mapped to actions. `PublisherIdentifier` goes on every call, blob GETs included;
//! links from answers pass `links::guard`. Knows nothing of the database: the collector
//! (`unified`) decides what to list and stores what it gets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use reqwest::Method;

use super::connector::{Api, Connector};
use super::error::IngestError;
use super::http::{ApiClient, ApiRefusal, Budget, CallError};
use super::links::{guard, ApiPaths};
use super::retry::{Attempts, Backoff};
use super::wire::{ContentDescriptor, SubscriptionEntry};

/// The content types of the Unified Audit Log.
pub const CONTENT_TYPES: [&str; 5] =
    ["Audit.AzureActiveDirectory", "Audit.Exchange", "Audit.SharePoint", "Audit.General", "DLP.All"];
/// Microsoft asks for at most one start per content type per 15 minutes.
const START_INTERVAL: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// Listing pages of one window before giving up.
const MAX_PAGES: u32 = 10_000;

/// When each (tenant, content type) subscription was last started by this process.
#[derive(Default)]
struct StartLog(Mutex<HashMap<(String, String), Instant>>);

impl StartLog {
    fn may_start(&self, tenant: &str, ct: &str) -> bool {
        let log = self.0.lock().unwrap_or_else(|p| p.into_inner());
        log.get(&(tenant.to_string(), ct.to_string())).is_none_or(|t| t.elapsed() >= START_INTERVAL)
    }

    fn started(&self, tenant: &str, ct: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert((tenant.to_string(), ct.to_string()), Instant::now());
    }
}

/// A blob's answer: its body to stream, or why it is gone.
pub enum Blob {
    Body(reqwest::Response),
    /// Expired or deleted before it was fetched: a warning, not a failure.
    Gone(String),
}

/// The Management Activity API client.
pub struct ManagementClient {
    api: Arc<ApiClient>,
    starts: StartLog,
}

fn feed_url(c: &Connector) -> String {
    format!("{}/api/v1.0/{}/activity/feed", c.management_url, c.tenant_id)
}

/// The URL to request for a link Microsoft returned: on the configured endpoint (rebased or
/// refused by `links::guard`), with PublisherIdentifier added when it is missing (Microsoft does
/// not carry it over).
fn follow(c: &Connector, url: &str) -> Result<String, IngestError> {
    let mut url = guard(&c.management_url, url, ApiPaths::Management { tenant: &c.tenant_id })?;
    if !url.to_ascii_lowercase().contains("publisheridentifier=") {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("PublisherIdentifier={}", c.publisher_id));
    }
    Ok(url)
}

/// What an AF code means for the run; `what` says which call it was.
fn refusal_error(r: &ApiRefusal, what: &str) -> IngestError {
    let detail = format!("HTTP {} {}: {}", r.status, r.code, r.message);
    match r.code.as_str() {
        "AF10001" => IngestError::Permission {
            what: format!("{what} (AF10001)"),
            detail,
            hint: "grant the app ActivityFeed.Read (and ActivityFeed.ReadDlp for DLP.All) under Office 365 Management APIs, with admin consent".into(),
        },
        "AF20010" | "AF20013" => IngestError::fatal_with(
            format!("{what}: the tenant was refused ({}). Check TENANT_ID: the Management API needs the tenant GUID", r.code),
            detail,
        ),
        code if code.starts_with("StartSubscription") => IngestError::fatal_with(
            format!("{what}: the tenant's unified audit log is not turned on. Turn on auditing in Microsoft Purview; it takes up to 60 minutes"),
            detail,
        ),
        code => IngestError::transient_with(
            format!("{what}: the Management Activity API refused the request (HTTP {}{}); it is retried on the next run", r.status, if code.is_empty() { String::new() } else { format!(" {code}") }),
            detail,
        ),
    }
}

fn call_error(e: CallError, what: &str) -> IngestError {
    match e {
        CallError::Refused(r) => refusal_error(&r, what),
        CallError::Failed(e) => e,
    }
}

impl ManagementClient {
    pub fn new(api: Arc<ApiClient>) -> Self {
        Self { api, starts: StartLog::default() }
    }

    async fn get(&self, c: &Connector, url: &str) -> Result<reqwest::Response, CallError> {
        self.api.send(c, Api::Management, Budget::Management, Method::GET, url, None).await
    }

    /// The tenant's subscriptions (`GET /subscriptions/list`; a read, starts nothing).
    pub async fn list_subscriptions(&self, c: &Connector) -> Result<Vec<SubscriptionEntry>, IngestError> {
        let list = format!("{}/subscriptions/list?PublisherIdentifier={}", feed_url(c), c.publisher_id);
        let response = self.get(c, &list).await.map_err(|e| call_error(e, "listing subscriptions"))?;
        response.json().await.map_err(|_| IngestError::transient("the subscription list was not readable"))
    }

    /// Lists subscriptions and starts the missing ones (AF20024 means already on). Returns the
    /// content types to collect; what was skipped and why goes to `warnings`.
    pub async fn ensure_subscriptions(
        &self,
        c: &Connector,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<&'static str>, IngestError> {
        let entries = self.list_subscriptions(c).await?;
        let enabled: Vec<String> = entries
            .iter()
            .filter(|e| e.status.eq_ignore_ascii_case("enabled"))
            .map(|e| e.content_type.clone())
            .collect();
        let mut usable = Vec::new();
        for ct in CONTENT_TYPES {
            if enabled.iter().any(|e| e == ct) {
                usable.push(ct);
                continue;
            }
            if !self.starts.may_start(&c.tenant_id, ct) {
                warnings.push(format!("{ct}: subscription not enabled; waiting 15 minutes before starting it again"));
                continue;
            }
            let url =
                format!("{}/subscriptions/start?contentType={ct}&PublisherIdentifier={}", feed_url(c), c.publisher_id);
            self.starts.started(&c.tenant_id, ct);
            match self.api.send(c, Api::Management, Budget::Management, Method::POST, &url, None).await {
                Ok(_) => usable.push(ct),
                Err(CallError::Refused(r)) if r.code == "AF20024" => usable.push(ct),
                Err(CallError::Refused(r)) if r.code == "AF10001" && ct == "DLP.All" => {
                    warnings.push("DLP.All skipped: the app lacks ActivityFeed.ReadDlp".into());
                }
                Err(e) => return Err(call_error(e, &format!("starting the {ct} subscription"))),
            }
        }
        Ok(usable)
    }

    /// Every blob listed for a window, following NextPageUri / NextPageUrl, each contentId once.
    pub async fn list_content(
        &self,
        c: &Connector,
        ct: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<ContentDescriptor>, IngestError> {
        let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
        let first = format!(
            "{}/subscriptions/content?contentType={ct}&startTime={}&endTime={}&PublisherIdentifier={}",
            feed_url(c),
            fmt(start),
            fmt(end),
            c.publisher_id
        );
        let mut url = Some(first.clone());
        let mut blobs = Vec::new();
        let mut restarts = 0;
        let mut pages = 0;
        let mut bad_bodies = Attempts::new(Backoff::BODY);
        while let Some(u) = url.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(IngestError::transient(format!("{ct}: listing did not end after {MAX_PAGES} pages")));
            }
            let response = match self.get(c, &u).await {
                Ok(r) => r,
                Err(CallError::Refused(r)) if r.code == "AF20031" && restarts < 2 => {
                    // An invalid nextPage: list the window again from the start.
                    restarts += 1;
                    blobs.clear();
                    url = Some(first.clone());
                    continue;
                }
                Err(CallError::Refused(r)) => {
                    let detail = format!("HTTP {} {}: {}", r.status, r.code, r.message);
                    return Err(match r.code.as_str() {
                        "AF20022" | "AF20023" => IngestError::transient_with(
                            format!("{ct}: the subscription is not enabled ({}); it will be started again", r.code),
                            detail,
                        ),
                        "AF20030" | "AF20055" => IngestError::transient_with(
                            format!("{ct}: the window was refused ({}); it is listed again on the next run", r.code),
                            detail,
                        ),
                        _ => refusal_error(&r, &format!("listing {ct}")),
                    });
                }
                Err(CallError::Failed(e)) => return Err(e),
            };
            let next = ["NextPageUri", "NextPageUrl"]
                .iter()
                .find_map(|h| response.headers().get(*h))
                .and_then(|v| v.to_str().ok())
                .map(|v| follow(c, v.trim()))
                .transpose()?;
            let body = response.bytes().await;
            match body.ok().and_then(|b| serde_json::from_slice::<Vec<ContentDescriptor>>(&b).ok()) {
                Some(page) => {
                    blobs.extend(page);
                    url = next;
                }
                // A cut-off or garbled page: ask for the same page again.
                None if bad_bodies.wait(None).await => url = Some(u),
                None => {
                    return Err(IngestError::transient(format!(
                        "{ct}: a content listing page was not valid JSON after {} retries",
                        bad_bodies.used()
                    )))
                }
            }
        }
        // Duplicated descriptors across pages happen; keep the first of each contentId.
        let mut seen = std::collections::HashSet::new();
        blobs.retain(|b| seen.insert(b.content_id.clone()));
        Ok(blobs)
    }

    /// Requests one blob; its body is streamed by the caller.
    pub async fn open_blob(&self, c: &Connector, blob: &ContentDescriptor) -> Result<Blob, IngestError> {
        let url = follow(c, &blob.content_uri)?;
        match self.get(c, &url).await {
            Ok(r) => Ok(Blob::Body(r)),
            Err(CallError::Refused(r)) if r.code == "AF20051" => {
                Ok(Blob::Gone(format!("blob {} expired before it could be fetched (AF20051)", short(&blob.content_id))))
            }
            Err(CallError::Refused(r)) if r.code == "AF20050" || r.code == "AF20052" || r.status == 404 => {
                Ok(Blob::Gone(format!("blob {} no longer exists ({})", short(&blob.content_id), r.code)))
            }
            Err(e) => Err(call_error(e, "fetching a blob")),
        }
    }
}

/// A content id short enough for a message.
pub fn short(content_id: &str) -> String {
    content_id.chars().take(48).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector(management_url: &str) -> Connector {
        Connector {
            tenant_id: "t".into(),
            client_id: "c".into(),
            credential: super::super::connector::Credential::Secret("s".to_string().into()),
            cloud: crate::config::Cloud::Worldwide,
            login_url: String::new(),
            graph_url: String::new(),
            management_url: management_url.into(),
            publisher_id: "pub".into(),
            sources: vec![],
            management_rpm: 2000,
            demo: false,
            domains: Vec::new(),
        }
    }

    #[test]
    fn returned_urls_get_the_publisher_and_the_configured_endpoint() {
        let proxied = connector("http://proxy.local");
        assert_eq!(
            follow(&proxied, "https://manage.office.com/api/v1/t/activity/feed/subscriptions/content?contenttype=Audit.Exchange&nextpage=1").unwrap(),
            "http://proxy.local/api/v1/t/activity/feed/subscriptions/content?contenttype=Audit.Exchange&nextpage=1&PublisherIdentifier=pub"
        );
        let direct = connector("https://manage.office.com");
        assert_eq!(
            follow(&direct, "https://manage.office.com/x?publisherIdentifier=other").unwrap(),
            "https://manage.office.com/x?publisherIdentifier=other"
        );
        assert_eq!(
            follow(&direct, "https://manage.office.com/api/v1.0/t/activity/feed/audit/a$b").unwrap(),
            "https://manage.office.com/api/v1.0/t/activity/feed/audit/a$b?PublisherIdentifier=pub"
        );
        assert!(follow(&direct, "https://elsewhere.example/steal?x=1").is_err());
    }

    #[test]
    fn af_codes_map_to_actions_without_microsofts_text() {
        let refusal =
            |code: &str| ApiRefusal { status: 403, code: code.into(), message: "secret upstream words".into() };
        assert!(matches!(refusal_error(&refusal("AF10001"), "x"), IngestError::Permission { .. }));
        assert!(matches!(refusal_error(&refusal("AF20013"), "x"), IngestError::Fatal { .. }));
        assert!(matches!(refusal_error(&refusal("AF50000"), "x"), IngestError::Transient { .. }));
        for code in ["AF10001", "AF20013", "StartSubscriptionFailed", "AF50000"] {
            let e = refusal_error(&refusal(code), "x");
            assert!(!e.to_string().contains("upstream") && e.detail().contains("upstream"), "{code}: {e}");
        }
    }
}
