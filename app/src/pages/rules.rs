//! The Rules page (every rule with its kind, severity, sources, hit counts and last hit; an
//! enable/disable switch for administrators; the Sigma export) and the rule editor: form mode
//! (the kind — match, threshold, first seen, sequence — and conditions as rows of field,
//! operator and value, fields suggested from the stored events) or Sigma YAML mode (errors shown
//! with their line and column), a backtest over the stored events on the same page, Save, the
//! rule's suppressions and Delete. The forms are server-function forms, so they work before
//! hydration (the browser lands on the saved rule, or on the list after a delete); the kind's
//! own fields are shown for the chosen kind by the style sheet alone.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

use crate::auth::Permission;
use crate::components::{ErrorBanner, SeverityBadge};
use crate::detection::{
    BacktestOutcome, ConditionRow, EditorOutcome, RuleBody, RuleDetail, RuleForm, RuleSummary, BACKTEST_RANGES,
    DEFAULT_LOOKBACK_DAYS, KINDS, OPERATORS, SOURCES, SUPPRESSION_SPANS,
};
use crate::error::{AppError, ErrorCode};
use crate::server::{
    backtest_draft, get_rule, get_server_info, list_rules, rule_fields, rule_suppressions, DeleteRule, EditRule,
    EndSuppression, SetRuleEnabled, SuppressRule,
};

/// The Rules page.
#[component]
pub fn RulesPage() -> impl IntoView {
    let toggle = ServerAction::<SetRuleEnabled>::new();
    let query = use_query_map();
    // Only a number is taken from the address, so a link cannot put words in the notice.
    let deleted = move || query.read().get("deleted").and_then(|d| d.parse::<i64>().ok());
    let rules = Resource::new(move || (toggle.version().get(), deleted()), |_| list_rules());
    let info = Resource::new(|| (), |_| get_server_info());
    let toggle_error = move || toggle.value().get().and_then(|r| r.err()).map(|e| e.message);
    view! {
        <section class="page rules-page">
            <header class="page-header">
                <h1>"Rules"</h1>
                <p class="subtitle">"Detection rules run on every newly stored event; their matches become alerts."</p>
            </header>
            {move || deleted().map(|id| view! {
                <p class="notice-inline" role="status" id="rule-deleted">
                    {format!("Rule {id} was deleted, with its alerts, suppressions and observations.")}
                </p>
            })}
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
    let delete = ServerAction::<DeleteRule>::new();
    let suppress = ServerAction::<SuppressRule>::new();
    let end = ServerAction::<EndSuppression>::new();
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
    // Apart from the rule, so adding or ending one does not reset what is being written.
    let suppressions = Resource::new(
        move || (id(), suppress.version().get(), end.version().get()),
        |(id, ..)| async move {
            match id {
                Some(id) => Some(rule_suppressions(id).await),
                None => None,
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
    let to_list = navigate.clone();
    Effect::new(move |_| {
        if let Some(Ok(EditorOutcome::Saved(saved))) = edit.value().get() {
            navigate(&format!("/rules/{saved}?saved=1"), Default::default());
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(deleted)) = delete.value().get() {
            to_list(&format!("/rules?deleted={deleted}"), Default::default());
        }
    });
    // Without JavaScript a refused form comes back as the draft in the address with the reason.
    let outcome_error = move || match edit.value().get() {
        Some(result) => result.err().map(|e| e.message),
        None => query.read().get("refused"),
    };
    let other_error = move || {
        [delete.value().get(), suppress.value().get().map(|r| r.map(|_| 0)), end.value().get().map(|r| r.map(|_| 0))]
            .into_iter()
            .find_map(|r| r.and_then(|r| r.err()))
            .map(|e| e.message)
    };
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
                        Some(Ok(detail)) => view! { <Editor detail=Some(detail) draft fields can_edit mode saved edit delete/> }.into_any(),
                        None => view! { <Editor detail=None draft fields can_edit mode saved edit delete/> }.into_any(),
                    }
                })}
            </Transition>
            {move || outcome_error().map(|m| view! { <p class="error-banner" role="alert" id="rule-error">{m}</p> })}
            {move || other_error().map(|m| view! { <p class="error-banner" role="alert" id="rule-action-error">{m}</p> })}
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
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let can_manage = info.await.ok().is_some_and(|i| i.caller.can(Permission::ManageRules));
                    let rule_id = id();
                    suppressions.await.map(|list| match (list, rule_id) {
                        (Ok(list), Some(rule_id)) => view! {
                            <RuleSuppressions rule_id list can_manage suppress end/>
                        }.into_any(),
                        (Err(error), _) => view! { <ErrorBanner error/> }.into_any(),
                        (Ok(_), None) => ().into_any(),
                    })
                })}
            </Transition>
        </section>
    }
}

