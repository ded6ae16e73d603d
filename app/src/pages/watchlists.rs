//! The Watchlists page: named lists of users, IP addresses, apps or domains, each usable in search
//! as `watchlist:NAME`. Administrators upload or edit a list as CSV text and delete lists; the
//! forms are plain posts to server functions, so they work before hydration.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::auth::Permission;
use crate::components::ErrorBanner;
use crate::server::{get_server_info, get_watchlist, list_watchlists, DeleteWatchlist, SaveWatchlist};
use crate::watchlist::{Watchlist, WatchlistInfo, WatchlistKind};

fn search_href(name: &str) -> String {
    format!("/events?search=watchlist%3A{name}")
}

/// The items as the CSV the edit form holds.
fn as_csv(list: &Watchlist) -> String {
    let quote = |t: &str| {
        if t.contains([',', ';', '"', '\n']) {
            format!("\"{}\"", t.replace('"', "\"\""))
        } else {
            t.to_string()
        }
    };
    let mut out = String::from("value,label\n");
    for item in &list.items {
        out.push_str(&quote(&item.value));
        out.push(',');
        out.push_str(&quote(item.label.as_deref().unwrap_or("")));
        out.push('\n');
    }
    out
}

/// The Watchlists page.
#[component]
pub fn WatchlistsPage() -> impl IntoView {
    let query = use_query_map();
    let save = ServerAction::<SaveWatchlist>::new();
    let remove = ServerAction::<DeleteWatchlist>::new();
    let selected = move || query.read().get("id").and_then(|id| id.parse::<i64>().ok());
    let lists = Resource::new(move || (save.version().get(), remove.version().get()), |_| list_watchlists());
    let detail = Resource::new(
        move || (selected(), save.version().get()),
        |(id, _)| async move {
            match id {
                Some(id) => Some(get_watchlist(id).await),
                None => None,
            }
        },
    );
    let info = Resource::new(|| (), |_| get_server_info());
    let save_error = move || save.value().get().and_then(|r| r.err()).map(|e| e.message);
    let remove_error = move || remove.value().get().and_then(|r| r.err()).map(|e| e.message);

    view! {
        <section class="page watchlists-page">
            <header class="page-header">
                <h1>"Watchlists"</h1>
                <p class="subtitle">
                    "Lists of users, IP addresses, apps or domains under investigation. Search with "
                    <code>"watchlist:NAME"</code>" (or "<code>"-watchlist:NAME"</code>" to leave them out)."
                </p>
            </header>
            <Transition fallback=|| view! { <p class="loading">"Loading watchlists…"</p> }>
                {move || Suspend::new(async move {
                    let can_edit = info.await.ok().is_some_and(|i| i.caller.can(Permission::ManageRules));
                    let detail = detail.await;
                    match lists.await {
                        Ok(lists) => view! {
                            <WatchlistTable lists/>
                            {detail.map(|d| match d {
                                Ok(list) => view! { <WatchlistDetail list can_edit save remove/> }.into_any(),
                                Err(error) => view! { <ErrorBanner error/> }.into_any(),
                            })}
                            {can_edit.then(|| view! { <NewWatchlist save/> })}
                        }.into_any(),
                        Err(error) => view! { <ErrorBanner error/> }.into_any(),
                    }
                })}
            </Transition>
            {move || save_error().map(|m| view! { <p class="error-banner" role="alert" id="watchlist-error">{m}</p> })}
            {move || remove_error().map(|m| view! { <p class="error-banner" role="alert">{m}</p> })}
        </section>
    }
}

