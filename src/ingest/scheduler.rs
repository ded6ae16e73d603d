//! Periodic collection: one loop per (tenant, source), every FETCH_INTERVAL_MINUTES. A run that
//! panics is logged and recorded as failing, and the loop goes on: a stopped collector would
//! otherwise look alive.

use std::sync::Arc;
use std::time::Duration;

use super::collector::Collector;
use super::ledger;
use crate::normalize::Source;

/// Starts the loops; they end when the returned handles are aborted.
pub fn spawn(collector: Arc<Collector>, interval: Duration) -> Vec<tokio::task::JoinHandle<()>> {
    let mut handles = Vec::new();
    for (i, connector) in collector.connectors().into_iter().enumerate() {
        for (j, source) in Source::ALL.into_iter().enumerate() {
            let collector = collector.clone();
            let connector = connector.clone();
            // Spread the first runs a little so sources do not all start at once.
            let offset = Duration::from_millis(((i * 4 + j) as u64 * 750) % interval.as_millis().max(1) as u64);
            handles.push(tokio::spawn(async move {
                tokio::time::sleep(offset).await;
                loop {
                    let run = {
                        let collector = collector.clone();
                        let connector = connector.clone();
                        tokio::spawn(async move { collector.collect_source(&connector, source, None, false).await })
                    };
                    if let Err(panic) = run.await {
                        tracing::error!(tenant.id = %connector.tenant_id, source = source.as_str(), "collection panicked: {panic}");
                        let _ = ledger::record_status(&collector.db, &connector.tenant_id, source.as_str(), "failing", Some("the collector crashed; see the server log")).await;
                        let _ = ledger::release_lease(&collector.db, &connector.tenant_id, source.as_str(), &collector.holder).await;
                    }
                    tokio::time::sleep(interval).await;
                }
            }));
        }
    }
    handles
}
