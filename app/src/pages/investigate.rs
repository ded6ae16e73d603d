//! The Investigate page: one search (the Events page's filters, in the address) looked at as a
//! whole. The overview counts every matching event by service, operation, result and actor and
//! lists the newest failures and events; with a language model configured, a plain form asks for
//! the AI summary, shown as plain text labelled as generated with the events it cites linked.
//! Everything is server-rendered, so the page works before hydration and without JavaScript;
//! once hydrated, the summary is streamed onto the page as the model writes it.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::components::ErrorBanner;
use crate::dto::{EventSummary, FacetValue};
use crate::error::{AppError, ErrorCode};
use crate::investigate::{
    EntityGraph, MapBasis, MapPoint, MapVisit, Overview, SignInMap, Summary, SummaryChunk, SummaryMode,
};
use crate::pages::events::{encode, filter_from_query, filter_pairs, query_string, EventRow};
use crate::query::EventFilter;
use crate::server::{event_graph, event_map, event_overview, list_watchlists, summarize_events, summarize_stream};

fn href(page: &str, filter: &EventFilter) -> String {
    let pairs = filter_pairs(filter);
    if pairs.is_empty() {
        page.to_string()
    } else {
        format!("{page}?{}", query_string(&pairs))
    }
}

/// The Investigate page's address for the search `filter`.
pub fn investigate_href(filter: &EventFilter) -> String {
    href("/investigate", filter)
}

/// The Investigate page's address for the search `filter` on the tab `tab`.
fn tab_href(filter: &EventFilter, tab: &str) -> String {
    let base = href("/investigate", filter);
    format!("{base}{}tab={tab}", if base.contains('?') { "&" } else { "?" })
}

/// The Investigate page's sign-in map for the search `filter`.
pub fn map_href(filter: &EventFilter) -> String {
    tab_href(filter, "map")
}

/// The Events page for the search `filter` with `term` (query language) added.
fn with_term(filter: &EventFilter, term: &str) -> String {
    let mut f = filter.clone();
    f.search = Some(match f.search.take().filter(|s| !s.trim().is_empty()) {
        Some(s) => format!("{s} {term}"),
        None => term.to_string(),
    });
    href("/events", &f)
}

/// The Events page narrowed to one more value of a field.
fn narrowed(filter: &EventFilter, field: &str, value: &str) -> String {
    let mut f = filter.clone();
    let value = Some(value.to_string());
    match field {
        "service" => f.service = value,
        "operation" => f.operation = value,
        "result" => f.result = value,
        _ => f.actor = value,
    }
    href("/events", &f)
}

