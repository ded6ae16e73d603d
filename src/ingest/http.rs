//! Calls to Microsoft's APIs with what every call needs: a token (refreshed after a 401), the
//! per-tenant request budget (never exceeded, so AF429 stays rare), retries of transient
//! failures and throttling under the policies of `retry` (honouring `Retry-After`), and the
//! request metrics. Errors that retrying cannot fix are returned for the protocol clients
//! (`management`, `graph_client`) to map. Callers hand in URLs they built or passed through
//! `links::guard`: the token goes with every request.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::{Method, Response, StatusCode};

use super::connector::{Api, Connector};
use super::error::IngestError;
use super::retry::{retry_after, Attempts, Backoff};
use super::token::{without_url, TokenProvider};
use super::wire::ApiErrorBody;

/// An API refusal that retrying does not fix.
#[derive(Debug, Clone)]
pub struct ApiRefusal {
    pub status: u16,
    pub code: String,
    pub message: String,
}

/// Either a refusal to map, or an ingest error.
#[derive(Debug)]
pub enum CallError {
    Refused(ApiRefusal),
    Failed(IngestError),
}

impl From<IngestError> for CallError {
    fn from(e: IngestError) -> Self {
        CallError::Failed(e)
    }
}

/// Counts of what the calls ran into, for summaries and health.
#[derive(Clone, Debug, Default)]
pub struct CallStats {
    pub throttled: u64,
    pub retried: u64,
}

/// Which limiter a request counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Budget {
    /// Management Activity API, per tenant (MANAGEMENT_REQUESTS_PER_MINUTE).
    Management,
    /// Graph identity-and-access reports (directoryAudits, signIns): 5 per 10 s per app and tenant.
    GraphReports,
    /// Graph Intune auditEvents.
    GraphIntune,
    /// Other Graph directory reads (the tenant's domains): a few a day.
    GraphDirectory,
}

/// The HTTP client for Microsoft's APIs.
pub struct ApiClient {
    pub http: reqwest::Client,
    pub tokens: TokenProvider,
    limiters: Mutex<HashMap<(String, Budget), Arc<DefaultDirectRateLimiter>>>,
    stats: Mutex<HashMap<String, CallStats>>,
}

fn quota(budget: Budget, rpm: u32) -> Quota {
    match budget {
        Budget::Management => {
            // A small burst plus a steady rate that together never exceed the budget in any minute.
            let burst = (rpm / 10).clamp(1, 20);
            let rate = rpm.saturating_sub(burst).max(1);
            Quota::with_period(Duration::from_secs(60) / rate)
                .expect("a positive period")
                .allow_burst(NonZeroU32::new(burst).expect("burst is at least 1"))
        }
        // 1 + 10 s / 2.6 s < 5 requests in any 10 seconds.
        Budget::GraphReports => Quota::with_period(Duration::from_millis(2_600)).expect("a positive period"),
        Budget::GraphIntune => Quota::with_period(Duration::from_millis(1_100)).expect("a positive period"),
        Budget::GraphDirectory => Quota::with_period(Duration::from_secs(1)).expect("a positive period"),
    }
}

fn api_label(api: Api) -> &'static str {
    match api {
        Api::Management => "management",
        Api::Graph => "graph",
    }
}

/// Counts a request by API and status (`error` when no answer came).
fn count_request(api: Api, status: Option<StatusCode>) {
    let status = status.map_or_else(|| "error".to_string(), |s| s.as_u16().to_string());
    metrics::counter!("aoc_ingest_requests_total", "api" => api_label(api), "status" => status).increment(1);
}

impl ApiClient {
    pub fn new() -> Result<Self, IngestError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("AOC/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| IngestError::fatal_with("could not build the HTTP client", e.to_string()))?;
        Ok(Self {
            tokens: TokenProvider::new(http.clone()),
            http,
            limiters: Mutex::new(HashMap::new()),
            stats: Mutex::new(HashMap::new()),
        })
    }

    fn limiter(&self, c: &Connector, budget: Budget) -> Arc<DefaultDirectRateLimiter> {
        self.limiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((c.tenant_id.clone(), budget))
            .or_insert_with(|| Arc::new(RateLimiter::direct(quota(budget, c.management_rpm))))
            .clone()
    }

