//! Detection rules, pure: the rule model and its validation, the match engine, and the built-in
//! rule pack. Nothing here touches the database; `services::detection` runs the rules over new
//! events and stores the alerts.
//!
//! A rule's `definition` (stored as JSON) is `{"condition": …, "group_by": "actor",
//! "window_minutes": 60}`, plus `threshold`, `first_seen` or `then` for the stateful kinds
//! (`stateful`); the condition language is described in `engine`.

pub mod builtin;
pub mod engine;
pub mod sigma;
pub mod stateful;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use engine::{EventDoc, GroupBy};

/// The rule kinds.
pub const KINDS: &[&str] = &["match", "threshold", "first_seen", "sequence"];

/// Longest first-seen look-back, in days.
pub const MAX_LOOKBACK_DAYS: i64 = 365;

/// Alert statuses, in triage order.
pub const STATUSES: &[&str] = &["new", "acknowledged", "in_progress", "resolved", "false_positive", "benign"];

/// Statuses of an alert that is still being worked (matches group into it).
pub const OPEN_STATUSES: &[&str] = &["new", "acknowledged", "in_progress"];

/// Longest grouping window (a week).
pub const MAX_WINDOW_MINUTES: i64 = 7 * 24 * 60;

/// The severity named `text` (`info`, `low`, `medium`, `high`, `critical`; Sigma's `informational`).
pub fn parse_severity(text: &str) -> Option<i16> {
    Some(match text.trim().to_ascii_lowercase().as_str() {
        "info" | "informational" => 0,
        "low" => 1,
        "medium" => 2,
        "high" => 3,
        "critical" => 4,
        _ => return None,
    })
}

/// A span such as `30m`, `24h` or `7d`.
pub fn parse_span(text: &str) -> Option<chrono::Duration> {
    let t = text.trim();
    let (n, unit) = t.split_at(t.len().checked_sub(1)?);
    let n: i64 = n.parse().ok().filter(|n| *n > 0 && *n <= 100_000)?;
    match unit {
        "m" => Some(chrono::Duration::minutes(n)),
        "h" => Some(chrono::Duration::hours(n)),
        "d" => Some(chrono::Duration::days(n)),
        _ => None,
    }
}

/// The evaluated part of a rule, as stored in `rules.definition`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Definition {
    pub condition: Value,
    #[serde(default = "default_group_by")]
    pub group_by: String,
    #[serde(default = "default_window")]
    pub window_minutes: i64,
    /// Threshold rules: how many matching events (or distinct values) a window needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<ThresholdSpec>,
    /// First-seen rules: the field whose new values are reported, and the look-back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<FirstSeenSpec>,
    /// Sequence rules: the second step's condition (the first is `condition`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then: Option<Value>,
    /// Sequence rules: the two steps in either order (Sigma `temporal`), not only `condition`
    /// then `then`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub any_order: bool,
}

impl Default for Definition {
    fn default() -> Self {
        Self {
            condition: Value::Null,
            group_by: default_group_by(),
            window_minutes: default_window(),
            threshold: None,
            first_seen: None,
            then: None,
            any_order: false,
        }
    }
}

/// A threshold: at least `count` matching events in a window, or with `distinct`, at least
/// `count` different values of that field.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdSpec {
    pub count: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distinct: Option<String>,
}

/// A first-seen rule: a value of `field` the entity has not shown in the `lookback_days` before.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FirstSeenSpec {
    pub field: String,
    #[serde(default = "default_lookback")]
    pub lookback_days: i64,
}

fn default_lookback() -> i64 {
    30
}

fn default_group_by() -> String {
    "actor".into()
}

fn default_window() -> i64 {
    60
}

/// A rule ready to store: every field validated.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleDraft {
    pub uid: String,
    pub name: String,
    pub description: String,
    pub kind: String,
    pub severity: i16,
    pub enabled: bool,
    pub hunting: bool,
    pub owner: String,
    pub sources: Vec<String>,
    pub tags: Vec<String>,
    pub definition: Definition,
    pub sigma_id: Option<String>,
    pub sigma_yaml: Option<String>,
}

