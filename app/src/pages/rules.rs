//! The Rules page (every rule with its kind, severity, sources, hit counts and last hit; an
//! enable/disable switch for administrators; the Sigma export) and the rule editor: form mode
//! (conditions as rows of field, operator and value, fields suggested from the stored events)
//! or Sigma YAML mode (errors shown with their line and column), a backtest over the stored
//! events on the same page, and Save. The forms are server-function forms, so saving works
//! before hydration (the browser lands on the saved rule).

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

use crate::auth::Permission;
use crate::components::{ErrorBanner, SeverityBadge};
use crate::detection::{
    BacktestOutcome, ConditionRow, EditorOutcome, RuleBody, RuleDetail, RuleForm, RuleSummary, BACKTEST_RANGES,
    OPERATORS, SOURCES,
};
use crate::error::{AppError, ErrorCode};
use crate::server::{backtest_draft, get_rule, get_server_info, list_rules, rule_fields, EditRule, SetRuleEnabled};

/// The Rules page.
#[component]
pub fn RulesPage() -> impl IntoView {
    let toggle = ServerAction::<SetRuleEnabled>::new();
    let rules = Resource::new(move || toggle.version().get(), |_| list_rules());
    let info = Resource::new(|| (), |_| get_server_info());
    let toggle_error = move || toggle.value().get().and_then(|r| r.err()).map(|e| e.message);
    view! {
        <section class="page rules-page">
            <header class="page-header">
                <h1>"Rules"</h1>
                <p class="subtitle">"Detection rules run on every newly stored event; their matches become alerts."</p>
            </header>
            <Transition fallback=|| view! { <p class="loading">"Loading rules…"</p> }>
                {move || Suspend::new(async move {
                    let can_edit = info.await.ok().is_some_and(|i| i.caller.can(Permission::ManageRules));
                    match rules.await {
                        Ok(rules) => view! {
                            {can_edit.then(|| view! { <p><A href="/rules/new" attr:id="rule-new" attr:class="button primary">"New rule"</A></p> })}
                            <RuleTable rules can_edit toggle/>
                        }.into_any(),
                        Err(error) => view! { <ErrorBanner error/> }.into_any(),
                    }
                })}
            </Transition>
            {move || toggle_error().map(|m| view! { <p class="error-banner" role="alert">{m}</p> })}
        </section>
    }
}