/// The rule's suppressions, with End and (for administrators) a form to add one.
#[component]
fn RuleSuppressions(
    rule_id: i64,
    list: Vec<crate::detection::SuppressionInfo>,
    can_manage: bool,
    suppress: ServerAction<SuppressRule>,
    end: ServerAction<EndSuppression>,
) -> impl IntoView {
    view! {
        <section class="rule-suppressions" id="rule-suppressions" aria-labelledby="rule-suppressions-title">
            <h2 id="rule-suppressions-title">"Suppressions"</h2>
            <crate::pages::alerts::Suppressions list can_manage end/>
            {can_manage.then(|| view! {
                <ActionForm action=suppress attr:id="rule-suppress-form" attr:class="suppress-form">
                    <input type="hidden" name="rule_id" value=rule_id.to_string()/>
                    <label>"Keep the rule quiet for "
                        <input type="text" name="entity" id="rule-suppress-entity" maxlength="500" placeholder="every entity"/>
                    </label>
                    <label>"for "
                        <select name="hours" id="rule-suppress-hours">
                            {SUPPRESSION_SPANS.iter().map(|(h, l)| view! { <option value=*h>{*l}</option> }).collect_view()}
                        </select>
                    </label>
                    <label>"Reason "
                        <input type="text" name="reason" id="rule-suppress-reason" required maxlength="1000" placeholder="why"/>
                    </label>
                    <button type="submit" id="rule-suppress-save">"Suppress"</button>
                </ActionForm>
            })}
        </section>
    }
}

