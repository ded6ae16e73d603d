//! The Events page: search and filters (all in the address, so a search can be bookmarked and
//! shared), facet-fed dropdowns, a histogram of the result, and the result newest first, paged
//! by cursor. The filter form is a plain GET form and paging is plain links, so the page works
//! before hydration and without JavaScript.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use serde::{Deserialize, Serialize};

use crate::components::{ErrorBanner, FacetItem, FacetList, FacetSearchBox};
use crate::dto::{EventSummary, FacetValue, Facets, Histogram};
use crate::error::AppError;
use crate::query::EventFilter;
use crate::saved::SavedSearch;
use crate::server::{
    event_facets, event_histogram, event_table, facet_values, get_server_info, list_saved_searches, DeleteSavedSearch,
    EditEventColumns, EventTablePage, SaveSearch, TagEvents,
};

/// The filter in the current address. An absolute start wins over a relative range (the form
/// can send both before hydration).
pub(crate) fn filter_from_query(query: &leptos_router::params::ParamsMap) -> EventFilter {
    let get = |k: &str| query.get(k).filter(|v| !v.trim().is_empty());
    let start = get("start");
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
        last: if start.is_some() { None } else { get("last") },
        start,
        end: get("end"),
        search: get("search"),
    }
}

/// The filter as `(parameter, value)` pairs, in the order of the form.
pub(crate) fn filter_pairs(filter: &EventFilter) -> Vec<(&'static str, String)> {
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
    fields.into_iter().filter_map(|(k, v)| v.clone().map(|v| (k, v))).collect()
}

/// `k=v&...`, percent-encoded.
pub(crate) fn query_string(pairs: &[(&str, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&")
}

/// The address of the Events page for `filter`, plus a cursor.
pub(crate) fn events_href(filter: &EventFilter, cursor: Option<&str>) -> String {
    let mut pairs = filter_pairs(filter);
    if let Some(c) = cursor {
        pairs.push(("cursor", c.to_string()));
    }
    if pairs.is_empty() {
        return "/events".into();
    }
    format!("/events?{}", query_string(&pairs))
}

/// The REST export of every event matching `filter` (`csv` or `jsonl`).
fn export_href(filter: &EventFilter, format: &str) -> String {
    let mut pairs = filter_pairs(filter);
    pairs.push(("format", format.to_string()));
    format!("/api/events/export?{}", query_string(&pairs))
}

/// `field:value` in the query language, quoted when needed; `None` when the value cannot be
/// written (it holds a double quote or a control character).
pub(crate) fn field_term(field: &str, value: &str) -> Option<String> {
    if value.is_empty() || value.contains('"') || value.chars().any(char::is_control) {
        return None;
    }
    if value.chars().any(char::is_whitespace) {
        Some(format!("{field}:\"{value}\""))
    } else {
        Some(format!("{field}:{value}"))
    }
}

/// `filter` with `term` added to its search.
pub(crate) fn with_search_term(filter: &EventFilter, term: &str) -> EventFilter {
    let search = match filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(existing) => format!("{existing} {term}"),
        None => term.to_string(),
    };
    EventFilter { search: Some(search), ..filter.clone() }
}

/// Percent-encodes a query value.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// What a `datetime-local` input shows for a time bound of the address (UTC, to the minute).
fn picker_value(text: &Option<String>, parameter: &str) -> String {
    match text.as_deref() {
        None => String::new(),
        Some(t) => match crate::query::parse_time(parameter, t) {
            Ok(time) => time.format("%Y-%m-%dT%H:%M").to_string(),
            Err(_) => t.to_string(),
        },
    }
}

/// The Events page.
#[component]
pub fn EventsPage() -> impl IntoView {
    let query = use_query_map();
    let filter = move || filter_from_query(&query.read());
    let cursor = move || query.read().get("cursor");
    let bulk = ServerAction::<TagEvents>::new();
    let edit_columns = ServerAction::<EditEventColumns>::new();
    // The chooser is drawn again with each page; its open state outlives that.
    let chooser_open = RwSignal::new(false);
    let page = Resource::new(
        move || (cursor(), filter(), bulk.version().get(), edit_columns.version().get()),
        |(cursor, filter, _, _)| event_table(cursor, Some(filter)),
    );
    let facets = Resource::new(filter, |filter| event_facets(Some(filter)));
    // A search within one facet's values (`facet=actor&facet_q=adm`), from the facet list's box.
    let facet_search = move || {
        let q = query.read();
        match (q.get("facet"), q.get("facet_q")) {
            (Some(field), Some(text)) if !text.trim().is_empty() => Some((field, text)),
            _ => None,
        }
    };
    let searched = Resource::new(
        move || (filter(), facet_search()),
        |(filter, search)| async move {
            match search {
                Some((field, text)) => {
                    let values = facet_values(Some(filter), field.clone(), text.clone()).await;
                    Some(FacetSearched { field, text, values })
                }
                None => None,
            }
        },
    );
    let histogram = Resource::new(filter, |filter| event_histogram(Some(filter)));
    let info = Resource::new(|| (), |_| get_server_info());
    keyboard_shortcuts();

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
            <Transition fallback=|| view! { <div class="histogram-placeholder"></div> }>
                {move || Suspend::new(async move {
                    histogram.await.ok().map(|h| view! { <HistogramBars histogram=h filter=filter()/> })
                })}
            </Transition>
            <div class="events-layout">
                <div class="events-side">
                    <SavedSearches filter=Signal::derive(filter)/>
                    <Transition fallback=|| view! { <aside class="facets" aria-label="Fields"></aside> }>
                        {move || Suspend::new(async move {
                            let facets = facets.await.unwrap_or_default();
                            let searched = searched.await;
                            view! { <FacetSidebar filter=filter() facets searched/> }
                        })}
                    </Transition>
                </div>
                <div class="events-results">
                    <Transition fallback=|| view! { <p class="loading">"Loading events…"</p> }>
                        {move || Suspend::new(async move {
                            let can_tag = info.await.ok().is_some_and(|i| i.caller.can(crate::auth::Permission::TagEvents));
                            match page.await {
                                Ok(table) => view! {
                                    <ColumnChooser table=table.clone() action=edit_columns open=chooser_open/>
                                    <EventTable table is_first=cursor().is_none() filter=filter() bulk can_tag/>
                                }.into_any(),
                                Err(error) => view! { <ErrorBanner error/> }.into_any(),
                            }
                        })}
                    </Transition>
                </div>
            </div>
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
        values.insert(0, FacetValue { value: selected.clone(), count: 0, label: None });
    }
    view! {
        <label class="filter">
            <span>{label}</span>
            <select name=name id=format!("filter-{name}")>
                <option value="">"Any"</option>
                {values.into_iter().filter(|v| !v.value.is_empty()).map(|v| {
                    let is_selected = v.value == selected;
                    let text = format!("{} ({})", v.label.as_deref().unwrap_or(&v.value), v.count);
                    view! { <option value=v.value selected=is_selected>{text}</option> }
                }).collect_view()}
            </select>
        </label>
    }
}