/// The Investigate page.
#[component]
pub fn InvestigatePage() -> impl IntoView {
    let query = use_query_map();
    let filter = move || filter_from_query(&query.read());
    let wants_summary = move || query.read().get("summarize").is_some_and(|v| v == "1");
    let graph_tab = move || query.read().get("tab").is_some_and(|v| v == "graph");
    let map_tab = move || query.read().get("tab").is_some_and(|v| v == "map");
    let overview_tab = move || !graph_tab() && !map_tab();
    let overview = Resource::new(
        move || (filter(), !overview_tab()),
        |(filter, graph)| async move {
            if graph {
                None
            } else {
                Some(event_overview(Some(filter)).await)
            }
        },
    );
    let kinds = move || query.read().get("kinds").unwrap_or_default();
    let graph = Resource::new(
        move || (filter(), graph_tab(), kinds()),
        |(filter, graph, kinds)| async move {
            if graph {
                let kinds = (!kinds.is_empty()).then_some(kinds);
                Some((event_graph(Some(filter), kinds).await, list_watchlists().await.unwrap_or_default()))
            } else {
                None
            }
        },
    );
    let map = Resource::new(
        move || (filter(), map_tab()),
        |(filter, wanted)| async move {
            if wanted {
                Some(event_map(Some(filter)).await)
            } else {
                None
            }
        },
    );
    let summary = Resource::new(
        move || (filter(), wants_summary()),
        |(filter, wanted)| async move {
            if wanted {
                Some(summarize_events(Some(filter)).await)
            } else {
                None
            }
        },
    );

    view! {
        <section class="page investigate-page">
            <header class="page-header">
                <h1>"Investigate"</h1>
                <p class="subtitle">
                    "The whole result of one search, counted exactly. "
                    <A href=move || href("/events", &filter()) attr:id="back-to-events">"Back to the events"</A>
                </p>
                <SearchChips filter=filter()/>
                <nav class="tabs" aria-label="Views">
                    <A href=move || href("/investigate", &filter()) attr:id="tab-overview"
                        attr:class=move || if overview_tab() { "tab active" } else { "tab" }>"Overview"</A>
                    <A href=move || tab_href(&filter(), "graph")
                        attr:id="tab-graph" attr:class=move || if graph_tab() { "tab active" } else { "tab" }>"Graph"</A>
                    <A href=move || map_href(&filter())
                        attr:id="tab-map" attr:class=move || if map_tab() { "tab active" } else { "tab" }>"Map"</A>
                </nav>
            </header>
            <Transition fallback=|| view! { <p class="loading">"Drawing the graph…"</p> }>
                {move || Suspend::new(async move {
                    graph.await.map(|(g, watchlists)| {
                        let names: Vec<String> = watchlists.into_iter().map(|w| w.name).collect();
                        let chosen = crate::investigate::parse_graph_kinds(Some(&kinds())).unwrap_or_default();
                        view! {
                            <GraphControls filter=filter() kinds=chosen watchlists=names/>
                            {match g {
                                Ok(g) => view! { <GraphView graph=g filter=filter() kinds=kinds()/> }.into_any(),
                                Err(error) => view! { <ErrorBanner error/> }.into_any(),
                            }}
                        }
                    })
                })}
            </Transition>
            <Transition fallback=|| view! { <p class="loading">"Placing events on the map…"</p> }>
                {move || Suspend::new(async move {
                    map.await.map(|m| match m {
                        Ok(m) => view! { <MapView map=m filter=filter()/> }.into_any(),
                        Err(error) => view! { <ErrorBanner error/> }.into_any(),
                    })
                })}
            </Transition>
            <Transition fallback=|| view! { <p class="loading">"Counting events…"</p> }>
                {move || Suspend::new(async move {
                    let Some(overview) = overview.await else { return ().into_any() };
                    match overview {
                        Ok(o) => {
                            let f = filter();
                            let summary_view = summary.await.map(|s| match s {
                                Ok(s) => view! { <SummaryPanel summary=s/> }.into_any(),
                                Err(error) => view! { <ErrorBanner error/> }.into_any(),
                            });
                            view! {
                                {summary_view.unwrap_or_else(|| {
                                    if o.summary_available {
                                        view! { <SummarizeForm filter=f.clone() count=o.total/> }.into_any()
                                    } else {
                                        view! {
                                            <p class="muted" id="summary-off">
                                                "AI summary: no language model is configured (LLM_BASE_URL, LLM_MODEL). The overview below is computed by AOC alone."
                                            </p>
                                        }.into_any()
                                    }
                                })}
                                <OverviewPanel overview=o filter=f/>
                            }.into_any()
                        }
                        Err(error) => view! { <ErrorBanner error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The search being investigated, as `name: value` chips.
#[component]
fn SearchChips(filter: EventFilter) -> impl IntoView {
    let parts: Vec<String> = filter_pairs(&filter).into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
    view! {
        <p class="search-chips" id="investigated-search">
            {if parts.is_empty() {
                view! { <span class="chip">"every event"</span> }.into_any()
            } else {
                parts.into_iter().map(|p| view! { <span class="chip">{p}</span> }).collect_view().into_any()
            }}
        </p>
    }
}

/// A plain GET form asking for the summary (works before hydration: the page then renders
/// the whole answer). Once hydrated, the form streams the answer instead, shown as it is
/// written and replaced by the finished summary with its citations linked.
#[component]
fn SummarizeForm(filter: EventFilter, count: u64) -> impl IntoView {
    let how = if count <= crate::investigate::SUMMARY_EVENT_LIMIT {
        format!("The {count} matching events go to the configured language model.")
    } else {
        format!("{count} events match: the model gets these counts, the newest failures and the 50 newest events.")
    };
    let written = RwSignal::new(String::new());
    let outcome = RwSignal::new(None::<Result<Summary, AppError>>);
    let running = RwSignal::new(false);
    let streamed_filter = filter.clone();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if running.get_untracked() {
            return;
        }
        running.set(true);
        written.set(String::new());
        outcome.set(None);
        let filter = streamed_filter.clone();
        leptos::task::spawn_local(async move {
            let result = read_summary_stream(filter, written).await;
            outcome.set(Some(result));
            running.set(false);
        });
    };
    view! {
        <form method="get" action="/investigate" class="summarize-form" id="summarize-form" on:submit=on_submit>
            {filter_pairs(&filter).into_iter().map(|(k, v)| view! { <input type="hidden" name=k value=v.to_string()/> }).collect_view()}
            <input type="hidden" name="summarize" value="1"/>
            <button type="submit" id="summarize" prop:disabled=move || running.get()>"Summarize with AI"</button>
            <span class="muted">{how}</span>
        </form>
        {move || running.get().then(|| view! {
            <section class="ai-summary" id="ai-summary-stream" aria-live="polite" aria-busy="true">
                <h2>"AI summary " <span class="generated-badge">"generated"</span></h2>
                <p class="muted">"The model is writing…"</p>
                <div class="summary-text" id="summary-stream-text">{move || written.get()}</div>
            </section>
        })}
        {move || outcome.get().map(|result| match result {
            Ok(summary) => view! { <SummaryPanel summary/> }.into_any(),
            Err(error) => view! { <ErrorBanner error/> }.into_any(),
        })}
    }
}

/// Reads the streamed summary of `filter`, appending the text to `written` as it comes; the
/// finished summary or the error at the end.
async fn read_summary_stream(filter: EventFilter, written: RwSignal<String>) -> Result<Summary, AppError> {
    use futures_util::StreamExt;

    let mut pieces = summarize_stream(Some(filter)).await?.into_inner();
    let mut pending = String::new();
    while let Some(piece) = pieces.next().await {
        pending.push_str(&piece?);
        while let Some(end) = pending.find('\n') {
            let line: String = pending.drain(..=end).collect();
            match serde_json::from_str::<SummaryChunk>(line.trim()) {
                Ok(SummaryChunk::Delta(text)) => written.update(|w| w.push_str(&text)),
                Ok(SummaryChunk::Done(summary)) => return Ok(summary),
                Ok(SummaryChunk::Error(error)) => return Err(error),
                // An empty or unreadable line carries nothing to show.
                Err(_) => {}
            }
        }
    }
    Err(AppError::new(ErrorCode::Unavailable, "the summary stopped before it was finished; try again"))
}

/// The model's answer: plain text, labelled as generated, cited events linked.
#[component]
fn SummaryPanel(summary: Summary) -> impl IntoView {
    let mode = match summary.mode {
        SummaryMode::Events => "every matching event",
        SummaryMode::Overview => "counts, failures and samples",
    };
    let meta = format!(
        "Generated by {} from {} ({} of {} events sent{}{}). Check it against the events.",
        summary.model,
        mode,
        summary.events_sent,
        summary.event_count,
        if summary.truncated { "; some left out to fit the model" } else { "" },
        if summary.answer_cut { "; the answer was cut at its length limit" } else { "" },
    );
    view! {
        <section class="ai-summary" id="ai-summary" data-mode=summary.mode.as_str()>
            <h2>"AI summary " <span class="generated-badge">"generated"</span></h2>
            <p class="muted">{meta}</p>
            <div class="summary-text" id="summary-text">{summary.text}</div>
            {(!summary.cited_event_ids.is_empty()).then(|| view! {
                <p class="cited" id="cited-events">
                    "Cited events: "
                    {summary.cited_event_ids.into_iter().map(|id| view! {
                        <A href=format!("/events/{id}") attr:class="cited-event">{format!("e:{id}")}</A>" "
                    }).collect_view()}
                </p>
            })}
            {(!summary.unknown_cited_ids.is_empty()).then(|| {
                let ids: Vec<String> = summary.unknown_cited_ids.iter().map(|i| format!("e:{i}")).collect();
                view! {
                    <p class="flag" id="unknown-citations">
                        {format!("Cited but never sent to the model (made up): {}", ids.join(", "))}
                    </p>
                }
            })}
        </section>
    }
}

/// One dimension's counts, each value linking to the events that have it.
#[component]
fn CountTable(
    title: &'static str,
    field: &'static str,
    values: Vec<FacetValue>,
    total: u64,
    filter: EventFilter,
) -> impl IntoView {
    let shown: u64 = values.iter().take(10).map(|v| v.count).sum();
    let rest = total.saturating_sub(shown);
    view! {
        <table class="counts" id=format!("by-{field}")>
            <caption>{title}</caption>
            <tbody>
                {values.into_iter().take(10).map(|v| {
                    let share = if total > 0 { v.count as f64 * 100.0 / total as f64 } else { 0.0 };
                    let label = match &v.label {
                        Some(name) => name.clone(),
                        None if v.value.is_empty() => "(none)".to_string(),
                        None => crate::appnames::display(&v.value),
                    };
                    let link = (!v.value.is_empty()).then(|| narrowed(&filter, field, &v.value));
                    view! {
                        <tr>
                            <td class="value">
                                {match link {
                                    Some(l) => view! { <A href=l>{label}</A> }.into_any(),
                                    None => view! { <span>{label}</span> }.into_any(),
                                }}
                            </td>
                            <td class="count">{v.count}</td>
                            <td class="share"><span class="share-bar" style=format!("width:{share:.1}%")></span></td>
                        </tr>
                    }
                }).collect_view()}
                {(rest > 0).then(|| view! {
                    <tr class="other"><td class="value">"(other)"</td><td class="count">{rest}</td><td></td></tr>
                })}
            </tbody>
        </table>
    }
}

fn event_table(id: &'static str, items: Vec<EventSummary>) -> impl IntoView {
    view! {
        <table class="events" id=id>
            <thead>
                <tr>
                    <th scope="col">"Time (UTC)"</th>
                    <th scope="col">"Severity"</th>
                    <th scope="col">"Service"</th>
                    <th scope="col">"Operation"</th>
                    <th scope="col">"Actor"</th>
                    <th scope="col">"Result"</th>
                    <th scope="col">"Summary"</th>
                </tr>
            </thead>
            <tbody>{items.into_iter().map(|event| view! { <EventRow event/> }).collect_view()}</tbody>
        </table>
    }
}

#[component]
fn OverviewPanel(overview: Overview, filter: EventFilter) -> impl IntoView {
    let total = overview.total;
    view! {
        <section class="overview" id="overview" data-total=total.to_string()>
            <h2>"Overview"</h2>
            <p id="overview-total"><strong>{total}</strong>" matching events"</p>
            <div class="count-grid">
                <CountTable title="By service" field="service" values=overview.by_service total filter=filter.clone()/>
                <CountTable title="By operation" field="operation" values=overview.by_operation total filter=filter.clone()/>
                <CountTable title="By result" field="result" values=overview.by_result total filter=filter.clone()/>
                <CountTable title="By actor" field="actor" values=overview.by_actor total filter=filter.clone()/>
            </div>
            <h3>"Newest failures"</h3>
            {if overview.failures.is_empty() {
                view! { <p class="muted" id="no-failures">"No failed events in this result."</p> }.into_any()
            } else {
                event_table("overview-failures", overview.failures).into_any()
            }}
            <h3>"Newest events"</h3>
            {event_table("overview-samples", overview.samples)}
        </section>
    }
}

/// The Events page for one node of the graph.
fn node_href(filter: &EventFilter, kind: &str, label: &str) -> Option<String> {
    let mut f = filter.clone();
    match kind {
        "actor" if label != "(unknown actor)" => f.actor = Some(label.to_string()),
        "operation" => f.operation = Some(label.to_string()),
        "target" => f.target = Some(label.to_string()),
        "ip" => {
            let term = format!("ip:\"{label}\"");
            f.search = Some(match f.search.take() {
                Some(s) => format!("{s} {term}"),
                None => term,
            });
        }
        _ => return None,
    }
    Some(href("/events", &f))
}

fn short(text: &str) -> String {
    if text.chars().count() > 28 {
        format!("{}…", text.chars().take(27).collect::<String>())
    } else {
        text.to_string()
    }
}

/// The Graph tab for `filter`, drawing the node kinds `kinds` (comma-separated; empty: all).
pub(crate) fn graph_href(filter: &EventFilter, kinds: &str) -> String {
    let base = tab_href(filter, "graph");
    if kinds.is_empty() {
        base
    } else {
        format!("{base}&kinds={}", encode(kinds))
    }
}

/// Hidden inputs carrying a filter's time range (the presets keep it, and nothing else).
fn time_inputs(filter: &EventFilter) -> impl IntoView {
    [("last", &filter.last), ("start", &filter.start), ("end", &filter.end)]
        .into_iter()
        .filter_map(|(name, value)| value.clone().map(|v| view! { <input type="hidden" name=name value=v/> }))
        .collect_view()
}

/// Which node kinds the graph draws (links that show or hide one, working without script), and
/// the analysts' preset views: one person's activity, who accessed a site or mailbox, and a
/// watchlist's accounts with what they touched. Each preset is a plain GET form.
#[component]
fn GraphControls(filter: EventFilter, kinds: Vec<String>, watchlists: Vec<String>) -> impl IntoView {
    let all = crate::investigate::GRAPH_KINDS;
    let shown = |k: &str| kinds.is_empty() || kinds.iter().any(|x| x == k);
    let toggles = all
        .iter()
        .map(|&kind| {
            let on = shown(kind);
            let next: Vec<&str> = all.iter().copied().filter(|&k| if k == kind { !on } else { shown(k) }).collect();
            let next = if next.len() == all.len() { String::new() } else { next.join(",") };
            let label = match kind {
                "actor" => "actors",
                "operation" => "operations",
                "target" => "targets",
                _ => "IP addresses",
            };
            let text = if on { format!("Hide {label}") } else { format!("Show {label}") };
            view! {
                <A href=graph_href(&filter, &next) attr:class=if on { "kind-toggle on" } else { "kind-toggle off" }
                    attr:id=format!("kind-{kind}") attr:data-shown=on.to_string()>{text}</A>" "
            }
        })
        .collect_view();
    let person = filter.actor.clone().unwrap_or_default();
    let target = filter.target.clone().unwrap_or_default();
    view! {
        <section class="graph-controls" id="graph-controls" aria-label="Graph views">
            <p class="graph-kinds" id="graph-kinds">"Node kinds: " {toggles}</p>
            <div class="graph-presets">
                <form method="get" action="/investigate" id="preset-person" class="preset">
                    <input type="hidden" name="tab" value="graph"/>
                    {time_inputs(&filter)}
                    <label for="preset-actor">"One person's activity"</label>
                    <input id="preset-actor" name="actor" value=person placeholder="adele@contoso.com" required/>
                    <button type="submit">"Show"</button>
                </form>
                <form method="get" action="/investigate" id="preset-accessors" class="preset">
                    <input type="hidden" name="tab" value="graph"/>
                    <input type="hidden" name="kinds" value="actor,target,ip"/>
                    {time_inputs(&filter)}
                    <label for="preset-target">"Who accessed a site or mailbox"</label>
                    <input id="preset-target" name="target" value=target placeholder="part of its name or URL" required/>
                    <button type="submit">"Show"</button>
                </form>
                <form method="get" action="/investigate" id="preset-watchlist" class="preset">
                    <input type="hidden" name="tab" value="graph"/>
                    {time_inputs(&filter)}
                    <label for="preset-watchlist-name">"A watchlist's accounts and what they touched"</label>
                    {if watchlists.is_empty() {
                        view! { <span class="muted">"No watchlists yet: " <A href="/watchlists">"make one"</A></span> }.into_any()
                    } else {
                        view! {
                            <select id="preset-watchlist-name" name="search">
                                {watchlists.into_iter().map(|name| view! { <option value=format!("watchlist:{name}")>{name.clone()}</option> }).collect_view()}
                            </select>
                            <button type="submit">"Show"</button>
                        }.into_any()
                    }}
                </form>
            </div>
        </section>
    }
}

/// The entity graph as SVG, laid out by the server; a node links to its events.
#[component]
fn GraphView(graph: EntityGraph, filter: EventFilter, kinds: String) -> impl IntoView {
    if graph.nodes.is_empty() {
        return view! {
            <p class="empty-state" id="graph-empty">"Nothing to draw: no matching events, or fewer than two node kinds shown."</p>
        }
        .into_any();
    }
    let position: std::collections::HashMap<String, (f32, f32)> =
        graph.nodes.iter().map(|n| (n.id.clone(), (n.x, n.y))).collect();
    let max_node = graph.nodes.iter().map(|n| n.count).max().unwrap_or(1).max(1) as f32;
    let max_edge = graph.edges.iter().map(|e| e.count).max().unwrap_or(1).max(1) as f32;
    let cap_note = if graph.edges_total > graph.edges.len() as u64 {
        format!(
            "{} matching events; the {} heaviest of {} relations are drawn (cap {}).",
            graph.total_events,
            graph.edges.len(),
            graph.edges_total,
            graph.edge_cap
        )
    } else {
        format!("{} matching events; all {} relations are drawn.", graph.total_events, graph.edges_total)
    };
    let mut query = filter_pairs(&filter).iter().map(|(k, v)| format!("{k}={}&", encode(v))).collect::<String>();
    if !kinds.is_empty() {
        query.push_str(&format!("kinds={}&", encode(&kinds)));
    }
    let lines = graph
        .edges
        .iter()
        .filter_map(|e| {
            let (a, b) = (position.get(&e.source)?, position.get(&e.target)?);
            let width = 0.6 + 3.5 * e.count as f32 / max_edge;
            let title = format!("{} → {}: {} events", e.source, e.target, e.count);
            Some(view! {
                <line x1=a.0 y1=a.1 x2=b.0 y2=b.1 class="graph-edge" stroke-width=format!("{width:.2}")>
                    <title>{title}</title>
                </line>
            })
        })
        .collect_view();
    let nodes = graph
        .nodes
        .into_iter()
        .map(|n| {
            let r = 4.0 + 14.0 * (n.count as f32 / max_node).sqrt();
            let on = if n.watchlists.is_empty() {
                String::new()
            } else {
                format!(" (on watchlist {})", n.watchlists.join(", "))
            };
            let title = format!("{} {}: {} events{on}", n.kind, n.label, n.count);
            let class =
                format!("graph-node node-{}{}", n.kind, if n.watchlists.is_empty() { "" } else { " on-watchlist" });
            let value = n.id.split_once(':').map_or(n.label.as_str(), |(_, v)| v);
            let link = node_href(&filter, &n.kind, value).unwrap_or_default();
            view! {
                // Inside <g>, the view macro makes the link an SVG <a>, also when drawn in the browser.
                <g class=class data-node=n.id.clone()>
                    <a href=link>
                        <circle cx=n.x cy=n.y r=format!("{r:.1}")><title>{title}</title></circle>
                        <text x=n.x + r + 2.0 y=n.y + 3.0>{short(&n.label)}</text>
                    </a>
                </g>
            }
        })
        .collect_view();
    view! {
        <section class="graph" id="entity-graph">
            <p class="muted" id="graph-cap">{cap_note}</p>
            <p class="graph-legend">
                <span class="legend node-actor">"actor"</span>
                <span class="legend node-operation">"operation"</span>
                <span class="legend node-target">"target"</span>
                <span class="legend node-ip">"IP address"</span>
                " · Export: "
                <a href=format!("/api/events/graph?{query}format=graphml") id="graph-graphml">"GraphML"</a>" "
                <a href=format!("/api/events/graph?{query}format=json") id="graph-json">"JSON"</a>
            </p>
            <svg viewBox="0 0 1000 700" class="graph-canvas" role="img" aria-label="Entity graph">
                <g class="edges">{lines}</g>
                <g class="nodes">{nodes}</g>
            </svg>
        </section>
    }
    .into_any()
}

fn place_name(country: Option<&str>, country_name: Option<&str>, city: Option<&str>) -> String {
    let country = country_name.or(country).unwrap_or("unknown country");
    match city {
        Some(city) => format!("{city}, {country}"),
        None => country.to_string(),
    }
}

fn visit_name(v: &MapVisit) -> String {
    place_name(v.country.as_deref(), None, v.city.as_deref())
}

fn time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A map position (the server's projection: equirectangular, 1000 × 500).
fn xy(latitude: f64, longitude: f64) -> (f32, f32) {
    (((longitude + 180.0) / 360.0 * 1000.0) as f32, ((90.0 - latitude) / 180.0 * 500.0) as f32)
}

fn point_href(filter: &EventFilter, point: &MapPoint) -> Option<String> {
    point.search.as_deref().map(|term| with_term(filter, term))
}

/// The watchlists a person or place is on, as tags.
fn watch_tags(lists: &[String]) -> impl IntoView {
    lists
        .iter()
        .map(|l| view! { " "<span class="tag watchlist-tag" title="on this watchlist">{l.clone()}</span> })
        .collect_view()
}

/// The sign-in map: world outline, places sized by events, failures in red, findings marked,
/// places where someone or an address on a watchlist was seen ringed; every place links to its
/// events and is listed in a table too.
#[component]
fn MapView(map: SignInMap, filter: EventFilter) -> impl IntoView {
    let max = map.points.iter().map(|p| p.count).max().unwrap_or(1).max(1) as f32;
    let flagged: std::collections::HashSet<(i64, i64)> = map
        .new_countries
        .iter()
        .map(|n| &n.visit)
        .chain(map.travel.iter().flat_map(|t| [&t.from, &t.to]))
        .map(|v| ((v.latitude * 1000.0).round() as i64, (v.longitude * 1000.0).round() as i64))
        .collect();
    let read = if map.capped {
        format!("The newest {} matching events were read (cap {}); more match.", map.events, map.event_cap)
    } else {
        format!("{} matching events were read.", map.events)
    };
    let counts = format!(
        "{} placed on the map, {} from private or reserved addresses, {} from addresses that could not be placed, {} with no address or location.",
        map.located, map.private, map.unlocated, map.no_location
    );
    let shown = if map.points_total > map.points.len() as u64 {
        format!(" The {} busiest of {} places are drawn.", map.points.len(), map.points_total)
    } else {
        String::new()
    };
    let travel_lines = map
        .travel
        .iter()
        .map(|t| {
            let (a, b) = (xy(t.from.latitude, t.from.longitude), xy(t.to.latitude, t.to.longitude));
            let title = format!("{}: {} → {}, {} km", t.user, visit_name(&t.from), visit_name(&t.to), t.distance_km);
            view! { <line class="travel-line" x1=a.0 y1=a.1 x2=b.0 y2=b.1><title>{title}</title></line> }
        })
        .collect_view();
    let circles = map
        .points
        .iter()
        .map(|p| {
            let r = 2.5 + 12.0 * (p.count as f32 / max).sqrt();
            let rf = if p.failures > 0 { (r * (p.failures as f32 / p.count as f32).sqrt()).max(1.5) } else { 0.0 };
            let name = place_name(p.country.as_deref(), p.country_name.as_deref(), p.city.as_deref());
            let mut title = format!("{name}: {} events, {} failed, {} people, {} addresses", p.count, p.failures, p.users, p.addresses);
            if !p.watchlists.is_empty() {
                title.push_str(&format!(" (on watchlist {})", p.watchlists.join(", ")));
            }
            let marked = flagged.contains(&((p.latitude * 1000.0).round() as i64, (p.longitude * 1000.0).round() as i64));
            let class = format!(
                "map-point{}{}",
                if marked { " flagged" } else { "" },
                if p.watchlists.is_empty() { "" } else { " on-watchlist" }
            );
            let link = point_href(&filter, p).unwrap_or_default();
            let watched = !p.watchlists.is_empty();
            view! {
                <g class=class data-count=p.count.to_string()>
                    <a href=link aria-label=title.clone()>
                        {watched.then(|| view! {
                            <circle class="map-watched" cx=p.x cy=p.y r=format!("{:.1}", r + 3.0)><title>{title.clone()}</title></circle>
                        })}
                        <circle class="map-all" cx=p.x cy=p.y r=format!("{r:.1}")><title>{title.clone()}</title></circle>
                        {(p.failures > 0).then(|| view! {
                            <circle class="map-failed" cx=p.x cy=p.y r=format!("{rf:.1}")><title>{title.clone()}</title></circle>
                        })}
                    </a>
                </g>
            }
        })
        .collect_view();
    let rows = map
        .points
        .iter()
        .map(|p| {
            let name = place_name(p.country.as_deref(), p.country_name.as_deref(), p.city.as_deref());
            let basis = match p.basis {
                MapBasis::Coordinates => "sign-in coordinates",
                MapBasis::Country => "sign-in country",
                MapBasis::Address => "IP address",
            };
            let link = point_href(&filter, p);
            view! {
                <tr>
                    <td>{match link {
                        Some(l) => view! { <A href=l attr:class="place-link">{name}</A> }.into_any(),
                        None => view! { <span>{name}</span> }.into_any(),
                    }}</td>
                    <td>{basis}</td>
                    <td class="count">{p.count}</td>
                    <td class="count">{p.failures}</td>
                    <td class="count">{p.users}{watch_tags(&p.watchlists)}</td>
                    <td>
                        {p.sample_ips.iter().map(|ip| {
                            let l = with_term(&filter, &format!("ip:\"{ip}\""));
                            let ip = ip.clone();
                            view! { <A href=l attr:class="ip-link">{ip}</A>" " }
                        }).collect_view()}
                        {(p.addresses > p.sample_ips.len() as u64).then(|| format!("(+{} more)", p.addresses - p.sample_ips.len() as u64))}
                    </td>
                </tr>
            }
        })
        .collect_view();
    let event_link = |v: &MapVisit| {
        let label = format!("{} {}", time(&v.occurred_at), visit_name(v));
        view! { <A href=format!("/events/{}", v.event_id)>{label}</A> }
    };
    let new_rows = map
        .new_countries
        .iter()
        .map(|n| {
            view! {
                <tr>
                    <td>{n.user.clone()}{watch_tags(&n.watchlists)}</td>
                    <td>{n.country.clone()}</td>
                    <td>{event_link(&n.visit)}</td>
                    <td>{n.visit.ip.clone().unwrap_or_default()}</td>
                    <td>{n.known_countries.join(", ")}</td>
                </tr>
            }
        })
        .collect_view();
    let travel_rows = map
        .travel
        .iter()
        .map(|t| {
            let speed = t.speed_kmh.map_or("same second".to_string(), |s| format!("{s} km/h"));
            view! {
                <tr>
                    <td>{t.user.clone()}{watch_tags(&t.watchlists)}</td>
                    <td>{event_link(&t.from)}</td>
                    <td>{event_link(&t.to)}</td>
                    <td class="count">{t.distance_km}</td>
                    <td class="count">{speed}</td>
                </tr>
            }
        })
        .collect_view();
    let more = |shown: usize, total: u64| (total > shown as u64).then(|| format!(" (the newest {shown} of {total})"));
    let new_note = more(map.new_countries.len(), map.new_countries_total);
    let travel_note = more(map.travel.len(), map.travel_total);
    view! {
        <section class="signin-map" id="signin-map" data-located=map.located.to_string() data-points=map.points_total.to_string()>
            <p class="muted" id="map-counts">{read}" "{counts}{shown}</p>
            {(!map.geoip_loaded).then(|| view! {
                <p class="muted" id="map-no-geoip">"No IP database is loaded (GEOIP_DATABASE), so addresses are not placed: only sign-ins with a location are."</p>
            })}
            <svg viewBox="0 0 1000 500" class="map-canvas" role="group" aria-labelledby="map-title">
                <title id="map-title">{format!("World map of {} placed events at {} places", map.located, map.points_total)}</title>
                <image href="/world-110m.svg" x="0" y="0" width="1000" height="500" aria-hidden="true"></image>
                <g class="travel">{travel_lines}</g>
                <g class="points">{circles}</g>
            </svg>
            <p class="map-legend">
                <span class="legend map-legend-all">"events (size)"</span>
                <span class="legend map-legend-failed">"failed"</span>
                <span class="legend map-legend-flagged">"new country or impossible travel"</span>
                <span class="legend map-legend-travel">"impossible travel"</span>
                <span class="legend map-legend-watched">"someone or an address on a watchlist"</span>
            </p>
            <p class="attribution" id="map-attribution">
                <a href="https://db-ip.com" id="dbip-attribution">"IP Geolocation by DB-IP"</a>
                " · Outlines: Natural Earth (public domain) via world-atlas"
            </p>
            <h3 id="new-countries-heading">"New country for the person" {new_note}</h3>
            {if map.new_countries.is_empty() {
                view! { <p class="muted" id="no-new-countries">"No event comes from a country not seen earlier for its person."</p> }.into_any()
            } else {
                view! {
                    <table class="events" id="new-countries" aria-labelledby="new-countries-heading">
                        <thead><tr>
                            <th scope="col">"Person"</th><th scope="col">"Country"</th><th scope="col">"Event"</th>
                            <th scope="col">"Address"</th><th scope="col">"Seen before in"</th>
                        </tr></thead>
                        <tbody>{new_rows}</tbody>
                    </table>
                }.into_any()
            }}
            <h3 id="travel-heading">"Impossible travel" {travel_note}</h3>
            {if map.travel.is_empty() {
                view! { <p class="muted" id="no-travel">"No two events of one person are farther apart than 1,000 km/h allows."</p> }.into_any()
            } else {
                view! {
                    <table class="events" id="impossible-travel" aria-labelledby="travel-heading">
                        <thead><tr>
                            <th scope="col">"Person"</th><th scope="col">"From"</th><th scope="col">"To"</th>
                            <th scope="col">"km"</th><th scope="col">"Speed"</th>
                        </tr></thead>
                        <tbody>{travel_rows}</tbody>
                    </table>
                }.into_any()
            }}
            <h3 id="places-heading">"Places"</h3>
            {if map.points.is_empty() {
                view! { <p class="empty-state" id="map-empty">"No event in this result could be placed on the map."</p> }.into_any()
            } else {
                view! {
                    <table class="events" id="map-places" aria-labelledby="places-heading">
                        <thead><tr>
                            <th scope="col">"Place"</th><th scope="col">"Placed by"</th><th scope="col">"Events"</th>
                            <th scope="col">"Failed"</th><th scope="col">"People"</th><th scope="col">"Addresses"</th>
                        </tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_keep_the_search() {
        let filter = EventFilter { service: Some("Exchange".into()), search: Some("a b".into()), ..Default::default() };
        assert_eq!(investigate_href(&filter), "/investigate?service=Exchange&search=a%20b");
        assert_eq!(investigate_href(&EventFilter::default()), "/investigate");
        assert_eq!(narrowed(&filter, "result", "failure"), "/events?service=Exchange&result=failure&search=a%20b");
        assert_eq!(map_href(&EventFilter::default()), "/investigate?tab=map");
        assert_eq!(
            graph_href(&filter, "actor,target"),
            "/investigate?service=Exchange&search=a%20b&tab=graph&kinds=actor%2Ctarget"
        );
        assert_eq!(map_href(&filter), "/investigate?service=Exchange&search=a%20b&tab=map");
        assert_eq!(with_term(&filter, "ip:\"1.2.3.4\""), "/events?service=Exchange&search=a%20b%20ip%3A%221.2.3.4%22");
    }
}
