//! Server functions of the Alerts and Rules pages: the alert queue, one alert and its triage,
//! the rule list, the rule editor (save, backtest, delete) and suppressions.

use leptos::prelude::*;

use crate::detection::{AlertDetail, AlertFilter, AlertPage, EditorOutcome, RuleDetail, RuleSummary};
use crate::error::AppError;

/// Every rule with its hit counts.
#[server(endpoint = "list_rules")]
pub async fn list_rules() -> Result<Vec<RuleSummary>, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    caller()?.require(Permission::ViewEvents)?;
    services()?.detection.list_rules().await
}

/// One rule, for the editor.
#[server(endpoint = "get_rule")]
pub async fn get_rule(id: i64) -> Result<RuleDetail, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    caller()?.require(Permission::ViewEvents)?;
    services()?.detection.rule(id).await
}

/// Field names rules can test (seen in stored events, and the aliases), for suggestions.
#[server(endpoint = "rule_fields")]
pub async fn rule_fields() -> Result<Vec<String>, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    caller()?.require(Permission::ViewEvents)?;
    services()?.detection.field_names().await
}

/// The rule editor's form: `intent` `save` stores the rule (`id` absent: a new one), `backtest`
/// runs it over the stored events of `range` without saving. `mode` is `form` (the condition
/// from the rows `field`/`op`/`value`, the `kind` and its part: `count` and `distinct` for a
/// threshold, `remembered` and `lookback_days` for first seen, the step-B rows
/// `then_field`/`then_op`/`then_value` for a sequence) or `sigma` (the YAML in `sigma`).
#[server(endpoint = "edit_rule")]
#[allow(clippy::too_many_arguments)]
pub async fn edit_rule(
    id: Option<String>,
    intent: Option<String>,
    mode: Option<String>,
    name: Option<String>,
    description: Option<String>,
    severity: Option<String>,
    sources: Option<Vec<String>>,
    tags: Option<String>,
    hunting: Option<String>,
    enabled: Option<String>,
    group_by: Option<String>,
    window_minutes: Option<String>,
    combine: Option<String>,
    field: Option<Vec<String>>,
    op: Option<Vec<String>>,
    value: Option<Vec<String>>,
    sigma: Option<String>,
    range: Option<String>,
    kind: Option<String>,
    count: Option<String>,
    distinct: Option<String>,
    remembered: Option<String>,
    lookback_days: Option<String>,
    then_combine: Option<String>,
    then_field: Option<Vec<String>>,
    then_op: Option<Vec<String>>,
    then_value: Option<Vec<String>>,
    any_order: Option<String>,
) -> Result<EditorOutcome, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;
    use crate::detection::{ConditionRow, KindInput, RuleBody, RuleForm};

    /// Rows from the parallel lists a form posts (an operator or value missing: the default).
    fn rows(fields: Option<Vec<String>>, ops: Option<Vec<String>>, values: Option<Vec<String>>) -> Vec<ConditionRow> {
        let (ops, values) = (ops.unwrap_or_default(), values.unwrap_or_default());
        fields
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, field)| ConditionRow {
                field,
                op: ops.get(i).cloned().unwrap_or_else(|| "equals".into()),
                value: values.get(i).cloned().unwrap_or_default(),
            })
            .collect()
    }

    let caller = caller()?;
    caller.require(Permission::ManageRules)?;
    let id =
        id.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(|s| crate::input::parse_id("id", s)).transpose()?;
    let on = |v: &Option<String>| v.as_deref().is_some_and(|v| matches!(v, "on" | "true" | "1"));
    let plain = super::tokens::plain_form_post();
    let sigma_mode = mode.as_deref() == Some("sigma");
    // What was typed, unchecked: a browser without JavaScript whose form is refused gets the
    // page again filled with it, and the reason.
    let as_posted = plain.then(|| {
        if sigma_mode {
            return RuleBody::Sigma {
                yaml: sigma.clone().unwrap_or_default(),
                hunting: on(&hunting),
                enabled: on(&enabled),
            };
        }
        let number = |v: &Option<String>| v.as_deref().and_then(|v| v.trim().parse::<i64>().ok()).unwrap_or(0);
        let split = |v: &Option<String>| {
            v.as_deref().unwrap_or_default().split([',', ' ']).filter(|w| !w.is_empty()).map(str::to_string).collect()
        };
        RuleBody::Form(RuleForm {
            name: name.clone().unwrap_or_default(),
            description: description.clone().unwrap_or_default(),
            severity: severity.clone().unwrap_or_default(),
            sources: sources.clone().unwrap_or_default(),
            tags: split(&tags),
            hunting: on(&hunting),
            enabled: on(&enabled),
            group_by: group_by.clone().unwrap_or_default(),
            window_minutes: window_minutes.as_deref().and_then(|v| v.trim().parse().ok()).unwrap_or(60),
            combine: combine.clone().unwrap_or_default(),
            rows: rows(field.clone(), op.clone(), value.clone()),
            kind: kind.clone().unwrap_or_default(),
            kind_fields: crate::detection::KindFields {
                count: number(&count),
                distinct: distinct.clone().unwrap_or_default(),
                remembered: remembered.clone().unwrap_or_default(),
                lookback_days: number(&lookback_days),
                then_combine: then_combine.clone().unwrap_or_default(),
                then_rows: rows(then_field.clone(), then_op.clone(), then_value.clone()),
                any_order: on(&any_order),
            },
        })
    });
    let outcome = async {
        let body = match mode.as_deref().unwrap_or("form") {
            "sigma" => RuleBody::Sigma {
                yaml: sigma.filter(|s| !s.trim().is_empty()).ok_or_else(|| {
                    AppError::invalid_input("sigma", "paste a Sigma rule (YAML with title, logsource and detection)")
                })?,
                hunting: on(&hunting),
                enabled: on(&enabled),
            },
            "form" => {
                let kind = KindInput {
                    kind,
                    count,
                    distinct,
                    remembered,
                    lookback_days,
                    then_combine,
                    then_rows: rows(then_field, then_op, then_value),
                    any_order: on(&any_order),
                };
                let rows = rows(field, op, value);
                let sources = sources.unwrap_or_default().join(",");
                RuleBody::Form(
                    RuleForm::parse(
                        name.as_deref().unwrap_or_default(),
                        description.as_deref(),
                        severity.as_deref(),
                        Some(&sources),
                        tags.as_deref(),
                        on(&hunting),
                        on(&enabled),
                        group_by.as_deref(),
                        window_minutes.as_deref(),
                        combine.as_deref(),
                        rows,
                    )?
                    .with_kind(kind)?,
                )
            }
            _ => return Err(AppError::invalid_input("mode", "form or sigma")),
        };
        let service = services()?.detection;
        match intent.as_deref().unwrap_or("save") {
            "backtest" => {
                let range = range.unwrap_or_else(|| "7d".into());
                if plain {
                    // A browser without JavaScript gets the page again with the draft in the
                    // address; the page runs the backtest (`backtest_draft`) and fills the form
                    // from it.
                    let address = draft_address(id, &body, &[("backtest", &range)])?;
                    leptos_axum::redirect(&address);
                    return Ok(EditorOutcome::ShownAt(address));
                }
                service.backtest(id, body, &range).await.map(EditorOutcome::Backtest)
            }
            "save" => {
                let saved = service.save_rule(&caller, id, body).await?;
                // A browser without JavaScript lands on the saved rule.
                if plain {
                    leptos_axum::redirect(&format!("/rules/{saved}?saved=1"));
                }
                Ok(EditorOutcome::Saved(saved))
            }
            _ => Err(AppError::invalid_input("intent", "save or backtest")),
        }
    }
    .await;
    match (outcome, as_posted) {
        (Err(error), Some(draft)) if error.code == crate::error::ErrorCode::InvalidInput => {
            let address = draft_address(id, &draft, &[("refused", &error.message)])?;
            leptos_axum::redirect(&address);
            Ok(EditorOutcome::ShownAt(address))
        }
        (outcome, _) => outcome,
    }
}

