//! Periodic collection: one loop per (tenant, source), every FETCH_INTERVAL_MINUTES, for the
//! tenants registered at start-up (`Collector::spawn_periodic` runs the loops; tenants added
//! later through the API get theirs from `tenants`). A run that panics is logged and recorded as
//! failing, and the loop goes on: a stopped collector would otherwise look alive.

use std::sync::Arc;
use std::time::Duration;

use super::collector::Collector;

/// Starts the loops; they end when the returned handles are aborted.
pub fn spawn(collector: Arc<Collector>, interval: Duration) -> Vec<tokio::task::JoinHandle<()>> {
    collector
        .connectors()
        .iter()
        .enumerate()
        .flat_map(|(i, connector)| collector.spawn_periodic_spread(&connector.tenant_id, interval, i))
        .collect()
}
