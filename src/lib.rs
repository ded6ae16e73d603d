//! The AOC server: configuration, storage, services, HTTP API and the web app's server side.
//! `main.rs` is the command-line entry point; everything it runs lives here so integration tests
//! can start a real server in-process.

// The server renders deeply nested Leptos view types; their layouts need more than the default
// query depth in release builds.
#![recursion_limit = "256"]

pub mod api;
pub mod auth;
pub mod config;
pub mod export;
pub mod ingest;
pub mod llm;
pub mod maintenance;
pub mod normalize;
pub mod rules;
pub mod services;
pub mod simulator;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tenants;
