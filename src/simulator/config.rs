//! What a simulator run looks like: seed, tenants, volume, protocol limits, and the faults to
//! inject. Faults can be changed while the simulator runs (`PUT/PATCH /_sim/faults`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Settings fixed for the simulator's lifetime.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Seed of tenants, credentials and activity.
    pub seed: u64,
    /// How many tenants to simulate.
    pub tenants: usize,
    /// Days of activity that exist before the simulator starts.
    pub history_days: u32,
    /// Average events per tenant per day over all feeds.
    pub events_per_day: u32,
    /// Weave attack scenarios into the activity.
    pub scenarios: bool,
    /// Public base URL the simulator is reached at (used in contentUri, NextPageUri and
    /// @odata.nextLink). `None`: the bound address.
    pub public_base_url: Option<String>,
    /// Management Activity API request budget per tenant and minute (Microsoft's baseline: 2,000).
    pub management_budget_per_minute: u32,
    /// HTTP status of AF429 (Microsoft documents 403; some doubles use 429).
    pub af429_status: u16,
    /// Content blobs per `/subscriptions/content` page before `NextPageUri` is sent.
    pub content_page_size: usize,
    /// `NextPageUri` uses the undocumented lower-case parameter names and the `/api/v1/` path
    /// on every other page, as observed.
    pub lowercase_next_page: bool,
    /// Refuse `/subscriptions/start` more than once per this many seconds per content type
    /// (Microsoft asks for 15 minutes); 0 disables the throttle.
    pub start_throttle_secs: u64,
    /// Graph identity-and-access reports limit (directoryAudits, signIns): requests per window
    /// per app per tenant (documented: 5 per 10 s).
    pub graph_reports_limit: u32,
    /// Window of `graph_reports_limit`, seconds.
    pub graph_reports_window_secs: u64,
    /// Intune auditEvents limit: requests per window per app per tenant.
    pub intune_limit: u32,
    /// Window of `intune_limit`, seconds.
    pub intune_window_secs: u64,
    /// Access-token lifetime in seconds (Microsoft's app tokens commonly say 3599).
    pub token_lifetime_secs: i64,
    /// Accept webhook addresses that are not HTTPS (Microsoft refuses them; local tests need it).
    pub allow_http_webhooks: bool,
    /// How often newly visible content is pushed to registered webhooks, seconds.
    pub notify_interval_secs: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            tenants: 2,
            history_days: 8,
            events_per_day: 2_000,
            scenarios: true,
            public_base_url: None,
            management_budget_per_minute: 2_000,
            af429_status: 403,
            content_page_size: 200,
            lowercase_next_page: true,
            start_throttle_secs: 900,
            graph_reports_limit: 5,
            graph_reports_window_secs: 10,
            intune_limit: 100,
            intune_window_secs: 20,
            token_lifetime_secs: 3599,
            allow_http_webhooks: false,
            notify_interval_secs: 30,
        }
    }
}

/// Faults to inject, switchable at run time. Counters ("the next N ...") make tests exact; the
/// random rate is drawn from a seeded generator, so runs repeat.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Extra latency added to every API response, milliseconds.
    pub latency_ms: u64,
    /// The next N API requests (Management and Graph) fail with 500/503 alternately.
    pub server_errors: u32,
    /// Probability that an API request fails with a 5xx.
    pub random_5xx_rate: f64,
    /// The next N Management requests are throttled with AF429.
    pub af429: u32,
    /// The next N Graph requests are throttled with 429 and `Retry-After`.
    pub graph_429: u32,
    /// `Retry-After` seconds sent with injected 429s.
    pub retry_after_secs: u64,
    /// The next N API requests stall for `timeout_ms`, then answer 504.
    pub timeouts: u32,
    /// How long a stalled request stalls, milliseconds (default 30,000).
    pub timeout_ms: u64,
    /// The next N JSON bodies (content lists, blobs, Graph pages) are cut off midway.
    pub truncated: u32,
    /// The next N JSON bodies are replaced by text that is not JSON.
    pub invalid_json: u32,
    /// The next N token requests fail as if the token endpoint were down (503).
    pub token_outage: u32,
    /// Blobs whose contentCreated is before this instant are expired (AF20051).
    pub expire_before: Option<DateTime<Utc>>,
    /// When non-zero, each tenant publishes one extra Audit.SharePoint blob of about this many
    /// megabytes, streamed and never held in memory.
    pub oversized_blob_mb: u32,
    /// After a subscription is stopped and started again, content listing keeps answering
    /// AF20023 for this many seconds (observed behaviour).
    pub lingering_disabled_secs: u64,
    /// Links the APIs hand out (contentUri, NextPageUri, @odata.nextLink) name this base URL
    /// instead of the simulator's own, as a misbehaving proxy or a hostile answer would. A base
    /// with a path (`http://elsewhere/x`) also moves the links off the API's paths.
    pub link_base: Option<String>,
}

impl Faults {
    /// `retry_after_secs`, at least 1.
    pub fn retry_after(&self) -> u64 {
        self.retry_after_secs.max(1)
    }

    /// `timeout_ms`, defaulting to 30 s.
    pub fn stall_ms(&self) -> u64 {
        if self.timeout_ms == 0 {
            30_000
        } else {
            self.timeout_ms
        }
    }
}