#[component]
fn RuleTable(rules: Vec<RuleSummary>, can_edit: bool, toggle: ServerAction<SetRuleEnabled>) -> impl IntoView {
    if rules.is_empty() {
        return view! { <div class="empty-state" id="rules-empty"><p>"No rules yet."</p></div> }.into_any();
    }
    view! {
        <table class="events" id="rules-table">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Kind"</th>
                    <th scope="col">"Severity"</th>
                    <th scope="col">"Sources"</th>
                    <th scope="col">"Hits"</th>
                    <th scope="col">"Alerts"</th>
                    <th scope="col">"Last hit (UTC)"</th>
                    <th scope="col">"Enabled"</th>
                    <th scope="col">"Export"</th>
                </tr>
            </thead>
            <tbody>
                {rules.into_iter().map(|r| {
                    let href = format!("/rules/{}", r.id);
                    let sources = if r.sources.is_empty() { "all".to_string() } else { r.sources.join(", ") };
                    let switch = (!r.enabled).to_string();
                    let label = if r.enabled { "Disable" } else { "Enable" };
                    let switch_label = format!("{label} {}", r.name);
                    view! {
                        <tr data-rule-id=r.id.to_string() data-rule-name=r.name.clone()>
                            <td>
                                <a href=href class="rule-link">{r.name.clone()}</a>
                                {r.hunting.then(|| view! { <span class="tag">"hunting"</span> })}
                                {r.is_sigma.then(|| view! { <span class="tag">"Sigma"</span> })}
                                {r.builtin.then(|| view! { <span class="tag">"built-in"</span> })}
                            </td>
                            <td>{r.kind.clone()}</td>
                            <td><SeverityBadge level=r.severity.as_str()/></td>
                            <td>{sources}</td>
                            <td class="numeric">{r.hits}</td>
                            <td class="numeric"><a href=format!("/alerts?rule={}&hunting=all", r.id)>{r.alerts}</a></td>
                            <td class="time">{r.last_hit.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_else(|| "never".into())}</td>
                            <td>
                                {if can_edit {
                                    view! {
                                        <ActionForm action=toggle attr:class="rule-toggle">
                                            <input type="hidden" name="id" value=r.id.to_string()/>
                                            <input type="hidden" name="enabled" value=switch/>
                                            <button type="submit" class="link" aria-label=switch_label>
                                                {if r.enabled { "on · disable" } else { "off · enable" }}
                                            </button>
                                        </ActionForm>
                                    }.into_any()
                                } else {
                                    view! { <span>{if r.enabled { "on" } else { "off" }}</span> }.into_any()
                                }}
                            </td>
                            <td><a href=format!("/api/rules/{}/sigma", r.id) download="" class="rule-export">"Sigma YAML"</a></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

const SIGMA_EXAMPLE: &str = "title: Inbox rule forwarding mail outside\nid: 5b9a1c0e-0000-4000-8000-000000000001\n\
status: experimental\nauthor: Your name\nlogsource:\n    product: m365\n    service: exchange\ndetection:\n    \
selection:\n        Operation: New-InboxRule\n        Parameters|contains: ForwardTo\n    condition: selection\nlevel: high\n";

/// The rule editor (`/rules/new` and `/rules/:id`).
#[component]
pub fn RuleEditorPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let edit = ServerAction::<EditRule>::new();
    let id = move || params.read().get("id").and_then(|id| id.parse::<i64>().ok());
    // Keyed on the address only: a backtest must not reset what is being written; a save lands
    // on `?saved=1`, which reloads the rule.
    let saved = move || query.read().get("saved").is_some();
    let is_new = move || params.read().get("id").as_deref() == Some("new");
    let rule = Resource::new(
        move || (id(), is_new(), saved()),
        |(id, is_new, _)| async move {
            match id {
                Some(id) => Some(get_rule(id).await),
                None if is_new => None,
                None => Some(Err(AppError::new(ErrorCode::NotFound, "the rule does not exist"))),
            }
        },
    );
    let fields = Resource::new(|| (), |_| rule_fields());
    // Without JavaScript a backtest comes back as the draft in the address: the form is filled
    // from it and the backtest runs here.
    let draft = move || query.read().get("draft").and_then(|d| serde_json::from_str::<RuleBody>(&d).ok());
    let address_backtest = Resource::new(
        move || (id(), query.read().get("draft"), query.read().get("backtest")),
        |(id, draft, range)| async move {
            match (draft, range) {
                (Some(draft), Some(range)) => Some(backtest_draft(id.map(|i| i.to_string()), draft, range).await),
                _ => None,
            }
        },
    );
    let info = Resource::new(|| (), |_| get_server_info());
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(EditorOutcome::Saved(saved))) = edit.value().get() {
            navigate(&format!("/rules/{saved}?saved=1"), Default::default());
        }
    });
    let outcome_error = move || edit.value().get().and_then(|r| r.err()).map(|e| e.message);
    let backtest = move || match edit.value().get() {
        Some(Ok(EditorOutcome::Backtest(b))) => Some(b),
        _ => None,
    };
    view! {
        <section class="page rule-editor-page">
            <p><A href="/rules">"« Rules"</A></p>
            <Transition fallback=|| view! { <p class="loading">"Loading the rule…"</p> }>
                {move || Suspend::new(async move {
                    let saved = saved();
                    let mode = query.read().get("mode");
                    let draft = draft();
                    let can_edit = info.await.ok().is_some_and(|i| i.caller.can(Permission::ManageRules));
                    let fields = fields.await.unwrap_or_default();
                    match rule.await {
                        Some(Err(error)) => view! { <ErrorBanner error/> }.into_any(),
                        Some(Ok(detail)) => view! { <Editor detail=Some(detail) draft fields can_edit mode saved edit/> }.into_any(),
                        None => view! { <Editor detail=None draft fields can_edit mode saved edit/> }.into_any(),
                    }
                })}
            </Transition>
            {move || outcome_error().map(|m| view! { <p class="error-banner" role="alert" id="rule-error">{m}</p> })}
            {move || backtest().map(|b| view! { <BacktestView outcome=b/> })}
            <Show when=move || edit.value().get().is_none()>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        address_backtest.await.map(|result| match result {
                            Ok(outcome) => view! { <BacktestView outcome/> }.into_any(),
                            Err(error) => view! { <p class="error-banner" role="alert" id="rule-error">{error.message}</p> }.into_any(),
                        })
                    })}
                </Transition>
            </Show>
        </section>
    }
}

