//! Runs collections: one (tenant, source) at a time under a database lease, recording the
//! outcome in the source status. Used by the scheduler, `aoc fetch` and the fetch API.
//!
//! The connectors can change while AOC runs (tenants stored in the database are added, edited and
//! removed through the API): the list is replaced under a lock, and a tenant whose credentials
//! cannot be read is kept with its problem so it shows as failing rather than vanishing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::DatabaseConnection;

use super::connector::{Api, Connector};
use super::http::ApiClient;
use super::unified::StartLog;
use super::{ledger, CollectSummary, IngestError, SourceSummary};
use crate::normalize::Source;
use crate::store::writer::Subscribers;

/// How often a lease is renewed while collecting.
const RENEW_EVERY: Duration = Duration::from_secs(60);

/// The collection engine of one AOC process.
pub struct Collector {
    pub db: DatabaseConnection,
    pub api: ApiClient,
    pub subscribers: Subscribers,
    /// This process's lease holder id.
    pub holder: String,
    pub starts: StartLog,
    connectors: RwLock<Vec<Connector>>,
    /// Tenants registered but not collectable, with why (e.g. credentials that cannot be decrypted).
    problems: RwLock<HashMap<String, String>>,
    renewed: Mutex<HashMap<(String, String), Instant>>,
    /// The tenants' own domains, for normalization.
    pub domains: super::domains::DomainCache,
}

impl Collector {
    pub fn new(db: DatabaseConnection, subscribers: Subscribers) -> Result<Self, IngestError> {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "aoc".into());
        Ok(Self {
            db,
            api: ApiClient::new()?,
            subscribers,
            holder: format!("{host}:{}:{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            starts: StartLog::default(),
            connectors: RwLock::new(Vec::new()),
            problems: RwLock::new(HashMap::new()),
            renewed: Mutex::new(HashMap::new()),
            domains: Default::default(),
        })
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
    pub fn spawn_periodic(self: &Arc<Self>, tenant_id: &str, interval: Duration) -> Vec<tokio::task::JoinHandle<()>> {
        self.spawn_periodic_spread(tenant_id, interval, 0)
    }

    /// [`Self::spawn_periodic`] for the `nth` of several tenants started together: their first
    /// runs are spread so sources do not all start at once.
    pub fn spawn_periodic_spread(
        self: &Arc<Self>,
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
                        let run = {
                            let collector = collector.clone();
                            tokio::spawn(async move { collector.collect_source(&connector, source, None, false).await })
                        };
                        if let Err(panic) = run.await {
                            collector.record_panic(&tenant_id, source, &panic).await;
                        }
                    }
                    tokio::time::sleep(interval).await;
                }
            }));
        }
        handles
    }

    /// Records a run that panicked as failing and frees its lease.
    async fn record_panic(&self, tenant_id: &str, source: Source, panic: &tokio::task::JoinError) {
        tracing::error!(tenant.id = %tenant_id, source = source.as_str(), "collection panicked: {panic}");
        let error = "the collector crashed; see the server log";
        let _ = ledger::record_status(&self.db, tenant_id, source.as_str(), "failing", Some(error)).await;
        let _ = ledger::release_lease(&self.db, tenant_id, source.as_str(), &self.holder).await;
    }

    /// Renews the lease when it is due; `Err(Leased)` when another process took it.
    pub async fn keep_lease(&self, c: &Connector, source: &str) -> Result<(), IngestError> {
        let key = (c.tenant_id.clone(), source.to_string());
        let due =
            self.renewed.lock().unwrap_or_else(|p| p.into_inner()).get(&key).is_none_or(|t| t.elapsed() >= RENEW_EVERY);
        if due {
            if !ledger::renew_lease(&self.db, &c.tenant_id, source, &self.holder).await? {
                return Err(IngestError::Leased);
            }
            self.renewed.lock().unwrap_or_else(|p| p.into_inner()).insert(key, Instant::now());
        }
        Ok(())
    }

    /// Collects one source of one tenant. With `wait`, waits up to five minutes for another
    /// process's lease; without, skips when leased.
    pub async fn collect_source(&self, c: &Connector, source: Source, hours: Option<u32>, wait: bool) -> SourceSummary {
        let started = Instant::now();
        let mut summary = SourceSummary::new(&c.tenant_id, source.as_str());
        if !c.sources.contains(&source) {
            summary.state = "disabled".into();
            let _ = ledger::record_status(&self.db, &c.tenant_id, source.as_str(), "disabled", None).await;
            return summary;
        }
        if let Some(problem) = self.problem(&c.tenant_id) {
            summary.state = "failing".into();
            let _ = ledger::record_status(&self.db, &c.tenant_id, source.as_str(), "failing", Some(&problem)).await;
            summary.error = Some(problem);
            return summary;
        }
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            match ledger::acquire_lease(&self.db, &c.tenant_id, source.as_str(), &self.holder).await {
                Ok(true) => break,
                Ok(false) if wait && Instant::now() < deadline => tokio::time::sleep(Duration::from_secs(1)).await,
                Ok(false) => {
                    summary.state = "skipped".into();
                    summary.error = Some(IngestError::Leased.to_string());
                    return summary;
                }
                Err(e) => {
                    summary.state = "failing".into();
                    summary.error = Some(format!("database error: {e}"));
                    return summary;
                }
            }
        }
        self.renewed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((c.tenant_id.clone(), source.as_str().into()), Instant::now());
        let span = tracing::info_span!("collect", tenant.id = %c.tenant_id, source = source.as_str());
        let result = {
            let _enter = span.enter();
            tracing::info!(hours, "collection started");
            drop(_enter);
            match source {
                Source::Unified => super::unified::collect(self, c, hours, &mut summary).await,
                other => super::graph::collect(self, c, other, hours, &mut summary).await,
            }
        };
        let stats = self.api.take_stats(c);
        if stats.throttled > 0 {
            summary
                .warnings
                .push(format!("throttled {} time(s) by Microsoft; backed off and retried", stats.throttled));
        }
        match &result {
            Ok(()) => {
                summary.state = "ok".into();
                let _ = ledger::record_status(&self.db, &c.tenant_id, source.as_str(), "ok", None).await;
            }
            Err(IngestError::Leased) => {
                summary.state = "skipped".into();
                summary.error = Some(IngestError::Leased.to_string());
            }
            Err(e) => {
                summary.state = e.state().into();
                summary.error = Some(e.to_string());
                let error = e.to_string();
                let _ = ledger::record_status(&self.db, &c.tenant_id, source.as_str(), e.state(), Some(&error)).await;
            }
        }
        let _ = ledger::release_lease(&self.db, &c.tenant_id, source.as_str(), &self.holder).await;
        summary.seconds = started.elapsed().as_secs_f64();
        tracing::info!(
            tenant.id = %c.tenant_id,
            source = source.as_str(),
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