/// The editor's address showing `draft` (form or Sigma mode) with `extra` parameters.
#[cfg(feature = "ssr")]
fn draft_address(
    id: Option<i64>,
    draft: &crate::detection::RuleBody,
    extra: &[(&str, &str)],
) -> Result<String, AppError> {
    let encode = crate::pages::events::encode;
    let text = serde_json::to_string(draft).map_err(|_| AppError::invalid_input("draft", "unreadable"))?;
    let page = id.map(|i| i.to_string()).unwrap_or_else(|| "new".into());
    let mode = if matches!(draft, crate::detection::RuleBody::Sigma { .. }) { "sigma" } else { "form" };
    let mut address = format!("/rules/{page}?mode={mode}");
    for (key, value) in extra {
        address.push_str(&format!("&{key}={}", encode(value)));
    }
    address.push_str(&format!("&draft={}", encode(&text)));
    Ok(address)
}

/// Deletes a rule with its alerts, suppressions and observations; `confirm` must be set (the
/// page's confirmation box). A browser without JavaScript is sent to the Rules page, which says
/// so; answers the deleted rule's id.
#[server(endpoint = "delete_rule")]
pub async fn delete_rule(id: i64, confirm: Option<String>) -> Result<i64, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::ManageRules)?;
    if !confirm.as_deref().is_some_and(|c| matches!(c, "on" | "true" | "1" | "yes")) {
        return Err(AppError::invalid_input("confirm", "tick the box to confirm that the rule and its alerts go"));
    }
    services()?.detection.delete_rule(&caller, id).await?;
    if super::tokens::plain_form_post() {
        leptos_axum::redirect(&format!("/rules?deleted={id}"));
    }
    Ok(id)
}