/// A select over fixed choices.
#[component]
fn ChoiceSelect(
    name: &'static str,
    label: &'static str,
    choices: &'static [(&'static str, &'static str)],
    selected: Option<String>,
) -> impl IntoView {
    let selected = selected.unwrap_or_default();
    view! {
        <label class="filter">
            <span>{label}</span>
            <select name=name id=format!("filter-{name}")>
                {choices.iter().map(|(value, text)| {
                    let is_selected = *value == selected;
                    view! { <option value=*value selected=is_selected>{*text}</option> }
                }).collect_view()}
            </select>
        </label>
    }
}

/// A free-text filter field.
#[component]
fn TextFilter(
    name: &'static str,
    label: &'static str,
    value: Option<String>,
    #[prop(optional)] placeholder: &'static str,
    #[prop(optional)] list: Option<&'static str>,
) -> impl IntoView {
    view! {
        <label class="filter">
            <span>{label}</span>
            <input type="text" name=name id=format!("filter-{name}") value=value.unwrap_or_default()
                placeholder=placeholder list=list maxlength="512"/>
        </label>
    }
}

const SOURCES: &[(&str, &str)] = &[
    ("", "Any"),
    ("unified", "Unified audit log"),
    ("directory", "Directory audit"),
    ("signin", "Sign-ins"),
    ("intune", "Intune"),
];
const SEVERITIES: &[(&str, &str)] =
    &[("", "Any"), ("info", "info"), ("low", "low"), ("medium", "medium"), ("high", "high"), ("critical", "critical")];
const RANGES: &[(&str, &str)] = &[
    ("", "All time / custom"),
    ("15m", "Last 15 minutes"),
    ("1h", "Last hour"),
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("90d", "Last 90 days"),
];

