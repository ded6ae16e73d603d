//! Detection as the Alerts and Rules pages see it: rules with their hit counts, alerts with why
//! they fired, triage, and the rule editor's input (form mode's condition rows and the stateful
//! kinds' parts, or Sigma YAML).
//! The engine and its validation live on the server (`src/rules`); this module only shapes what
//! travels and turns the editor's rows into the rule language's JSON.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::dto::Severity;
use crate::error::AppError;

/// Alert statuses, in triage order, with their labels.
pub const STATUSES: &[(&str, &str)] = &[
    ("new", "New"),
    ("acknowledged", "Acknowledged"),
    ("in_progress", "In progress"),
    ("resolved", "Resolved"),
    ("false_positive", "False positive"),
    ("benign", "Benign"),
];

/// The label of a status.
pub fn status_label(status: &str) -> &str {
    STATUSES.iter().find(|(s, _)| *s == status).map(|(_, l)| *l).unwrap_or(status)
}

/// The operators form mode offers (the rule language has these and `external`).
pub const OPERATORS: &[(&str, &str)] = &[
    ("equals", "equals"),
    ("contains", "contains"),
    ("starts_with", "starts with"),
    ("ends_with", "ends with"),
    ("regex", "matches regex"),
    ("in", "is one of (comma-separated)"),
    ("cidr", "in CIDR range(s)"),
    ("gt", ">"),
    ("gte", "≥"),
    ("lt", "<"),
    ("lte", "≤"),
    ("exists", "exists"),
    ("not_exists", "does not exist"),
];

/// The sources a rule can apply to.
pub const SOURCES: &[(&str, &str)] =
    &[("unified", "Unified audit log"), ("directory", "Directory audit"), ("signin", "Sign-ins"), ("intune", "Intune")];

/// The ranges a backtest can cover.
pub const BACKTEST_RANGES: &[(&str, &str)] =
    &[("24h", "Last 24 hours"), ("7d", "Last 7 days"), ("30d", "Last 30 days")];

/// Most condition rows form mode takes.
pub const MAX_ROWS: usize = 50;

/// The rule kinds form mode writes, with their labels.
pub const KINDS: &[(&str, &str)] = &[
    ("match", "Match: every matching event"),
    ("threshold", "Threshold: N events in a window"),
    ("first_seen", "First seen: a value new for the entity"),
    ("sequence", "Sequence: A, then B"),
];

/// Most events (or distinct values) a threshold can ask for.
pub const MAX_THRESHOLD: i64 = 100_000;

/// Longest first-seen look-back, in days.
pub const MAX_LOOKBACK_DAYS: i64 = 365;

/// First-seen look-back when none is given, in days.
pub const DEFAULT_LOOKBACK_DAYS: i64 = 30;

/// Longest window, in minutes (a week).
pub const MAX_WINDOW_MINUTES: i64 = 7 * 24 * 60;

/// Longest field name a stateful part names.
const MAX_FIELD_NAME: usize = 200;

/// A rule as the list shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleSummary {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// `match`, or another kind the engine evaluates.
    pub kind: String,
    pub severity: Severity,
    pub enabled: bool,
    pub hunting: bool,
    pub builtin: bool,
    pub owner: String,
    /// Empty: every source.
    pub sources: Vec<String>,
    pub tags: Vec<String>,
    pub sigma_id: Option<String>,
    /// The rule's body is Sigma YAML.
    pub is_sigma: bool,
    /// Events matched over all of the rule's alerts.
    pub hits: i64,
    pub alerts: i64,
    pub last_hit: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// One field test of form mode.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionRow {
    pub field: String,
    pub op: String,
    pub value: String,
}

