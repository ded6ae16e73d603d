//! One event: normalized fields, flattened fields, the raw record, tags, comments and related
//! events. Tagging and commenting are server-function forms, so they work without JavaScript
//! too. Everything shown came from a tenant and is rendered as text (Leptos escapes it).

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::auth::Permission;
use crate::components::ErrorBanner;
use crate::components::{CopyButton, JsonTree, SeverityBadge};
use crate::dto::{EventDetail, SUGGESTED_TAGS};
use crate::error::{AppError, ErrorCode};
use crate::pages::events::EventRow;
use crate::pages::events::{events_href, field_term, with_search_term};
use crate::query::EventFilter;
use crate::server::{get_event, get_server_info, AddComment, DeleteComment, EditComment, TagEvent};

/// The event detail page.
#[component]
pub fn EventDetailPage() -> impl IntoView {
    let params = use_params_map();
    let tag = ServerAction::<TagEvent>::new();
    let comment = ServerAction::<AddComment>::new();
    let edit = ServerAction::<EditComment>::new();
    let remove = ServerAction::<DeleteComment>::new();
    let id = move || params.read().get("id").and_then(|id| id.parse::<i64>().ok());
    let detail = Resource::new(
        move || (id(), tag.version().get(), comment.version().get(), edit.version().get(), remove.version().get()),
        |(id, ..)| async move {
            match id {
                Some(id) => get_event(id).await,
                None => Err(AppError::new(ErrorCode::NotFound, "the event does not exist")),
            }
        },
    );
    // Who is looking decides which controls are offered (the server checks every call anyway).
    let info = Resource::new(|| (), |_| get_server_info());
    view! {
        <section class="page event-page">
            <p><A href="/events">"« Events"</A></p>
            <Transition fallback=|| view! { <p class="loading">"Loading the event…"</p> }>
                {move || Suspend::new(async move {
                    let caller = info.await.ok().map(|i| i.caller);
                    let may = |p: Permission| caller.as_ref().is_some_and(|c| c.can(p));
                    let (can_tag, can_comment) = (may(Permission::TagEvents), may(Permission::CommentOnEvents));
                    let can_delete = may(Permission::DeleteComments);
                    let me = caller.as_ref().map(|c| c.subject.clone()).unwrap_or_default();
                    let actions = CommentActions { edit, remove, can_delete, me };
                    match detail.await {
                        Ok(detail) => view! { <Detail detail tag comment actions can_tag can_comment/> }.into_any(),
                        Err(error) => view! { <ErrorBanner error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// What the signed-in person may do to comments, and the actions that do it.
#[derive(Clone)]
struct CommentActions {
    edit: ServerAction<EditComment>,
    remove: ServerAction<DeleteComment>,
    can_delete: bool,
    /// The caller's subject, which comments carry as their author: their own comments offer
    /// an edit form (the server checks authorship again).
    me: String,
}

/// Links that filter the Events page by a flattened field's value or exclude it.
fn value_links(key: &str, value: &str) -> Option<(String, String)> {
    let term = field_term(key, value)
        .filter(|_| key.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
        .filter(|_| key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '@' | '#')))
        // Otherwise the value as a phrase anywhere in the record.
        .or_else(|| (!value.contains('"') && !value.chars().any(char::is_control)).then(|| format!("\"{value}\"")))?;
    let none = EventFilter::default();
    Some((
        events_href(&with_search_term(&none, &term), None),
        events_href(&with_search_term(&none, &format!("-{term}")), None),
    ))
}

/// The JSON tree's links: a scalar is searched as a phrase (a raw path is not always the name
/// of a flattened field).
fn raw_value_links(_path: &str, value: &str) -> Option<(String, String)> {
    value_links("", value)
}

#[component]
fn Detail(
    detail: EventDetail,
    tag: ServerAction<TagEvent>,
    comment: ServerAction<AddComment>,
    actions: CommentActions,
    can_tag: bool,
    can_comment: bool,
) -> impl IntoView {
    let e = detail.event.clone();
    let id = e.id;
    let severity = e.severity.as_str();
    let fields: Vec<(&'static str, String)> = vec![
        ("Time (UTC)", e.occurred_at.format("%Y-%m-%d %H:%M:%S%.3f").to_string()),
        ("Tenant", e.tenant_id.clone()),
        ("Source", e.source.clone()),
        ("Content type", detail.content_type.clone().unwrap_or_default()),
        ("Service", e.service.clone()),
        ("Operation", e.operation.clone()),
        ("Result", e.result.clone()),
        ("Actor", e.actor_name.clone().or(e.actor.clone()).unwrap_or_default()),
        ("Actor UPN", detail.actor_upn.clone().unwrap_or_default()),
        (
            "Actor app id",
            detail
                .actor_app_id
                .as_deref()
                .map(|id| crate::appnames::with_found_name(id, detail.actor_app_name.as_deref()))
                .unwrap_or_default(),
        ),
        ("Actor IP", e.actor_ip.clone().unwrap_or_default()),
        ("Targets", e.targets.clone().unwrap_or_default()),
        ("Record id", e.record_id.clone()),
        ("Correlation id", detail.correlation_id.clone().unwrap_or_default()),
        ("Ingested", detail.ingested_at.format("%Y-%m-%d %H:%M:%S").to_string()),
    ];
    let tag_error = move || tag.value().get().and_then(|r| r.err()).map(|e| e.message);
    let comment_error = move || comment.value().get().and_then(|r| r.err()).map(|e| e.message);
    let (edit, remove) = (actions.edit, actions.remove);
    let edit_error = move || {
        edit.value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| remove.value().get().and_then(|r| r.err()))
            .map(|e| e.message)
    };
    let raw_tree = serde_json::from_str::<serde_json::Value>(&detail.raw).ok();
    view! {
        <header class="page-header">
            <h1 id="event-title">{e.operation.clone()}</h1>
            <p class="subtitle">
                <SeverityBadge level=severity/>" "<span id="event-summary">{e.summary.clone()}</span>
            </p>
        </header>
        {detail.normalize_error_message.clone().map(|m| view! {
            <div class="error-banner" role="note">"Stored raw: this record could not be normalized: "{m}</div>
        })}
        {(!detail.alerts.is_empty()).then(|| {
            let alerts = detail.alerts.clone();
            view! {
                <section class="event-alerts" aria-labelledby="event-alerts-heading">
                    <h2 id="event-alerts-heading">"Part of alerts"</h2>
                    <ul id="event-alerts">
                        {alerts.into_iter().map(|a| {
                            let status = crate::detection::status_label(&a.status).to_string();
                            view! {
                                <li>
                                    <SeverityBadge level=a.severity/>" "
                                    <A href=format!("/alerts/{}", a.id)>{a.title}</A>
                                    <span class="muted">{format!(" · {status} · {}", a.rule)}</span>
                                    {a.hunting.then(|| view! { " "<span class="tag">"hunting"</span> })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                </section>
            }
        })}
        <div class="detail-grid">
            <dl class="fields" id="event-fields">
                {fields.into_iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}
            </dl>
            <aside class="annotations">
                <h2>"Tags"</h2>
                <ul class="tags" id="event-tags">
                    {detail.tags.iter().map(|t| {
                        let name = t.tag.clone();
                        view! {
                            <li>
                                <span class="tag">{t.tag.clone()}</span>
                                <span class="muted">" by "{t.created_by.clone()}</span>
                                {can_tag.then(|| view! {
                                    <ActionForm action=tag>
                                        <input type="hidden" name="id" value=id.to_string()/>
                                        <input type="hidden" name="tag" value=name/>
                                        <input type="hidden" name="remove" value="true"/>
                                        <button type="submit" class="link" title="Remove this tag">"×"</button>
                                    </ActionForm>
                                })}
                            </li>
                        }
                    }).collect_view()}
                </ul>
                {can_tag.then(|| view! {
                    <ActionForm action=tag attr:id="tag-form">
                        <input type="hidden" name="id" value=id.to_string()/>
                        <input type="text" name="tag" id="tag-input" list="suggested-tags" placeholder="add a tag" maxlength="64" required/>
                        <datalist id="suggested-tags">
                            {SUGGESTED_TAGS.iter().map(|t| view! { <option value=*t></option> }).collect_view()}
                        </datalist>
                        <button type="submit" id="tag-add">"Add"</button>
                    </ActionForm>
                })}
                {move || tag_error().map(|m| view! { <p class="error-banner" role="alert">{m}</p> })}
                <h2>"Comments"</h2>
                <ol class="comments" id="event-comments">
                    {detail.comments.clone().into_iter().map(|c| {
                        let mine = can_comment && !actions.me.is_empty() && c.author == actions.me;
                        let (edit, remove) = (actions.edit, actions.remove);
                        let comment_id = c.id.to_string();
                        let (id_for_edit, id_for_delete) = (comment_id.clone(), comment_id.clone());
                        let editor = format!("comment-edit-{comment_id}");
                        let editor_label = editor.clone();
                        let body = c.body.clone();
                        view! {
                            <li data-comment-id=comment_id>
                                <p class="comment-meta">
                                    <strong>{c.author.clone()}</strong>" · "
                                    {c.created_at.format("%Y-%m-%d %H:%M").to_string()}
                                    {c.updated_at.map(|_| " (edited)")}
                                </p>
                                <p class="comment-body">{c.body.clone()}</p>
                                {mine.then(|| view! {
                                    <details class="comment-edit">
                                        <summary>"Edit"</summary>
                                        <ActionForm action=edit>
                                            <input type="hidden" name="id" value=id.to_string()/>
                                            <input type="hidden" name="comment_id" value=id_for_edit/>
                                            <label class="visually-hidden" for=editor_label>"Comment text"</label>
                                            <textarea name="body" id=editor rows="3" maxlength="10000" required>{body}</textarea>
                                            <button type="submit" class="comment-save">"Save"</button>
                                        </ActionForm>
                                    </details>
                                })}
                                {actions.can_delete.then(|| view! {
                                    <ActionForm action=remove attr:class="comment-delete-form">
                                        <input type="hidden" name="id" value=id.to_string()/>
                                        <input type="hidden" name="comment_id" value=id_for_delete/>
                                        <button type="submit" class="link danger comment-delete">"Delete"</button>
                                    </ActionForm>
                                })}
                            </li>
                        }
                    }).collect_view()}
                </ol>
                {can_comment.then(|| view! {
                    <ActionForm action=comment attr:id="comment-form">
                        <input type="hidden" name="id" value=id.to_string()/>
                        <textarea name="body" id="comment-input" rows="3" maxlength="10000" required placeholder="add a comment"></textarea>
                        <button type="submit" id="comment-add">"Comment"</button>
                    </ActionForm>
                })}
                {move || comment_error().map(|m| view! { <p class="error-banner" role="alert">{m}</p> })}
                {move || edit_error().map(|m| view! { <p class="error-banner" role="alert">{m}</p> })}
                <h2>"History"</h2>
                {if detail.history.is_empty() {
                    view! { <p class="muted" id="event-history">"Nobody has tagged or commented on this event."</p> }.into_any()
                } else {
                    view! {
                        <ol class="history" id="event-history">
                            {detail.history.iter().map(|h| view! {
                                <li>
                                    <time datetime=h.occurred_at.to_rfc3339()>{h.occurred_at.format("%Y-%m-%d %H:%M").to_string()}</time>" "
                                    <strong>{h.actor.clone()}</strong>" "
                                    <span class="history-action">{h.action.clone()}</span>
                                </li>
                            }).collect_view()}
                        </ol>
                    }.into_any()
                }}
            </aside>
        </div>
        <h2>"Flattened fields"</h2>
        <table class="flattened" id="event-flattened">
            <tbody>
                {detail.flattened.into_iter().map(|(k, v)| {
                    let links = value_links(&k, &v);
                    view! {
                        <tr>
                            <th scope="row">{k}</th>
                            <td>
                                <span class="value">{v}</span>
                                {links.map(|(filter, exclude)| view! {
                                    <span class="value-actions">
                                        <a class="value-filter" href=filter title="Filter by this value">"filter"</a>
                                        <a class="value-exclude" href=exclude title="Exclude this value">"exclude"</a>
                                    </span>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        <h2>"Raw record " <CopyButton text=detail.raw.clone() label="copy the record"/></h2>
        {raw_tree.map(|value| view! { <JsonTree value links=raw_value_links/> })}
        <details class="raw-text">
            <summary>"Raw text"</summary>
            <pre class="raw" id="event-raw">{detail.raw}</pre>
        </details>
        <h2>"Related events"</h2>
        {if detail.related.is_empty() {
            view! { <p class="muted" id="event-related">"None: no event shares the correlation id or the actor within an hour."</p> }.into_any()
        } else {
            view! {
                <table class="events" id="event-related">
                    <tbody>{detail.related.into_iter().map(|event| view! { <EventRow event/> }).collect_view()}</tbody>
                </table>
            }.into_any()
        }}
    }
}
