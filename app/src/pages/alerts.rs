//! The Alerts page (the triage queue, newest first, filtered from the address, with counts per
//! status and bulk actions) and the Alert page (the rule, what fired and why against the first
//! event's fields, the events, entities, triage, comments and history). Filters are a plain GET
//! form and paging plain links; triage, comments and bulk actions are server-function forms, so
//! everything works before hydration. What alerts show came from a tenant: rendered as text.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::auth::Permission;
use crate::components::{ErrorBanner, SeverityBadge};
use crate::detection::{
    status_label, AlertDetail, AlertFilter, AlertPage, RuleSummary, SuppressionInfo, STATUSES, SUPPRESSION_SPANS,
};
use crate::error::{AppError, ErrorCode};
use crate::pages::events::{encode, events_href, field_term, with_search_term};
use crate::query::EventFilter;
use crate::server::{
    get_alert, get_server_info, list_alerts, list_rules, BulkTriageAlerts, CommentAlert, EndSuppression, SuppressRule,
    TriageAlert,
};

fn filter_from_query(query: &leptos_router::params::ParamsMap) -> AlertFilter {
    let get = |k: &str| query.get(k).filter(|v| !v.trim().is_empty());
    AlertFilter {
        status: get("status"),
        severity: get("severity"),
        rule: get("rule"),
        assignee: get("assignee"),
        hunting: get("hunting"),
        cursor: get("cursor"),
    }
}

/// The address of the Alerts page for `filter`.
fn alerts_href(filter: &AlertFilter) -> String {
    let pairs = filter.pairs();
    if pairs.is_empty() {
        return "/alerts".into();
    }
    let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
    format!("/alerts?{}", query.join("&"))
}

const SEVERITIES: &[&str] = &["info", "low", "medium", "high", "critical"];

/// The Alerts page.
#[component]
pub fn AlertsPage() -> impl IntoView {
    let query = use_query_map();
    let filter = move || filter_from_query(&query.read());
    let bulk = ServerAction::<BulkTriageAlerts>::new();
    let page = Resource::new(move || (filter(), bulk.version().get()), |(filter, _)| list_alerts(Some(filter)));
    let rules = Resource::new(|| (), |_| list_rules());
    let info = Resource::new(|| (), |_| get_server_info());
    let bulk_error = move || bulk.value().get().and_then(|r| r.err()).map(|e| e.message);
    let bulk_done = move || bulk.value().get().and_then(|r| r.ok());

    view! {
        <section class="page alerts-page">
            <header class="page-header">
                <h1>"Alerts"</h1>
                <p class="subtitle">"What the detection rules raised, newest first. Hunting matches are kept out of the queue unless asked for."</p>
            </header>
            <Transition fallback=|| view! { <p class="loading">"Loading alerts…"</p> }>
                {move || Suspend::new(async move {
                    let filter = filter();
                    let can_triage = info.await.ok().is_some_and(|i| i.caller.can(Permission::HandleAlerts));
                    let rules = rules.await.unwrap_or_default();
                    match page.await {
                        Ok(page) => view! {
                            <AlertFilters filter=filter.clone() rules/>
                            <StatusCounts filter=filter.clone() counts=page.counts.clone()/>
                            <AlertTable page filter can_triage bulk/>
                        }.into_any(),
                        Err(error) => view! { <AlertFilters filter rules/><ErrorBanner error/> }.into_any(),
                    }
                })}
            </Transition>
            {move || bulk_done().map(|n| view! { <p class="notice-inline" role="status" id="bulk-done">{format!("{n} alert(s) changed.")}</p> })}
            {move || bulk_error().map(|m| view! { <p class="error-banner" role="alert" id="bulk-error">{m}</p> })}
        </section>
    }
}

