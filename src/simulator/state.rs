//! The simulator's shared state: tenants and their app credentials, the simulated clock, the
//! per-tenant runtime state (subscriptions, licences, request budgets, seen assertion ids), the
//! injected faults, request statistics, and a bounded cache of generated hours.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use chrono::{DateTime, Duration, DurationRound, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::activity::{self, ActivityConfig, Feed, Record, Tenant};
use super::config::{Faults, SimConfig};

/// A stable 64-bit hash of byte strings (FNV-1a folded through splitmix64). Unlike std's
/// hashers it never changes between Rust versions, so generated data stays reproducible.
pub fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    splitmix(h)
}

/// One round of splitmix64.
pub fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A GUID-shaped string derived from a hash.
pub fn guid_from(h1: u64, h2: u64) -> String {
    let b = ((h1 as u128) << 64) | h2 as u128;
    let hex = format!("{b:032x}");
    // Version 4 / variant 1 nibbles keep it looking like what Microsoft issues.
    format!("{}-{}-4{}-a{}-{}", &hex[0..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
}

/// Permissions (app roles) the simulated apps may hold.
pub const ROLE_ACTIVITY_FEED: &str = "ActivityFeed.Read";
pub const ROLE_ACTIVITY_FEED_DLP: &str = "ActivityFeed.ReadDlp";
pub const ROLE_AUDIT_LOG: &str = "AuditLog.Read.All";
pub const ROLE_DIRECTORY: &str = "Directory.Read.All";
pub const ROLE_APPLICATIONS: &str = "Application.Read.All";
pub const ROLE_INTUNE: &str = "DeviceManagementApps.Read.All";

/// A registered application (service principal) in a simulated tenant.
#[derive(Clone, Debug, Serialize)]
pub struct SimApp {
    pub client_id: String,
    pub display_name: String,
    /// The secret's value (what a client must send).
    pub secret: String,
    /// The secret's id (what people paste by mistake).
    pub secret_id: String,
    /// App roles granted (admin-consented).
    pub roles: Vec<String>,
}

/// A simulated tenant: who is in it (from the activity model) and its registered apps.
#[derive(Clone, Debug)]
pub struct SimTenant {
    pub index: usize,
    pub model: Tenant,
    pub apps: Vec<SimApp>,
}

impl SimTenant {
    fn new(seed: u64, index: usize) -> Self {
        let model = activity::build_tenant(seed, index);
        let idx = (index as u64).to_le_bytes();
        let seed_b = seed.to_le_bytes();
        let app = |n: u64, name: &str, roles: &[&str]| {
            let h = |label: &str| stable_hash(&[&seed_b, &idx, &n.to_le_bytes(), label.as_bytes()]);
            SimApp {
                client_id: guid_from(h("client-id-a"), h("client-id-b")),
                display_name: name.to_string(),
                secret: format!("sim~{:016x}{:016x}", h("secret-a"), h("secret-b")),
                secret_id: guid_from(h("secret-id-a"), h("secret-id-b")),
                roles: roles.iter().map(|r| r.to_string()).collect(),
            }
        };
        let apps = vec![
            app(
                0,
                "AOC collector",
                &[ROLE_ACTIVITY_FEED, ROLE_ACTIVITY_FEED_DLP, ROLE_AUDIT_LOG, ROLE_DIRECTORY, ROLE_INTUNE],
            ),
            app(1, "AOC collector (no DLP, no Intune)", &[ROLE_ACTIVITY_FEED, ROLE_AUDIT_LOG, ROLE_DIRECTORY]),
            app(2, "Unconsented app", &[]),
        ];
        Self { index, model, apps }
    }

    /// The app with `client_id`.
    pub fn app(&self, client_id: &str) -> Option<&SimApp> {
        self.apps.iter().find(|a| a.client_id.eq_ignore_ascii_case(client_id))
    }
}

/// Licences and switches of one tenant, changeable through `/_sim/tenants/{id}`.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TenantFlags {
    /// Entra ID P1/P2: without it `signIns` answers 403.
    pub entra_p1: bool,
    /// Intune licence: without it `deviceManagement/auditEvents` answers 403.
    pub intune: bool,
    /// Unified audit logging enabled: without it the Management API answers the
    /// `StartSubscription [...] failed. Exception` error.
    pub unified_audit: bool,
}

impl Default for TenantFlags {
    fn default() -> Self {
        Self { entra_p1: true, intune: true, unified_audit: true }
    }
}

/// A registered Management Activity API webhook.
#[derive(Clone, Debug, Serialize)]
pub struct Webhook {
    pub address: String,
    #[serde(rename = "authId")]
    pub auth_id: Option<String>,
    pub expiration: Option<String>,
    pub status: String,
}

/// One (tenant, content type) subscription.
#[derive(Clone, Debug, Default)]
pub struct Subscription {
    pub enabled: bool,
    /// Periods during which content was collected: content created outside them is lost.
    pub intervals: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)>,
    pub last_start: Option<Instant>,
    pub restarted_at: Option<DateTime<Utc>>,
    pub webhook: Option<Webhook>,
    /// Newest contentCreated already pushed to the webhook.
    pub notified_until: Option<DateTime<Utc>>,
}

