//! The Alerts and Rules pages' port ([`app::detection::DetectionPort`]) over the detection
//! service the REST API uses: the same validation, transactions and audit trail, shaped for the
//! pages (rules with their Sigma author, alerts with why they fired against the first event's
//! fields, history in words).

use std::collections::BTreeSet;

use chrono::Utc;
use sea_orm::DatabaseConnection;
use serde_json::Value;

use app::auth::Caller;
use app::detection::{
    AlertDetail, AlertFilter, AlertNote, AlertPage, AlertSummary, BacktestAlert, BacktestOutcome, DetectionPort,
    EventField, KindFields, RuleBody, RuleDetail, RuleSummary, SuppressionInfo, TriageChange,
};
use app::dto::Severity;
use app::error::{AppError, ErrorCode};
use app::input::EventRef;
use app::services::EventService;

use super::db_failure;
use super::detection::{DetectionService, Entities, RuleInput, Triage};
use crate::rules::{Definition, FirstSeenSpec, ThresholdSpec};
use crate::store::detection::{self as store, AlertRow, RuleRow};

/// Events whose fields the editor's suggestions are drawn from.
const FIELD_SAMPLE: u64 = 500;

/// Most field names suggested.
const MAX_FIELDS: usize = 1_000;

/// The names rules understand whatever the record's shape (the alias table's main spellings).
const ALIASES: &[&str] = &[
    "operation",
    "actor",
    "actor_display",
    "ip",
    "app",
    "target",
    "result",
    "service",
    "source",
    "severity",
    "tenant",
];

/// The pages' detection port.
#[derive(Clone)]
pub struct DbDetectionPort {
    db: DatabaseConnection,
    service: DetectionService,
}

impl DbDetectionPort {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { service: DetectionService::new(db.clone()), db }
    }
}

fn summary(r: &RuleRow) -> RuleSummary {
    RuleSummary {
        id: r.id,
        name: r.name.clone(),
        description: r.description.clone(),
        kind: r.kind.clone(),
        severity: Severity::from_level(r.severity),
        enabled: r.enabled,
        hunting: r.hunting,
        builtin: r.builtin,
        owner: r.owner.clone(),
        sources: serde_json::from_str(&r.sources).unwrap_or_default(),
        tags: serde_json::from_str(&r.tags).unwrap_or_default(),
        sigma_id: r.sigma_id.clone(),
        is_sigma: r.sigma_yaml.is_some(),
        hits: r.hits,
        alerts: r.alerts,
        last_hit: r.last_hit,
        updated_at: r.updated_at,
    }
}

/// A Sigma rule's author and references, from its YAML.
fn sigma_credits(r: &RuleRow) -> (Option<String>, Vec<String>) {
    match r.sigma_yaml.as_deref().map(|y| crate::rules::sigma::parse(y, r.hunting)) {
        Some(Ok(parsed)) => (parsed.author, parsed.references),
        // A stored Sigma rule always parsed once; show its owner (the author) if it no longer does.
        Some(Err(_)) => (Some(r.owner.clone()).filter(|o| !o.is_empty()), Vec::new()),
        None => (None, Vec::new()),
    }
}

/// A stored definition's kind part as form mode edits it; `None` when the form cannot show it
/// (a second step with nested groups).
fn kind_fields(definition: &Definition) -> Option<KindFields> {
    let mut fields = KindFields::default();
    if let Some(t) = &definition.threshold {
        fields.count = t.count;
        fields.distinct = t.distinct.clone().unwrap_or_default();
    }
    if let Some(f) = &definition.first_seen {
        fields.remembered = f.field.clone();
        fields.lookback_days = f.lookback_days;
    }
    if let Some(then) = &definition.then {
        (fields.then_combine, fields.then_rows) = app::detection::rows_of(then)?;
        fields.any_order = definition.any_order;
    }
    Some(fields)
}

/// Parses Sigma YAML for its error: a syntax error has its line and column already; a
/// semantic one gets the line of the key or value it names, where the text has one.
fn sigma_error(yaml: &str, hunting: bool) -> Option<AppError> {
    let error = crate::rules::sigma::parse(yaml, hunting).err()?;
    let located = crate::rules::sigma::locate(yaml, error);
    Some(AppError::invalid_input("sigma", located))
}