/// Why a rule was refused: the field and the problem.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleError {
    pub field: String,
    pub problem: String,
}

impl RuleError {
    pub fn new(field: &str, problem: impl Into<String>) -> Self {
        Self { field: field.into(), problem: problem.into() }
    }
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

impl RuleDraft {
    /// Checks every field and compiles the condition (so a stored rule always compiles).
    pub fn validate(self) -> Result<Self, RuleError> {
        let name = self.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(RuleError::new("name", "1–200 characters"));
        }
        if self.description.chars().count() > 10_000 {
            return Err(RuleError::new("description", "at most 10,000 characters"));
        }
        if !KINDS.contains(&self.kind.as_str()) {
            return Err(RuleError::new(
                "kind",
                format!("`{}` is not supported; rules of kind {} are", self.kind, KINDS.join(", ")),
            ));
        }
        if !(0..=4).contains(&self.severity) {
            return Err(RuleError::new("severity", "info, low, medium, high or critical"));
        }
        for source in &self.sources {
            if crate::normalize::Source::parse(source).is_none() {
                return Err(RuleError::new(
                    "sources",
                    format!("unknown source `{source}` (unified, directory, signin, intune)"),
                ));
            }
        }
        if self.tags.len() > 50 || self.tags.iter().any(|t| t.trim().is_empty() || t.len() > 100) {
            return Err(RuleError::new("tags", "at most 50 tags of 1–100 characters"));
        }
        if self.owner.chars().count() > 200 {
            return Err(RuleError::new("owner", "at most 200 characters"));
        }
        if !(1..=MAX_WINDOW_MINUTES).contains(&self.definition.window_minutes) {
            return Err(RuleError::new("window_minutes", format!("1–{MAX_WINDOW_MINUTES}")));
        }
        GroupBy::parse(&self.definition.group_by).map_err(|e| RuleError::new("group_by", e))?;
        engine::compile(&self.definition.condition, "condition").map_err(|e| RuleError::new("condition", e))?;
        let d = &self.definition;
        let (needs, present) = match self.kind.as_str() {
            "threshold" => ("threshold", d.threshold.is_some()),
            "first_seen" => ("first_seen", d.first_seen.is_some()),
            "sequence" => ("then", d.then.is_some()),
            _ => ("", true),
        };
        if !present {
            return Err(RuleError::new(needs, format!("a {} rule needs `{needs}`", self.kind)));
        }
        for (field, given, kind) in [
            ("threshold", d.threshold.is_some(), "threshold"),
            ("first_seen", d.first_seen.is_some(), "first_seen"),
            ("then", d.then.is_some(), "sequence"),
        ] {
            if given && self.kind != kind {
                return Err(RuleError::new(field, format!("`{field}` belongs to rules of kind {kind}")));
            }
        }
        if let Some(t) = &d.threshold {
            if !(1..=100_000).contains(&t.count) {
                return Err(RuleError::new("threshold.count", "1–100,000"));
            }
            if t.distinct.as_deref().is_some_and(|f| f.trim().is_empty() || f.len() > 200) {
                return Err(RuleError::new("threshold.distinct", "a field name of 1–200 characters"));
            }
        }
        if let Some(f) = &d.first_seen {
            if f.field.trim().is_empty() || f.field.len() > 200 {
                return Err(RuleError::new("first_seen.field", "a field name of 1–200 characters"));
            }
            if !(1..=MAX_LOOKBACK_DAYS).contains(&f.lookback_days) {
                return Err(RuleError::new("first_seen.lookback_days", format!("1–{MAX_LOOKBACK_DAYS}")));
            }
        }
        if let Some(then) = &d.then {
            engine::compile(then, "then").map_err(|e| RuleError::new("then", e))?;
        }
        if d.any_order && d.then.is_none() {
            return Err(RuleError::new("any_order", "`any_order` belongs to rules of kind sequence"));
        }
        Ok(Self { name, ..self })
    }
}