/// A rule's suppressions that have not ended.
#[server(endpoint = "rule_suppressions")]
pub async fn rule_suppressions(rule_id: i64) -> Result<Vec<crate::detection::SuppressionInfo>, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    caller()?.require(Permission::ViewEvents)?;
    services()?.detection.suppressions(rule_id).await
}

/// Enables or disables a rule.
#[server(endpoint = "set_rule_enabled")]
pub async fn set_rule_enabled(id: i64, enabled: String) -> Result<(), AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::ManageRules)?;
    let enabled = match enabled.as_str() {
        "true" | "on" | "1" => true,
        "false" | "off" | "0" => false,
        _ => return Err(AppError::invalid_input("enabled", "true or false")),
    };
    services()?.detection.set_rule_enabled(&caller, id, enabled).await
}

/// A page of alerts under `filter`, newest first.
#[server(endpoint = "list_alerts")]
pub async fn list_alerts(filter: Option<AlertFilter>) -> Result<AlertPage, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    caller()?.require(Permission::ViewEvents)?;
    services()?.detection.list_alerts(filter.unwrap_or_default()).await
}

/// One alert: its rule, why it fired, its events, comments and history.
#[server(endpoint = "get_alert")]
pub async fn get_alert(id: i64) -> Result<AlertDetail, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    caller()?.require(Permission::ViewEvents)?;
    services()?.detection.alert(id).await
}

/// Sets an alert's status and, with `set_assignee`, its assignee (an empty one unassigns it: a
/// form sends an emptied field as no value); only what changed is recorded.
#[server(endpoint = "triage_alert")]
pub async fn triage_alert(
    id: i64,
    status: Option<String>,
    assignee: Option<String>,
    set_assignee: Option<String>,
) -> Result<(), AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;
    use crate::detection::TriageChange;

    let caller = caller()?;
    caller.require(Permission::HandleAlerts)?;
    let change = TriageChange {
        status: status.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
        assignee: match (set_assignee.is_some(), assignee.map(|a| a.trim().to_string()).filter(|a| !a.is_empty())) {
            (_, Some(who)) => Some(Some(who)),
            (true, None) => Some(None),
            (false, None) => None,
        },
        comment: None,
    };
    services()?.detection.triage(&caller, vec![id], change).await
}