#[component]
fn AlertFilters(filter: AlertFilter, rules: Vec<RuleSummary>) -> impl IntoView {
    let chosen = |v: &Option<String>, x: &str| v.as_deref() == Some(x);
    let hunting = filter.hunting.clone();
    view! {
        <form class="filters" method="get" action="/alerts" id="alert-filters" role="search" aria-label="Alert filters">
            <label class="filter">
                <span>"Status"</span>
                <select name="status" id="filter-status">
                    <option value="">"Any"</option>
                    {STATUSES.iter().map(|(s, label)| view! { <option value=*s selected=chosen(&filter.status, s)>{*label}</option> }).collect_view()}
                </select>
            </label>
            <label class="filter">
                <span>"Severity"</span>
                <select name="severity" id="filter-severity">
                    <option value="">"Any"</option>
                    {SEVERITIES.iter().map(|s| view! { <option value=*s selected=chosen(&filter.severity, s)>{*s}</option> }).collect_view()}
                </select>
            </label>
            <label class="filter">
                <span>"Rule"</span>
                <select name="rule" id="filter-rule">
                    <option value="">"Any"</option>
                    {rules.into_iter().map(|r| {
                        let id = r.id.to_string();
                        let selected = chosen(&filter.rule, &id);
                        view! { <option value=id selected=selected>{r.name}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label class="filter">
                <span>"Assignee"</span>
                <input type="text" name="assignee" id="filter-assignee" value=filter.assignee.clone().unwrap_or_default()
                    placeholder="a name, or none" maxlength="200"/>
            </label>
            <label class="filter">
                <span>"Kind"</span>
                <select name="hunting" id="filter-hunting">
                    <option value="" selected=hunting.is_none()>"Triage queue"</option>
                    <option value="true" selected=chosen(&hunting, "true")>"Hunting matches"</option>
                    <option value="all" selected=chosen(&hunting, "all")>"Both"</option>
                </select>
            </label>
            <div class="filter-actions">
                <button type="submit" id="alert-filter-apply" class="primary">"Apply"</button>
                <a href="/alerts" id="alert-filter-clear">"Clear"</a>
            </div>
        </form>
    }
}

/// Alerts per status under the other filters; each count narrows the queue to its status.
#[component]
fn StatusCounts(filter: AlertFilter, counts: Vec<(String, i64)>) -> impl IntoView {
    let all = AlertFilter { status: None, cursor: None, ..filter.clone() };
    view! {
        <nav class="status-counts" id="alert-counts" aria-label="Alerts per status">
            <a href=alerts_href(&all) class=if filter.status.is_none() { "chosen" } else { "" }>"All"</a>
            {counts.into_iter().map(|(status, n)| {
                let href = alerts_href(&AlertFilter { status: Some(status.clone()), cursor: None, ..filter.clone() });
                let class = if filter.status.as_deref() == Some(status.as_str()) { "chosen" } else { "" };
                view! {
                    <a href=href class=class data-status=status.clone()>
                        {status_label(&status).to_string()}" "<span class="count">{n}</span>
                    </a>
                }
            }).collect_view()}
        </nav>
    }
}

#[component]
fn AlertTable(
    page: AlertPage,
    filter: AlertFilter,
    can_triage: bool,
    bulk: ServerAction<BulkTriageAlerts>,
) -> impl IntoView {
    if page.items.is_empty() {
        return view! {
            <div class="empty-state" id="alerts-empty">
                <p>"No alerts match these filters."</p>
                {filter.cursor.is_some().then(|| view! { <A href=alerts_href(&AlertFilter { cursor: None, ..filter.clone() })>"Back to the newest alerts"</A> })}
            </div>
        }
        .into_any();
    }
    let next = page.next_cursor.clone().map(|c| alerts_href(&AlertFilter { cursor: Some(c), ..filter.clone() }));
    let newest = filter.cursor.is_some().then(|| alerts_href(&AlertFilter { cursor: None, ..filter.clone() }));
    let rows = page
        .items
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            let href = format!("/alerts/{}", a.id);
            let severity = a.severity.as_str();
            let choose = format!("Choose alert {}", a.id);
            view! {
                <tr data-alert-id=a.id.to_string() data-status=a.status.clone()>
                    {can_triage.then(|| view! {
                        <td><input type="checkbox" name=format!("ids[{i}]") value=a.id.to_string() class="alert-choice" aria-label=choose/></td>
                    })}
                    <td class="time"><time datetime=a.last_seen.to_rfc3339()>{a.last_seen.format("%Y-%m-%d %H:%M").to_string()}</time></td>
                    <td><SeverityBadge level=severity/></td>
                    <td><a href=href class="alert-link">{a.title.clone()}</a>{a.hunting.then(|| view! { <span class="tag">"hunting"</span> })}</td>
                    <td>{a.rule_name.clone()}</td>
                    <td class="numeric">{a.count}</td>
                    <td><span class=format!("status status-{}", a.status)>{status_label(&a.status).to_string()}</span></td>
                    <td>{a.assignee.clone().unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    let table = view! {
        <table class="events" id="alerts-table">
            <thead>
                <tr>
                    {can_triage.then(|| view! { <th scope="col"><span class="visually-hidden">"Choose"</span></th> })}
                    <th scope="col">"Last seen (UTC)"</th>
                    <th scope="col">"Severity"</th>
                    <th scope="col">"Alert"</th>
                    <th scope="col">"Rule"</th>
                    <th scope="col">"Events"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Assignee"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    };
    let pager = view! {
        <nav class="pager" aria-label="Pages">
            {newest.map(|href| view! { <A href=href attr:id="alerts-newest">"« Newest"</A> })}
            {next.map(|href| view! { <A href=href attr:id="alerts-older">"Older »"</A> })}
        </nav>
    };
    if !can_triage {
        return view! { {table}{pager} }.into_any();
    }
    view! {
        <ActionForm action=bulk attr:id="bulk-form">
            <div class="bulk-bar" role="group" aria-label="Change the chosen alerts">
                <label>"With the chosen alerts: "
                    <select name="action" id="bulk-action">
                        {STATUSES.iter().skip(1).map(|(s, l)| view! { <option value=*s>{format!("Mark {}", l.to_lowercase())}</option> }).collect_view()}
                        <option value="assign_me">"Assign to me"</option>
                        <option value="assign">"Assign to…"</option>
                        <option value="unassign">"Unassign"</option>
                    </select>
                </label>
                <label>"Assignee "<input type="text" name="assignee" id="bulk-assignee" maxlength="200" placeholder="for Assign to…"/></label>
                <button type="submit" id="bulk-apply">"Apply"</button>
            </div>
            {table}
        </ActionForm>
        {pager}
    }
    .into_any()
}

/// The Alert page.
#[component]
pub fn AlertDetailPage() -> impl IntoView {
    let params = use_params_map();
    let triage = ServerAction::<TriageAlert>::new();
    let comment = ServerAction::<CommentAlert>::new();
    let suppress = ServerAction::<SuppressRule>::new();
    let end = ServerAction::<EndSuppression>::new();
    let id = move || params.read().get("id").and_then(|id| id.parse::<i64>().ok());
    let detail = Resource::new(
        move || (id(), triage.version().get(), comment.version().get(), suppress.version().get(), end.version().get()),
        |(id, ..)| async move {
            match id {
                Some(id) => get_alert(id).await,
                None => Err(AppError::new(ErrorCode::NotFound, "the alert does not exist")),
            }
        },
    );
    let info = Resource::new(|| (), |_| get_server_info());
    let error = move || {
        triage
            .value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| comment.value().get().and_then(|r| r.err()))
            .or_else(|| suppress.value().get().and_then(|r| r.err()))
            .or_else(|| end.value().get().and_then(|r| r.err()))
            .map(|e| e.message)
    };
    view! {
        <section class="page alert-page">
            <p><A href="/alerts">"« Alerts"</A></p>
            <Transition fallback=|| view! { <p class="loading">"Loading the alert…"</p> }>
                {move || Suspend::new(async move {
                    let caller = info.await.ok().map(|i| i.caller);
                    let can_triage = caller.as_ref().is_some_and(|c| c.can(Permission::HandleAlerts));
                    let can_manage = caller.as_ref().is_some_and(|c| c.can(Permission::ManageRules));
                    let me = caller.map(|c| c.display_name).unwrap_or_default();
                    match detail.await {
                        Ok(detail) => view! { <AlertView detail can_triage can_manage me triage comment suppress end/> }.into_any(),
                        Err(error) => view! { <ErrorBanner error/> }.into_any(),
                    }
                })}
            </Transition>
            {move || error().map(|m| view! { <p class="error-banner" role="alert" id="triage-error">{m}</p> })}
        </section>
    }
}

/// Links to the Events page filtered on each entity.
fn entity_links(detail: &AlertDetail) -> Vec<(&'static str, String, String)> {
    let a = &detail.alert;
    let none = EventFilter::default();
    let mut out = Vec::new();
    for u in &a.users {
        out.push(("user", u.clone(), events_href(&EventFilter { actor: Some(u.clone()), ..none.clone() }, None)));
    }
    for ip in &a.ips {
        if let Some(term) = field_term("ip", ip) {
            out.push(("IP address", ip.clone(), events_href(&with_search_term(&none, &term), None)));
        }
    }
    for app in &a.apps {
        out.push(("app", app.clone(), events_href(&EventFilter { actor: Some(app.clone()), ..none.clone() }, None)));
    }
    for t in &a.targets {
        out.push(("target", t.clone(), events_href(&EventFilter { target: Some(t.clone()), ..none.clone() }, None)));
    }
    out
}

#[component]
#[allow(clippy::too_many_arguments)]
fn AlertView(
    detail: AlertDetail,
    can_triage: bool,
    can_manage: bool,
    me: String,
    triage: ServerAction<TriageAlert>,
    comment: ServerAction<CommentAlert>,
    suppress: ServerAction<SuppressRule>,
    end: ServerAction<EndSuppression>,
) -> impl IntoView {
    let a = detail.alert.clone();
    let id = a.id.to_string();
    let entities = entity_links(&detail);
    let rule = detail.rule.clone();
    let references: Vec<String> = detail.sigma_references.clone();
    let events_total = a.count;
    let shown_events = detail.events.len();
    // The alert's events as a search (`alert:ID`): the Events and Investigate pages take it.
    let of_alert = EventFilter { search: Some(format!("alert:{}", a.id)), ..EventFilter::default() };
    view! {
        <header class="page-header">
            <h1 id="alert-title">{a.title.clone()}</h1>
            <p class="subtitle">
                <SeverityBadge level=a.severity.as_str()/>" "
                <span class=format!("status status-{}", a.status) id="alert-status">{status_label(&a.status).to_string()}</span>
                {a.hunting.then(|| view! { <span class="tag">"hunting"</span> })}
                " · "{format!("{} event(s), {} – {} UTC", a.count, a.first_seen.format("%Y-%m-%d %H:%M"), a.last_seen.format("%Y-%m-%d %H:%M"))}
                " · assigned to "<strong id="alert-assignee">{a.assignee.clone().unwrap_or_else(|| "nobody".into())}</strong>
            </p>
            <nav class="toolbar alert-views" aria-label="The alert's events">
                <a href=events_href(&of_alert, None) id="alert-open-events">"Its events in search"</a>
                <a href=crate::pages::investigate::investigate_href(&of_alert) id="alert-summarize">"Overview and summary"</a>
                <a href=crate::pages::investigate::graph_href(&of_alert, "") id="alert-graph">"Graph"</a>
                <a href=crate::pages::investigate::map_href(&of_alert) id="alert-map">"Map"</a>
            </nav>
        </header>
        <div class="detail-grid">
            <div class="alert-main">
                <h2>"Rule"</h2>
                <dl class="fields" id="alert-rule">
                    <dt>"Name"</dt><dd><a href=format!("/rules/{}", a.rule_id) id="alert-rule-link">{a.rule_name.clone()}</a></dd>
                    {rule.map(|r| view! {
                        <dt>"Kind"</dt><dd>{r.kind.clone()}</dd>
                        <dt>"Rule severity"</dt><dd>{r.severity.as_str()}</dd>
                        {(!r.tags.is_empty()).then(|| view! { <dt>"Tags"</dt><dd>{r.tags.join(", ")}</dd> })}
                    })}
                    {a.sigma_id.clone().map(|s| view! { <dt>"Sigma id"</dt><dd><code>{s}</code></dd> })}
                    {detail.sigma_author.clone().map(|s| view! { <dt>"Sigma author"</dt><dd id="alert-sigma-author">{s}</dd> })}
                    {(!references.is_empty()).then(|| view! {
                        <dt>"References"</dt>
                        <dd><ul class="plain">{references.into_iter().map(|r| view! { <li class="reference">{r}</li> }).collect_view()}</ul></dd>
                    })}
                </dl>
                <h2>"Why it fired"</h2>
                {if detail.matched.is_empty() {
                    view! { <p class="muted" id="alert-why">"The rule's conditions are not recorded for this alert."</p> }.into_any()
                } else {
                    view! {
                        <ul class="why" id="alert-why">
                            {detail.matched.iter().map(|(condition, value)| view! {
                                <li><code>{condition.clone()}</code>{(!value.is_empty()).then(|| view! { " — held on "<mark>{value.clone()}</mark> })}</li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
                {detail.first_event.clone().map(|(event_id, fields)| view! {
                    <h3>"The first event's fields "<a href=format!("/events/{event_id}") class="muted">"(open the event)"</a></h3>
                    <table class="flattened" id="alert-event-fields">
                        <tbody>
                            {fields.into_iter().map(|f| view! {
                                <tr class:matched=f.matched data-matched=f.matched.to_string()>
                                    <th scope="row">{f.name}</th>
                                    <td>{if f.matched { view! { <mark>{f.value}</mark> }.into_any() } else { view! { <span class="value">{f.value}</span> }.into_any() }}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                })}
                <h2>"Events"</h2>
                <ul class="alert-events" id="alert-events">
                    {detail.events.iter().take(200).map(|(aoc, record)| view! {
                        <li><a href=format!("/events/{aoc}")>{if record.is_empty() { format!("event {aoc}") } else { record.clone() }}</a></li>
                    }).collect_view()}
                </ul>
                {(events_total as usize > shown_events.min(200)).then(|| view! {
                    <p class="muted">{format!("{} of {} events listed.", shown_events.min(200), events_total)}</p>
                })}
                <h2>"Entities"</h2>
                {if entities.is_empty() {
                    view! { <p class="muted">"None recorded."</p> }.into_any()
                } else {
                    view! {
                        <ul class="entities" id="alert-entities">
                            {entities.into_iter().map(|(kind, value, href)| view! {
                                <li><span class="muted">{kind}" "</span><a href=href title="Events of this entity">{value}</a></li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </div>
            <aside class="annotations">
                {can_triage.then(|| {
                    let (id1, id2) = (id.clone(), id.clone());
                    let current = a.status.clone();
                    view! {
                        <h2>"Triage"</h2>
                        <ActionForm action=triage attr:id="triage-form">
                            <input type="hidden" name="id" value=id1/>
                            <input type="hidden" name="set_assignee" value="true"/>
                            <label>"Status "
                                <select name="status" id="triage-status">
                                    {STATUSES.iter().map(|(s, l)| view! { <option value=*s selected=*s == current>{*l}</option> }).collect_view()}
                                </select>
                            </label>
                            <label>"Assignee "
                                <input type="text" name="assignee" id="triage-assignee" maxlength="200"
                                    value=a.assignee.clone().unwrap_or_default() placeholder="nobody"/>
                            </label>
                            <button type="submit" id="triage-save">"Save"</button>
                        </ActionForm>
                        {(!me.is_empty()).then(|| view! {
                            <ActionForm action=triage attr:id="assign-me-form">
                                <input type="hidden" name="id" value=id2/>
                                <input type="hidden" name="assignee" value=me.clone()/>
                                <button type="submit" id="assign-me">"Assign to me"</button>
                            </ActionForm>
                        })}
                    }
                })}
                <h2>"Comments"</h2>
                <ol class="comments" id="alert-comments">
                    {detail.comments.iter().map(|c| view! {
                        <li data-comment-id=c.id.to_string()>
                            <p class="comment-meta"><strong>{c.author.clone()}</strong>" · "{c.created_at.format("%Y-%m-%d %H:%M").to_string()}</p>
                            <p class="comment-body">{c.body.clone()}</p>
                        </li>
                    }).collect_view()}
                </ol>
                {can_triage.then(|| {
                    let id = id.clone();
                    // Drawn again after each comment, so the box is empty for the next one.
                    move || {
                        comment.version().get();
                        let id = id.clone();
                        view! {
                            <ActionForm action=comment attr:id="alert-comment-form">
                                <input type="hidden" name="id" value=id/>
                                <label class="visually-hidden" for="alert-comment-input">"Comment"</label>
                                <textarea name="body" id="alert-comment-input" rows="3" maxlength="10000" required placeholder="add a comment"></textarea>
                                <button type="submit" id="alert-comment-add">"Comment"</button>
                            </ActionForm>
                        }
                    }
                })}
                <h2>"Suppression"</h2>
                <Suppressions list=detail.suppressions.clone() can_manage end/>
                {can_manage.then(|| {
                    let rule_id = a.rule_id.to_string();
                    let key = a.key.clone();
                    view! {
                        <ActionForm action=suppress attr:id="suppress-form" attr:class="suppress-form">
                            <input type="hidden" name="rule_id" value=rule_id/>
                            <input type="hidden" name="entity" value=key.clone()/>
                            <p class="muted">"Keep this rule quiet for "<strong>{key}</strong>" (its matches raise and count nothing):"</p>
                            <label>"For "
                                <select name="hours" id="suppress-hours">
                                    {SUPPRESSION_SPANS.iter().map(|(h, l)| view! { <option value=*h>{*l}</option> }).collect_view()}
                                </select>
                            </label>
                            <label>"Reason "
                                <input type="text" name="reason" id="suppress-reason" required maxlength="1000" placeholder="why"/>
                            </label>
                            <button type="submit" id="suppress-save">"Suppress"</button>
                        </ActionForm>
                    }
                })}
                <h2>"History"</h2>
                <ol class="history" id="alert-history">
                    {detail.history.iter().map(|h| view! {
                        <li>
                            <time datetime=h.created_at.to_rfc3339()>{h.created_at.format("%Y-%m-%d %H:%M").to_string()}</time>" "
                            <strong>{h.author.clone()}</strong>" "
                            <span class="history-action">{h.body.clone()}</span>
                        </li>
                    }).collect_view()}
                </ol>
            </aside>
        </div>
    }
}

/// A rule's suppressions that have not ended, each with an End button for administrators.
#[component]
pub(crate) fn Suppressions(
    list: Vec<SuppressionInfo>,
    can_manage: bool,
    end: ServerAction<EndSuppression>,
) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="muted" id="suppressions">"The rule is not suppressed."</p> }.into_any();
    }
    view! {
        <ul class="plain suppressions" id="suppressions">
            {list.into_iter().map(|s| {
                let who = s.entity.clone().unwrap_or_else(|| "every entity".into());
                view! {
                    <li data-suppression=s.id.to_string()>
                        <strong>{who}</strong>
                        {format!(" until {} UTC, by {}: ", s.ends_at.format("%Y-%m-%d %H:%M"), s.created_by)}
                        <span class="reason">{s.reason.clone()}</span>
                        {can_manage.then(|| view! {
                            <ActionForm action=end attr:class="inline-form">
                                <input type="hidden" name="id" value=s.id.to_string()/>
                                <button type="submit" class="end-suppression">"End"</button>
                            </ActionForm>
                        })}
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_address_keeps_its_filters_encoded() {
        let filter = AlertFilter {
            status: Some("new".into()),
            assignee: Some("Ana B".into()),
            cursor: Some("41".into()),
            ..Default::default()
        };
        assert_eq!(alerts_href(&filter), "/alerts?status=new&assignee=Ana%20B&cursor=41");
        assert_eq!(alerts_href(&AlertFilter::default()), "/alerts");
    }
}
