//! Runs collections: one (tenant, source) at a time under a database lease, recording the
//! outcome in the source status. Used by the scheduler, `aoc fetch`, the fetch API and the
//! webhooks, all through one single-flight: at most one run per (tenant, source) in this process.
//! A caller that asks while a run is going joins it and gets its summary; a notification that
//! arrives while a run is going leaves at most one pending run, started when the current one ends.
//!
//! The connectors can change while AOC runs (tenants stored in the database are added, edited and
//! removed through the API): the list is replaced under a lock, and a tenant whose credentials
//! cannot be read is kept with its problem so it shows as failing rather than vanishing.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::future::{BoxFuture, Shared};
use futures_util::FutureExt;
use sea_orm::DatabaseConnection;
use tracing::Instrument;

use super::app_names::AppNameCache;
use super::connector::{Api, Connector};
use super::domains::DomainCache;
use super::error::IngestError;
use super::graph_client::GraphClient;
use super::http::ApiClient;
use super::ledger;
use super::management::ManagementClient;
use super::progress::Runs;
use super::run::{Lease, RunContext};
use super::summary::{CollectSummary, SourceState, SourceSummary};
use crate::config::CollectionSettings;
use crate::normalize::Source;
use crate::store::writer::Subscribers;

/// How long an on-demand run waits for another process's lease.
const LEASE_WAIT: Duration = Duration::from_secs(300);

/// Why the collector could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0}")]
    Client(#[from] IngestError),
    /// The environment's tenant is misconfigured (e.g. an unreadable certificate).
    #[error("{0}")]
    Connector(String),
}

/// The collector of this process, for `aoc serve` and `aoc fetch` alike: the environment's
/// tenant (TENANT_ID, CLIENT_ID, credential) and then, in demo mode, the built-in simulator's
/// tenant (which wins on the same tenant id). Tenants stored in the database are added by
/// `tenants::TenantService::sync`.
pub fn build_collector(
    settings: &CollectionSettings,
    db: DatabaseConnection,
    demo: Option<Connector>,
) -> Result<Collector, BuildError> {
    let collector = Collector::new(db, Subscribers::default())?;
    if let Some(connector) = Connector::from_settings(settings).map_err(BuildError::Connector)? {
        collector.add_connector(connector);
    }
    if let Some(demo) = demo {
        collector.add_connector(demo);
    }
    Ok(collector)
}

/// A run in progress, shared by everyone who asked for it.
type Run = Shared<BoxFuture<'static, SourceSummary>>;

/// The run of one (tenant, source) in progress, and whether a notification asked for another.
struct Flight {
    run: Run,
    again: bool,
    /// The look-back the pending run asked for (the longest asked; `None`: from the watermarks).
    again_hours: Option<u32>,
}

/// The collection engine of one AOC process (cheap to clone: clones share it).
#[derive(Clone)]
pub struct Collector(Arc<Engine>);

impl std::ops::Deref for Collector {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        &self.0
    }
}

/// What a [`Collector`] holds.
pub struct Engine {
    pub db: DatabaseConnection,
    /// Tokens, budgets and retries, shared by both clients.
    pub api: Arc<ApiClient>,
    pub management: ManagementClient,
    pub graph: GraphClient,
    pub subscribers: Subscribers,
    /// This process's lease holder id.
    pub holder: String,
    connectors: RwLock<Vec<Connector>>,
    /// Tenants registered but not collectable, with why (e.g. credentials that cannot be decrypted).
    problems: RwLock<HashMap<String, String>>,
    /// The tenants' own domains, for normalization.
    pub domains: DomainCache,
    /// When the tenants' own application names are next read.
    pub app_names: AppNameCache,
    /// What each run is doing, and how the last one of each source ended.
    pub runs: Runs,
    flights: Mutex<HashMap<(String, Source), Flight>>,
    runs_started: Mutex<HashMap<(String, Source), u64>>,
}

impl Collector {
    pub fn new(db: DatabaseConnection, subscribers: Subscribers) -> Result<Self, IngestError> {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "aoc".into());
        let api = Arc::new(ApiClient::new()?);
        Ok(Self(Arc::new(Engine {
            db,
            management: ManagementClient::new(api.clone()),
            graph: GraphClient::new(api.clone()),
            api,
            subscribers,
            holder: format!("{host}:{}:{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            connectors: RwLock::new(Vec::new()),
            problems: RwLock::new(HashMap::new()),
            domains: Default::default(),
            app_names: Default::default(),
            runs: Default::default(),
            flights: Mutex::new(HashMap::new()),
            runs_started: Mutex::new(HashMap::new()),
        })))
    }

    /// Adds (or replaces, by tenant id) a connector.
    pub fn add_connector(&self, connector: Connector) {
        self.problems.write().unwrap_or_else(|p| p.into_inner()).remove(&connector.tenant_id);
        self.replace(connector);
    }