#[component]
fn FilterForm(filter: EventFilter, facets: Facets) -> impl IntoView {
    let actors = facets.actor.clone();
    let export_csv = export_href(&filter, "csv");
    let export_jsonl = export_href(&filter, "jsonl");
    let count = match facets.sample {
        Some(_) => format!("{} matching (values counted over the newest)", facets.total),
        None => format!("{} matching", facets.total),
    };
    view! {
        <form class="filters" method="get" action="/events" id="event-filters" role="search" aria-label="Event filters">
            <label class="filter search">
                <span>"Search"</span>
                <input type="search" name="search" id="filter-search" value=filter.search.clone().unwrap_or_default()
                    aria-keyshortcuts="/"
                    placeholder="words, forward*, \"a phrase\", field:value, -exclude"/>
            </label>
            <ChoiceSelect name="last" label="Time range" choices=RANGES selected=filter.last.clone()/>
            <label class="filter">
                <span>"From (UTC)"</span>
                <input type="datetime-local" name="start" id="filter-start" value=picker_value(&filter.start, "start")/>
            </label>
            <label class="filter">
                <span>"To (UTC)"</span>
                <input type="datetime-local" name="end" id="filter-end" value=picker_value(&filter.end, "end")/>
            </label>
            <ChoiceSelect name="source" label="Source" choices=SOURCES selected=filter.source.clone()/>
            <FacetSelect name="service" label="Service" values=facets.service selected=filter.service.clone()/>
            <FacetSelect name="operation" label="Operation" values=facets.operation selected=filter.operation.clone()/>
            <FacetSelect name="result" label="Result" values=facets.result selected=filter.result.clone()/>
            <ChoiceSelect name="severity" label="Severity" choices=SEVERITIES selected=filter.severity.clone()/>
            <ChoiceSelect name="min_severity" label="Minimum severity" choices=SEVERITIES selected=filter.min_severity.clone()/>
            <TextFilter name="actor" label="Actor" value=filter.actor.clone() placeholder="UPN, name, app id; * wildcard" list="actor-values"/>
            <datalist id="actor-values">
                {actors.into_iter().filter(|v| !v.value.is_empty()).map(|v| view! { <option value=v.value></option> }).collect_view()}
            </datalist>
            <TextFilter name="target" label="Target" value=filter.target.clone() placeholder="part of a target"/>
            <TextFilter name="tag" label="Tag" value=filter.tag.clone() placeholder="investigating"/>
            <TextFilter name="tenant" label="Tenant id" value=filter.tenant.clone() placeholder="GUID"/>
            <div class="filter-actions">
                <button type="submit" id="filter-apply" class="primary">"Apply"</button>
                <a href="/events" id="filter-clear">"Clear"</a>
                <a href=crate::pages::investigate::investigate_href(&filter) id="investigate-link">"Investigate this search"</a>
                <a href=crate::pages::investigate::map_href(&filter) id="map-link">"Map"</a>
                <span class="muted" id="result-count">{count}</span>
                <span class="spacer"></span>
                <a href=export_csv id="export-csv" class="button" download="">"Export CSV"</a>
                <a href=export_jsonl id="export-jsonl" class="button" download="">"Export JSON lines"</a>
            </div>
        </form>
    }
}

/// Saved searches: the caller's own and the shared ones as links to the Events page, a form that
/// saves the current search under a name (optionally shared), and delete buttons where allowed.
/// Plain server-function forms, so they work before hydration too.
#[component]
fn SavedSearches(filter: Signal<EventFilter>) -> impl IntoView {
    let save = ServerAction::<SaveSearch>::new();
    let remove = ServerAction::<DeleteSavedSearch>::new();
    let list = Resource::new(move || (save.version().get(), remove.version().get()), |_| list_saved_searches());
    let error = move || {
        save.value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| remove.value().get().and_then(|r| r.err()))
            .map(|e| e.message)
    };
    view! {
        <section class="saved-searches" id="saved-searches" aria-labelledby="saved-searches-heading">
            <h3 id="saved-searches-heading">"Saved searches"</h3>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(items) if items.is_empty() => view! {
                            <p class="muted" id="saved-searches-empty">"None yet: name the current search below."</p>
                        }.into_any(),
                        Ok(items) => view! { <SavedSearchList items remove/> }.into_any(),
                        Err(error) => view! { <ErrorBanner error/> }.into_any(),
                    }
                })}
            </Transition>
            <ActionForm action=save attr:id="save-search-form" attr:class="save-search">
                {move || filter_pairs(&filter.get()).into_iter().map(|(k, v)| view! {
                    <input type="hidden" name=format!("filter[{k}]") value=v/>
                }).collect_view()}
                <label class="visually-hidden" for="save-search-name">"Name of the current search"</label>
                <input type="text" name="name" id="save-search-name" required maxlength="100" placeholder="name this search"/>
                <label class="save-search-shared">
                    <input type="checkbox" name="shared" value="true" id="save-search-shared"/>" shared"
                </label>
                <button type="submit" id="save-search">"Save"</button>
            </ActionForm>
            {move || error().map(|m| view! { <p class="error-banner" role="alert" id="saved-search-error">{m}</p> })}
        </section>
    }
}