impl Subscription {
    /// Whether content created at `t` is available through this subscription.
    pub fn covers(&self, t: DateTime<Utc>) -> bool {
        self.intervals.iter().any(|(from, to)| t >= *from && to.is_none_or(|end| t < end))
    }
}

/// A Graph change-notification subscription.
#[derive(Clone, Debug, Serialize)]
pub struct GraphSubscription {
    pub id: String,
    pub tenant: usize,
    pub resource: String,
    #[serde(rename = "changeType")]
    pub change_type: String,
    #[serde(rename = "notificationUrl")]
    pub notification_url: String,
    #[serde(rename = "expirationDateTime")]
    pub expiration: DateTime<Utc>,
    #[serde(rename = "clientState", skip_serializing_if = "Option::is_none")]
    pub client_state: Option<String>,
    #[serde(rename = "applicationId")]
    pub application_id: String,
    #[serde(skip)]
    pub notified_until: DateTime<Utc>,
}

/// What the simulator has seen clients do, for tests and benchmarks.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Stats {
    pub token_requests: u64,
    pub tokens_issued: u64,
    pub management_requests: u64,
    /// Management requests that lacked `PublisherIdentifier`.
    pub management_requests_without_publisher: u64,
    pub blob_fetches: u64,
    /// Blob fetches of a contentId already fetched before.
    pub blob_refetches: u64,
    pub graph_requests: u64,
    pub throttled: u64,
    pub faults_injected: u64,
    /// The most Management requests one tenant made within any 60 seconds.
    pub max_management_requests_per_minute: u64,
    pub subscription_starts: u64,
    pub records_served: u64,
}

/// Everything that changes while the simulator runs.
pub struct Runtime {
    pub faults: Faults,
    pub rng: StdRng,
    pub flags: Vec<TenantFlags>,
    pub subscriptions: HashMap<(usize, Feed), Subscription>,
    /// Request instants per (tenant, publisher) within the last minute.
    pub management_log: HashMap<(usize, String), VecDeque<Instant>>,
    /// Request instants per tenant (all publishers) within the last minute, for statistics.
    pub management_tenant_log: HashMap<usize, VecDeque<Instant>>,
    /// Graph request instants per (tenant, app, bucket).
    pub graph_log: HashMap<(usize, String, &'static str), VecDeque<Instant>>,
    /// Assertion ids already used, with their expiry.
    pub seen_jti: HashMap<String, i64>,
    pub fetched_blobs: HashSet<String>,
    pub graph_subscriptions: HashMap<String, GraphSubscription>,
    pub stats: Stats,
}

impl Runtime {
    /// Consumes one unit of a "next N" fault counter; true when the fault applies.
    pub fn take(counter: &mut u32) -> bool {
        if *counter > 0 {
            *counter -= 1;
            true
        } else {
            false
        }
    }

    /// Draws against `random_5xx_rate`.
    pub fn random_failure(&mut self) -> bool {
        let rate = self.faults.random_5xx_rate;
        rate > 0.0 && self.rng.random_bool(rate.clamp(0.0, 1.0))
    }
}

/// The clock of the simulated cloud: real time plus an adjustable offset, or frozen at an
/// instant (tests freeze it so that what is visible cannot change under them).
#[derive(Default)]
pub struct Clock {
    offset_ms: AtomicI64,
    /// Milliseconds since the epoch the clock is frozen at; 0 when running.
    frozen_ms: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        let frozen = self.frozen_ms.load(Ordering::Relaxed);
        let base =
            if frozen != 0 { DateTime::from_timestamp_millis(frozen).unwrap_or_else(Utc::now) } else { Utc::now() };
        base + Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Stops (or restarts) the clock at the current simulated time.
    pub fn freeze(&self, frozen: bool) {
        if frozen {
            let now = Utc::now().timestamp_millis();
            self.frozen_ms.store(now, Ordering::Relaxed);
        } else {
            self.frozen_ms.store(0, Ordering::Relaxed);
        }
    }

