//! Investigation of a search result: the overview (exact counts, failures, samples) and the AI
//! summary. [`app::investigate::InvestigationService`] for the Investigate page's server
//! functions; the REST API calls the same methods. Counting SQL is in `store::investigate`,
//! the prompt in `summary_prompt`, the model client in `crate::llm`.

use app::auth::Caller;
use app::dto::EventSummary;
use app::error::{AppError, ErrorCode};
use app::investigate::{
    EntityGraph, Overview, SignInMap, Summary, SummaryChunk, SummaryMode, MAP_EVENT_CAP, OVERVIEW_FAILURES,
    OVERVIEW_SAMPLES, OVERVIEW_VALUES, SUMMARY_EVENT_LIMIT,
};
use app::query::{Clause, EventFilter, EventQuery, Field, Term};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use sea_orm::DatabaseConnection;

use super::annotations::audit;
use super::db_failure;
use super::summary_prompt::{self as prompt, PromptParts};
use crate::llm::{LlmClient, LlmError, Piece};
use crate::store::investigate::{first_seen, graph_rows, map_rows, overview_counts, OverviewCounts};
use crate::store::query::{EventStore, StoredEvent};

/// An overview as the service computes it (the adapters shape the events).
#[derive(Clone, Debug)]
pub struct StoredOverview {
    /// At most [`OVERVIEW_VALUES`] values per dimension; counts exact.
    pub counts: OverviewCounts,
    pub failures: Vec<StoredEvent>,
    pub samples: Vec<StoredEvent>,
}

/// Overviews and summaries over one database.
#[derive(Clone)]
pub struct DbInvestigationService {
    db: DatabaseConnection,
    store: EventStore,
    llm: Option<LlmClient>,
    geoip: Option<std::sync::Arc<super::geo::GeoIp>>,
}

fn failures_of(query: &EventQuery) -> EventQuery {
    let mut failures = query.clone();
    failures.terms.push(Term { negated: false, clause: Clause::Field(Field::Result, "failure".into()) });
    failures
}

fn no_model() -> AppError {
    AppError::new(
        ErrorCode::Unavailable,
        "no language model is configured: set LLM_BASE_URL and LLM_MODEL (see the README, Investigation); \
         the overview is computed without one",
    )
}

impl DbInvestigationService {
    pub fn new(db: DatabaseConnection, llm: Option<LlmClient>) -> Self {
        Self { store: EventStore::new(db.clone()), db, llm, geoip: None }
    }

    /// The same service placing addresses with `geoip` (the sign-in map).
    pub fn with_geoip(mut self, geoip: Option<std::sync::Arc<super::geo::GeoIp>>) -> Self {
        self.geoip = geoip;
        self
    }

    /// Whether a summary can be asked for.
    pub fn summary_available(&self) -> bool {
        self.llm.is_some()
    }

    /// Counts over every event matching `query`, with the newest failures and samples (raw
    /// records included when `with_raw`).
    pub async fn overview_of(&self, query: &EventQuery, with_raw: bool) -> Result<StoredOverview, AppError> {
        let failures = failures_of(query);
        let (counts, failures, samples) = tokio::try_join!(
            overview_counts(&self.store, query),
            self.store.page(&failures, None, OVERVIEW_FAILURES, with_raw),
            self.store.page(query, None, OVERVIEW_SAMPLES, with_raw),
        )
        .map_err(|e| db_failure("overview", e))?;
        Ok(StoredOverview { counts: counts.top(OVERVIEW_VALUES), failures: failures.items, samples: samples.items })
    }

    /// The entity graph of every event matching `query`, at most `edge_cap` edges (the heaviest),
    /// with the node kinds `kinds` (empty: all).
    pub async fn graph_of(&self, query: &EventQuery, edge_cap: u32, kinds: &[String]) -> Result<EntityGraph, AppError> {
        let rows = graph_rows(&self.store, query).await.map_err(|e| db_failure("graph", e))?;
        let items =
            crate::store::watchlists::all_items(&self.db).await.map_err(|e| db_failure("graph_watchlists", e))?;
        let names = super::app_names::AppNames::load(&self.db, rows.iter().map(|r| r.actor.as_str())).await?;
        let kinds = kinds.to_vec();
        tokio::task::spawn_blocking(move || {
            let mut graph = super::graph::build(&rows, edge_cap, &kinds);
            super::graph::mark_watchlists(&mut graph, &items);
            super::graph::name_apps(&mut graph, &names);
            graph
        })
        .await
        .map_err(|_| AppError::internal("graph-layout"))
    }