#[component]
fn SavedSearchList(items: Vec<SavedSearch>, remove: ServerAction<DeleteSavedSearch>) -> impl IntoView {
    view! {
        <ul id="saved-search-list">
            {items.into_iter().map(|s| {
                let owner = format!("saved by {}", s.owner_name);
                let delete_label = format!("Delete the saved search {}", s.name);
                view! {
                    <li data-saved-id=s.id.to_string()>
                        <a class="saved-link" href=s.link title=owner>{s.name}</a>
                        {s.shared.then(|| view! { <span class="tag" title="Everyone sees this search">"shared"</span> })}
                        {s.can_delete.then(|| view! {
                            <ActionForm action=remove attr:class="inline-form saved-delete-form">
                                <input type="hidden" name="id" value=s.id.to_string()/>
                                <button type="submit" class="link danger saved-delete" aria-label=delete_label title="Delete">"×"</button>
                            </ActionForm>
                        })}
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

/// A search within one facet's values and what it found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct FacetSearched {
    field: String,
    text: String,
    values: Result<Vec<FacetValue>, AppError>,
}

/// The facet sidebar: per field the top values with counts under every other filter; a value
/// links to the search narrowed to it (or, when chosen, widened again), `−` excludes it; under
/// each list a box searches within its values (the whole result, not the sample).
#[component]
fn FacetSidebar(filter: EventFilter, facets: Facets, searched: Option<FacetSearched>) -> impl IntoView {
    let build = |field: &'static str, values: Vec<FacetValue>, chosen: Option<String>| -> Vec<FacetItem> {
        values
            .into_iter()
            .map(|v| {
                let active = chosen.as_deref() == Some(v.value.as_str());
                let mut narrowed = filter.clone();
                let slot = match field {
                    "service" => &mut narrowed.service,
                    "operation" => &mut narrowed.operation,
                    "result" => &mut narrowed.result,
                    "actor" => &mut narrowed.actor,
                    _ => &mut narrowed.severity,
                };
                *slot = if active { None } else { Some(v.value.clone()) };
                let exclude_href = field_term(field, &v.value)
                    .map(|t| events_href(&with_search_term(&filter, &format!("-{t}")), None));
                FacetItem {
                    filter_href: events_href(&narrowed, None),
                    exclude_href,
                    active,
                    label: v.label,
                    value: v.value,
                    count: v.count,
                }
            })
            .collect()
    };
    let mut search_error = None;
    let mut values_of = |field: &'static str, top: Vec<FacetValue>| match &searched {
        Some(s) if s.field == field => match &s.values {
            Ok(found) => found.clone(),
            Err(e) => {
                search_error = Some(e.clone());
                top
            }
        },
        _ => top,
    };
    let (service_values, operation_values, result_values, actor_values) = (
        values_of("service", facets.service),
        values_of("operation", facets.operation),
        values_of("result", facets.result),
        values_of("actor", facets.actor),
    );
    let service = build("service", service_values, filter.service.clone());
    let operation = build("operation", operation_values, filter.operation.clone());
    let result = build("result", result_values, filter.result.clone());
    let severity = build("severity", facets.severity, filter.severity.clone());
    let actor = build("actor", actor_values, filter.actor.clone());
    let search_box = |field: &'static str| FacetSearchBox {
        field,
        hidden: filter_pairs(&filter),
        searching: searched.as_ref().filter(|s| s.field == field && s.values.is_ok()).map(|s| s.text.clone()),
        clear_href: events_href(&filter, None),
    };
    view! {
        <aside class="facets" id="event-facets" aria-label="Fields">
            {search_error.map(|error| view! { <ErrorBanner error/> })}
            <FacetList id="facet-service".into() title="Service" items=service search=search_box("service")/>
            <FacetList id="facet-operation".into() title="Operation" items=operation search=search_box("operation")/>
            <FacetList id="facet-result".into() title="Result" items=result search=search_box("result")/>
            <FacetList id="facet-severity".into() title="Severity" items=severity/>
            <FacetList id="facet-actor".into() title="Actor" items=actor search=search_box("actor")/>
        </aside>
    }
}

/// The histogram: every bar is a link that narrows the time range to its bucket (a keyboard
/// and no-JavaScript control), its count in the title and the accessible name. Once hydrated,
/// dragging across bars narrows the range to all of them.
#[component]
fn HistogramBars(histogram: Histogram, filter: EventFilter) -> impl IntoView {
    let max = histogram.buckets.iter().map(|b| b.count).max().unwrap_or(0).max(1);
    if histogram.buckets.is_empty() {
        return view! { <div class="histogram-placeholder"></div> }.into_any();
    }
    let width = chrono::Duration::seconds(histogram.bucket_seconds.max(60));
    let first = histogram.buckets.first().map(|b| b.start.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default();
    let last =
        histogram.buckets.last().map(|b| (b.start + width).format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default();
    let starts: Vec<chrono::DateTime<chrono::Utc>> = histogram.buckets.iter().map(|b| b.start).collect();
    let range_href = {
        let filter = filter.clone();
        move |from: usize, to: usize| {
            let (a, b) = (from.min(to), from.max(to));
            let narrowed = EventFilter {
                start: starts.get(a).map(|t| t.format("%Y-%m-%dT%H:%M").to_string()),
                end: starts.get(b).map(|t| (*t + width).format("%Y-%m-%dT%H:%M").to_string()),
                last: None,
                ..filter.clone()
            };
            events_href(&narrowed, None)
        }
    };
    // (first bar pressed, bar under the pointer) while dragging.
    let drag = RwSignal::new(None::<(usize, usize)>);
    let navigate = leptos_router::hooks::use_navigate();
    let finish = {
        let range_href = range_href.clone();
        move |_| {
            if let Some((a, b)) = drag.get_untracked() {
                drag.set(None);
                // One bar is a click: its own link handles it.
                if a != b {
                    navigate(&range_href(a, b), Default::default());
                }
            }
        }
    };
    view! {
        <figure class="histogram-figure">
            <nav class="histogram" id="event-histogram" aria-label="Events over time: choose a bar to narrow the time range"
                on:mouseup=finish on:mouseleave=move |_| drag.set(None)>
                {histogram.buckets.into_iter().enumerate().map(|(i, b)| {
                    let height = (b.count as f64 / max as f64 * 100.0).max(if b.count > 0 { 2.0 } else { 0.0 });
                    let end = b.start + width;
                    let title = format!("{} – {} UTC: {} events", b.start.format("%Y-%m-%d %H:%M"), end.format("%H:%M"), b.count);
                    let chosen = move || drag.get().is_some_and(|(a, z)| a.min(z) <= i && i <= a.max(z));
                    view! {
                        <a class="bar" href=range_href(i, i) title=title.clone() aria-label=title
                            class:chosen=chosen
                            data-start=b.start.to_rfc3339() data-count=b.count.to_string()
                            on:mousedown=move |ev| { ev.prevent_default(); drag.set(Some((i, i))); }
                            on:mouseenter=move |_| drag.update(|d| if let Some((_, z)) = d { *z = i })>
                            <span class="fill" style=format!("height:{height:.1}%")></span>
                        </a>
                    }
                }).collect_view()}
            </nav>
            <figcaption class="muted histogram-axis"><span>{first}</span><span>{last}" UTC"</span></figcaption>
        </figure>
    }
    .into_any()
}

/// Keyboard use of the Events page once hydrated: `/` focuses the search, `j`/`k` move through
/// the rows (focusing each row's link, so `Enter` opens it), `t` tags the checked rows (or the
/// row the keyboard is on) by focusing the bulk tag field, `Esc` leaves a field or the list.
fn keyboard_shortcuts() {
    use leptos::wasm_bindgen::JsCast;
    use leptos::web_sys::{HtmlElement, KeyboardEvent};

    let current = std::rc::Rc::new(std::cell::Cell::new(None::<usize>));
    let handle = window_event_listener(leptos::ev::keydown, move |ev: KeyboardEvent| {
        if ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
            return;
        }
        let doc = document();
        let typing = ev
            .target()
            .and_then(|t| t.dyn_into::<leptos::web_sys::Element>().ok())
            .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
        let focus = |id: &str| {
            if let Some(el) = doc.get_element_by_id(id) {
                el.unchecked_into::<HtmlElement>().focus().ok();
                true
            } else {
                false
            }
        };
        let mark = |i: Option<usize>, on: bool| {
            if let Some(row) = i.and_then(|i| doc.get_element_by_id(&format!("event-row-{i}"))) {
                if on {
                    row.set_attribute("data-selected", "true").ok();
                } else {
                    row.remove_attribute("data-selected").ok();
                }
            }
        };
        match ev.key().as_str() {
            "Escape" => {
                if let Some(active) = doc.active_element() {
                    active.unchecked_into::<HtmlElement>().blur().ok();
                }
                mark(current.get(), false);
                current.set(None);
            }
            _ if typing => {}
            "/" => {
                ev.prevent_default();
                focus("filter-search");
            }
            "t" => {
                // Tag the checked rows, or else the row the keyboard is on.
                let none_checked = doc.query_selector("input.row-select:checked").ok().flatten().is_none();
                if let Some(i) = current.get().filter(|_| none_checked) {
                    if let Some(el) = doc.get_element_by_id(&format!("event-select-{i}")) {
                        el.unchecked_into::<leptos::web_sys::HtmlInputElement>().set_checked(true);
                    }
                }
                if focus("bulk-tag-input") {
                    ev.prevent_default();
                }
            }
            key @ ("j" | "k") => {
                let next = match (current.get(), key) {
                    (None, _) => 0,
                    (Some(i), "j") => i + 1,
                    (Some(i), _) => i.saturating_sub(1),
                };
                if focus(&format!("event-link-{next}")) {
                    ev.prevent_default();
                    mark(current.get(), false);
                    mark(Some(next), true);
                    current.set(Some(next));
                }
            }
            _ => {}
        }
    });
    on_cleanup(move || handle.remove());
}

/// The column chooser: the columns after the time in order, each movable left or right and
/// removable, a field to add any normalized or flattened field (the page's field names offered),
/// and a way back to the defaults. A form of submit buttons, so it works without JavaScript.
#[component]
fn ColumnChooser(table: EventTablePage, action: ServerAction<EditEventColumns>, open: RwSignal<bool>) -> impl IntoView {
    let columns = table.columns.columns;
    let last = columns.len().saturating_sub(1);
    let offered: Vec<String> = crate::columns::BUILTIN
        .iter()
        .map(|(k, _)| k.to_string())
        .chain(table.fields)
        .filter(|f| !columns.contains(f))
        .collect();
    let outcome = move || {
        action.value().get().and_then(|r| r.err()).map(|e| {
            view! { <p class="error-banner" role="alert" id="column-error">{e.message}</p> }
        })
    };
    view! {
        <details class="column-chooser" id="column-chooser" prop:open=move || open.get()
            on:toggle=move |ev| {
                use leptos::wasm_bindgen::JsCast;
                if let Some(el) = ev.target().and_then(|t| t.dyn_into::<leptos::web_sys::HtmlDetailsElement>().ok()) {
                    open.set(el.open());
                }
            }>
            <summary>"Columns"</summary>
            <ActionForm action attr:id="column-form" attr:class="column-form">
                <div class="toolbar">
                    <label for="column-add-input">"Add a column"</label>
                    <input type="text" id="column-add-input" name="column" list="column-choices" maxlength="200"
                        placeholder="Parameters.ForwardTo" autocomplete="off"/>
                    <datalist id="column-choices">
                        {offered.into_iter().map(|f| view! { <option value=f></option> }).collect_view()}
                    </datalist>
                    <button type="submit" name="op" value="add" id="column-add">"Add"</button>
                    <button type="submit" name="op" value="reset" id="column-reset">"Default columns"</button>
                </div>
                <p class="muted">"The time is always the first column. Your choice is remembered for you."</p>
                <ol class="column-list" id="column-list">
                    {columns.into_iter().enumerate().map(|(i, c)| {
                        let name = crate::columns::heading(&c);
                        view! {
                            <li data-column=c>
                                <span class="column-name">{name.clone()}</span>
                                <button type="submit" name="op" value=format!("left:{i}") disabled=i == 0
                                    aria-label=format!("Move {name} left")>"←"</button>
                                <button type="submit" name="op" value=format!("right:{i}") disabled=i == last
                                    aria-label=format!("Move {name} right")>"→"</button>
                                <button type="submit" name="op" value=format!("remove:{i}")
                                    aria-label=format!("Remove {name}")>"✕"</button>
                            </li>
                        }
                    }).collect_view()}
                </ol>
                {outcome}
            </ActionForm>
        </details>
    }
}

#[component]
fn EventTable(
    table: EventTablePage,
    is_first: bool,
    filter: EventFilter,
    bulk: ServerAction<TagEvents>,
    can_tag: bool,
) -> impl IntoView {
    let page = table.page;
    let columns = table.columns.columns;
    let with_fields = columns.iter().any(|c| !crate::columns::is_builtin(c));
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
    let bulk_result = move || {
        bulk.value().get().map(|r| match r {
            Ok(n) => view! { <span class="muted" role="status" id="bulk-tag-result">{format!("Tagged {n} event(s).")}</span> }.into_any(),
            Err(e) => view! { <span class="error-banner" role="alert" id="bulk-tag-result">{e.message}</span> }.into_any(),
        })
    };
    view! {
        {can_tag.then(|| view! {
            <ActionForm action=bulk attr:id="bulk-tag-form" attr:class="toolbar bulk-tag">
                <label for="bulk-tag-input">"Tag the selected events"</label>
                <input type="text" name="tag" id="bulk-tag-input" list="bulk-suggested-tags" maxlength="64" required
                    placeholder="investigating" aria-keyshortcuts="t"/>
                <datalist id="bulk-suggested-tags">
                    {crate::dto::SUGGESTED_TAGS.iter().map(|t| view! { <option value=*t></option> }).collect_view()}
                </datalist>
                <button type="submit" id="bulk-tag-apply">"Tag selected"</button>
                {bulk_result}
            </ActionForm>
        })}
        <table class="events" class:with-fields=with_fields id="events-table">
            <thead>
                <tr>
                    {can_tag.then(|| view! { <th scope="col" class="select"><span class="visually-hidden">"Select"</span></th> })}
                    <th scope="col">"Time (UTC)"</th>
                    {columns.iter().map(|c| {
                        let class = if crate::columns::is_builtin(c) { "" } else { "field-column" };
                        view! { <th scope="col" class=class data-column=c.clone()>{crate::columns::heading(c)}</th> }
                    }).collect_view()}
                </tr>
            </thead>
            <tbody>
                {page.items.into_iter().enumerate().map(|(i, event)| {
                    // Rows are numbered for the keyboard either way; the checkbox needs tagging.
                    view! { <EventRow event index=i selectable=can_tag columns=columns.clone()/> }
                }).collect_view()}
            </tbody>
        </table>
        <nav class="pager" aria-label="Pages">
            {(!is_first).then(|| view! { <A href=newest attr:id="page-newest">"« Newest"</A> })}
            {next.map(|href| view! { <A href=href attr:id="page-older">"Older »"</A> })}
        </nav>
    }
    .into_any()
}

/// One event as a table row; `index` (its place on the page) names the row and its link for
/// the keyboard shortcuts and gives it a checkbox for bulk tagging (part of the form
/// `bulk-tag-form`). Its *Details* expand in place: the fields the list has, and once hydrated
/// the event's flattened fields, loaded when first opened.
#[component]
pub fn EventRow(
    event: EventSummary,
    #[prop(optional)] index: Option<usize>,
    #[prop(optional)] selectable: bool,
    /// The columns after the time (the defaults when not given).
    #[prop(optional)]
    columns: Option<Vec<String>>,
) -> impl IntoView {
    let columns = columns.unwrap_or_else(crate::columns::default_columns);
    let severity = event.severity.as_str();
    let time = event.occurred_at.format("%Y-%m-%d %H:%M:%S").to_string();
    let actor =
        event.actor_name.clone().unwrap_or_else(|| crate::appnames::display(&event.actor.clone().unwrap_or_default()));
    let result_class = format!("result result-{}", event.result.to_lowercase());
    let href = format!("/events/{}", event.id);
    let id = event.id;
    let select_label = format!("Select the event of {time}");
    let facts: Vec<(&'static str, String)> = vec![
        ("Tenant", event.tenant_id.clone()),
        ("Source", event.source.clone()),
        ("Targets", event.targets.clone().unwrap_or_default()),
        ("Actor IP", event.actor_ip.clone().unwrap_or_default()),
        ("Record id", event.record_id.clone()),
    ];
    let detail = RwSignal::new(None::<Result<crate::dto::EventDetail, crate::error::AppError>>);
    let load = move |_| {
        if detail.get_untracked().is_none() {
            leptos::task::spawn_local(async move { detail.set(Some(crate::server::get_event(id).await)) });
        }
    };
    // The *Details* expander sits in the summary's cell, or else the last one.
    let expander_at = columns.iter().position(|c| c == "summary").or_else(|| columns.len().checked_sub(1));
    let expander = move |href: String| {
        let facts = facts.clone();
        view! {
            <details class="row-more" on:toggle=load>
                <summary>"Details"</summary>
                <dl class="fields row-fields">
                    {facts.into_iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}
                </dl>
                {move || detail.get().map(|loaded| match loaded {
                    Ok(d) => view! {
                        <dl class="fields row-fields row-flattened">
                            {d.flattened.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}
                        </dl>
                    }.into_any(),
                    Err(error) => view! { <ErrorBanner error/> }.into_any(),
                })}
                <a href=href class="row-open">"Open the event"</a>
            </details>
        }
    };
    view! {
        <tr data-event-id=event.id.to_string() data-record-id=event.record_id.clone() id=index.map(|i| format!("event-row-{i}"))>
            {index.filter(|_| selectable).map(|i| view! {
                <td class="select">
                    <input type="checkbox" class="row-select" form="bulk-tag-form" name=format!("ids[{i}]")
                        value=id.to_string() id=format!("event-select-{i}") aria-label=select_label/>
                </td>
            })}
            <td class="time"><a href=href.clone() id=index.map(|i| format!("event-link-{i}"))><time datetime=event.occurred_at.to_rfc3339()>{time}</time></a>{expander_at.is_none().then(|| expander(href.clone()))}</td>
            {columns.iter().enumerate().map(|(place, column)| {
                let more = (expander_at == Some(place)).then(|| expander(href.clone()));
                match column.as_str() {
                    "severity" => view! { <td><span class=format!("severity severity-{severity}")>{severity}</span>{more}</td> }.into_any(),
                    "service" => view! { <td class="service">{event.service.clone()}{more}</td> }.into_any(),
                    "operation" => view! { <td class="operation">{event.operation.clone()}{more}</td> }.into_any(),
                    "actor" => view! { <td class="actor" title=event.actor_ip.clone().unwrap_or_default()>{actor.clone()}{more}</td> }.into_any(),
                    "result" => view! { <td><span class=result_class.clone()>{event.result.clone()}</span>{more}</td> }.into_any(),
                    "summary" => view! {
                        <td class="summary">
                            <span class="event-summary">{event.summary.clone()}</span>
                            {event.tags.iter().map(|t| view! { <span class="tag">{t.clone()}</span> }).collect_view()}
                            {event.watchlists.iter().map(|w| {
                                let title = format!("On the watchlist {w}");
                                view! { " " <span class="watchlist-badge" title=title>{w.clone()}</span> }
                            }).collect_view()}
                            {event.normalize_error.then(|| view! {
                                <span class="flag" title="Stored raw: this record could not be normalized">" raw only"</span>
                            })}
                            {more}
                        </td>
                    }.into_any(),
                    "tenant" => view! { <td class="tenant">{event.tenant_id.clone()}{more}</td> }.into_any(),
                    "source" => view! { <td class="source">{event.source.clone()}{more}</td> }.into_any(),
                    "targets" => view! { <td class="targets">{event.targets.clone().unwrap_or_default()}{more}</td> }.into_any(),
                    "ip" => view! { <td class="ip">{event.actor_ip.clone().unwrap_or_default()}{more}</td> }.into_any(),
                    "record_id" => view! { <td class="record-id">{event.record_id.clone()}{more}</td> }.into_any(),
                    field => {
                        let value = event.fields.get(field).cloned().unwrap_or_default();
                        let title = value.clone();
                        view! { <td class="field" data-column=field.to_string() title=title>{value}{more}</td> }.into_any()
                    }
                }
            }).collect_view()}
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_facets_and_exclusions_keep_the_filter() {
        let filter = EventFilter { service: Some("Exchange".into()), last: Some("24h".into()), ..Default::default() };
        assert_eq!(export_href(&filter, "csv"), "/api/events/export?service=Exchange&last=24h&format=csv");
        assert_eq!(field_term("actor", "a b"), Some("actor:\"a b\"".into()));
        assert_eq!(field_term("actor", "x\"y"), None);
        let excluded = with_search_term(&filter, "-service:Exchange");
        assert_eq!(excluded.search.as_deref(), Some("-service:Exchange"));
        assert_eq!(with_search_term(&excluded, "y").search.as_deref(), Some("-service:Exchange y"));
        assert_eq!(picker_value(&Some("2026-11-20T08:30:00Z".into()), "start"), "2026-11-20T08:30");
    }

    #[test]
    fn links_keep_the_filter_and_encode_it() {
        let filter =
            EventFilter { service: Some("Exchange".into()), search: Some("a&b \"c\"".into()), ..Default::default() };
        assert_eq!(events_href(&filter, Some("1.2")), "/events?service=Exchange&search=a%26b%20%22c%22&cursor=1.2");
        assert_eq!(events_href(&EventFilter::default(), None), "/events");
    }
}