/// Everything the editor shows about a stored rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleDetail {
    pub rule: RuleSummary,
    pub group_by: String,
    pub window_minutes: i64,
    /// The condition in the rule language, pretty-printed.
    pub condition_json: String,
    /// `all` or `any` and the rows, when the condition is one flat group of field tests (what
    /// form mode edits); `None` when it needs the REST API or Sigma to change.
    pub rows: Option<(String, Vec<ConditionRow>)>,
    /// The kind's own part as form mode edits it (empty for match rules); `None` when the form
    /// cannot show it (a sequence's second step with nested groups).
    pub kind_fields: Option<KindFields>,
    pub sigma_yaml: Option<String>,
    /// A Sigma rule's author and references (SigmaHQ's licence asks to show the author).
    pub sigma_author: Option<String>,
    pub sigma_references: Vec<String>,
    /// The rule's suppressions that have not ended.
    pub suppressions: Vec<SuppressionInfo>,
}

/// A rule kept quiet for an entity (or every entity) over a span of event time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuppressionInfo {
    pub id: i64,
    /// `None`: every entity.
    pub entity: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: String,
    pub created_by: String,
}

/// The spans a suppression can be set for from the pages: (hours, label).
pub const SUPPRESSION_SPANS: &[(&str, &str)] = &[("24", "24 hours"), ("168", "7 days"), ("720", "30 days")];

/// What a stateful kind adds to a rule written in form mode (the parts of the other kinds stay
/// empty).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KindFields {
    /// Threshold: the events (or distinct values) one window of an entity needs.
    pub count: i64,
    /// Threshold: count the distinct values of this field; empty: count the events.
    pub distinct: String,
    /// First seen: the field whose values new for the entity are reported.
    pub remembered: String,
    /// First seen: how many days before an event a value counts as known.
    pub lookback_days: i64,
    /// Sequence: `all` or `any` over the second step's rows.
    pub then_combine: String,
    /// Sequence: the second step (B); the rule's conditions are the first (A).
    pub then_rows: Vec<ConditionRow>,
    /// Sequence: A and B in either order, not only A then B.
    #[serde(default)]
    pub any_order: bool,
}

/// The kind part of the editor's form as posted: text as typed, blank where not filled in.
#[derive(Clone, Debug, Default)]
pub struct KindInput {
    pub kind: Option<String>,
    pub count: Option<String>,
    pub distinct: Option<String>,
    pub remembered: Option<String>,
    pub lookback_days: Option<String>,
    pub then_combine: Option<String>,
    pub then_rows: Vec<ConditionRow>,
    pub any_order: bool,
}

impl KindInput {
    /// The input that gives `fields` back for `kind` (a draft carried in an address is checked
    /// again like a posted form).
    pub fn of(kind: &str, fields: &KindFields) -> Self {
        let number = |n: i64| (n != 0).then(|| n.to_string());
        Self {
            kind: Some(kind.to_string()),
            count: number(fields.count),
            distinct: Some(fields.distinct.clone()),
            remembered: Some(fields.remembered.clone()),
            lookback_days: number(fields.lookback_days),
            then_combine: Some(fields.then_combine.clone()),
            then_rows: fields.then_rows.clone(),
            any_order: fields.any_order,
        }
    }
}

/// A rule written in form mode.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleForm {
    pub name: String,
    pub description: String,
    pub severity: String,
    pub sources: Vec<String>,
    pub tags: Vec<String>,
    pub hunting: bool,
    pub enabled: bool,
    pub group_by: String,
    pub window_minutes: i64,
    /// `all` or `any`.
    pub combine: String,
    pub rows: Vec<ConditionRow>,
    /// `match`, `threshold`, `first_seen` or `sequence` (empty: `match`).
    #[serde(default)]
    pub kind: String,
    /// The stateful kind's own part.
    #[serde(default)]
    pub kind_fields: KindFields,
}

/// What the editor sends: form mode or Sigma YAML.
// One value per request, moved rarely: boxing the form would only add noise at every use.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum RuleBody {
    Form(RuleForm),
    Sigma { yaml: String, hunting: bool, enabled: bool },
}