/// A stored rule compiled for evaluation.
#[derive(Clone, Debug)]
pub struct CompiledRule {
    pub id: i64,
    pub name: String,
    pub severity: i16,
    pub hunting: bool,
    pub sources: Vec<String>,
    pub condition: engine::Condition,
    pub group_by: GroupBy,
    pub window: chrono::Duration,
    /// What the rule does with its matches (the kind follows from the definition).
    pub logic: stateful::Logic,
}

impl CompiledRule {
    /// Compiles a stored rule's definition.
    pub fn new(
        id: i64,
        name: &str,
        severity: i16,
        hunting: bool,
        sources: Vec<String>,
        definition: &str,
    ) -> Result<Self, String> {
        let definition: Definition = serde_json::from_str(definition).map_err(|e| e.to_string())?;
        let logic = if let Some(t) = &definition.threshold {
            stateful::Logic::Threshold {
                count: t.count.max(1),
                distinct: t.distinct.as_deref().map(engine::FieldRef::new),
            }
        } else if let Some(f) = &definition.first_seen {
            stateful::Logic::FirstSeen {
                field: engine::FieldRef::new(&f.field),
                lookback: chrono::Duration::days(f.lookback_days.clamp(1, MAX_LOOKBACK_DAYS)),
            }
        } else if let Some(then) = &definition.then {
            stateful::Logic::Sequence {
                then: Box::new(engine::compile(then, "then")?),
                any_order: definition.any_order,
            }
        } else {
            stateful::Logic::Match
        };
        Ok(Self {
            logic,
            id,
            name: name.to_string(),
            severity,
            hunting,
            sources,
            condition: engine::compile(&definition.condition, "condition")?,
            group_by: GroupBy::parse(&definition.group_by)?,
            window: chrono::Duration::minutes(definition.window_minutes.clamp(1, MAX_WINDOW_MINUTES)),
        })
    }

    /// Adds every flattened key the rule reads (condition, second step, grouping, counted or
    /// remembered field) to `set`.
    pub fn note_fields(&self, set: &mut engine::FieldSet) {
        self.condition.note_fields(set);
        match &self.logic {
            stateful::Logic::Match | stateful::Logic::Threshold { distinct: None, .. } => {}
            stateful::Logic::Threshold { distinct: Some(field), .. } => set.add(field),
            stateful::Logic::FirstSeen { field, .. } => set.add(field),
            stateful::Logic::Sequence { then, .. } => then.note_fields(set),
        }
        self.group_by.note_fields(set);
    }

    /// Whether the rule fires on the event.
    pub fn fires_on(&self, doc: &EventDoc) -> bool {
        self.applies_to(doc) && self.condition.matches(doc)
    }

    /// The kind's name, as stored.
    pub fn logic_name(&self) -> &'static str {
        match self.logic {
            stateful::Logic::Match => "match",
            stateful::Logic::Threshold { .. } => "threshold",
            stateful::Logic::FirstSeen { .. } => "first_seen",
            stateful::Logic::Sequence { .. } => "sequence",
        }
    }

    /// Whether the event is of one of the rule's sources.
    pub fn applies_to(&self, doc: &EventDoc) -> bool {
        self.sources.is_empty() || self.sources.contains(&doc.source)
    }

    /// The observations the event gives this stateful rule: (step, value).
    pub fn observations(&self, doc: &EventDoc) -> Vec<(i16, String)> {
        if !self.applies_to(doc) {
            return Vec::new();
        }
        let mut out = Vec::new();
        let first = self.condition.matches(doc);
        match &self.logic {
            stateful::Logic::Match => {}
            stateful::Logic::Threshold { distinct, .. } => {
                if first {
                    match distinct {
                        Some(field) => out.extend(doc.first_value(field).map(|v| (stateful::STEP_MATCH, v))),
                        None => out.push((stateful::STEP_MATCH, String::new())),
                    }
                }
            }
            stateful::Logic::FirstSeen { field, .. } => {
                if first {
                    out.extend(doc.first_value(field).map(|v| (stateful::STEP_MATCH, v)));
                }
            }
            stateful::Logic::Sequence { then, .. } => {
                if first {
                    out.push((stateful::STEP_MATCH, String::new()));
                }
                if then.matches(doc) {
                    out.push((stateful::STEP_THEN, String::new()));
                }
            }
        }
        out
    }
}

