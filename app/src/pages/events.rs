//! The Events page: search and filters (all in the address, so a search can be bookmarked and
//! shared), facet-fed dropdowns, a histogram of the result, and the result newest first, paged
//! by cursor. The filter form is a plain GET form and paging is plain links, so the page works
//! before hydration and without JavaScript.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::components::ErrorBanner;
use crate::dto::{EventPage, EventSummary, FacetValue, Facets, Histogram};
use crate::query::EventFilter;
use crate::server::{event_facets, event_histogram, get_server_info, list_events};

/// The filter in the current address.
fn filter_from_query(query: &leptos_router::params::ParamsMap) -> EventFilter {
    let get = |k: &str| query.get(k).filter(|v| !v.trim().is_empty());
    EventFilter {
        tenant: get("tenant"),
        source: get("source"),
        service: get("service"),
        operation: get("operation"),
        actor: get("actor"),
        target: get("target"),
        result: get("result"),
        severity: get("severity"),
        min_severity: get("min_severity"),
        tag: get("tag"),
        start: get("start"),
        end: get("end"),
        last: get("last"),
        search: get("search"),
    }
}

/// The address of the Events page for `filter`, plus a cursor.
fn events_href(filter: &EventFilter, cursor: Option<&str>) -> String {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    let fields = [
        ("tenant", &filter.tenant),
        ("source", &filter.source),
        ("service", &filter.service),
        ("operation", &filter.operation),
        ("actor", &filter.actor),
        ("target", &filter.target),
        ("result", &filter.result),
        ("severity", &filter.severity),
        ("min_severity", &filter.min_severity),
        ("tag", &filter.tag),
        ("start", &filter.start),
        ("end", &filter.end),
        ("last", &filter.last),
        ("search", &filter.search),
    ];
    for (k, v) in fields.iter() {
        if let Some(v) = v {
            pairs.push((k, v));
        }
    }
    if let Some(c) = cursor {
        pairs.push(("cursor", c));
    }
    if pairs.is_empty() {
        return "/events".into();
    }
    let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
    format!("/events?{}", query.join("&"))
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The Events page.
#[component]
pub fn EventsPage() -> impl IntoView {
    let query = use_query_map();
    let filter = move || filter_from_query(&query.read());
    let cursor = move || query.read().get("cursor");
    let page = Resource::new(move || (cursor(), filter()), |(cursor, filter)| list_events(cursor, None, Some(filter)));
    let facets = Resource::new(filter, |filter| event_facets(Some(filter)));
    let histogram = Resource::new(filter, |filter| event_histogram(Some(filter)));
    let info = Resource::new(|| (), |_| get_server_info());

    view! {
        <section class="page events-page">
            <header class="page-header">
                <h1>"Events"</h1>
                <p class="subtitle">"Audit records from every connected tenant and source, newest first."</p>
            </header>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    info.await.ok().filter(|i| i.demo).map(|_| view! {
                        <div class="demo-banner" id="demo-banner" role="note">
                            <strong>"Demo data. "</strong>
                            "These events come from AOC's built-in Microsoft 365 simulator, not from a real tenant."
                        </div>
                    })
                })}
            </Transition>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let facets = facets.await.unwrap_or_default();
                    view! { <FilterForm filter=filter() facets/> }
                })}
            </Transition>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    histogram.await.ok().map(|h| view! { <HistogramBars histogram=h/> })
                })}
            </Transition>
            <Transition fallback=|| view! { <p class="loading">"Loading events…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) => view! {
                            <EventTable page=page is_first=cursor().is_none() filter=filter()/>
                        }.into_any(),
                        Err(error) => view! { <ErrorBanner error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn FacetSelect(
    name: &'static str,
    label: &'static str,
    values: Vec<FacetValue>,
    selected: Option<String>,
) -> impl IntoView {
    let selected = selected.unwrap_or_default();
    let mut values = values;
    if !selected.is_empty() && !values.iter().any(|v| v.value == selected) {
        values.insert(0, FacetValue { value: selected.clone(), count: 0 });
    }
    view! {
        <label class="filter">
            <span>{label}</span>
            <select name=name id=format!("filter-{name}")>
                <option value="">"Any"</option>
                {values.into_iter().filter(|v| !v.value.is_empty()).map(|v| {
                    let is_selected = v.value == selected;
                    let text = format!("{} ({})", v.value, v.count);
                    view! { <option value=v.value selected=is_selected>{text}</option> }
                }).collect_view()}
            </select>
        </label>
    }
}

#[component]
fn FilterForm(filter: EventFilter, facets: Facets) -> impl IntoView {
    let last = filter.last.clone().unwrap_or_default();
    let ranges = [
        ("", "All time"),
        ("1h", "Last hour"),
        ("24h", "Last 24 hours"),
        ("7d", "Last 7 days"),
        ("30d", "Last 30 days"),
    ];
    view! {
        <form class="filters" method="get" action="/events" id="event-filters" role="search">
            <label class="filter search">
                <span>"Search"</span>
                <input type="search" name="search" id="filter-search" value=filter.search.clone().unwrap_or_default()
                    placeholder="any value, \"a phrase\", field:value, -exclude"/>
            </label>
            <FacetSelect name="service" label="Service" values=facets.service selected=filter.service.clone()/>
            <FacetSelect name="operation" label="Operation" values=facets.operation selected=filter.operation.clone()/>
            <FacetSelect name="result" label="Result" values=facets.result selected=filter.result.clone()/>
            <FacetSelect name="severity" label="Severity" values=facets.severity selected=filter.severity.clone()/>
            <FacetSelect name="actor" label="Actor" values=facets.actor selected=filter.actor.clone()/>
            <label class="filter">
                <span>"Time"</span>
                <select name="last" id="filter-last">
                    {ranges.into_iter().map(|(value, text)| {
                        let is_selected = value == last;
                        view! { <option value=value selected=is_selected>{text}</option> }
                    }).collect_view()}
                </select>
            </label>
            {filter.tag.clone().map(|t| view! { <input type="hidden" name="tag" value=t/> })}
            {filter.tenant.clone().map(|t| view! { <input type="hidden" name="tenant" value=t/> })}
            <div class="filter-actions">
                <button type="submit" id="filter-apply">"Apply"</button>
                <a href="/events" id="filter-clear">"Clear"</a>
                <a href=crate::pages::investigate::investigate_href(&filter) id="investigate-link">"Investigate this search"</a>
                <span class="muted" id="result-count">{format!("{} matching", facets.total)}</span>
            </div>
        </form>
    }
}

#[component]
fn HistogramBars(histogram: Histogram) -> impl IntoView {
    let max = histogram.buckets.iter().map(|b| b.count).max().unwrap_or(0).max(1);
    if histogram.buckets.is_empty() {
        return ().into_any();
    }
    view! {
        <div class="histogram" id="event-histogram" role="img" aria-label="Events over time">
            {histogram.buckets.into_iter().map(|b| {
                let height = (b.count as f64 / max as f64 * 100.0).max(if b.count > 0 { 2.0 } else { 0.0 });
                let title = format!("{}: {}", b.start.format("%Y-%m-%d %H:%M"), b.count);
                view! { <span class="bar" style=format!("height:{height:.1}%") title=title></span> }
            }).collect_view()}
        </div>
    }
    .into_any()
}

#[component]
fn EventTable(page: EventPage, is_first: bool, filter: EventFilter) -> impl IntoView {
    if page.items.is_empty() {
        let filtered = !filter.is_empty();
        return view! {
            <div class="empty-state" id="events-empty">
                {if filtered {
                    view! { <p>"No events match these filters."</p> }.into_any()
                } else {
                    view! {
                        <p>"No events stored yet."</p>
                        <p class="muted">"Events appear here once a tenant is connected and collection has run."</p>
                    }.into_any()
                }}
                {(!is_first).then(|| view! { <A href="/events">"Back to the newest events"</A> })}
            </div>
        }
        .into_any();
    }
    let next = page.next_cursor.clone().map(|c| events_href(&filter, Some(&c)));
    let newest = events_href(&filter, None);
    view! {
        <table class="events" id="events-table">
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
            <tbody>
                {page.items.into_iter().map(|event| view! { <EventRow event/> }).collect_view()}
            </tbody>
        </table>
        <nav class="pager" aria-label="Pages">
            {(!is_first).then(|| view! { <A href=newest attr:id="page-newest">"« Newest"</A> })}
            {next.map(|href| view! { <A href=href attr:id="page-older">"Older »"</A> })}
        </nav>
    }
    .into_any()
}

#[component]
pub fn EventRow(event: EventSummary) -> impl IntoView {
    let severity = event.severity.as_str();
    let time = event.occurred_at.format("%Y-%m-%d %H:%M:%S").to_string();
    let actor = crate::appnames::display(&event.actor.clone().unwrap_or_default());
    let result_class = format!("result result-{}", event.result.to_lowercase());
    let href = format!("/events/{}", event.id);
    view! {
        <tr data-event-id=event.id.to_string() data-record-id=event.record_id.clone()>
            <td class="time"><A href=href><time datetime=event.occurred_at.to_rfc3339()>{time}</time></A></td>
            <td><span class=format!("severity severity-{severity}")>{severity}</span></td>
            <td>{event.service}</td>
            <td class="operation">{event.operation}</td>
            <td class="actor" title=event.actor_ip.unwrap_or_default()>{actor}</td>
            <td><span class=result_class>{event.result}</span></td>
            <td class="summary">
                {event.summary}
                {event.tags.into_iter().map(|t| view! { <span class="tag">{t}</span> }).collect_view()}
                {event.normalize_error.then(|| view! {
                    <span class="flag" title="Stored raw: this record could not be normalized">" raw only"</span>
                })}
            </td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_the_filter_and_encode_it() {
        let filter =
            EventFilter { service: Some("Exchange".into()), search: Some("a&b \"c\"".into()), ..Default::default() };
        assert_eq!(events_href(&filter, Some("1.2")), "/events?service=Exchange&search=a%26b%20%22c%22&cursor=1.2");
        assert_eq!(events_href(&EventFilter::default(), None), "/events");
    }
}
