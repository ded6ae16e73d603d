//! Detection rules, pure: the rule model and its validation, the match engine, and the built-in
//! rule pack. Nothing here touches the database; `services::detection` runs the rules over new
//! events and stores the alerts.
//!
//! A rule's `definition` (stored as JSON) is `{"condition": …, "group_by": "actor",
//! "window_minutes": 60}`; the condition language is described in `engine`.

pub mod builtin;
pub mod engine;
pub mod sigma;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use engine::{EventDoc, GroupBy};

/// The rule kinds. Only `match` is evaluated; the others are refused at creation with a clear
/// message.
pub const KINDS: &[&str] = &["match"];

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
        Ok(Self {
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

    /// Whether the rule fires on the event.
    pub fn fires_on(&self, doc: &EventDoc) -> bool {
        (self.sources.is_empty() || self.sources.contains(&doc.source)) && self.condition.matches(doc)
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