fn words(text: Option<&str>, separators: &[char]) -> Vec<String> {
    text.unwrap_or_default().split(separators).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// Rows as posted, blank ones left out, checked: at least one, at most [`MAX_ROWS`], known
/// operators. `what` names them in messages (`condition`, `step B`).
fn clean_rows(rows: Vec<ConditionRow>, what: &str, empty: &str) -> Result<Vec<ConditionRow>, AppError> {
    let rows: Vec<ConditionRow> = rows
        .into_iter()
        .map(|r| ConditionRow { field: r.field.trim().to_string(), op: r.op.trim().to_string(), value: r.value })
        .filter(|r| !r.field.is_empty())
        .collect();
    if rows.is_empty() {
        return Err(AppError::invalid_input(what, empty));
    }
    if rows.len() > MAX_ROWS {
        return Err(AppError::invalid_input(what, format!("at most {MAX_ROWS} conditions")));
    }
    if let Some(bad) = rows.iter().find(|r| !OPERATORS.iter().any(|(o, _)| *o == r.op)) {
        return Err(AppError::invalid_input("op", format!("unknown operator `{}`", bad.op)));
    }
    Ok(rows)
}

/// `all` or `any` (blank: `all`).
fn combine_of(text: Option<&str>, what: &str) -> Result<&'static str, AppError> {
    match text.map(str::trim).unwrap_or("all") {
        "" | "all" => Ok("all"),
        "any" => Ok("any"),
        _ => Err(AppError::invalid_input(what, "all or any")),
    }
}

/// A whole number typed into the form, within `range`; blank gives `default` (or, without one,
/// the message `missing`).
fn number_of(
    text: Option<&str>,
    what: &str,
    range: std::ops::RangeInclusive<i64>,
    default: Option<i64>,
    missing: &str,
) -> Result<i64, AppError> {
    let out_of_range = || format!("a whole number from {} to {}", range.start(), range.end());
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => default.ok_or_else(|| AppError::invalid_input(what, missing)),
        Some(t) => t.parse::<i64>().ok().filter(|n| range.contains(n)).ok_or_else(|| {
            AppError::invalid_input(
                what,
                format!("{} (not `{}`)", out_of_range(), t.chars().take(40).collect::<String>()),
            )
        }),
    }
}

/// A field name typed into the form: trimmed, 1–200 characters (blank: `None`).
fn field_name(text: Option<&str>, what: &str) -> Result<Option<String>, AppError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) if t.chars().count() > MAX_FIELD_NAME => {
            Err(AppError::invalid_input(what, format!("a field name of at most {MAX_FIELD_NAME} characters")))
        }
        Some(t) => Ok(Some(t.to_string())),
    }
}

/// The rule language's condition of form rows: `{"all": [{"field", "op", "value"}, …]}`.
fn condition_of(combine: &str, rows: &[ConditionRow]) -> Value {
    let tests: Vec<Value> = rows
        .iter()
        .map(|r| match r.op.as_str() {
            "exists" => json!({"field": r.field, "op": "exists", "value": true}),
            "not_exists" => json!({"field": r.field, "op": "exists", "value": false}),
            "in" | "cidr" => json!({"field": r.field, "op": r.op, "value": words(Some(&r.value), &[','])}),
            _ => json!({"field": r.field, "op": r.op, "value": r.value.trim()}),
        })
        .collect();
    json!({ combine: tests })
}