    fn note(&self, c: &Connector, f: impl FnOnce(&mut CallStats)) {
        f(self.stats.lock().unwrap_or_else(|p| p.into_inner()).entry(c.tenant_id.clone()).or_default());
    }

    /// The call statistics of a tenant so far (without resetting them).
    pub fn peek_stats(&self, c: &Connector) -> CallStats {
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).get(&c.tenant_id).cloned().unwrap_or_default()
    }

    /// Takes (and resets) the call statistics of a tenant.
    pub fn take_stats(&self, c: &Connector) -> CallStats {
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).remove(&c.tenant_id).unwrap_or_default()
    }

    /// Sends a request; `Ok` only for 2xx.
    pub async fn send(
        &self,
        c: &Connector,
        api: Api,
        budget: Budget,
        method: Method,
        url: &str,
        body: Option<serde_json::Value>,
    ) -> Result<Response, CallError> {
        let limiter = self.limiter(c, budget);
        let mut transient = Attempts::new(Backoff::TRANSIENT);
        let mut throttled = Attempts::new(Backoff::THROTTLED);
        let mut reauth = false;
        loop {
            limiter.until_ready().await;
            let token = self.tokens.token(c, api).await?;
            let mut request = self.http.request(method.clone(), url).bearer_auth(&token);
            request = match &body {
                Some(json) => request.json(json),
                None if method == Method::POST => request.header("content-length", "0"),
                None => request,
            };
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) => {
                    count_request(api, None);
                    if transient.wait(None).await {
                        self.note(c, |s| s.retried += 1);
                        continue;
                    }
                    return Err(IngestError::transient(format!(
                        "the {} API could not be reached: {} after {} attempts; check the network and the base URL",
                        api_label(api),
                        without_url(&e),
                        transient.used() + 1
                    ))
                    .into());
                }
            };
            let status = response.status();
            count_request(api, Some(status));
            if status.is_success() {
                return Ok(response);
            }
            if status == StatusCode::UNAUTHORIZED && !reauth {
                // The token may have been revoked or expired early: get a new one once.
                self.tokens.invalidate(c, api);
                reauth = true;
                continue;
            }
            let wait_hint = retry_after(response.headers());
            let bytes = response.bytes().await.unwrap_or_default();
            let error: ApiErrorBody = serde_json::from_slice(&bytes).unwrap_or_default();
            let is_af429 = error.error.code == "AF429";
            if status == StatusCode::TOO_MANY_REQUESTS || is_af429 {
                self.note(c, |s| s.throttled += 1);
                metrics::counter!("aoc_ingest_throttled_total", "api" => api_label(api)).increment(1);
                if throttled.wait(wait_hint).await {
                    continue;
                }
                return Err(IngestError::Throttled(format!(
                    "still throttled after {} retries{}; the next run goes on where this one stopped",
                    throttled.used(),
                    if is_af429 { " (AF429)" } else { "" }
                ))
                .into());
            }
            if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
                if transient.wait(wait_hint).await {
                    self.note(c, |s| s.retried += 1);
                    continue;
                }
                return Err(IngestError::transient_with(
                    format!(
                        "Microsoft's {} API kept failing (HTTP {}) after {} attempts; the next run tries again",
                        api_label(api),
                        status.as_u16(),
                        transient.used() + 1
                    ),
                    format!("{} {}", error.error.code, error.error.message),
                )
                .into());
            }
            let message = if error.error.message.is_empty() {
                String::from_utf8_lossy(&bytes).chars().take(300).collect()
            } else {
                error.error.message
            };
            return Err(CallError::Refused(ApiRefusal { status: status.as_u16(), code: error.error.code, message }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_management_quota_never_allows_more_than_the_budget_in_a_minute() {
        for rpm in [10u32, 100, 2000, 60_000] {
            let q = quota(Budget::Management, rpm);
            let per_minute =
                q.burst_size().get() as u128 + Duration::from_secs(60).as_nanos() / q.replenish_interval().as_nanos();
            assert!(per_minute <= rpm as u128, "rpm {rpm}: {per_minute}");
            assert!(per_minute >= (rpm as u128 * 9) / 10, "rpm {rpm} uses most of the budget: {per_minute}");
        }
    }
}