    /// Moves simulated time forward (or back) by `delta`.
    pub fn advance(&self, delta: Duration) {
        self.offset_ms.fetch_add(delta.num_milliseconds(), Ordering::Relaxed);
    }
}

/// Generated hours kept for reuse, bounded by total JSON bytes.
struct HourCache {
    map: HashMap<(usize, Feed, i64), Arc<Vec<Record>>>,
    order: VecDeque<(usize, Feed, i64)>,
    bytes: usize,
}

const HOUR_CACHE_BYTES: usize = 96 * 1024 * 1024;

/// The simulator's state, shared by every route.
pub struct SimState {
    pub config: SimConfig,
    pub activity: ActivityConfig,
    pub tenants: Vec<SimTenant>,
    pub clock: Clock,
    /// The first hour that has activity.
    pub origin: DateTime<Utc>,
    /// Key that signs the simulator's access tokens.
    pub token_key: Vec<u8>,
    /// Base URL for links the simulator hands out; set when it starts listening.
    pub base_url: Mutex<String>,
    runtime: Mutex<Runtime>,
    cache: Mutex<HourCache>,
}

impl SimState {
    pub fn new(config: SimConfig) -> Self {
        let now = Utc::now();
        let origin = (now - Duration::days(i64::from(config.history_days)))
            .duration_trunc(Duration::hours(1))
            .expect("an hour divides any timestamp");
        let tenants: Vec<SimTenant> = (0..config.tenants.max(1)).map(|i| SimTenant::new(config.seed, i)).collect();
        let mut subscriptions = HashMap::new();
        // History exists before the first start, as it does for a tenant whose audit log has
        // been on for a while: the first start covers everything since `origin`.
        for t in &tenants {
            for feed in Feed::CONTENT_TYPES {
                subscriptions.insert((t.index, feed), Subscription::default());
            }
        }
        let runtime = Runtime {
            faults: Faults::default(),
            rng: StdRng::seed_from_u64(config.seed ^ 0x5eed_fa17),
            flags: vec![TenantFlags::default(); tenants.len()],
            subscriptions,
            management_log: HashMap::new(),
            management_tenant_log: HashMap::new(),
            graph_log: HashMap::new(),
            seen_jti: HashMap::new(),
            fetched_blobs: HashSet::new(),
            graph_subscriptions: HashMap::new(),
            stats: Stats::default(),
        };
        let token_key = stable_hash(&[
            b"token-key",
            &config.seed.to_le_bytes(),
            &now.timestamp_nanos_opt().unwrap_or(0).to_le_bytes(),
        ])
        .to_le_bytes()
        .repeat(4);
        Self {
            activity: ActivityConfig {
                seed: config.seed,
                events_per_day: config.events_per_day,
                scenarios: config.scenarios,
            },
            config,
            tenants,
            clock: Clock::default(),
            origin,
            token_key,
            base_url: Mutex::new(String::new()),
            runtime: Mutex::new(runtime),
            cache: Mutex::new(HourCache { map: HashMap::new(), order: VecDeque::new(), bytes: 0 }),
        }
    }

    /// Locks the runtime state (held only for short, non-async sections).
    pub fn runtime(&self) -> MutexGuard<'_, Runtime> {
        self.runtime.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn base_url(&self) -> String {
        self.base_url.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The base of links handed out in answers: the `link_base` fault, else [`Self::base_url`].
    pub fn link_base(&self) -> String {
        match self.runtime().faults.link_base.clone() {
            Some(base) => base.trim_end_matches('/').to_string(),
            None => self.base_url(),
        }
    }

    /// The tenant addressed by a GUID or one of its domains.
    pub fn tenant(&self, id_or_domain: &str) -> Option<&SimTenant> {
        self.tenants.iter().find(|t| {
            t.model.tenant_id.eq_ignore_ascii_case(id_or_domain) || t.model.domain.eq_ignore_ascii_case(id_or_domain)
        })
    }

    /// The records of one feed for one hour (generated once, then cached). Hours before the
    /// origin have no activity.
    pub fn hour(&self, tenant: usize, feed: Feed, hour: DateTime<Utc>) -> Arc<Vec<Record>> {
        if hour < self.origin {
            return Arc::new(Vec::new());
        }
        let key = (tenant, feed, hour.timestamp());
        if let Some(hit) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).map.get(&key) {
            return hit.clone();
        }
        let records = Arc::new(activity::records_for_hour(&self.activity, &self.tenants[tenant].model, feed, hour));
        let size: usize = records.iter().map(|r| r.json.len() + r.id.len() + 48).sum();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.map.insert(key, records.clone()).is_none() {
            cache.order.push_back(key);
            cache.bytes += size;
        }
        while cache.bytes > HOUR_CACHE_BYTES {
            let Some(old) = cache.order.pop_front() else { break };
            if let Some(evicted) = cache.map.remove(&old) {
                cache.bytes = cache.bytes.saturating_sub(evicted.iter().map(|r| r.json.len() + r.id.len() + 48).sum());
            }
        }
        records
    }
}