#[component]
fn Editor(
    detail: Option<RuleDetail>,
    draft: Option<RuleBody>,
    fields: Vec<String>,
    can_edit: bool,
    mode: Option<String>,
    saved: bool,
    edit: ServerAction<EditRule>,
) -> impl IntoView {
    let end = ServerAction::<crate::server::EndSuppression>::new();
    let title = detail.as_ref().map(|d| d.rule.name.clone()).unwrap_or_else(|| "New rule".into());
    let base = detail.as_ref().map(|d| format!("/rules/{}", d.rule.id)).unwrap_or_else(|| "/rules/new".into());
    let is_sigma = detail.as_ref().is_some_and(|d| d.sigma_yaml.is_some());
    let is_match = detail.as_ref().is_none_or(|d| d.rule.kind == "match");
    let sigma_mode = match mode.as_deref() {
        Some("sigma") => true,
        Some("form") => false,
        _ => is_sigma || matches!(draft, Some(RuleBody::Sigma { .. })),
    };
    let form_href = format!("{base}?mode=form");
    let sigma_href = format!("{base}?mode=sigma");
    view! {
        <header class="page-header">
            <h1 id="rule-title">{title}</h1>
            {detail.as_ref().map(|d| {
                let r = &d.rule;
                view! {
                    <p class="subtitle">
                        <SeverityBadge level=r.severity.as_str()/>" "
                        <span id="rule-kind">{format!("{} rule", r.kind)}</span>
                        {format!(" · {} hit(s) in {} alert(s)", r.hits, r.alerts)}
                        {r.last_hit.map(|t| format!(" · last hit {} UTC", t.format("%Y-%m-%d %H:%M")))}
                        {(!r.enabled).then_some(" · disabled")}
                    </p>
                }
            })}
        </header>
        {saved.then(|| view! { <p class="notice-inline" role="status" id="rule-saved">"Saved."</p> })}
        {detail.as_ref().filter(|d| d.sigma_yaml.is_some()).map(|d| view! {
            <dl class="fields" id="rule-sigma-credits">
                {d.rule.sigma_id.clone().map(|s| view! { <dt>"Sigma id"</dt><dd><code>{s}</code></dd> })}
                {d.sigma_author.clone().map(|s| view! { <dt>"Author"</dt><dd>{s}</dd> })}
                {(!d.sigma_references.is_empty()).then(|| view! {
                    <dt>"References"</dt><dd>{d.sigma_references.join(", ")}</dd>
                })}
            </dl>
        })}
        {detail.as_ref().filter(|d| !d.suppressions.is_empty()).map(|d| view! {
            <h2>"Suppressions"</h2>
            <crate::pages::alerts::Suppressions list=d.suppressions.clone() can_manage=can_edit end/>
        })}
        {(!can_edit || !is_match).then(|| {
            let d = detail.clone();
            view! {
                {(!is_match).then(|| view! {
                    <p class="notice-inline" role="note">"Rules of this kind are changed through the REST API; the page shows them."</p>
                })}
                {d.map(|d| view! { <ReadOnlyRule detail=d/> })}
            }
        })}
        {(can_edit && is_match).then(|| view! {
            <nav class="mode-tabs" aria-label="How to write the rule">
                {(!is_sigma).then(|| view! {
                    <a href=form_href.clone() id="mode-form" aria-current=(!sigma_mode).then_some("page")>"Form"</a>
                })}
                <a href=sigma_href.clone() id="mode-sigma" aria-current=sigma_mode.then_some("page")>"Sigma YAML"</a>
            </nav>
            {if sigma_mode {
                view! { <SigmaForm detail=detail.clone() draft=draft.clone() edit/> }.into_any()
            } else {
                view! { <RuleFormView detail=detail.clone() draft=draft.clone() fields=fields.clone() edit/> }.into_any()
            }}
        })}
    }
}