#[component]
fn WatchlistTable(lists: Vec<WatchlistInfo>) -> impl IntoView {
    if lists.is_empty() {
        return view! {
            <div class="empty-state" id="watchlists-empty"><p>"No watchlists yet."</p></div>
        }
        .into_any();
    }
    view! {
        <table class="events" id="watchlists-table">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Kind"</th>
                    <th scope="col">"Items"</th>
                    <th scope="col">"Description"</th>
                    <th scope="col">"Changed"</th>
                    <th scope="col">"Search"</th>
                </tr>
            </thead>
            <tbody>
                {lists.into_iter().map(|l| {
                    let search = search_href(&l.name);
                    let label = format!("watchlist:{}", l.name);
                    let name = l.name.clone();
                    let detail = format!("/watchlists?id={}", l.id);
                    view! {
                    <tr data-watchlist=l.name.clone()>
                        <td><A href=detail>{name}</A></td>
                        <td>{l.kind.as_str()}</td>
                        <td>{l.item_count}</td>
                        <td>{l.description.clone()}</td>
                        <td class="muted">{format!("{} by {}", l.updated_at.format("%Y-%m-%d %H:%M"), l.created_by)}</td>
                        <td><A href=search>{label}</A></td>
                    </tr>
                }}).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn KindSelect(selected: WatchlistKind) -> impl IntoView {
    let kinds = [WatchlistKind::User, WatchlistKind::Ip, WatchlistKind::App, WatchlistKind::Domain];
    view! {
        <select name="kind">
            {kinds.into_iter().map(|k| view! { <option value=k.as_str() selected=k == selected>{k.as_str()}</option> }).collect_view()}
        </select>
    }
}

#[component]
fn WatchlistDetail(
    list: Watchlist,
    can_edit: bool,
    save: ServerAction<SaveWatchlist>,
    remove: ServerAction<DeleteWatchlist>,
) -> impl IntoView {
    let csv = as_csv(&list);
    let info = list.info.clone();
    let edit = info.clone();
    view! {
        <section class="watchlist-detail" id="watchlist-detail" data-watchlist=info.name.clone()>
            <h2>{info.name.clone()}" "<span class="muted">{format!("({}, {} items)", info.kind.as_str(), info.item_count)}</span></h2>
            <p><A href=search_href(&info.name)>"Events of this watchlist"</A></p>
            <table class="counts" id="watchlist-items">
                <tbody>
                    {list.items.iter().take(500).map(|item| view! {
                        <tr><td class="value">{item.value.clone()}</td><td>{item.label.clone().unwrap_or_default()}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
            {(list.items.len() > 500).then(|| view! { <p class="muted">"The first 500 items are shown; the edit form holds all."</p> })}
            {can_edit.then(|| view! {
                <ActionForm action=save attr:id="watchlist-edit" attr:class="watchlist-form">
                    <input type="hidden" name="id" value=edit.id.to_string()/>
                    <label>"Name "<input type="text" name="name" value=edit.name.clone() required maxlength="64"/></label>
                    <label>"Kind "<KindSelect selected=edit.kind/></label>
                    <label>"Description "<input type="text" name="description" value=edit.description.clone() maxlength="1000"/></label>
                    <label class="wide">"Items (CSV) "<textarea name="csv" rows="8">{csv}</textarea></label>
                    <button type="submit" id="watchlist-save">"Save"</button>
                </ActionForm>
                <ActionForm action=remove attr:id="watchlist-delete">
                    <input type="hidden" name="id" value=edit.id.to_string()/>
                    <button type="submit" class="danger">"Delete this watchlist"</button>
                </ActionForm>
            })}
        </section>
    }
}

#[component]
fn NewWatchlist(save: ServerAction<SaveWatchlist>) -> impl IntoView {
    view! {
        <section class="watchlist-new">
            <h2>"New watchlist"</h2>
            <ActionForm action=save attr:id="watchlist-new" attr:class="watchlist-form">
                <label>"Name "<input type="text" name="name" id="watchlist-name" required maxlength="64" placeholder="admins"/></label>
                <label>"Kind "<KindSelect selected=WatchlistKind::User/></label>
                <label>"Description "<input type="text" name="description" maxlength="1000"/></label>
                <label class="wide">"Items (CSV with a header row, e.g. an admin list export: DisplayName,UserPrincipalName,Role) "
                    <textarea name="csv" id="watchlist-csv" rows="6" required placeholder="UserPrincipalName,DisplayName\nadele@contoso.com,Adele Vance"></textarea>
                </label>
                <button type="submit" id="watchlist-create">"Create"</button>
            </ActionForm>
        </section>
    }
}