impl RuleForm {
    /// The form as posted: checkboxes are present or absent, rows may be blank (they are left
    /// out), tags and sources are comma- or space-separated.
    #[allow(clippy::too_many_arguments)]
    pub fn parse(
        name: &str,
        description: Option<&str>,
        severity: Option<&str>,
        sources: Option<&str>,
        tags: Option<&str>,
        hunting: bool,
        enabled: bool,
        group_by: Option<&str>,
        window_minutes: Option<&str>,
        combine: Option<&str>,
        rows: Vec<ConditionRow>,
    ) -> Result<Self, AppError> {
        let window_minutes =
            number_of(window_minutes, "window_minutes", 1..=MAX_WINDOW_MINUTES, Some(60), "a number of minutes")?;
        let combine = combine_of(combine, "combine")?;
        let rows = clean_rows(rows, "condition", "add at least one condition (a field, an operator, a value)")?;
        Ok(Self {
            name: name.trim().to_string(),
            description: description.unwrap_or_default().trim().to_string(),
            severity: severity.map(str::trim).filter(|s| !s.is_empty()).unwrap_or("medium").to_string(),
            sources: words(sources, &[',', ' ']),
            tags: words(tags, &[',', ' ']),
            hunting,
            enabled,
            group_by: group_by.map(str::trim).filter(|s| !s.is_empty()).unwrap_or("actor").to_string(),
            window_minutes,
            combine: combine.into(),
            rows,
            kind: "match".into(),
            kind_fields: KindFields::default(),
        })
    }

    /// The form with its kind (`match`, `threshold`, `first_seen`, `sequence`; blank: `match`)
    /// and that kind's part, checked: a threshold needs its count (1–100,000) and may name the
    /// field whose distinct values it counts; a first-seen rule needs the remembered field and a
    /// look-back of 1–365 days (default 30); a sequence needs at least one step-B condition.
    /// The other kinds' parts are dropped.
    pub fn with_kind(self, input: KindInput) -> Result<Self, AppError> {
        let kind = input.kind.as_deref().map(str::trim).filter(|k| !k.is_empty()).unwrap_or("match");
        let Some((kind, _)) = KINDS.iter().find(|(k, _)| *k == kind) else {
            return Err(AppError::invalid_input("kind", "match, threshold, first_seen or sequence"));
        };
        let fields = match *kind {
            "threshold" => KindFields {
                count: number_of(
                    input.count.as_deref(),
                    "count",
                    1..=MAX_THRESHOLD,
                    None,
                    "a threshold rule needs the number of events (or distinct values) a window must hold",
                )?,
                distinct: field_name(input.distinct.as_deref(), "distinct")?.unwrap_or_default(),
                ..Default::default()
            },
            "first_seen" => KindFields {
                remembered: field_name(input.remembered.as_deref(), "remembered")?.ok_or_else(|| {
                    AppError::invalid_input(
                        "remembered",
                        "a first-seen rule needs the field whose new values it reports (e.g. location)",
                    )
                })?,
                lookback_days: number_of(
                    input.lookback_days.as_deref(),
                    "lookback_days",
                    1..=MAX_LOOKBACK_DAYS,
                    Some(DEFAULT_LOOKBACK_DAYS),
                    "",
                )?,
                ..Default::default()
            },
            "sequence" => KindFields {
                then_combine: combine_of(input.then_combine.as_deref(), "then_combine")?.into(),
                then_rows: clean_rows(
                    input.then_rows,
                    "then",
                    "a sequence rule needs at least one condition for its second step (B)",
                )?,
                any_order: input.any_order,
                ..Default::default()
            },
            _ => KindFields::default(),
        };
        Ok(Self { kind: kind.to_string(), kind_fields: fields, ..self })
    }

    /// The kind, `match` when none was set.
    pub fn kind(&self) -> &str {
        if self.kind.is_empty() {
            "match"
        } else {
            &self.kind
        }
    }

    /// The condition in the rule language: `{"all": [{"field", "op", "value"}, …]}`.
    pub fn condition(&self) -> Value {
        condition_of(&self.combine, &self.rows)
    }

    /// A sequence's second step in the rule language.
    pub fn then_condition(&self) -> Value {
        condition_of(&self.kind_fields.then_combine, &self.kind_fields.then_rows)
    }
}