#[component]
fn ReadOnlyRule(detail: RuleDetail) -> impl IntoView {
    let r = detail.rule.clone();
    view! {
        <dl class="fields" id="rule-fields-read-only">
            <dt>"Description"</dt><dd>{r.description.clone()}</dd>
            <dt>"Sources"</dt><dd>{if r.sources.is_empty() { "all".to_string() } else { r.sources.join(", ") }}</dd>
            <dt>"Tags"</dt><dd>{r.tags.join(", ")}</dd>
            <dt>"Grouped by"</dt><dd>{format!("{} within {} minutes", detail.group_by, detail.window_minutes)}</dd>
            <dt>"Hunting"</dt><dd>{if r.hunting { "yes" } else { "no" }}</dd>
        </dl>
        <h2>"Condition"</h2>
        {match detail.sigma_yaml.clone() {
            Some(yaml) => view! { <pre class="raw" id="rule-sigma-text">{yaml}</pre> }.into_any(),
            None => view! { <pre class="raw" id="rule-condition">{detail.condition_json.clone()}</pre> }.into_any(),
        }}
    }
}

/// The fields both modes share: the rule's id, the backtest range and the two buttons.
#[component]
fn EditorButtons() -> impl IntoView {
    view! {
        <div class="editor-actions">
            <label>"Backtest over "
                <select name="range" id="backtest-range">
                    {BACKTEST_RANGES.iter().map(|(r, l)| view! { <option value=*r selected=*r == "7d">{*l}</option> }).collect_view()}
                </select>
            </label>
            <button type="submit" name="intent" value="backtest" id="rule-backtest">"Backtest"</button>
            <button type="submit" name="intent" value="save" id="rule-save" class="primary">"Save"</button>
        </div>
    }
}

#[component]
fn SigmaForm(detail: Option<RuleDetail>, draft: Option<RuleBody>, edit: ServerAction<EditRule>) -> impl IntoView {
    let id = detail.as_ref().map(|d| d.rule.id.to_string()).unwrap_or_default();
    let (yaml, enabled, hunting) = match draft {
        Some(RuleBody::Sigma { yaml, hunting, enabled }) => (yaml, enabled, hunting),
        _ => (
            detail.as_ref().and_then(|d| d.sigma_yaml.clone()).unwrap_or_default(),
            detail.as_ref().is_none_or(|d| d.rule.enabled),
            detail.as_ref().is_some_and(|d| d.rule.hunting),
        ),
    };
    view! {
        <ActionForm action=edit attr:id="rule-sigma-form" attr:class="rule-form">
            <input type="hidden" name="id" value=id/>
            <input type="hidden" name="mode" value="sigma"/>
            <label class="wide" for="rule-sigma">"Sigma rule (YAML): title, logsource (m365/*, azure/auditlogs, azure/signinlogs) and detection"</label>
            <textarea name="sigma" id="rule-sigma" rows="18" spellcheck="false" placeholder=SIGMA_EXAMPLE>{yaml}</textarea>
            <label><input type="checkbox" name="enabled" id="rule-enabled" checked=enabled/>" Enabled"</label>
            <label><input type="checkbox" name="hunting" id="rule-hunting" checked=hunting/>" Hunting (kept out of the triage queue)"</label>
            <EditorButtons/>
        </ActionForm>
    }
}

/// Blank rows offered beyond the rule's own (more with the Add button once hydrated).
const BLANK_ROWS: usize = 2;

