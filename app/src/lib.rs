//! AOC's user interface, compiled twice: into the server (feature `ssr`) to render pages and run
//! server functions, and into WebAssembly (feature `hydrate`) to make those pages interactive.
//!
//! This crate owns everything both sides share: the DTOs, the error type, the caller and
//! permission model, the service traits (ports) that server functions call, and the pages.
//! It depends on none of AOC's other crates; server-only crates are optional and enabled by `ssr`.
// The pages' view types nest deeply; the browser build needs more than the default 128.
#![recursion_limit = "256"]

pub mod appnames;
pub mod auth;
pub mod columns;
pub mod components;
pub mod connection;
pub mod detection;
pub mod dto;
pub mod error;
pub mod input;
pub mod investigate;
pub mod pages;
pub mod query;
pub mod saved;
pub mod server;
#[cfg(feature = "ssr")]
pub mod services;
pub mod watchlist;

pub use components::{shell, App};

/// Entry point of the WebAssembly bundle: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
