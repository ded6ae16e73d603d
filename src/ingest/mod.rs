//! Collection from Microsoft: connectors (tenant + credentials + endpoints), the token provider,
//! the Management Activity API and Graph clients, and the collector that drives them under a
//! database lease, recording watermarks, the coverage ledger and source states.
//!
//! Invariants (ARCHITECTURE §3): a watermark moves only after the records before it are
//! committed; every record is stored once per tenant; a blob or page that fails is retried and
//! then recorded as failed in the ledger, never silently skipped. The bearer token goes only to
//! the configured endpoints (`links`).
//!
//! Modules, each importing only those below it (this file declares them and re-exports; no
//! module imports it back):
//!
//! ```text
//! scheduler, bench ─► collector
//! collector ─► unified, graph, health, domains, app_names, run, ledger, management, graph_client, http
//! unified ─► management, run, ledger, jsonstream      graph ─► graph_client, run, ledger
//! health ─► ledger, management (content types)         domains, app_names ─► graph_client
//! run ─► ledger, progress (+ store::writer)
//! management, graph_client ─► http, links, retry, wire
//! http ─► token ─► retry, wire, connector
//! error ─► links, summary          ledger ─► summary (+ store::entities)
//! connector, links, retry, summary, wire, jsonstream, progress: no other ingest module
//! (error, summary and connector are used at every level above them)
//! ```
//!
//! - Protocol clients (`management`, `graph_client`) know URLs, paging, error codes and
//!   PublisherIdentifier, and nothing of the database; `http` adds tokens, budgets and retries.
//! - Collection (`unified`, `graph`) decides windows, stores pages and blobs, and moves
//!   watermarks, through a [`run::RunContext`] (tenant, source, look-back, lease, database).
//! - `collector` runs one (tenant, source) at a time per process (single-flight) and records
//!   the outcome; `build_collector` is how `aoc serve` and `aoc fetch` make one.

pub mod app_names;
pub mod bench;
pub mod check;
pub mod collector;
pub mod connector;
pub mod domains;
pub mod error;
pub mod graph;
pub mod graph_client;
pub mod health;
pub mod http;
pub mod import;
pub mod jsonstream;
pub mod ledger;
pub mod links;
pub mod management;
pub mod progress;
pub mod retry;
pub mod run;
pub mod scheduler;
pub mod summary;
pub mod token;
pub mod unified;
pub mod wire;

pub use collector::{build_collector, BuildError, Collector};
pub use connector::{Connector, Credential};
pub use error::IngestError;
pub use summary::{CollectSummary, SourceState, SourceSummary};
