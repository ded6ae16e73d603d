//! What each collection run of this process is doing, for the Sources page's progress display
//! (as the page's [`CollectionRun`]):
//! windows planned and done, records received and stored, when it started and how it ended.
//! One entry per (tenant, source), the newest run's; kept after the run ends, so a page loaded
//! later still shows how the last one went. In memory: a restarted server starts empty, and the
//! coverage ledger keeps the durable record of every window.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::Utc;

use app::dto::CollectionRun;

use crate::normalize::Source;

/// The live counters of one run, shared with the code that collects.
#[derive(Debug, Default)]
pub struct Progress {
    planned: AtomicU64,
    done: AtomicU64,
    fetched: AtomicU64,
    inserted: AtomicU64,
}

impl Progress {
    /// `n` more windows (hours of a content type, or one window per Graph run) to collect.
    pub fn plan(&self, n: u64) {
        self.planned.fetch_add(n, Ordering::Relaxed);
    }

    /// One window collected or given up on.
    pub fn window_done(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    /// Records received and, of them, stored for the first time.
    pub fn records(&self, fetched: u64, inserted: u64) {
        self.fetched.fetch_add(fetched, Ordering::Relaxed);
        self.inserted.fetch_add(inserted, Ordering::Relaxed);
    }
}

struct Entry {
    view: CollectionRun,
    progress: Arc<Progress>,
}

/// The runs of this process, newest per (tenant, source).
#[derive(Default)]
pub struct Runs {
    entries: Mutex<HashMap<(String, Source), Entry>>,
}

impl Runs {
    /// Records that a run of (tenant, source) started; its counters.
    pub fn start(&self, tenant_id: &str, source: Source, hours: Option<u32>) -> Arc<Progress> {
        let progress = Arc::new(Progress::default());
        let view = CollectionRun {
            tenant_id: tenant_id.to_string(),
            source: source.as_str().to_string(),
            started_at: Utc::now(),
            hours,
            windows_planned: 0,
            windows_done: 0,
            fetched: 0,
            inserted: 0,
            finished_at: None,
            outcome: None,
            error: None,
            throttled: 0,
        };
        let entry = Entry { view, progress: progress.clone() };
        self.lock().insert((tenant_id.to_string(), source), entry);
        progress
    }

    /// Counts `throttled` more throttled calls for the run going on.
    pub fn throttled(&self, tenant_id: &str, source: Source, throttled: u64) {
        if let Some(e) = self.lock().get_mut(&(tenant_id.to_string(), source)) {
            e.view.throttled += throttled;
        }
    }

    /// Records how the run of (tenant, source) ended.
    pub fn finish(&self, tenant_id: &str, source: Source, outcome: &str, error: Option<&str>) {
        if let Some(e) = self.lock().get_mut(&(tenant_id.to_string(), source)) {
            e.view.finished_at = Some(Utc::now());
            e.view.outcome = Some(outcome.to_string());
            e.view.error = error.map(str::to_string);
        }
    }

    /// Every run known, newest first.
    pub fn list(&self) -> Vec<CollectionRun> {
        let mut out: Vec<CollectionRun> = self
            .lock()
            .values()
            .map(|e| {
                let mut view = e.view.clone();
                view.windows_planned = e.progress.planned.load(Ordering::Relaxed);
                view.windows_done = e.progress.done.load(Ordering::Relaxed);
                view.fetched = e.progress.fetched.load(Ordering::Relaxed);
                view.inserted = e.progress.inserted.load(Ordering::Relaxed);
                view
            })
            .collect();
        out.sort_by(|a, b| {
            b.started_at
                .cmp(&a.started_at)
                .then_with(|| (&a.tenant_id, a.source.as_str()).cmp(&(&b.tenant_id, b.source.as_str())))
        });
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, Source), Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_counts_live_and_keeps_its_end() {
        let runs = Runs::default();
        let progress = runs.start("t1", Source::Unified, Some(24));
        progress.plan(24);
        progress.window_done();
        progress.records(10, 7);
        let live = &runs.list()[0];
        assert_eq!((live.windows_planned, live.windows_done, live.fetched, live.inserted), (24, 1, 10, 7));
        assert_eq!((live.hours, live.finished_at), (Some(24), None));
        runs.throttled("t1", Source::Unified, 2);
        runs.finish("t1", Source::Unified, "ok", None);
        let ended = &runs.list()[0];
        assert!(ended.finished_at.is_some());
        assert_eq!((ended.outcome.as_deref(), ended.throttled), (Some("ok"), 2));
        // A new run replaces the entry of its (tenant, source).
        runs.start("t1", Source::Unified, None);
        assert_eq!(runs.list().len(), 1);
        assert_eq!(runs.list()[0].windows_planned, 0);
    }
}