fn rule_input(body: RuleBody) -> Result<RuleInput, AppError> {
    Ok(match body {
        RuleBody::Sigma { yaml, hunting, enabled } => {
            if let Some(e) = sigma_error(&yaml, hunting) {
                return Err(e);
            }
            RuleInput { sigma: Some(yaml), hunting: Some(hunting), enabled: Some(enabled), ..Default::default() }
        }
        RuleBody::Form(form) => {
            let condition = form.condition();
            let kind = form.kind().to_string();
            let part = &form.kind_fields;
            let threshold = (kind == "threshold").then(|| ThresholdSpec {
                count: part.count,
                distinct: Some(part.distinct.clone()).filter(|d| !d.is_empty()),
            });
            let first_seen = (kind == "first_seen")
                .then(|| FirstSeenSpec { field: part.remembered.clone(), lookback_days: part.lookback_days });
            let then = (kind == "sequence").then(|| form.then_condition());
            let any_order = Some(kind == "sequence" && part.any_order);
            RuleInput {
                name: Some(form.name),
                description: Some(form.description),
                severity: Some(form.severity),
                tags: Some(form.tags),
                enabled: Some(form.enabled),
                sources: Some(form.sources),
                hunting: Some(form.hunting),
                kind: Some(kind),
                condition: Some(condition),
                group_by: Some(form.group_by),
                window_minutes: Some(form.window_minutes),
                threshold,
                first_seen,
                then,
                any_order,
                ..Default::default()
            }
        }
    })
}

fn alert_summary(a: &AlertRow) -> AlertSummary {
    let entities: Entities = serde_json::from_str(&a.entities).unwrap_or_default();
    AlertSummary {
        id: a.id,
        rule_id: a.rule_id,
        rule_name: a.rule_name.clone(),
        sigma_id: a.sigma_id.clone(),
        title: a.title.clone(),
        tenant: a.tenant_id.clone(),
        severity: Severity::from_level(a.severity),
        status: a.status.clone(),
        assignee: a.assignee.clone(),
        hunting: a.hunting,
        count: a.count,
        first_seen: a.first_seen,
        last_seen: a.last_seen,
        key: a.group_key.clone(),
        users: entities.users,
        ips: entities.ips,
        apps: entities.apps,
        targets: entities.targets,
    }
}

/// A history entry's change in words.
fn history_text(action: &str, details: &str) -> String {
    let details: Value = serde_json::from_str(details).unwrap_or(Value::Null);
    let shown = |v: &Value| v.as_str().map(|s| app::detection::status_label(s).to_string()).unwrap_or("nobody".into());
    match action {
        "created" => match details.get("count").and_then(Value::as_i64) {
            Some(n) => format!("raised on {n} event{}", if n == 1 { "" } else { "s" }),
            None => "raised".into(),
        },
        "commented" => "added a comment".into(),
        _ => {
            let mut parts = Vec::new();
            for (key, label) in [("status", "status"), ("assignee", "assignee")] {
                if let Some(change) = details.get(key) {
                    parts.push(format!("{label}: {} → {}", shown(&change["before"]), shown(&change["after"])));
                }
            }
            if parts.is_empty() {
                action.to_string()
            } else {
                parts.join("; ")
            }
        }
    }
}

fn note(n: store::AlertNote, history: bool) -> AlertNote {
    let body = if history { history_text(&n.action, &n.body) } else { n.body };
    AlertNote { id: n.id, author: n.actor, action: n.action, body, created_at: n.occurred_at }
}

/// A value as the engine compares it: trimmed, without a trailing ".", in lower case.
fn comparable(text: &str) -> String {
    let t = text.trim();
    t.strip_suffix('.').unwrap_or(t).to_lowercase()
}

/// Whether `value` is one the matched conditions were satisfied by.
fn satisfied(value: &str, matched: &[String]) -> bool {
    let v = comparable(value);
    !v.is_empty()
        && matched.iter().any(|m| !m.is_empty() && (v == *m || (m.chars().count() >= 3 && v.contains(m.as_str()))))
}

#[async_trait::async_trait]
impl DetectionPort for DbDetectionPort {
    async fn list_rules(&self) -> Result<Vec<RuleSummary>, AppError> {
        Ok(self.service.list_rules().await?.iter().map(summary).collect())
    }

    async fn rule(&self, id: i64) -> Result<RuleDetail, AppError> {
        let row = self.service.rule(id).await?;
        let definition: Value = serde_json::from_str(&row.definition).unwrap_or(Value::Null);
        let condition = definition.get("condition").cloned().unwrap_or(Value::Null);
        let parsed: Option<Definition> = serde_json::from_value(definition.clone()).ok();
        let (sigma_author, sigma_references) = sigma_credits(&row);
        Ok(RuleDetail {
            rule: summary(&row),
            group_by: definition.get("group_by").and_then(Value::as_str).unwrap_or("actor").into(),
            window_minutes: definition.get("window_minutes").and_then(Value::as_i64).unwrap_or(60),
            // Stateful rules: the whole definition (their threshold, look-back or second step).
            condition_json: serde_json::to_string_pretty(if row.kind == "match" { &condition } else { &definition })
                .unwrap_or_default(),
            rows: app::detection::rows_of(&condition),
            kind_fields: parsed.as_ref().and_then(kind_fields),
            sigma_yaml: row.sigma_yaml.clone(),
            sigma_author,
            sigma_references,
            suppressions: self.suppressions(id).await?,
        })
    }

