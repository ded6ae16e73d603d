//! The Investigate page: one search (the Events page's filters, in the address) looked at as a
//! whole. The overview counts every matching event by service, operation, result and actor and
//! lists the newest failures and events; with a language model configured, a plain form asks for
//! the AI summary, shown as plain text labelled as generated with the events it cites linked.
//! Everything is server-rendered, so the page works before hydration and without JavaScript.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::components::ErrorBanner;
use crate::dto::{EventSummary, FacetValue};
use crate::investigate::{EntityGraph, Overview, Summary, SummaryMode};
use crate::pages::events::{encode, filter_from_query, filter_pairs, query_string, EventRow};
use crate::query::EventFilter;
use crate::server::{event_graph, event_overview, summarize_events};

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
    let overview = Resource::new(
        move || (filter(), graph_tab()),
        |(filter, graph)| async move {
            if graph {
                None
            } else {
                Some(event_overview(Some(filter)).await)
            }
        },
    );
    let graph = Resource::new(
        move || (filter(), graph_tab()),
        |(filter, graph)| async move {
            if graph {
                Some(event_graph(Some(filter)).await)
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
                        attr:class=move || if graph_tab() { "tab" } else { "tab active" }>"Overview"</A>
                    <A href=move || format!("{}{}tab=graph", href("/investigate", &filter()), if filter_pairs(&filter()).is_empty() { "?" } else { "&" })
                        attr:id="tab-graph" attr:class=move || if graph_tab() { "tab active" } else { "tab" }>"Graph"</A>
                </nav>
            </header>
            <Transition fallback=|| view! { <p class="loading">"Drawing the graph…"</p> }>
                {move || Suspend::new(async move {
                    graph.await.map(|g| match g {
                        Ok(g) => view! { <GraphView graph=g filter=filter()/> }.into_any(),
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

/// A plain GET form asking for the summary (works before hydration).
#[component]
fn SummarizeForm(filter: EventFilter, count: u64) -> impl IntoView {
    let how = if count <= crate::investigate::SUMMARY_EVENT_LIMIT {
        format!("The {count} matching events go to the configured language model.")
    } else {
        format!("{count} events match: the model gets these counts, the newest failures and the 50 newest events.")
    };
    view! {
        <form method="get" action="/investigate" class="summarize-form" id="summarize-form">
            {filter_pairs(&filter).into_iter().map(|(k, v)| view! { <input type="hidden" name=k value=v.to_string()/> }).collect_view()}
            <input type="hidden" name="summarize" value="1"/>
            <button type="submit" id="summarize">"Summarize with AI"</button>
            <span class="muted">{how}</span>
        </form>
    }
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
                    let label = if v.value.is_empty() { "(none)".to_string() } else { crate::appnames::display(&v.value) };
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

/// The entity graph as SVG, laid out by the server; a node links to its events.
#[component]
fn GraphView(graph: EntityGraph, filter: EventFilter) -> impl IntoView {
    if graph.nodes.is_empty() {
        return view! { <p class="empty-state" id="graph-empty">"No events to draw."</p> }.into_any();
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
    let query = filter_pairs(&filter).iter().map(|(k, v)| format!("{k}={}&", encode(v))).collect::<String>();
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
            let title = format!("{} {}: {} events", n.kind, n.label, n.count);
            let class = format!("graph-node node-{}", n.kind);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_keep_the_search() {
        let filter = EventFilter { service: Some("Exchange".into()), search: Some("a b".into()), ..Default::default() };
        assert_eq!(investigate_href(&filter), "/investigate?service=Exchange&search=a%20b");
        assert_eq!(investigate_href(&EventFilter::default()), "/investigate");
        assert_eq!(narrowed(&filter, "result", "failure"), "/events?service=Exchange&result=failure&search=a%20b");
    }
}
