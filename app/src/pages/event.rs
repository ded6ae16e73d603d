//! One event: normalized fields, flattened fields, the raw record, tags, comments and related
//! events. Tagging and commenting are server-function forms, so they work without JavaScript
//! too. Everything shown came from a tenant and is rendered as text (Leptos escapes it).

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::auth::Permission;
use crate::components::ErrorBanner;
use crate::dto::{EventDetail, SUGGESTED_TAGS};
use crate::error::{AppError, ErrorCode};
use crate::pages::events::EventRow;
use crate::server::{get_event, get_server_info, AddComment, TagEvent};

/// The event detail page.
#[component]
pub fn EventDetailPage() -> impl IntoView {
    let params = use_params_map();
    let tag = ServerAction::<TagEvent>::new();
    let comment = ServerAction::<AddComment>::new();
    let id = move || params.read().get("id").and_then(|id| id.parse::<i64>().ok());
    let detail = Resource::new(
        move || (id(), tag.version().get(), comment.version().get()),
        |(id, _, _)| async move {
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
                    let may = move |p: Permission| caller.as_ref().is_some_and(|c| c.can(p));
                    let (can_tag, can_comment) = (may(Permission::TagEvents), may(Permission::CommentOnEvents));
                    match detail.await {
                        Ok(detail) => view! { <Detail detail tag comment can_tag can_comment/> }.into_any(),
                        Err(error) => view! { <ErrorBanner error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Detail(
    detail: EventDetail,
    tag: ServerAction<TagEvent>,
    comment: ServerAction<AddComment>,
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
        ("Actor", e.actor.clone().unwrap_or_default()),
        ("Actor UPN", detail.actor_upn.clone().unwrap_or_default()),
        ("Actor app id", detail.actor_app_id.as_deref().map(crate::appnames::with_name).unwrap_or_default()),
        ("Actor IP", e.actor_ip.clone().unwrap_or_default()),
        ("Targets", e.targets.clone().unwrap_or_default()),
        ("Record id", e.record_id.clone()),
        ("Correlation id", detail.correlation_id.clone().unwrap_or_default()),
        ("Ingested", detail.ingested_at.format("%Y-%m-%d %H:%M:%S").to_string()),
    ];
    let tag_error = move || tag.value().get().and_then(|r| r.err()).map(|e| e.message);
    let comment_error = move || comment.value().get().and_then(|r| r.err()).map(|e| e.message);
    view! {
        <header class="page-header">
            <h1 id="event-title">{e.operation.clone()}</h1>
            <p class="subtitle">
                <span class=format!("severity severity-{severity}")>{severity}</span>" "{e.summary.clone()}
            </p>
        </header>
        {detail.normalize_error_message.clone().map(|m| view! {
            <div class="error-banner" role="note">"Stored raw: this record could not be normalized: "{m}</div>
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
                    {detail.comments.iter().map(|c| view! {
                        <li>
                            <p class="comment-meta">
                                <strong>{c.author.clone()}</strong>" · "
                                {c.created_at.format("%Y-%m-%d %H:%M").to_string()}
                                {c.updated_at.map(|_| " (edited)")}
                            </p>
                            <p class="comment-body">{c.body.clone()}</p>
                        </li>
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
            </aside>
        </div>
        <h2>"Flattened fields"</h2>
        <table class="flattened" id="event-flattened">
            <tbody>
                {detail.flattened.into_iter().map(|(k, v)| view! { <tr><th scope="row">{k}</th><td>{v}</td></tr> }).collect_view()}
            </tbody>
        </table>
        <h2>"Raw record"</h2>
        <pre class="raw" id="event-raw">{detail.raw}</pre>
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