/// Adds a comment to an alert.
#[server(endpoint = "comment_alert")]
pub async fn comment_alert(id: i64, body: String) -> Result<(), AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;
    use crate::detection::TriageChange;

    let caller = caller()?;
    caller.require(Permission::HandleAlerts)?;
    let change = TriageChange { comment: Some(body), ..Default::default() };
    services()?.detection.triage(&caller, vec![id], change).await
}

/// The same change to the chosen alerts: `action` is a status, `assign_me`, `assign` (to
/// `assignee`) or `unassign`.
#[server(endpoint = "bulk_triage_alerts")]
pub async fn bulk_triage_alerts(
    ids: Option<Vec<i64>>,
    action: String,
    assignee: Option<String>,
) -> Result<usize, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;
    use crate::detection::TriageChange;

    let caller = caller()?;
    caller.require(Permission::HandleAlerts)?;
    let ids = ids.unwrap_or_default();
    if ids.is_empty() || ids.len() > 500 {
        return Err(AppError::invalid_input("ids", "choose 1–500 alerts"));
    }
    let change = match action.as_str() {
        "assign_me" => TriageChange { assignee: Some(Some(caller.display_name.clone())), ..Default::default() },
        "assign" => {
            let who = assignee.map(|a| a.trim().to_string()).filter(|a| !a.is_empty());
            let who = who.ok_or_else(|| AppError::invalid_input("assignee", "name the person to assign"))?;
            TriageChange { assignee: Some(Some(who)), ..Default::default() }
        }
        "unassign" => TriageChange { assignee: Some(None), ..Default::default() },
        status if crate::detection::STATUSES.iter().any(|(s, _)| *s == status) => {
            TriageChange { status: Some(status.to_string()), ..Default::default() }
        }
        _ => return Err(AppError::invalid_input("action", "a status, assign_me, assign or unassign")),
    };
    let count = ids.iter().collect::<std::collections::BTreeSet<_>>().len();
    services()?.detection.triage(&caller, ids, change).await?;
    Ok(count)
}

/// The editor's backtest of a draft carried in the page's address (how a browser without
/// JavaScript sees a backtest): the draft as the editor serializes it, the range.
#[server(endpoint = "backtest_draft")]
pub async fn backtest_draft(
    id: Option<String>,
    draft: String,
    range: String,
) -> Result<crate::detection::BacktestOutcome, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;
    use crate::detection::{KindInput, RuleBody, RuleForm};

    caller()?.require(Permission::ManageRules)?;
    let id =
        id.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(|s| crate::input::parse_id("id", s)).transpose()?;
    let body: RuleBody =
        serde_json::from_str(&draft).map_err(|_| AppError::invalid_input("draft", "not a rule draft of the editor"))?;
    // A draft from an address is checked like a posted form.
    let body = match body {
        RuleBody::Form(f) => {
            let kind = KindInput::of(f.kind(), &f.kind_fields);
            RuleBody::Form(
                RuleForm::parse(
                    &f.name,
                    Some(&f.description),
                    Some(&f.severity),
                    Some(&f.sources.join(",")),
                    Some(&f.tags.join(",")),
                    f.hunting,
                    f.enabled,
                    Some(&f.group_by),
                    Some(&f.window_minutes.to_string()),
                    Some(&f.combine),
                    f.rows,
                )?
                .with_kind(kind)?,
            )
        }
        sigma => sigma,
    };
    services()?.detection.backtest(id, body, &range).await
}

/// Keeps a rule quiet for an entity (empty: every entity) for the next `hours`, with a reason.
#[server(endpoint = "suppress_rule")]
pub async fn suppress_rule(
    rule_id: i64,
    entity: Option<String>,
    hours: String,
    reason: String,
) -> Result<(), AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::ManageRules)?;
    let hours = hours
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|h| (1..=8_784).contains(h))
        .ok_or_else(|| AppError::invalid_input("hours", "1–8784"))?;
    services()?.detection.suppress(&caller, rule_id, entity, hours, reason).await
}

/// Ends a suppression.
#[server(endpoint = "end_suppression")]
pub async fn end_suppression(id: i64) -> Result<(), AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::ManageRules)?;
    services()?.detection.unsuppress(&caller, id).await
}