    /// Registers a tenant that cannot be collected: it is listed (so its health says why) and
    /// every collection of it records `failing` with `problem` without calling Microsoft.
    pub fn add_unusable_connector(&self, connector: Connector, problem: String) {
        self.problems.write().unwrap_or_else(|p| p.into_inner()).insert(connector.tenant_id.clone(), problem);
        self.replace(connector);
    }

    fn replace(&self, connector: Connector) {
        let mut list = self.connectors.write().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = list.iter().find(|c| c.tenant_id == connector.tenant_id) {
            // A token of the old credential or cloud must not outlive the change.
            self.forget_tokens(old);
        }
        list.retain(|c| c.tenant_id != connector.tenant_id);
        list.push(connector);
    }

    /// Stops collecting a tenant (its stored events and bookkeeping stay); `false` when it was not
    /// registered.
    pub fn remove_connector(&self, tenant_id: &str) -> bool {
        self.problems.write().unwrap_or_else(|p| p.into_inner()).remove(tenant_id);
        let mut list = self.connectors.write().unwrap_or_else(|p| p.into_inner());
        let Some(old) = list.iter().find(|c| c.tenant_id == tenant_id) else { return false };
        self.forget_tokens(old);
        list.retain(|c| c.tenant_id != tenant_id);
        true
    }

    fn forget_tokens(&self, c: &Connector) {
        self.api.tokens.invalidate(c, Api::Management);
        self.api.tokens.invalidate(c, Api::Graph);
    }

    pub fn connectors(&self) -> Vec<Connector> {
        self.connectors.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The connector registered for a tenant now.
    pub fn connector(&self, tenant_id: &str) -> Option<Connector> {
        self.connectors.read().unwrap_or_else(|p| p.into_inner()).iter().find(|c| c.tenant_id == tenant_id).cloned()
    }

    /// Why a registered tenant cannot be collected, if it cannot.
    pub fn problem(&self, tenant_id: &str) -> Option<String> {
        self.problems.read().unwrap_or_else(|p| p.into_inner()).get(tenant_id).cloned()
    }

    /// Collects every source of one tenant every `interval` (the first runs spread over a few
    /// seconds), for tenants registered after the start-up scheduler ran. Each run uses the
    /// connector registered at that moment, so edits apply to the next run and a removed tenant is
    /// skipped. A run that panics is recorded as failing and the loop goes on. The loops end when
    /// the returned handles are aborted.
    pub fn spawn_periodic(&self, tenant_id: &str, interval: Duration) -> Vec<tokio::task::JoinHandle<()>> {
        self.spawn_periodic_spread(tenant_id, interval, 0)
    }

    /// [`Self::spawn_periodic`] for the `nth` of several tenants started together: their first
    /// runs are spread so sources do not all start at once.
    pub fn spawn_periodic_spread(
        &self,
        tenant_id: &str,
        interval: Duration,
        nth: usize,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let mut handles = Vec::new();
        for (j, source) in Source::ALL.into_iter().enumerate() {
            let collector = self.clone();
            let tenant_id = tenant_id.to_string();
            let step = (nth * Source::ALL.len() + j) as u64;
            let offset = Duration::from_millis((step * 750) % interval.as_millis().max(1) as u64);
            handles.push(tokio::spawn(async move {
                tokio::time::sleep(offset).await;
                loop {
                    if let Some(connector) = collector.connector(&tenant_id) {
                        collector.collect_source(&connector, source, None, false).await;
                    }
                    tokio::time::sleep(interval).await;
                }
            }));
        }
        handles
    }

    /// Records a run that panicked as failing and frees its lease.
    async fn record_panic(&self, tenant_id: &str, source: Source) -> SourceSummary {
        tracing::error!(tenant.id = %tenant_id, source = source.as_str(), "collection panicked");
        let error = "the collector crashed; see the server log";
        let _ = ledger::record_status(&self.db, tenant_id, source.as_str(), SourceState::Failing, Some(error)).await;
        let _ = ledger::release_lease(&self.db, tenant_id, source.as_str(), &self.holder).await;
        let mut summary = SourceSummary::new(tenant_id, source.as_str());
        summary.state = SourceState::Failing;
        summary.error = Some(error.into());
        summary
    }

    /// Collects one source of one tenant, or joins the run of it already going in this process
    /// (the summary then says `joined`). With `wait`, waits up to five minutes for another
    /// process's lease; without, skips when leased.
    pub async fn collect_source(&self, c: &Connector, source: Source, hours: Option<u32>, wait: bool) -> SourceSummary {
        let (run, joined) = self.start_or_join(c.clone(), source, hours, wait);
        let mut summary = run.await;
        summary.joined = joined;
        summary
    }

    /// Asks for a collection of one source of a tenant without waiting for it (a push
    /// notification): starts one when none is going; otherwise leaves one pending run, started
    /// when the current run ends. Many notifications during a run make one more run, not many.
    pub fn request_collection(&self, c: &Connector, source: Source) {
        self.request_collection_back(c, source, None);
    }

    /// Like [`request_collection`](Self::request_collection), with an on-demand look-back of
    /// `hours` (`None`: from the watermarks); a pending run keeps the longest look-back asked.
    pub fn request_collection_back(&self, c: &Connector, source: Source, hours: Option<u32>) {
        let key = (c.tenant_id.clone(), source);
        if let Some(flight) = self.flights.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&key) {
            flight.again = true;
            flight.again_hours = match (flight.again_hours, hours) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            return;
        }
        let _ = self.start_or_join(c.clone(), source, hours, false);
    }