    /// The sign-in map of the newest [`MAP_EVENT_CAP`] events matching `query` (`cap` lower for
    /// benchmarks and tests).
    pub async fn map_of(&self, query: &EventQuery, cap: u32) -> Result<SignInMap, AppError> {
        let cap = cap.clamp(1, MAP_EVENT_CAP);
        // One more than the cap says whether the result was cut.
        let mut rows = map_rows(&self.store, query, cap + 1).await.map_err(|e| db_failure("map", e))?;
        let capped = rows.len() > cap as usize;
        rows.truncate(cap as usize);
        let mut actors: Vec<String> = rows.iter().map(|r| r.actor.clone()).filter(|a| !a.is_empty()).collect();
        actors.sort();
        actors.dedup();
        let seen = match rows.first() {
            Some(newest) => {
                first_seen(&self.store, &actors, newest.occurred_at).await.map_err(|e| db_failure("map_history", e))?
            }
            None => Vec::new(),
        };
        let items = crate::store::watchlists::all_items(&self.db).await.map_err(|e| db_failure("map_watchlists", e))?;
        let geoip = self.geoip.clone();
        tokio::task::spawn_blocking(move || {
            let mut locator = super::map::Locator::new(geoip.as_deref());
            super::map::build(&rows, &seen, &mut locator, cap, capped, &items)
        })
        .await
        .map_err(|_| AppError::internal("map"))
    }

    /// What a summary of the events matching `query` sends: at most [`SUMMARY_EVENT_LIMIT`] go
    /// as events, more as counts, failures and samples.
    async fn summary_input(&self, filter: &EventFilter, query: &EventQuery) -> Result<SummaryInput, AppError> {
        let counts = overview_counts(&self.store, query).await.map_err(|e| db_failure("summary", e))?;
        let total = counts.total;
        let (mode, failures, events) = if total <= SUMMARY_EVENT_LIMIT {
            let page = self
                .store
                .page(query, None, SUMMARY_EVENT_LIMIT as u32, false)
                .await
                .map_err(|e| db_failure("summary", e))?;
            (SummaryMode::Events, Vec::new(), page.items)
        } else {
            let overview = self.overview_of(query, false).await?;
            (SummaryMode::Overview, overview.failures, overview.samples)
        };
        Ok(SummaryInput { filter: filter.clone(), total, mode, counts, failures, events, fence: prompt::new_fence() })
    }

    /// A language model's summary of the events matching `query` (see [`Self::summary_input`]).
    /// Every request is recorded in the audit trail (who, filter, events, model), never its data.
    pub async fn summary(
        &self,
        caller: &Caller,
        filter: &EventFilter,
        query: &EventQuery,
    ) -> Result<Summary, AppError> {
        let llm = self.llm.as_ref().ok_or_else(no_model)?;
        let input = self.summary_input(filter, query).await?;
        let settings = llm.settings();
        let mut budget = input.first_budget(settings);
        let mut built = prompt::build(&input.parts(), budget, &input.fence);
        let mut shrunk = false;
        let outcome = loop {
            match llm.complete(&built.system, &built.user).await {
                Err(LlmError::ContextExceeded) if !shrunk => {
                    // Once: the server's tokenizer counts more than the estimate did.
                    shrunk = true;
                    budget /= 2;
                    built = prompt::build(&input.parts(), budget, &input.fence);
                }
                other => break other,
            }
        };
        let outcome_name = match &outcome {
            Ok(_) => "answered",
            Err(e) => error_kind(e),
        };
        audit_summary(&self.db, caller, &input, &built, &settings.model, outcome_name).await?;
        let completion = outcome.map_err(summary_failed)?;
        Ok(input.finish(&settings.model, &built, shrunk, &completion.text, completion.cut))
    }

    /// The same summary streamed: the model's text as it writes, then the whole summary (or
    /// the error). The request goes in the audit trail when the answer ends, with how it
    /// ended; a caller that goes away stops the model's answer.
    pub async fn summary_stream(
        &self,
        caller: &Caller,
        filter: &EventFilter,
        query: &EventQuery,
    ) -> Result<BoxStream<'static, SummaryChunk>, AppError> {
        let llm = self.llm.clone().ok_or_else(no_model)?;
        let input = self.summary_input(filter, query).await?;
        let (tx, rx) = tokio::sync::mpsc::channel::<SummaryChunk>(64);
        let (db, caller) = (self.db.clone(), caller.clone());
        tokio::spawn(async move {
            let settings = llm.settings().clone();
            let mut budget = input.first_budget(&settings);
            let mut built = prompt::build(&input.parts(), budget, &input.fence);
            let mut shrunk = false;
            let opened = loop {
                match llm.stream(&built.system, &built.user).await {
                    Err(LlmError::ContextExceeded) if !shrunk => {
                        shrunk = true;
                        budget /= 2;
                        built = prompt::build(&input.parts(), budget, &input.fence);
                    }
                    other => break other,
                }
            };
            let mut text = String::new();
            let outcome: Result<bool, LlmError> = match opened {
                Err(e) => Err(e),
                Ok(mut pieces) => loop {
                    match pieces.next().await {
                        Some(Ok(Piece::Text(t))) => {
                            text.push_str(&t);
                            if tx.send(SummaryChunk::Delta(t)).await.is_err() {
                                break Ok(false);
                            }
                        }
                        Some(Ok(Piece::Finished { cut })) => break Ok(cut),
                        Some(Err(e)) => break Err(e),
                        None => break Err(LlmError::BadAnswer("the answer broke off before its end".into())),
                    }
                },
            };
            let outcome_name = match (&outcome, tx.is_closed()) {
                (_, true) => "cancelled",
                (Ok(_), false) => "answered",
                (Err(e), false) => error_kind(e),
            };
            let last = match audit_summary(&db, &caller, &input, &built, &settings.model, outcome_name).await {
                Err(e) => SummaryChunk::Error(e),
                Ok(()) => match outcome {
                    Ok(cut) => SummaryChunk::Done(input.finish(&settings.model, &built, shrunk, &text, cut)),
                    Err(e) => SummaryChunk::Error(summary_failed(e)),
                },
            };
            let _ = tx.send(last).await;
        });
        Ok(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|chunk| (chunk, rx)) }).boxed())
    }
}