#[component]
#[allow(clippy::too_many_arguments)]
fn Editor(
    detail: Option<RuleDetail>,
    draft: Option<RuleBody>,
    fields: Vec<String>,
    can_edit: bool,
    mode: Option<String>,
    saved: bool,
    edit: ServerAction<EditRule>,
    delete: ServerAction<DeleteRule>,
) -> impl IntoView {
    let title = detail.as_ref().map(|d| d.rule.name.clone()).unwrap_or_else(|| "New rule".into());
    let base = detail.as_ref().map(|d| format!("/rules/{}", d.rule.id)).unwrap_or_else(|| "/rules/new".into());
    let is_sigma = detail.as_ref().is_some_and(|d| d.sigma_yaml.is_some());
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
        {detail.as_ref().filter(|_| can_edit).map(|d| view! { <DeleteRuleForm rule=d.rule.clone() delete/> })}
        {detail.as_ref().filter(|d| d.sigma_yaml.is_some()).map(|d| view! {
            <dl class="fields" id="rule-sigma-credits">
                {d.rule.sigma_id.clone().map(|s| view! { <dt>"Sigma id"</dt><dd><code>{s}</code></dd> })}
                {d.sigma_author.clone().map(|s| view! { <dt>"Author"</dt><dd>{s}</dd> })}
                {(!d.sigma_references.is_empty()).then(|| view! {
                    <dt>"References"</dt><dd>{d.sigma_references.join(", ")}</dd>
                })}
            </dl>
        })}
        {(!can_edit).then(|| detail.clone().map(|d| view! { <ReadOnlyRule detail=d/> }))}
        {can_edit.then(|| view! {
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

/// Delete, behind a disclosure and a confirmation box (both work without JavaScript).
#[component]
fn DeleteRuleForm(rule: RuleSummary, delete: ServerAction<DeleteRule>) -> impl IntoView {
    let consequence = format!(
        "Delete “{}” with its {} alert(s), its suppressions and what it has observed; this cannot be undone.",
        rule.name, rule.alerts
    );
    view! {
        <details class="danger-zone" id="rule-delete">
            <summary id="rule-delete-open">"Delete this rule…"</summary>
            <ActionForm action=delete attr:id="rule-delete-form" attr:class="inline-form">
                <input type="hidden" name="id" value=rule.id.to_string()/>
                <label>
                    <input type="checkbox" name="confirm" id="rule-delete-confirm" required/>" "{consequence}
                </label>
                <button type="submit" id="rule-delete-button" class="danger">"Delete rule"</button>
            </ActionForm>
        </details>
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
                kind: d.rule.kind.clone(),
                kind_fields: d.kind_fields.clone().unwrap_or_default(),
            }
        }
        (_, None) => RuleForm {
            severity: "medium".into(),
            enabled: true,
            group_by: "actor".into(),
            window_minutes: 60,
            combine: "all".into(),
            kind: "match".into(),
            ..Default::default()
        },
    }
}

/// One condition row: `prefix` is empty for the rule's conditions, `then_` for a sequence's
/// second step (the names the server function reads, and the element ids).
fn condition_row(prefix: &'static str, step: &'static str, i: usize, row: ConditionRow) -> impl IntoView {
    let id = |part: &str| format!("{}{part}-{i}", prefix.replace('_', "-"));
    let (f, o, v) = (id("field"), id("op"), id("value"));
    view! {
        <div class="condition-row" data-row=i.to_string()>
            <label class="visually-hidden" for=f.clone()>{format!("Field of {step}condition {}", i + 1)}</label>
            <input type="text" name=format!("{prefix}field[{i}]") id=f list="rule-field-names" value=row.field
                placeholder="field, e.g. Operation" maxlength="300"/>
            <label class="visually-hidden" for=o.clone()>{format!("Operator of {step}condition {}", i + 1)}</label>
            <select name=format!("{prefix}op[{i}]") id=o>
                {OPERATORS.iter().map(|(op, label)| {
                    let selected = *op == row.op.as_str() || (row.op.is_empty() && *op == "equals");
                    view! { <option value=*op selected=selected>{*label}</option> }
                }).collect_view()}
            </select>
            <label class="visually-hidden" for=v.clone()>{format!("Value of {step}condition {}", i + 1)}</label>
            <input type="text" name=format!("{prefix}value[{i}]") id=v value=row.value placeholder="value" maxlength="2000"/>
        </div>
    }
}

/// A list of condition rows with blank ones to fill in, and (once hydrated) a button adding more.
/// The blank rows are rendered once; rows added after hydration come after them, so adding one
/// never re-renders (and empties) a row being written.
#[component]
fn ConditionRows(
    prefix: &'static str,
    step: &'static str,
    rows: Vec<ConditionRow>,
    add_id: &'static str,
) -> impl IntoView {
    let shown = rows.len() + BLANK_ROWS + usize::from(rows.is_empty());
    let added = RwSignal::new(0usize);
    view! {
        {rows.into_iter().chain(std::iter::repeat(ConditionRow::default())).take(shown).enumerate()
            .map(|(i, row)| condition_row(prefix, step, i, row)).collect_view()}
        {move || (shown..shown + added.get()).map(|i| condition_row(prefix, step, i, ConditionRow::default())).collect_view()}
        <button type="button" class="link" id=add_id on:click=move |_| added.update(|n| *n += 1)>"Add a condition"</button>
    }
}

/// `all`/`any` for a list of rows (`any`: the second is chosen).
fn combine_select(name: &'static str, id: &'static str, any: bool) -> impl IntoView {
    view! {
        <label>"Fire when "
            <select name=name id=id>
                <option value="all" selected=!any>"all of these hold"</option>
                <option value="any" selected=any>"any of these holds"</option>
            </select>
        </label>
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
    let kind = form.kind().to_string();
    let (name, description, severity) = (form.name, form.description, form.severity);
    let sources = form.sources;
    let tags = form.tags.join(", ");
    let (enabled, hunting) = (form.enabled, form.hunting);
    let group_by = form.group_by;
    let window = form.window_minutes.to_string();
    let (combine, rows) = (form.combine, form.rows);
    let part = form.kind_fields;
    let count = if part.count > 0 { part.count.to_string() } else { String::new() };
    let lookback = if part.lookback_days > 0 { part.lookback_days } else { DEFAULT_LOOKBACK_DAYS }.to_string();
    let unshown = !from_draft && d.as_ref().is_some_and(|d| d.rows.is_none() || d.kind_fields.is_none());
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
            <label>"Kind "
                <select name="kind" id="rule-kind-choice">
                    {KINDS.iter().map(|(k, label)| view! { <option value=*k selected=*k == kind.as_str()>{*label}</option> }).collect_view()}
                </select>
            </label>
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
            <label>"Entity (alerts are grouped by it; several: actor, ip) "<input type="text" name="group_by" id="rule-group-by" value=group_by list="rule-group-names" maxlength="300"/></label>
            <datalist id="rule-group-names">
                {["actor", "target", "ip", "app", "tenant", "field:"].into_iter().map(|g| view! { <option value=g></option> }).collect_view()}
            </datalist>
            <label>"Window (minutes) "<input type="number" name="window_minutes" id="rule-window" value=window min="1" max="10080"/></label>
            <label><input type="checkbox" name="enabled" id="rule-enabled" checked=enabled/>" Enabled"</label>
            <label><input type="checkbox" name="hunting" id="rule-hunting" checked=hunting/>" Hunting (kept out of the triage queue)"</label>
            <fieldset class="conditions wide">
                <legend>
                    "Conditions"
                    <span class="kind-part kind-threshold kind-first_seen">" (the events counted or remembered)"</span>
                    <span class="kind-part kind-sequence">" — step A, the first event"</span>
                </legend>
                {combine_select("combine", "rule-combine", combine == "any")}
                <ConditionRows prefix="" step="" rows add_id="rule-add-row"/>
            </fieldset>
            <fieldset class="kind-part kind-threshold wide" id="rule-threshold">
                <legend>"Threshold: alert when one entity reaches, within one window"</legend>
                <label>"At least (events, or distinct values) "
                    <input type="number" name="count" id="rule-count" value=count inputmode="numeric" placeholder="e.g. 10"/>
                </label>
                <label>"Distinct values of (blank: count the events) "
                    <input type="text" name="distinct" id="rule-distinct" value=part.distinct list="rule-field-names" maxlength="200" placeholder="e.g. actor"/>
                </label>
                <p class="muted">"Windows are fixed and aligned to the clock; a burst across a boundary counts in two halves."</p>
            </fieldset>
            <fieldset class="kind-part kind-first_seen wide" id="rule-first-seen">
                <legend>"First seen: alert on a value the entity has not shown before"</legend>
                <label>"Remembered field "
                    <input type="text" name="remembered" id="rule-remembered" value=part.remembered list="rule-field-names" maxlength="200" placeholder="e.g. location"/>
                </label>
                <label>"Look-back (days, 1–365) "
                    <input type="number" name="lookback_days" id="rule-lookback" value=lookback inputmode="numeric"/>
                </label>
            </fieldset>
            <fieldset class="kind-part kind-sequence wide" id="rule-then">
                <legend>"Step B: then, by the same entity, within the window"</legend>
                {combine_select("then_combine", "rule-then-combine", part.then_combine == "any")}
                <ConditionRows prefix="then_" step="step B " rows=part.then_rows add_id="rule-then-add-row"/>
                <label><input type="checkbox" name="any_order" id="rule-any-order" checked=part.any_order/>" In either order (B before A counts too)"</label>
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