/// What form mode starts from: the draft in the address, else the stored rule, else a new one.
fn initial_form(detail: Option<&RuleDetail>, draft: Option<RuleBody>) -> RuleForm {
    match (draft, detail) {
        (Some(RuleBody::Form(form)), _) => form,
        (_, Some(d)) => {
            let (combine, rows) = d.rows.clone().unwrap_or_else(|| ("all".into(), Vec::new()));
            RuleForm {
                name: d.rule.name.clone(),
                description: d.rule.description.clone(),
                severity: d.rule.severity.as_str().into(),
                sources: d.rule.sources.clone(),
                tags: d.rule.tags.clone(),
                hunting: d.rule.hunting,
                enabled: d.rule.enabled,
                group_by: d.group_by.clone(),
                window_minutes: d.window_minutes,
                combine,
                rows,
            }
        }
        (_, None) => RuleForm {
            severity: "medium".into(),
            enabled: true,
            group_by: "actor".into(),
            window_minutes: 60,
            combine: "all".into(),
            ..Default::default()
        },
    }
}

#[component]
fn RuleFormView(
    detail: Option<RuleDetail>,
    draft: Option<RuleBody>,
    fields: Vec<String>,
    edit: ServerAction<EditRule>,
) -> impl IntoView {
    let d = detail.clone();
    let id = d.as_ref().map(|d| d.rule.id.to_string()).unwrap_or_default();
    let from_draft = matches!(draft, Some(RuleBody::Form(_)));
    let form = initial_form(d.as_ref(), draft);
    let (name, description, severity) = (form.name, form.description, form.severity);
    let sources = form.sources;
    let tags = form.tags.join(", ");
    let (enabled, hunting) = (form.enabled, form.hunting);
    let group_by = form.group_by;
    let window = form.window_minutes.to_string();
    let (combine, rows) = (form.combine, form.rows);
    let unshown = !from_draft && d.as_ref().is_some_and(|d| d.rows.is_none());
    // The blank rows are rendered once; rows added after hydration come after them, so adding
    // one never re-renders (and empties) a row being written.
    let shown = rows.len() + BLANK_ROWS + usize::from(rows.is_empty());
    let added = RwSignal::new(0usize);
    let row_view = move |i: usize, row: ConditionRow| {
        let (f, o, v) = (format!("field-{i}"), format!("op-{i}"), format!("value-{i}"));
        view! {
            <div class="condition-row" data-row=i.to_string()>
                <label class="visually-hidden" for=f.clone()>{format!("Field of condition {}", i + 1)}</label>
                <input type="text" name=format!("field[{i}]") id=f list="rule-field-names" value=row.field
                    placeholder="field, e.g. Operation" maxlength="300"/>
                <label class="visually-hidden" for=o.clone()>{format!("Operator of condition {}", i + 1)}</label>
                <select name=format!("op[{i}]") id=o>
                    {OPERATORS.iter().map(|(op, label)| {
                        let selected = *op == row.op.as_str() || (row.op.is_empty() && *op == "equals");
                        view! { <option value=*op selected=selected>{*label}</option> }
                    }).collect_view()}
                </select>
                <label class="visually-hidden" for=v.clone()>{format!("Value of condition {}", i + 1)}</label>
                <input type="text" name=format!("value[{i}]") id=v value=row.value placeholder="value" maxlength="2000"/>
            </div>
        }
    };
    view! {
        {unshown.then(|| view! {
            <p class="notice-inline" role="note">
                "This rule's condition has groups the form cannot show (shown below); saving the form replaces it."
            </p>
            <pre class="raw" id="rule-condition">{d.as_ref().map(|d| d.condition_json.clone())}</pre>
        })}
        <ActionForm action=edit attr:id="rule-form" attr:class="rule-form">
            <input type="hidden" name="id" value=id/>
            <input type="hidden" name="mode" value="form"/>
            <label>"Name "<input type="text" name="name" id="rule-name" value=name required maxlength="200"/></label>
            <label>"Severity "
                <select name="severity" id="rule-severity">
                    {["info", "low", "medium", "high", "critical"].into_iter().map(|s| view! { <option value=s selected=s == severity.as_str()>{s}</option> }).collect_view()}
                </select>
            </label>
            <label class="wide">"Description "<textarea name="description" id="rule-description" rows="2" maxlength="10000">{description}</textarea></label>
            <fieldset class="sources">
                <legend>"Sources (none chosen: all)"</legend>
                {SOURCES.iter().enumerate().map(|(i, (s, label))| view! {
                    <label><input type="checkbox" name=format!("sources[{i}]") value=*s checked=sources.iter().any(|x| x == s)/>" "{*label}</label>
                }).collect_view()}
            </fieldset>
            <label>"Tags "<input type="text" name="tags" id="rule-tags" value=tags placeholder="attack.t1114.003, …" maxlength="5000"/></label>
            <label>"Group alerts by "<input type="text" name="group_by" id="rule-group-by" value=group_by list="rule-group-names" maxlength="300"/></label>
            <datalist id="rule-group-names">
                {["actor", "target", "ip", "app", "tenant"].into_iter().map(|g| view! { <option value=g></option> }).collect_view()}
            </datalist>
            <label>"Window (minutes) "<input type="number" name="window_minutes" id="rule-window" value=window min="1" max="10080"/></label>
            <label><input type="checkbox" name="enabled" id="rule-enabled" checked=enabled/>" Enabled"</label>
            <label><input type="checkbox" name="hunting" id="rule-hunting" checked=hunting/>" Hunting (kept out of the triage queue)"</label>
            <fieldset class="conditions wide">
                <legend>"Conditions"</legend>
                <label>"Fire when "
                    <select name="combine" id="rule-combine">
                        <option value="all" selected=combine == "all">"all of these hold"</option>
                        <option value="any" selected=combine == "any">"any of these holds"</option>
                    </select>
                </label>
                {rows.into_iter().chain(std::iter::repeat(ConditionRow::default())).take(shown).enumerate().map(|(i, row)| row_view(i, row)).collect_view()}
                {move || (shown..shown + added.get()).map(|i| row_view(i, ConditionRow::default())).collect_view()}
                <button type="button" class="link" id="rule-add-row" on:click=move |_| added.update(|n| *n += 1)>"Add a condition"</button>
            </fieldset>
            <datalist id="rule-field-names">
                {fields.into_iter().map(|f| view! { <option value=f></option> }).collect_view()}
            </datalist>
            <EditorButtons/>
        </ActionForm>
    }
}