    /// The runs of this process, newest first: the one going on for each source, or the last
    /// one that ended. Throttling of runs going on is counted so far.
    pub fn progress(&self) -> Vec<app::dto::CollectionRun> {
        let mut runs = self.runs.list();
        for run in runs.iter_mut().filter(|r| r.finished_at.is_none()) {
            if let Some(c) = self.connector(&run.tenant_id) {
                run.throttled += self.api.peek_stats(&c).throttled;
            }
        }
        runs
    }

    /// How many runs of (tenant, source) this process started.
    pub fn runs_started(&self, tenant_id: &str, source: Source) -> u64 {
        let runs = self.runs_started.lock().unwrap_or_else(|p| p.into_inner());
        runs.get(&(tenant_id.to_string(), source)).copied().unwrap_or(0)
    }

    /// The run of (tenant, source) going now, or a new one; `true` when joined.
    fn start_or_join(&self, c: Connector, source: Source, hours: Option<u32>, wait: bool) -> (Run, bool) {
        let key = (c.tenant_id.clone(), source);
        let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(flight) = flights.get(&key) {
            return (flight.run.clone(), true);
        }
        *self.runs_started.lock().unwrap_or_else(|p| p.into_inner()).entry(key.clone()).or_default() += 1;
        metrics::counter!("aoc_ingest_runs_total", "tenant" => c.tenant_id.clone(), "source" => source.as_str())
            .increment(1);
        let this = self.clone();
        // The run is its own task: a caller that goes away (a closed HTTP request) does not
        // stop it half-way, and the others still get its summary.
        // The span covers the whole run, so every log line inside it names the tenant and source.
        let span = tracing::info_span!("collect", tenant.id = %c.tenant_id, source = source.as_str());
        let task = tokio::spawn(
            async move {
                let tenant = c.tenant_id.clone();
                let summary = match AssertUnwindSafe(this.run_source(&c, source, hours, wait)).catch_unwind().await {
                    Ok(summary) => summary,
                    Err(_) => this.record_panic(&tenant, source).await,
                };
                this.land(&tenant, source);
                summary
            }
            .instrument(span),
        );
        let tenant = key.0.clone();
        let run: Run = async move {
            task.await.unwrap_or_else(|_| {
                let mut summary = SourceSummary::new(&tenant, source.as_str());
                summary.state = SourceState::Failing;
                summary.error = Some("the collection was stopped (AOC is shutting down)".into());
                summary
            })
        }
        .boxed()
        .shared();
        flights.insert(key, Flight { run: run.clone(), again: false, again_hours: None });
        (run, false)
    }

    /// Ends the flight of (tenant, source), starting the pending run if a notification asked.
    fn land(&self, tenant_id: &str, source: Source) {
        let key = (tenant_id.to_string(), source);
        let flight = self.flights.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
        if let Some(Flight { again: true, again_hours, .. }) = flight {
            if let Some(c) = self.connector(tenant_id) {
                let _ = self.start_or_join(c, source, again_hours, false);
            }
        }
        // Counted after the pending run started: finished == started means nothing is left.
        metrics::counter!("aoc_ingest_runs_finished_total", "tenant" => tenant_id.to_string(), "source" => source.as_str())
            .increment(1);
    }

