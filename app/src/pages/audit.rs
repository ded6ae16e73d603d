//! The audit-trail page: who changed what in AOC (tags, comments, exports, tenants,
//! collections), newest first, searchable, paged by id. A plain GET form and links, so it works
//! without JavaScript.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::components::ErrorBanner;
use crate::dto::AuditPage as AuditList;
use crate::server::audit_entries;

/// The audit-trail page.
#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let search = move || query.read().get("search").filter(|s| !s.trim().is_empty());
    let before = move || query.read().get("before").filter(|s| !s.trim().is_empty());
    let page = Resource::new(move || (search(), before()), |(search, before)| audit_entries(search, before));
    view! {
        <section class="page audit-page">
            <header class="page-header">
                <h1>"Audit trail"</h1>
                <p class="subtitle">"Who changed what in AOC, newest first."</p>
            </header>
            <form class="filters" method="get" action="/audit" role="search" aria-label="Audit trail">
                <label class="filter search">
                    <span>"Search"</span>
                    <input type="search" name="search" id="audit-search" value=search().unwrap_or_default()
                        placeholder="actor, action (event.comment.edit), target id…" maxlength="512"/>
                </label>
                <div class="filter-actions"><button type="submit" id="audit-apply">"Search"</button><a href="/audit">"Clear"</a></div>
            </form>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) => view! { <AuditTable page search=search()/> }.into_any(),
                        Err(error) => view! { <ErrorBanner error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn AuditTable(page: AuditList, search: Option<String>) -> impl IntoView {
    let older = page.next_before.map(|before| {
        let mut href = format!("/audit?before={before}");
        if let Some(s) = &search {
            href.push_str("&search=");
            href.push_str(
                &s.bytes()
                    .map(|b| match b {
                        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                        _ => format!("%{b:02X}"),
                    })
                    .collect::<String>(),
            );
        }
        href
    });
    view! {
        {if page.items.is_empty() {
            view! { <p class="empty-state" id="audit-table">"No entries on this page."</p> }.into_any()
        } else {
            view! {
                <table class="events" id="audit-table">
                    <thead>
                        <tr>
                            <th scope="col">"Time (UTC)"</th>
                            <th scope="col">"Who"</th>
                            <th scope="col">"Action"</th>
                            <th scope="col">"Target"</th>
                            <th scope="col">"Details"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {page.items.into_iter().map(|e| {
                            let target = match (e.target_kind.as_str(), e.target_id) {
                                ("event", Some(id)) => view! { <a href=format!("/events/{id}")>{format!("event {id}")}</a> }.into_any(),
                                (kind, Some(id)) => view! { <span>{format!("{kind} {id}")}</span> }.into_any(),
                                (kind, None) => view! { <span>{kind.to_string()}</span> }.into_any(),
                            };
                            view! {
                                <tr>
                                    <td class="time">{e.occurred_at.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
                                    <td class="actor">{e.actor}</td>
                                    <td class="operation">{e.action}</td>
                                    <td>{target}</td>
                                    <td class="summary mono">{e.details.to_string()}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
        <nav class="pager" aria-label="Pages">
            {older.map(|href| view! { <a href=href id="audit-older">"Older »"</a> })}
        </nav>
    }
}