/// The rows of a condition that is one flat `all`/`any` group of field tests (or one test),
/// as form mode edits it; `None` for anything else (nested groups, `not`, options form mode
/// does not offer).
pub fn rows_of(condition: &Value) -> Option<(String, Vec<ConditionRow>)> {
    fn row(test: &Value) -> Option<ConditionRow> {
        let object = test.as_object()?;
        if object.keys().any(|k| !["field", "op", "value", "values"].contains(&k.as_str())) {
            return None;
        }
        let field = object.get("field")?.as_str()?.to_string();
        let op = object.get("op").and_then(Value::as_str).unwrap_or("equals").to_ascii_lowercase();
        let value = object.get("value").or_else(|| object.get("values"));
        let text = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        let (op, value) = match (op.as_str(), value) {
            ("exists", None | Some(Value::Bool(true))) => ("exists".to_string(), String::new()),
            ("exists", Some(Value::Bool(false))) => ("not_exists".to_string(), String::new()),
            (_, Some(Value::Array(items))) if matches!(op.as_str(), "in" | "cidr") => {
                (op.clone(), items.iter().map(text).collect::<Option<Vec<_>>>()?.join(", "))
            }
            (_, Some(v)) if OPERATORS.iter().any(|(o, _)| *o == op) && !matches!(op.as_str(), "in" | "cidr") => {
                (op.clone(), text(v)?)
            }
            _ => return None,
        };
        Some(ConditionRow { field, op, value })
    }
    if condition.get("field").is_some() {
        return row(condition).map(|r| ("all".to_string(), vec![r]));
    }
    let object = condition.as_object().filter(|o| o.len() == 1)?;
    let (key, items) = object.iter().next()?;
    if key != "all" && key != "any" {
        return None;
    }
    let rows = items.as_array()?.iter().map(row).collect::<Option<Vec<_>>>()?;
    Some((key.clone(), rows))
}

/// What a backtest found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BacktestOutcome {
    pub range: String,
    pub events_scanned: u64,
    pub matches: u64,
    pub alerts: Vec<BacktestAlert>,
    /// The scan stopped at its event limit before the end of the range.
    pub truncated: bool,
    pub seconds: f64,
}

/// One alert a backtest would raise.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BacktestAlert {
    pub tenant: String,
    /// The grouping value.
    pub key: String,
    pub count: u64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// (AOC's event id, source record id) of the first events.
    pub events: Vec<(i64, String)>,
}

/// What saving or backtesting in the editor gave.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum EditorOutcome {
    Saved(i64),
    Backtest(BacktestOutcome),
    /// The backtest is shown at this address (a browser without JavaScript is sent there).
    ShownAt(String),
}

/// Alert filters as the address carries them (validated by the server).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertFilter {
    pub status: Option<String>,
    pub severity: Option<String>,
    pub rule: Option<String>,
    /// A name, or `none` for unassigned alerts.
    pub assignee: Option<String>,
    /// `true`: hunting alerts only; `all`: both; absent: triage alerts only.
    pub hunting: Option<String>,
    pub cursor: Option<String>,
}

impl AlertFilter {
    /// The filter as `(parameter, value)` pairs (the cursor last).
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("status", &self.status),
            ("severity", &self.severity),
            ("rule", &self.rule),
            ("assignee", &self.assignee),
            ("hunting", &self.hunting),
            ("cursor", &self.cursor),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().filter(|v| !v.trim().is_empty()).map(|v| (k, v)))
        .collect()
    }
}

/// An alert as the queue shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertSummary {
    pub id: i64,
    pub rule_id: i64,
    pub rule_name: String,
    pub sigma_id: Option<String>,
    pub title: String,
    pub tenant: String,
    pub severity: Severity,
    pub status: String,
    pub assignee: Option<String>,
    pub hunting: bool,
    pub count: i64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// The grouping value.
    pub key: String,
    pub users: Vec<String>,
    pub ips: Vec<String>,
    pub apps: Vec<String>,
    pub targets: Vec<String>,
}

