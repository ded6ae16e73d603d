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

/// One part of a streamed summary, sent as one line of JSON: `{"delta": "text"}` as the model
/// writes, then `{"done": <Summary>}` or `{"error": <AppError>}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SummaryChunk {
    Delta(String),
    Done(Summary),
    Error(crate::error::AppError),
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
    /// The same summary streamed: [`SummaryChunk::Delta`]s as the model writes, then one
    /// [`SummaryChunk::Done`] or [`SummaryChunk::Error`]. Errors before the model is asked
    /// (no model configured, a database failure) are the `Err`.
    async fn summarize_stream(
        &self,
        caller: &crate::auth::Caller,
        filter: crate::query::EventFilter,
        query: crate::query::EventQuery,
    ) -> Result<futures_util::stream::BoxStream<'static, SummaryChunk>, crate::error::AppError>;
    /// The entity graph of the events matching `query`, at most `edge_cap` edges, with the node
    /// kinds `kinds` (empty: all).
    async fn graph(
        &self,
        query: crate::query::EventQuery,
        edge_cap: u32,
        kinds: Vec<String>,
    ) -> Result<EntityGraph, crate::error::AppError>;
    /// The sign-in map of the events matching `query` (the newest [`MAP_EVENT_CAP`]).
    async fn map(&self, query: crate::query::EventQuery) -> Result<SignInMap, crate::error::AppError>;
}

/// The kinds of node an entity graph has.
pub const GRAPH_KINDS: [&str; 4] = ["actor", "operation", "target", "ip"];

/// Parses the node kinds to draw: comma-separated names from [`GRAPH_KINDS`] (empty: all).
pub fn parse_graph_kinds(text: Option<&str>) -> Result<Vec<String>, crate::error::AppError> {
    let mut kinds = Vec::new();
    for kind in text.unwrap_or_default().split(',').map(str::trim).filter(|k| !k.is_empty()) {
        let kind = kind.to_ascii_lowercase();
        if !GRAPH_KINDS.contains(&kind.as_str()) {
            return Err(crate::error::AppError::invalid_input(
                "kinds",
                "expected actor, operation, target and/or ip, comma-separated",
            ));
        }
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    Ok(kinds)
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
    /// The watchlists this actor or address is on (the page marks them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watchlists: Vec<String>,
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

/// Most events a sign-in map reads: the newest matching ones.
pub const MAP_EVENT_CAP: u32 = 100_000;
/// Most points, new-country sign-ins and travel pairs a map lists (the busiest points, the
/// newest findings).
pub const MAP_LIST_CAP: usize = 200;
/// Speed above which two sign-ins of one person count as impossible travel, in km/h.
pub const IMPOSSIBLE_SPEED_KMH: f64 = 1_000.0;
/// Distance under which two places count as the same for impossible travel, in km.
pub const TRAVEL_MIN_KM: f64 = 500.0;
/// Width and height of the map's equirectangular drawing (`x` = (lon + 180) / 360 × 1000).
pub const MAP_WIDTH: f32 = 1000.0;
pub const MAP_HEIGHT: f32 = 500.0;

/// Where a point's position comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MapBasis {
    /// The sign-in's own `location.geoCoordinates`.
    Coordinates,
    /// The sign-in's `location.countryOrRegion` alone: the country's centre.
    Country,
    /// The address, located by the IP database (its country's centre).
    Address,
}

/// One place on the sign-in map.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MapPoint {
    pub latitude: f64,
    pub longitude: f64,
    /// ISO 3166-1 alpha-2 code, when known.
    pub country: Option<String>,
    /// The country's name, when the code is known to AOC.
    pub country_name: Option<String>,
    pub city: Option<String>,
    pub basis: MapBasis,
    /// Events from here.
    pub count: u64,
    /// Failed events from here.
    pub failures: u64,
    /// Distinct addresses seen here.
    pub addresses: u64,
    /// The most frequent addresses (at most 5).
    pub sample_ips: Vec<String>,
    /// People (actors) seen here.
    pub users: u64,
    /// The watchlists of the people or addresses seen here.
    #[serde(default)]
    pub watchlists: Vec<String>,
    /// The search (query language) that lists these events on the Events page, added to the
    /// map's own filters; absent when no search selects exactly them.
    pub search: Option<String>,
    /// Position on the 1000 × 500 drawing.
    pub x: f32,
    pub y: f32,
}

/// One located event of a finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MapVisit {
    pub event_id: i64,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    pub ip: Option<String>,
    pub country: Option<String>,
    pub city: Option<String>,
    pub latitude: f64,
    pub longitude: f64,
}

/// A person's event from a country not seen for them earlier in the stored data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewCountry {
    pub user: String,
    pub country: String,
    pub visit: MapVisit,
    /// The countries seen for this person before (at most 10).
    pub known_countries: Vec<String>,
    /// The watchlists the person is on.
    #[serde(default)]
    pub watchlists: Vec<String>,
}

/// Two consecutive events of one person too far apart for the time between them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TravelPair {
    pub user: String,
    pub from: MapVisit,
    pub to: MapVisit,
    pub distance_km: u32,
    /// km/h; absent when both happened in the same second.
    pub speed_kmh: Option<u32>,
    /// The watchlists the person is on.
    #[serde(default)]
    pub watchlists: Vec<String>,
}

/// Where the events of a search result come from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SignInMap {
    /// Events read (the newest matching ones, at most `event_cap`).
    pub events: u64,
    /// The cap on events read.
    pub event_cap: u32,
    /// Set when more events matched than were read.
    pub capped: bool,
    /// Events placed on the map.
    pub located: u64,
    /// Events from private, loopback, link-local, documentation or other non-public addresses.
    pub private: u64,
    /// Events from public addresses the IP database does not place (or with no database).
    pub unlocated: u64,
    /// Events with neither coordinates nor an address.
    pub no_location: u64,
    /// Whether an IP database is loaded (GEOIP_DATABASE).
    pub geoip_loaded: bool,
    /// The busiest places first (at most [`MAP_LIST_CAP`]).
    pub points: Vec<MapPoint>,
    /// Places before the cap.
    pub points_total: u64,
    /// Newest first (at most [`MAP_LIST_CAP`]).
    pub new_countries: Vec<NewCountry>,
    pub new_countries_total: u64,
    /// Newest first (at most [`MAP_LIST_CAP`]).
    pub travel: Vec<TravelPair>,
    pub travel_total: u64,
}
