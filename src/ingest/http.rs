//! Calls to Microsoft's APIs with what every call needs: a token (refreshed after a 401), the
//! per-tenant request budget (never exceeded, so AF429 stays rare), retries with backoff for
//! transient failures, and `Retry-After` / AF429 back-off. Errors that retrying cannot fix are
//! returned for the caller to map (AF codes, Graph codes).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::{Method, Response, StatusCode};

use super::connector::{Api, Connector};
use super::token::{without_url, TokenProvider};
use super::wire::ApiErrorBody;
use super::IngestError;

/// Retries of transient failures (5xx, timeouts, connection errors).
const TRANSIENT_RETRIES: u32 = 5;
/// Retries while throttled (429, AF429).
const THROTTLE_RETRIES: u32 = 8;
/// The longest `Retry-After` honoured in one wait.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

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

fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.headers().get("retry-after")?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(250 * 2u64.pow(attempt.min(7)));
    let jitter = Duration::from_millis(rand::random::<u64>() % 250);
    (base + jitter).min(Duration::from_secs(30))
}

impl ApiClient {
    pub fn new() -> Result<Self, IngestError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("AOC/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| IngestError::Fatal(format!("could not build the HTTP client: {e}")))?;
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
        let (mut transient, mut throttled, mut reauth) = (0u32, 0u32, false);
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
                    if transient >= TRANSIENT_RETRIES {
                        return Err(IngestError::Transient(format!(
                            "{} after {} attempts",
                            without_url(&e),
                            transient + 1
                        ))
                        .into());
                    }
                    self.note(c, |s| s.retried += 1);
                    tokio::time::sleep(backoff(transient)).await;
                    transient += 1;
                    continue;
                }
            };
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            if status == StatusCode::UNAUTHORIZED && !reauth {
                // The token may have been revoked or expired early: get a new one once.
                self.tokens.invalidate(c, api);
                reauth = true;
                continue;
            }
            let wait_hint = retry_after(&response);
            let bytes = response.bytes().await.unwrap_or_default();
            let error: ApiErrorBody = serde_json::from_slice(&bytes).unwrap_or_default();
            let is_af429 = error.error.code == "AF429";
            if status == StatusCode::TOO_MANY_REQUESTS || is_af429 {
                self.note(c, |s| s.throttled += 1);
                if throttled >= THROTTLE_RETRIES {
                    return Err(IngestError::Throttled(format!(
                        "still throttled after {} retries ({})",
                        throttled, error.error.code
                    ))
                    .into());
                }
                let wait =
                    wait_hint.unwrap_or(Duration::from_secs(if is_af429 { 2 * 2u64.pow(throttled.min(5)) } else { 5 }));
                tokio::time::sleep(wait.min(MAX_RETRY_AFTER)).await;
                throttled += 1;
                continue;
            }
            if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
                if transient >= TRANSIENT_RETRIES {
                    return Err(IngestError::Transient(format!(
                        "Microsoft answered {status}{} after {} attempts",
                        if error.error.code.is_empty() { String::new() } else { format!(" ({})", error.error.code) },
                        transient + 1
                    ))
                    .into());
                }
                self.note(c, |s| s.retried += 1);
                tokio::time::sleep(wait_hint.unwrap_or_else(|| backoff(transient)).min(MAX_RETRY_AFTER)).await;
                transient += 1;
                continue;
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