#[component]
fn BacktestView(outcome: BacktestOutcome) -> impl IntoView {
    let range = BACKTEST_RANGES.iter().find(|(r, _)| *r == outcome.range).map(|(_, l)| *l).unwrap_or("the range");
    let summary = format!(
        "{range}: {} alert(s) from {} matching event(s) of {} scanned{}.",
        outcome.alerts.len(),
        outcome.matches,
        outcome.events_scanned,
        if outcome.truncated { " (stopped at the scan limit)" } else { "" }
    );
    view! {
        <section class="backtest" id="backtest-result" aria-live="polite">
            <h2>"Backtest"</h2>
            <p id="backtest-summary" data-alerts=outcome.alerts.len().to_string()>{summary}</p>
            {(!outcome.alerts.is_empty()).then(|| view! {
                <table class="events" id="backtest-alerts">
                    <thead>
                        <tr>
                            <th scope="col">"Entity"</th>
                            <th scope="col">"Events"</th>
                            <th scope="col">"First seen (UTC)"</th>
                            <th scope="col">"Last seen (UTC)"</th>
                            <th scope="col">"Some of the events"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {outcome.alerts.into_iter().take(200).map(|a| view! {
                            <tr>
                                <td>{a.key}</td>
                                <td class="numeric">{a.count}</td>
                                <td class="time">{a.first_seen.format("%Y-%m-%d %H:%M").to_string()}</td>
                                <td class="time">{a.last_seen.format("%Y-%m-%d %H:%M").to_string()}</td>
                                <td>
                                    {a.events.into_iter().take(5).map(|(id, record)| {
                                        let label = if record.is_empty() { format!("event {id}") } else { record };
                                        view! { <a href=format!("/events/{id}") class="backtest-event">{label}</a>" " }
                                    }).collect_view()}
                                </td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            })}
        </section>
    }
}