    /// Collects one source of one tenant, now (the single-flight is the caller's).
    async fn run_source(&self, c: &Connector, source: Source, hours: Option<u32>, wait: bool) -> SourceSummary {
        let started = Instant::now();
        let mut summary = SourceSummary::new(&c.tenant_id, source.as_str());
        if !c.sources.contains(&source) {
            summary.state = SourceState::Disabled;
            let _ = ledger::record_status(&self.db, &c.tenant_id, source.as_str(), SourceState::Disabled, None).await;
            return summary;
        }
        if let Some(problem) = self.problem(&c.tenant_id) {
            summary.state = SourceState::Failing;
            let _ =
                ledger::record_status(&self.db, &c.tenant_id, source.as_str(), SourceState::Failing, Some(&problem))
                    .await;
            summary.error = Some(problem);
            return summary;
        }
        let lease = match self.lease(c, source, wait).await {
            Ok(Some(lease)) => lease,
            Ok(None) => {
                summary.state = SourceState::Skipped;
                summary.error = Some(IngestError::Leased.to_string());
                return summary;
            }
            Err(e) => {
                let reported = e.report(&c.tenant_id, source.as_str());
                summary.state = SourceState::Failing;
                summary.error = Some(reported.message);
                summary.error_id = Some(reported.id);
                return summary;
            }
        };
        tracing::info!(hours, "collection started");
        if self.app_names.take_due(&c.tenant_id) {
            // Beside the collection, which neither waits for nor fails with it.
            let (this, c) = (self.clone(), c.clone());
            tokio::spawn(async move { this.app_names.refresh(&this.graph, &this.db, &c).await }.in_current_span());
        }
        let normalize = self.domains.context(&self.graph, c).await;
        let progress = self.runs.start(&c.tenant_id, source, hours);
        let run = RunContext {
            db: &self.db,
            subscribers: &self.subscribers,
            connector: c,
            source,
            hours,
            lease: &lease,
            normalize,
            progress: &progress,
        };
        let result = match source {
            Source::Unified => super::unified::collect(&run, &self.management, &mut summary).await,
            _ => super::graph::collect(&run, &self.graph, &mut summary).await,
        };
        let stats = self.api.take_stats(c);
        self.runs.throttled(&c.tenant_id, source, stats.throttled);
        if stats.throttled > 0 {
            summary
                .warnings
                .push(format!("throttled {} time(s) by Microsoft; backed off and retried", stats.throttled));
        }
        match &result {
            Ok(()) => {
                summary.state = SourceState::Ok;
                let _ = ledger::record_status(&self.db, &c.tenant_id, source.as_str(), SourceState::Ok, None).await;
            }
            Err(IngestError::Leased) => {
                summary.state = SourceState::Skipped;
                summary.error = Some(IngestError::Leased.to_string());
            }
            Err(e) => {
                let reported = e.report(&c.tenant_id, source.as_str());
                summary.state = e.state();
                let _ =
                    ledger::record_status(&self.db, &c.tenant_id, source.as_str(), e.state(), Some(&reported.message))
                        .await;
                summary.error = Some(reported.message);
                summary.error_id = Some(reported.id);
            }
        }
        lease.release().await;
        self.runs.finish(&c.tenant_id, source, &summary.state.to_string(), summary.error.as_deref());
        summary.seconds = started.elapsed().as_secs_f64();
        if let Ok(Some(lag)) = super::health::lag_seconds(&self.db, &c.tenant_id, source).await {
            metrics::gauge!("aoc_ingest_lag_seconds", "tenant" => c.tenant_id.clone(), "source" => source.as_str())
                .set(lag as f64);
        }
        if let Ok(counts) = ledger::coverage_counts(&self.db).await {
            for (state, n) in counts {
                metrics::gauge!("aoc_coverage_windows", "state" => state).set(n as f64);
            }
        }
        tracing::info!(
            state = %summary.state,
            fetched = summary.fetched,
            inserted = summary.inserted,
            duplicates = summary.duplicates,
            failed = summary.failed,
            seconds = summary.seconds,
            "collection finished"
        );
        summary
    }

    /// Takes the lease of (tenant, source); with `wait`, waits up to five minutes for another
    /// process's; `None` when it stays taken.
    async fn lease(&self, c: &Connector, source: Source, wait: bool) -> Result<Option<Lease>, IngestError> {
        let deadline = Instant::now() + LEASE_WAIT;
        loop {
            match Lease::acquire(&self.db, &c.tenant_id, source, &self.holder).await? {
                Some(lease) => return Ok(Some(lease)),
                None if wait && Instant::now() < deadline => tokio::time::sleep(Duration::from_secs(1)).await,
                None => return Ok(None),
            }
        }
    }

    /// Collects every source of every connector (sources of one tenant run concurrently).
    pub async fn collect_all(&self, hours: Option<u32>, wait: bool) -> CollectSummary {
        let started = Utc::now();
        let mut sources = Vec::new();
        for c in self.connectors() {
            let runs = Source::ALL.iter().map(|s| self.collect_source(&c, *s, hours, wait));
            sources.extend(futures_util::future::join_all(runs).await);
        }
        CollectSummary {
            hours: hours.unwrap_or(0),
            started_at: started.to_rfc3339(),
            finished_at: Utc::now().to_rfc3339(),
            sources,
        }
    }
}
