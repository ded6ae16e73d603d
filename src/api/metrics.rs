//! Prometheus metrics: the recorder, the request-tracking middleware and `GET /metrics`.
//! Metric names follow `aoc_<thing>_<unit>`. Route labels are route templates, never raw paths,
//! so label cardinality stays bounded. Public like `/health`: it holds counts, not tenant data.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds, from 1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The process-wide recorder (installed once; several in-process servers in tests share it).
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full("aoc_http_request_duration_seconds".into()), LATENCY_BUCKETS)
                .expect("latency buckets are not empty")
                .install_recorder()
                .expect("no other metrics recorder is installed");
            metrics::describe_counter!(
                "aoc_http_requests_total",
                "HTTP requests answered, by method, route and status"
            );
            metrics::describe_histogram!(
                "aoc_http_request_duration_seconds",
                metrics::Unit::Seconds,
                "HTTP request latency, by method, route and status"
            );
            metrics::describe_gauge!("aoc_build_info", "Always 1; labels carry the build's version");
            describe_ingest();
            describe_export();
            metrics::gauge!("aoc_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            handle
        })
        .clone()
}

/// Describes the collection metrics (recorded in `ingest`).
fn describe_ingest() {
    metrics::describe_counter!(
        "aoc_ingest_records_total",
        "Records stored by collection, by tenant, source and outcome (inserted, duplicate, normalize_error)"
    );
    metrics::describe_counter!(
        "aoc_ingest_requests_total",
        "Requests to Microsoft's APIs, by api (management, graph) and HTTP status (error: no answer)"
    );
    metrics::describe_gauge!(
        "aoc_ingest_lag_seconds",
        metrics::Unit::Seconds,
        "Seconds between now and the oldest watermark of a source, after its last run"
    );
    metrics::describe_counter!("aoc_ingest_throttled_total", "Throttled answers (429, AF429) from Microsoft, by api");
    metrics::describe_gauge!("aoc_coverage_windows", "Coverage windows in the ledger, by state");
    metrics::describe_counter!(
        "aoc_ingest_refused_links_total",
        "Links in Microsoft's answers that pointed outside the configured endpoint and were not followed, by api"
    );
    // Counters that are zero in a healthy process are shown anyway, so alerts on them work.
    for api in ["management", "graph"] {
        metrics::counter!("aoc_ingest_throttled_total", "api" => api).increment(0);
        metrics::counter!("aoc_ingest_refused_links_total", "api" => api).increment(0);
    }
    metrics::describe_counter!("aoc_ingest_runs_total", "Collection runs started, by tenant and source");
    metrics::describe_counter!("aoc_ingest_runs_finished_total", "Collection runs finished, by tenant and source");
}

/// Describes the export metrics (recorded by `export::worker`).
fn describe_export() {
    metrics::describe_gauge!(
        "aoc_export_outbox_items",
        "Items in a destination's export queue, by destination and state"
    );
    metrics::describe_gauge!(
        "aoc_export_oldest_item_age_seconds",
        metrics::Unit::Seconds,
        "How long the oldest pending item of a destination has waited"
    );
    metrics::describe_counter!("aoc_export_delivered_total", "Events a destination accepted, by destination");
    metrics::describe_counter!(
        "aoc_export_failures_total",
        "Batches not delivered (outcome retry) and items parked (outcome parked), by destination"
    );
}

/// Middleware: counts and times every request by method, route template and status.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = match request.extensions().get::<MatchedPath>() {
        Some(path) => path.as_str().to_string(),
        None if request.uri().path().starts_with("/pkg/") => "/pkg/{asset}".to_string(),
        None => "unmatched".to_string(),
    };
    let method = request.method().to_string();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("aoc_http_requests_total", &labels).increment(1);
    metrics::histogram!("aoc_http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics` in the Prometheus text format.
pub async fn metrics(State(handle): State<PrometheusHandle>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render())
}