    async fn save_rule(&self, caller: &Caller, id: Option<i64>, body: RuleBody) -> Result<i64, AppError> {
        let input = rule_input(body)?;
        match id {
            None => Ok(self.service.create_rule(caller, input).await?.id),
            Some(id) => Ok(self.service.update_rule(caller, id, input).await?.id),
        }
    }

    async fn delete_rule(&self, caller: &Caller, id: i64) -> Result<(), AppError> {
        self.service.delete_rule(caller, id).await
    }

    async fn set_rule_enabled(&self, caller: &Caller, id: i64, enabled: bool) -> Result<(), AppError> {
        let input = RuleInput { enabled: Some(enabled), ..Default::default() };
        self.service.update_rule(caller, id, input).await.map(|_| ())
    }

    async fn backtest(&self, id: Option<i64>, body: RuleBody, range: &str) -> Result<BacktestOutcome, AppError> {
        if !app::detection::BACKTEST_RANGES.iter().any(|(r, _)| *r == range) {
            return Err(AppError::invalid_input("range", "24h, 7d or 30d"));
        }
        let span = crate::rules::parse_span(range).ok_or_else(|| AppError::invalid_input("range", "24h, 7d or 30d"))?;
        let until = Utc::now();
        let result = self.service.backtest(id, Some(rule_input(body)?), until - span, until).await?;
        Ok(BacktestOutcome {
            range: range.to_string(),
            events_scanned: result.events_scanned,
            matches: result.matches,
            alerts: result
                .alerts
                .into_iter()
                .map(|a| BacktestAlert {
                    tenant: a.tenant,
                    key: a.key,
                    count: a.count,
                    first_seen: a.first_seen,
                    last_seen: a.last_seen,
                    events: a.aoc_event_ids.into_iter().zip(a.event_ids).collect(),
                })
                .collect(),
            truncated: result.truncated,
            seconds: result.seconds,
        })
    }

