//! A local simulator of the Microsoft APIs AOC collects from: the identity platform's token
//! endpoints, the Office 365 Management Activity API and Microsoft Graph's audit resources,
//! faithful to the protocol reference (quirks included), with a deterministic activity
//! generator, injectable faults and a ground-truth API. It is the demo tenant and the test
//! double; `aoc simulate` runs it standalone.

pub mod activity;
pub mod bench;
pub mod config;
pub mod content;
pub mod control;
mod faults;
pub mod graph;
pub mod identity;
pub mod management;
pub mod state;
mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

pub use config::{Faults, SimConfig};
pub use state::SimState;

/// The simulator's router over shared state.
pub fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .merge(identity_routes())
        .merge(management::routes())
        .merge(graph::routes())
        .merge(control::routes())
        .with_state(state)
}

fn identity_routes() -> Router<Arc<SimState>> {
    use axum::routing::post;
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(identity::token_v2))
        .route("/{tenant}/oauth2/token", post(identity::token_v1))
}

/// A simulator serving in the background.
pub struct RunningSimulator {
    /// Where it is reached, e.g. `http://127.0.0.1:43123`.
    pub base_url: String,
    pub addr: SocketAddr,
    pub state: Arc<SimState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    notifier: tokio::task::JoinHandle<()>,
}

impl RunningSimulator {
    /// Stops serving.
    pub fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.notifier.abort();
    }
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.notifier.abort();
    }
}

/// Binds `addr` and serves the simulator in the background.
pub async fn spawn(config: SimConfig, addr: SocketAddr) -> std::io::Result<RunningSimulator> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let public = config.public_base_url.clone();
    let state = Arc::new(SimState::new(config));
    let base_url = public.unwrap_or_else(|| format!("http://{addr}"));
    *state.base_url.lock().unwrap_or_else(|p| p.into_inner()) = base_url.clone();
    let app = router(state.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    let notifier = tokio::spawn(webhooks::run_notifier(state.clone()));
    Ok(RunningSimulator { base_url, addr, state, shutdown: Some(tx), notifier })
}
