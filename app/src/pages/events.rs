//! The Events page: stored events, newest first, paged by cursor. Paging is plain links with the
//! cursor in the address, so it works before hydration and becomes client-side navigation after.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::components::ErrorBanner;
use crate::dto::{EventPage, EventSummary};
use crate::server::{get_server_info, list_events};

/// The Events page.
#[component]
pub fn EventsPage() -> impl IntoView {
    let query = use_query_map();
    let cursor = move || query.read().get("cursor");
    let page = Resource::new(cursor, |cursor| list_events(cursor, None));
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
            <Transition fallback=|| view! { <p class="loading">"Loading events…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) => view! { <EventTable page=page is_first=cursor().is_none()/> }.into_any(),
                        Err(error) => view! { <ErrorBanner error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn EventTable(page: EventPage, is_first: bool) -> impl IntoView {
    if page.items.is_empty() {
        return view! {
            <div class="empty-state" id="events-empty">
                <p>"No events stored yet."</p>
                <p class="muted">"Events appear here once a tenant is connected and collection has run."</p>
                {(!is_first).then(|| view! { <A href="/events">"Back to the newest events"</A> })}
            </div>
        }
        .into_any();
    }
    let next = page.next_cursor.clone();
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
            {(!is_first).then(|| view! { <A href="/events" attr:id="page-newest">"« Newest"</A> })}
            {next.map(|cursor| view! {
                <A href=format!("/events?cursor={cursor}") attr:id="page-older">"Older »"</A>
            })}
        </nav>
    }
    .into_any()
}

#[component]
fn EventRow(event: EventSummary) -> impl IntoView {
    let severity = event.severity.as_str();
    let time = event.occurred_at.format("%Y-%m-%d %H:%M:%S").to_string();
    let actor = event.actor.clone().unwrap_or_default();
    let result_class = format!("result result-{}", event.result.to_lowercase());
    view! {
        <tr data-event-id=event.id.to_string() data-record-id=event.record_id.clone()>
            <td class="time"><time datetime=event.occurred_at.to_rfc3339()>{time}</time></td>
            <td><span class=format!("severity severity-{severity}")>{severity}</span></td>
            <td>{event.service}</td>
            <td class="operation">{event.operation}</td>
            <td class="actor" title=event.actor_ip.unwrap_or_default()>{actor}</td>
            <td><span class=result_class>{event.result}</span></td>
            <td class="summary">
                {event.summary}
                {event.normalize_error.then(|| view! {
                    <span class="flag" title="Stored raw: this record could not be normalized">" raw only"</span>
                })}
            </td>
        </tr>
    }
}