/// A page of alerts, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertPage {
    pub items: Vec<AlertSummary>,
    /// The `cursor` of the next (older) page.
    pub next_cursor: Option<String>,
    /// Alerts per status under the same filters (every page), in triage order.
    pub counts: Vec<(String, i64)>,
}

/// A comment on an alert, or an entry of its history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertNote {
    pub id: i64,
    pub author: String,
    pub action: String,
    /// A comment's text; a history entry's change in words.
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// A field of the alert's first event, marked when a matched condition holds on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventField {
    pub name: String,
    pub value: String,
    pub matched: bool,
}

/// Everything the Alert page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertDetail {
    pub alert: AlertSummary,
    pub rule: Option<RuleSummary>,
    pub sigma_author: Option<String>,
    pub sigma_references: Vec<String>,
    /// The conditions that held on the first event and the value that satisfied each.
    pub matched: Vec<(String, String)>,
    /// The first event's id and fields.
    pub first_event: Option<(i64, Vec<EventField>)>,
    /// (AOC's event id, source record id), oldest first.
    pub events: Vec<(i64, String)>,
    pub comments: Vec<AlertNote>,
    pub history: Vec<AlertNote>,
    /// The rule's suppressions that have not ended.
    pub suppressions: Vec<SuppressionInfo>,
}

/// A triage change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriageChange {
    pub status: Option<String>,
    /// `Some(None)`: unassign.
    pub assignee: Option<Option<String>>,
    pub comment: Option<String>,
}

