//! Investigation of a search result as a whole: the overview (exact counts by service,
//! operation, result and actor, recent failures and samples), the AI summary, and the service
//! port the Investigate page's server functions call. The REST API answers the same through
//! `src/api/investigate.rs`.

use serde::{Deserialize, Serialize};

use crate::dto::{EventSummary, FacetValue};

/// Most values listed per dimension of an overview (counts stay exact; the rest is
/// `total` minus the listed counts).
pub const OVERVIEW_VALUES: usize = 50;
/// Most failed events an overview lists.
pub const OVERVIEW_FAILURES: u32 = 10;
/// Most recent events an overview lists.
pub const OVERVIEW_SAMPLES: u32 = 50;
/// Up to this many matching events go to the model as events; more go as the overview.
pub const SUMMARY_EVENT_LIMIT: u64 = 50;

/// What a search result holds, counted over every matching event.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    /// Matching events.
    pub total: u64,
    pub by_service: Vec<FacetValue>,
    pub by_operation: Vec<FacetValue>,
    pub by_result: Vec<FacetValue>,
    pub by_actor: Vec<FacetValue>,
    /// The newest failed events (at most 10).
    pub failures: Vec<EventSummary>,
    /// The newest events (at most 50).
    pub samples: Vec<EventSummary>,
    /// Whether a language model is configured (the page offers a summary then).
    #[serde(default)]
    pub summary_available: bool,
}

/// How the events reached the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SummaryMode {
    /// Every matching event (at most 50).
    Events,
    /// The overview: counts, failures and samples.
    Overview,
}

impl SummaryMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SummaryMode::Events => "events",
            SummaryMode::Overview => "overview",
        }
    }
}

/// A generated summary of a search result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Summary {
    pub mode: SummaryMode,
    /// Matching events (all of them, not only those sent).
    pub event_count: u64,
    /// The model that answered.
    pub model: String,
    /// The model's answer, as plain text (generated: check it against the events).
    pub text: String,
    /// AOC event ids the answer cites that were among the events sent.
    pub cited_event_ids: Vec<i64>,
    /// Ids the answer cites that were not sent (the model made them up).
    #[serde(default)]
    pub unknown_cited_ids: Vec<i64>,
    /// Events sent to the model (events, failures and samples).
    #[serde(default)]
    pub events_sent: u64,
    /// Set when the token budget left events out, or the input was shrunk after the model
    /// reported its context was exceeded.
    #[serde(default)]
    pub truncated: bool,
    /// Set when the model stopped at its output limit.
    #[serde(default)]
    pub answer_cut: bool,
}

#[cfg(feature = "ssr")]
impl utoipa::PartialSchema for SummaryMode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(["events", "overview"]))
            .into()
    }
}

#[cfg(feature = "ssr")]
impl utoipa::ToSchema for SummaryMode {}

/// The investigation port: overviews and summaries of a search result. Called after the
/// caller's permission was checked.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait InvestigationService: Send + Sync {
    /// Exact counts and examples over every event matching `query`.
    async fn overview(&self, query: crate::query::EventQuery) -> Result<Overview, crate::error::AppError>;
    /// A language model's summary of the events matching `query` (recorded in the audit trail).
    async fn summarize(
        &self,
        caller: &crate::auth::Caller,
        filter: crate::query::EventFilter,
        query: crate::query::EventQuery,
    ) -> Result<Summary, crate::error::AppError>;
    /// The entity graph of the events matching `query`, at most `edge_cap` edges.
    async fn graph(
        &self,
        query: crate::query::EventQuery,
        edge_cap: u32,
    ) -> Result<EntityGraph, crate::error::AppError>;
}

/// Most edges an entity graph keeps by default (the heaviest).
pub const GRAPH_EDGES: u32 = 150;
/// Most edges an entity graph may be asked to keep.
pub const MAX_GRAPH_EDGES: u32 = 1_000;

/// One node of an entity graph: an actor, an operation, a target or an IP address.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GraphNode {
    /// `kind:value`, unique in the graph.
    pub id: String,
    /// `actor`, `operation`, `target` or `ip`.
    pub kind: String,
    pub label: String,
    /// Matching events this node takes part in.
    pub count: u64,
    /// Position from the server's layout (0–1000 × 0–700).
    pub x: f32,
    pub y: f32,
}

/// An edge: actor → operation, operation → target, actor → IP, weighted by events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GraphEdge {
    pub source: String,
    pub target: String,
    pub count: u64,
}

/// Who did what to what over a whole search result.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EntityGraph {
    /// Matching events.
    pub total_events: u64,
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
    /// Edges before the cap.
    pub edges_total: u64,
    /// The cap: at most this many edges are kept, the heaviest.
    pub edge_cap: u32,
}