/// Which rules can fire on an event, decided before evaluating them: rules whose condition
/// names the operations it needs (most do) are looked up by the event's operation; the others
/// are always evaluated. Only rules that cannot hold are left out, so evaluating the candidates
/// gives the same matches as evaluating every rule.
#[derive(Clone, Debug, Default)]
pub struct RuleIndex {
    by_operation: std::collections::HashMap<String, Vec<usize>>,
    always: Vec<usize>,
    /// The flattened keys gated tests read the operation from (besides the column).
    keys: Vec<String>,
}

impl RuleIndex {
    pub fn new(rules: &[CompiledRule]) -> Self {
        let mut index = Self::default();
        for (i, rule) in rules.iter().enumerate() {
            // A stateful rule's second step can hold without the first: those are always run.
            let gate = match rule.logic {
                stateful::Logic::Sequence { .. } => None,
                _ => rule.condition.operation_gate(),
            };
            match gate {
                Some((operations, keys)) => {
                    for operation in operations {
                        let list = index.by_operation.entry(operation).or_default();
                        if list.last() != Some(&i) {
                            list.push(i);
                        }
                    }
                    for key in keys {
                        if !index.keys.contains(&key) {
                            index.keys.push(key);
                        }
                    }
                }
                None => index.always.push(i),
            }
        }
        index
    }

    /// The indexes of the rules that can fire on `doc`, ascending, into `out` (cleared first).
    pub fn candidates(&self, doc: &EventDoc, out: &mut Vec<usize>) {
        out.clear();
        out.extend_from_slice(&self.always);
        doc.each_operation(&self.keys, |operation| {
            if let Some(list) = self.by_operation.get(operation) {
                out.extend_from_slice(list);
            }
        });
        out.sort_unstable();
        out.dedup();
    }
}

impl EventDoc {
    /// The event a normalized record becomes (for tests, backtests of files, examples).
    pub fn from_normalized(
        tenant_id: &str,
        source: &str,
        content_type: Option<&str>,
        n: &crate::normalize::Normalized,
    ) -> Self {
        let target_display = {
            let names: Vec<&str> = n.targets.iter().filter_map(|t| t.display.as_deref().or(t.id.as_deref())).collect();
            (!names.is_empty()).then(|| names.join(", "))
        };
        let mut doc = EventDoc {
            tenant_id: tenant_id.to_string(),
            source: source.to_string(),
            content_type: content_type.map(str::to_string),
            service: n.service.clone(),
            operation: n.operation.clone(),
            result: n.result.as_str().to_string(),
            actor_upn: n.actor_upn.clone(),
            actor_display: n.actor_display.clone(),
            actor_ip: n.actor_ip.clone(),
            actor_app_id: n.actor_app_id.clone(),
            target_display,
            severity: n.severity,
            record_id: n.record_id.clone(),
            ..Default::default()
        };
        for (k, v) in &n.flattened {
            doc.fields.entry(engine::field_key(k)).or_default().push(v.clone());
        }
        doc
    }

    /// Normalizes a raw record of `source` and returns its event, or why it could not be read.
    pub fn from_raw(tenant_id: &str, source: &str, content_type: Option<&str>, raw: &str) -> Result<Self, String> {
        let parsed = crate::normalize::Source::parse(source).ok_or_else(|| format!("unknown source `{source}`"))?;
        let n = crate::normalize::normalize(parsed, content_type, raw, &crate::normalize::Context::default())
            .map_err(|e| e.to_string())?;
        Ok(Self::from_normalized(tenant_id, source, content_type, &n))
    }
}