/// Rules and alerts for the pages. Every method is called after the caller's permission was
/// checked.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait DetectionPort: Send + Sync {
    /// Every rule with its hit counts.
    async fn list_rules(&self) -> Result<Vec<RuleSummary>, AppError>;
    /// One rule for the editor.
    async fn rule(&self, id: i64) -> Result<RuleDetail, AppError>;
    /// Creates (`id` absent) or changes a rule; returns its id.
    async fn save_rule(&self, caller: &crate::auth::Caller, id: Option<i64>, body: RuleBody) -> Result<i64, AppError>;
    /// Deletes a rule with its alerts, suppressions and observations.
    async fn delete_rule(&self, caller: &crate::auth::Caller, id: i64) -> Result<(), AppError>;
    /// Enables or disables a rule.
    async fn set_rule_enabled(&self, caller: &crate::auth::Caller, id: i64, enabled: bool) -> Result<(), AppError>;
    /// Runs a rule being edited (over the stored rule `id`, when given) over the stored events
    /// of the last `range` (`24h`, `7d`, `30d`).
    async fn backtest(&self, id: Option<i64>, body: RuleBody, range: &str) -> Result<BacktestOutcome, AppError>;
    /// Field names seen in the stored events, and the aliases rules know (form mode suggests them).
    async fn field_names(&self) -> Result<Vec<String>, AppError>;
    /// A page of alerts.
    async fn list_alerts(&self, filter: AlertFilter) -> Result<AlertPage, AppError>;
    /// One alert.
    async fn alert(&self, id: i64) -> Result<AlertDetail, AppError>;
    /// The same triage change to every alert of `ids` (all or nothing).
    async fn triage(&self, caller: &crate::auth::Caller, ids: Vec<i64>, change: TriageChange) -> Result<(), AppError>;
    /// Keeps a rule quiet for `entity` (every entity when `None`) for the next `hours`.
    async fn suppress(
        &self,
        caller: &crate::auth::Caller,
        rule_id: i64,
        entity: Option<String>,
        hours: i64,
        reason: String,
    ) -> Result<(), AppError>;
    /// Ends a suppression.
    async fn unsuppress(&self, caller: &crate::auth::Caller, id: i64) -> Result<(), AppError>;
    /// A rule's suppressions that have not ended.
    async fn suppressions(&self, rule_id: i64) -> Result<Vec<SuppressionInfo>, AppError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(field: &str, op: &str, value: &str) -> ConditionRow {
        ConditionRow { field: field.into(), op: op.into(), value: value.into() }
    }

    #[test]
    fn form_rows_become_the_rule_language_and_back() {
        let form = RuleForm::parse(
            " Forwarding ",
            None,
            None,
            Some("unified, signin"),
            Some("attack.t1114"),
            false,
            true,
            None,
            Some("30"),
            Some("any"),
            vec![
                row("Operation", "equals", "New-InboxRule"),
                row("", "equals", "blank rows are dropped"),
                row("ip", "cidr", "10.0.0.0/8, 192.168.0.0/16"),
                row("Parameters.ForwardTo", "exists", ""),
                row("x", "not_exists", ""),
            ],
        )
        .unwrap();
        assert_eq!(form.name, "Forwarding");
        assert_eq!(form.sources, ["unified", "signin"]);
        assert_eq!(form.window_minutes, 30);
        let condition = form.condition();
        assert_eq!(
            condition,
            json!({"any": [
                {"field": "Operation", "op": "equals", "value": "New-InboxRule"},
                {"field": "ip", "op": "cidr", "value": ["10.0.0.0/8", "192.168.0.0/16"]},
                {"field": "Parameters.ForwardTo", "op": "exists", "value": true},
                {"field": "x", "op": "exists", "value": false},
            ]})
        );
        let (combine, rows) = rows_of(&condition).unwrap();
        assert_eq!(combine, "any");
        assert_eq!(rows[1].value, "10.0.0.0/8, 192.168.0.0/16");
        assert_eq!(rows[3].op, "not_exists");
    }

    #[test]
    fn the_form_refuses_what_it_cannot_express() {
        let parse = |rows| RuleForm::parse("n", None, None, None, None, false, true, None, None, None, rows);
        assert!(parse(vec![]).unwrap_err().message.contains("`condition`"));
        assert!(parse(vec![row("a", "like", "b")]).unwrap_err().message.contains("`op`"));
        assert!(rows_of(&json!({"all": [{"not": {"field": "a", "value": "b"}}]})).is_none());
        assert!(rows_of(&json!({"all": [{"field": "a", "value": "b", "case_sensitive": true}]})).is_none());
        assert_eq!(rows_of(&json!({"field": "a", "value": "b"})).unwrap().1, vec![row("a", "equals", "b")]);
    }

    fn base() -> RuleForm {
        RuleForm::parse(
            "n",
            None,
            None,
            None,
            None,
            false,
            true,
            Some("ip"),
            None,
            None,
            vec![row("ResultType", "in", "50126, 50053")],
        )
        .unwrap()
    }

    fn kind(kind: &str) -> KindInput {
        KindInput { kind: Some(kind.into()), ..Default::default() }
    }

    fn refusal(input: KindInput) -> String {
        base().with_kind(input).unwrap_err().message
    }

    #[test]
    fn a_threshold_form_keeps_its_count_and_distinct_field_and_drops_the_other_kinds_parts() {
        let form = base()
            .with_kind(KindInput {
                count: Some(" 10 ".into()),
                distinct: Some(" actor ".into()),
                remembered: Some("location".into()),
                then_rows: vec![row("Operation", "equals", "x")],
                ..kind("threshold")
            })
            .unwrap();
        assert_eq!(form.kind(), "threshold");
        assert_eq!(form.kind_fields, KindFields { count: 10, distinct: "actor".into(), ..Default::default() });
        let counting =
            base().with_kind(KindInput { count: Some("25".into()), distinct: Some("  ".into()), ..kind("threshold") });
        assert_eq!(counting.unwrap().kind_fields.distinct, "", "a blank distinct field counts events");
    }

    #[test]
    fn a_threshold_form_without_a_usable_count_is_refused_with_the_reason() {
        assert!(refusal(kind("threshold")).contains("invalid `count`: a threshold rule needs the number"));
        for bad in ["0", "-3", "100001", "ten", "1.5"] {
            let message = refusal(KindInput { count: Some(bad.into()), ..kind("threshold") });
            assert!(message.contains("invalid `count`: a whole number from 1 to 100000"), "{bad}: {message}");
        }
        let long = "x".repeat(201);
        let message = refusal(KindInput { count: Some("5".into()), distinct: Some(long), ..kind("threshold") });
        assert!(message.contains("invalid `distinct`"), "{message}");
    }

    #[test]
    fn a_first_seen_form_needs_the_remembered_field_and_a_look_back_within_a_year() {
        let form = base().with_kind(KindInput { remembered: Some("location".into()), ..kind("first_seen") }).unwrap();
        assert_eq!(form.kind_fields.remembered, "location");
        assert_eq!(form.kind_fields.lookback_days, DEFAULT_LOOKBACK_DAYS, "blank look-back: 30 days");
        let form = base()
            .with_kind(KindInput {
                remembered: Some("location".into()),
                lookback_days: Some("90".into()),
                ..kind("first_seen")
            })
            .unwrap();
        assert_eq!(form.kind_fields.lookback_days, 90);
        assert!(refusal(kind("first_seen")).contains("invalid `remembered`: a first-seen rule needs the field"));
        for bad in ["0", "366", "a month"] {
            let message = refusal(KindInput {
                remembered: Some("location".into()),
                lookback_days: Some(bad.into()),
                ..kind("first_seen")
            });
            assert!(message.contains("invalid `lookback_days`: a whole number from 1 to 365"), "{bad}: {message}");
        }
    }

    #[test]
    fn a_sequence_form_needs_a_second_step_and_writes_it_in_the_rule_language() {
        let form = base()
            .with_kind(KindInput {
                then_combine: Some("any".into()),
                then_rows: vec![row("", "equals", "blank"), row("Operation", "equals", "Remove-MailboxPermission")],
                ..kind("sequence")
            })
            .unwrap();
        assert_eq!(
            form.then_condition(),
            json!({"any": [{"field": "Operation", "op": "equals", "value": "Remove-MailboxPermission"}]})
        );
        let blank = refusal(KindInput { then_rows: vec![row(" ", "equals", "x")], ..kind("sequence") });
        assert!(blank.contains("invalid `then`: a sequence rule needs at least one condition"), "{blank}");
        let bad_op = refusal(KindInput { then_rows: vec![row("a", "like", "x")], ..kind("sequence") });
        assert!(bad_op.contains("unknown operator `like`"), "{bad_op}");
        let bad_combine = refusal(KindInput {
            then_combine: Some("most".into()),
            then_rows: vec![row("a", "equals", "x")],
            ..kind("sequence")
        });
        assert!(bad_combine.contains("invalid `then_combine`"), "{bad_combine}");
    }

    #[test]
    fn an_unknown_kind_is_refused_and_a_blank_one_is_match() {
        assert!(refusal(kind("burst")).contains("invalid `kind`: match, threshold, first_seen or sequence"));
        let form = base().with_kind(KindInput::default()).unwrap();
        assert_eq!(form.kind(), "match");
        assert_eq!(form.kind_fields, KindFields::default());
    }

    #[test]
    fn a_stateful_draft_checked_again_gives_itself_back() {
        let form = base()
            .with_kind(KindInput {
                then_rows: vec![row("Operation", "equals", "Remove-MailboxPermission")],
                ..kind("sequence")
            })
            .unwrap();
        let again = base().with_kind(KindInput::of(form.kind(), &form.kind_fields)).unwrap();
        assert_eq!(again, form);
        let window = RuleForm::parse(
            "n",
            None,
            None,
            None,
            None,
            false,
            true,
            None,
            Some("20000"),
            None,
            vec![row("a", "equals", "b")],
        );
        assert!(window.unwrap_err().message.contains("invalid `window_minutes`: a whole number from 1 to 10080"));
    }
}