/// What one summary sends to the model.
struct SummaryInput {
    filter: EventFilter,
    total: u64,
    mode: SummaryMode,
    counts: OverviewCounts,
    failures: Vec<StoredEvent>,
    events: Vec<StoredEvent>,
    /// The fence around the data, new for each summary.
    fence: String,
}

impl SummaryInput {
    fn parts(&self) -> PromptParts<'_> {
        PromptParts {
            filter: &self.filter,
            total: self.total,
            mode: self.mode,
            counts: (self.mode == SummaryMode::Overview).then_some(&self.counts),
            failures: &self.failures,
            events: &self.events,
        }
    }

    fn first_budget(&self, settings: &crate::config::LlmSettings) -> usize {
        prompt::input_budget(settings.context_tokens, settings.max_output_tokens, &prompt::system_prompt(&self.fence))
    }

    /// The summary of the model's answer `answer`, its citations checked against what was sent.
    fn finish(&self, model: &str, built: &prompt::Prompt, shrunk: bool, answer: &str, cut: bool) -> Summary {
        let text = prompt::clean_answer(answer);
        let (cited_event_ids, unknown_cited_ids) =
            prompt::citations(&text).into_iter().partition(|id| built.sent_ids.binary_search(id).is_ok());
        Summary {
            mode: self.mode,
            event_count: self.total,
            model: model.to_string(),
            text,
            cited_event_ids,
            unknown_cited_ids,
            events_sent: built.sent_ids.len() as u64,
            truncated: built.truncated || shrunk,
            answer_cut: cut,
        }
    }
}

/// Records a summary request: who, which filter, how many events, which model, how it ended.
async fn audit_summary(
    db: &DatabaseConnection,
    caller: &Caller,
    input: &SummaryInput,
    built: &prompt::Prompt,
    model: &str,
    outcome: &str,
) -> Result<(), AppError> {
    let details = serde_json::json!({
        "filter": input.filter,
        "event_count": input.total,
        "events_sent": built.sent_ids.len(),
        "mode": input.mode.as_str(),
        "model": model,
        "outcome": outcome,
    });
    audit(db, caller, "events.summary", "events", None, details, None).await.map_err(|e| db_failure("summary_audit", e))
}

fn summary_failed(e: LlmError) -> AppError {
    tracing::warn!(error = %e, "the AI summary failed");
    AppError::new(ErrorCode::Unavailable, format!("no summary: {e}"))
}

fn error_kind(e: &LlmError) -> &'static str {
    match e {
        LlmError::Timeout(_) => "timeout",
        LlmError::RateLimited(_) => "rate_limited",
        LlmError::ContextExceeded => "context_exceeded",
        LlmError::Status(_) => "http_error",
        LlmError::Transport(_) => "unreachable",
        LlmError::BadAnswer(_) => "bad_answer",
    }
}

#[async_trait::async_trait]
impl app::investigate::InvestigationService for DbInvestigationService {
    async fn overview(&self, query: EventQuery) -> Result<Overview, AppError> {
        let o = self.overview_of(&query, false).await?;
        let mut by_actor = o.counts.by_actor;
        super::app_names::label_values(&self.db, &mut by_actor).await?;
        let mut failures: Vec<EventSummary> = o.failures.into_iter().map(EventSummary::from).collect();
        super::app_names::name_events(&self.db, &mut failures).await?;
        let mut samples: Vec<EventSummary> = o.samples.into_iter().map(EventSummary::from).collect();
        super::app_names::name_events(&self.db, &mut samples).await?;
        Ok(Overview {
            total: o.counts.total,
            by_service: o.counts.by_service,
            by_operation: o.counts.by_operation,
            by_result: o.counts.by_result,
            by_actor,
            failures,
            samples,
            summary_available: self.summary_available(),
        })
    }

    async fn summarize(&self, caller: &Caller, filter: EventFilter, query: EventQuery) -> Result<Summary, AppError> {
        self.summary(caller, &filter, &query).await
    }

    async fn summarize_stream(
        &self,
        caller: &Caller,
        filter: EventFilter,
        query: EventQuery,
    ) -> Result<BoxStream<'static, SummaryChunk>, AppError> {
        self.summary_stream(caller, &filter, &query).await
    }

    async fn graph(&self, query: EventQuery, edge_cap: u32, kinds: Vec<String>) -> Result<EntityGraph, AppError> {
        self.graph_of(&query, edge_cap, &kinds).await
    }

    async fn map(&self, query: EventQuery) -> Result<SignInMap, AppError> {
        self.map_of(&query, MAP_EVENT_CAP).await
    }
}