    async fn field_names(&self) -> Result<Vec<String>, AppError> {
        let recent = store::recent_flattened(&self.db, FIELD_SAMPLE).await.map_err(|e| db_failure("rule_fields", e))?;
        let mut seen = BTreeSet::new();
        let mut names: Vec<String> = ALIASES.iter().map(|a| a.to_string()).collect();
        for text in recent {
            let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(&text) else { continue };
            for key in fields.keys() {
                // Array positions do not count in rules: `targetResources.0.type` is `targetResources.type`.
                let name: Vec<&str> =
                    key.split('.').filter(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())).collect();
                let name = name.join(".");
                if seen.insert(name.to_lowercase()) && names.len() < MAX_FIELDS {
                    names.push(name);
                }
            }
        }
        names[ALIASES.len()..].sort_by_key(|n| n.to_lowercase());
        Ok(names)
    }

    async fn list_alerts(&self, filter: AlertFilter) -> Result<AlertPage, AppError> {
        let params = crate::api::detection::AlertParams {
            status: filter.status,
            severity: filter.severity,
            rule: filter.rule,
            assignee: filter.assignee,
            hunting: filter.hunting,
            cursor: filter.cursor,
            ..Default::default()
        };
        let query = params.query().map_err(|e| e.0)?;
        let (rows, _, counts) = self.service.list_alerts(&query, 1).await?;
        let next_cursor = (rows.len() as u64 == query.limit).then(|| rows.last().map(|r| r.id.to_string())).flatten();
        let counts = crate::rules::STATUSES
            .iter()
            .map(|s| (s.to_string(), counts.iter().find(|(c, _)| c == s).map(|(_, n)| *n).unwrap_or(0)))
            .collect();
        Ok(AlertPage { items: rows.iter().map(alert_summary).collect(), next_cursor, counts })
    }

    async fn alert(&self, id: i64) -> Result<AlertDetail, AppError> {
        let detail = self.service.alert(id).await?;
        let matched: Vec<(String, String)> = match serde_json::from_str::<Value>(&detail.alert.matched) {
            Ok(Value::Array(items)) => items
                .iter()
                .map(|m| {
                    let text = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
                    (text("condition"), text("value"))
                })
                .collect(),
            _ => Vec::new(),
        };
        let values: Vec<String> = matched.iter().map(|(_, v)| comparable(v)).collect();
        let first_event = match detail.events.first() {
            Some((event_id, _)) => {
                let events = super::DbEventService::new(self.db.clone());
                match events.event_detail(EventRef::Aoc(*event_id)).await {
                    Ok(e) => {
                        let s = &e.event;
                        let columns = [
                            ("operation", Some(s.operation.clone())),
                            ("service", Some(s.service.clone())),
                            ("result", Some(s.result.clone())),
                            ("actor", s.actor.clone()),
                            ("actor_upn", e.actor_upn.clone()),
                            ("ip", s.actor_ip.clone()),
                            ("app", e.actor_app_id.clone()),
                            ("target", s.targets.clone()),
                        ];
                        let fields = columns
                            .into_iter()
                            .filter_map(|(name, value)| value.filter(|v| !v.is_empty()).map(|v| (name.to_string(), v)))
                            .chain(e.flattened.clone())
                            .map(|(name, value)| {
                                let matched = satisfied(&value, &values);
                                EventField { name, value, matched }
                            })
                            .collect();
                        Some((*event_id, fields))
                    }
                    // The event may have been removed by retention since.
                    Err(e) if e.code == ErrorCode::NotFound => None,
                    Err(e) => return Err(e),
                }
            }
            None => None,
        };
        let (sigma_author, sigma_references) = detail.rule.as_ref().map(sigma_credits).unwrap_or_default();
        Ok(AlertDetail {
            alert: alert_summary(&detail.alert),
            rule: detail.rule.as_ref().map(summary),
            sigma_author,
            sigma_references,
            matched,
            first_event,
            events: detail.events,
            comments: detail.comments.into_iter().map(|n| note(n, false)).collect(),
            history: detail.history.into_iter().map(|n| note(n, true)).collect(),
            suppressions: self.suppressions(detail.alert.rule_id).await?,
        })
    }

    async fn triage(&self, caller: &Caller, ids: Vec<i64>, change: TriageChange) -> Result<(), AppError> {
        let change = Triage { status: change.status, assignee: change.assignee, comment: change.comment };
        self.service.triage(caller, &ids, change).await
    }

    async fn suppress(
        &self,
        caller: &Caller,
        rule_id: i64,
        entity: Option<String>,
        hours: i64,
        reason: String,
    ) -> Result<(), AppError> {
        let now = Utc::now();
        let request = super::detection::SuppressionRequest {
            entity,
            starts_at: Some(now),
            ends_at: now + chrono::Duration::hours(hours),
            reason,
        };
        self.service.suppress(caller, rule_id, request).await.map(|_| ())
    }

    async fn unsuppress(&self, caller: &Caller, id: i64) -> Result<(), AppError> {
        self.service.unsuppress(caller, id).await
    }

    async fn suppressions(&self, rule_id: i64) -> Result<Vec<SuppressionInfo>, AppError> {
        Ok(store::suppressions(&self.db, Some(rule_id), Utc::now())
            .await
            .map_err(|e| db_failure("suppressions", e))?
            .into_iter()
            .map(|s| SuppressionInfo {
                id: s.id,
                entity: s.entity,
                starts_at: s.starts_at,
                ends_at: s.ends_at,
                reason: s.reason,
                created_by: s.created_by,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_limits_are_the_engines() {
        assert_eq!(app::detection::MAX_LOOKBACK_DAYS, crate::rules::MAX_LOOKBACK_DAYS);
        assert_eq!(app::detection::MAX_WINDOW_MINUTES, crate::rules::MAX_WINDOW_MINUTES);
        let kinds: Vec<&str> = app::detection::KINDS.iter().map(|(k, _)| *k).collect();
        assert_eq!(kinds, crate::rules::KINDS);
    }

    #[test]
    fn history_entries_read_as_sentences() {
        assert_eq!(history_text("created", r#"{"count": 3}"#), "raised on 3 events");
        assert_eq!(
            history_text(
                "triaged",
                r#"{"status": {"before": "new", "after": "in_progress"}, "assignee": {"before": null, "after": "Ana"}}"#
            ),
            "status: New → In progress; assignee: nobody → Ana"
        );
        assert_eq!(history_text("commented", "{}"), "added a comment");
    }

    #[test]
    fn fields_are_marked_by_the_values_that_satisfied_a_condition() {
        let matched = vec![comparable("Add member to role."), comparable("")];
        assert!(satisfied("add member to role", &matched));
        assert!(satisfied("Add member to role to Global Administrator", &matched));
        assert!(!satisfied("Remove member", &matched));
        assert!(!satisfied("", &matched));
    }
}
