//! Alert notifications to Microsoft Teams and Slack incoming webhooks: a card with the severity,
//! the rule, the entities and a link back into AOC (`AOC_PUBLIC_URL`). Alerts are queued for the
//! destinations that want them (minimum severity, optionally a list of rules) in the transaction
//! that stores them (`store::export::enqueue_alert`); the worker delivers them like events. Alert text comes from tenant data (display names, rule matches): it is sent as plain
//! text (Slack `plain_text`, Teams text with Markdown escaped), so it cannot turn into links or
//! mentions.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::Delivery;
use crate::store::detection::AlertRow;

/// An alert, as a notification shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertNotice {
    pub alert_id: i64,
    pub rule_id: String,
    pub rule_title: String,
    /// 0 info … 4 critical.
    pub severity: i16,
    pub tenant: String,
    /// Users, IP addresses, apps, … the alert is about.
    pub entities: Vec<String>,
    pub event_count: u64,
    pub first_seen: chrono::DateTime<chrono::Utc>,
    pub last_seen: chrono::DateTime<chrono::Utc>,
    /// The alert's page in AOC (absolute URL).
    pub link: String,
}

fn severity_name(level: i16) -> &'static str {
    app::dto::Severity::from_level(level).as_str()
}

/// Text with Teams' Markdown characters escaped (no links, emphasis or mentions from data).
fn teams_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().filter(|c| !c.is_control()) {
        if "\\`*_{}[]()#<>~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn summary(notice: &AlertNotice) -> String {
    format!("{} events, {} to {}", notice.event_count, notice.first_seen.to_rfc3339(), notice.last_seen.to_rfc3339())
}

/// A Teams message with an Adaptive Card (the incoming-webhook and Workflows format).
pub fn teams_message(notice: &AlertNotice) -> Value {
    let color = if notice.severity >= 3 {
        "Attention"
    } else if notice.severity == 2 {
        "Warning"
    } else {
        "Default"
    };
    let card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            { "type": "TextBlock", "size": "Medium", "weight": "Bolder", "color": color, "wrap": true,
              "text": format!("{} alert: {}", severity_name(notice.severity).to_uppercase(), teams_text(&notice.rule_title)) },
            { "type": "FactSet", "facts": [
                { "title": "Severity", "value": severity_name(notice.severity) },
                { "title": "Rule", "value": teams_text(&notice.rule_id) },
                { "title": "Tenant", "value": teams_text(&notice.tenant) },
                { "title": "Entities", "value": teams_text(&notice.entities.join(", ")) },
                { "title": "Events", "value": teams_text(&summary(notice)) },
            ] },
        ],
        "actions": [ { "type": "Action.OpenUrl", "title": "Open in AOC", "url": notice.link } ],
    });
    json!({ "type": "message", "attachments": [
        { "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": card }
    ] })
}

/// A Slack message (Block Kit) with the same facts; data only in `plain_text`.
pub fn slack_message(notice: &AlertNotice) -> Value {
    let plain = |text: String| json!({ "type": "plain_text", "text": text, "emoji": false });
    json!({
        "text": format!("{} alert: {}", severity_name(notice.severity), notice.rule_title),
        "blocks": [
            { "type": "header", "text": plain(format!("{} alert: {}", severity_name(notice.severity).to_uppercase(), notice.rule_title)) },
            { "type": "section", "fields": [
                plain(format!("Severity: {}", severity_name(notice.severity))),
                plain(format!("Rule: {}", notice.rule_id)),
                plain(format!("Tenant: {}", notice.tenant)),
                plain(format!("Entities: {}", notice.entities.join(", "))),
                plain(format!("Events: {}", summary(notice))),
            ] },
            { "type": "actions", "elements": [
                { "type": "button", "text": plain("Open in AOC".into()), "url": notice.link }
            ] },
        ],
    })
}

/// An alert as a destination receives it: for SIEM kinds the document itself, for Teams and
/// Slack the facts of the notice. `aoc_id` is `alert-N`, so it never meets an event's id.
pub fn alert_document(alert: &AlertRow, link_base: &str) -> Value {
    let entities: Value = serde_json::from_str(&alert.entities).unwrap_or_else(|_| json!({}));
    json!({
        "type": "alert",
        "aoc_id": format!("alert-{}", alert.id),
        "alert_id": alert.id,
        "timestamp": alert.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "source": "alert",
        "tenant": alert.tenant_id,
        "service": "AOC",
        "operation": "AOC.Alert",
        "severity": severity_name(alert.severity),
        "rule": { "id": alert.rule_id, "uid": alert.rule_uid, "name": alert.rule_name },
        "title": alert.title,
        "display_summary": alert.title,
        "status": alert.status,
        "entities": entities,
        "event_count": alert.count,
        "first_seen": alert.first_seen.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "last_seen": alert.last_seen.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "link": format!("{}/alerts/{}", link_base.trim_end_matches('/'), alert.id),
    })
}

/// The synthetic alert a "Send test" delivers to a destination that receives alerts.
pub fn test_alert_document(link_base: &str) -> Value {
    let now = chrono::Utc::now();
    let alert = AlertRow {
        id: 0,
        rule_id: 0,
        rule_name: "AOC test notice".into(),
        rule_uid: "aoc-test".into(),
        sigma_id: None,
        tenant_id: "aoc-test".into(),
        group_key: "aoc-test".into(),
        title: "A test notice sent by AOC's Send test".into(),
        severity: 1,
        status: "new".into(),
        assignee: None,
        hunting: false,
        count: 1,
        first_seen: now,
        last_seen: now,
        entities: r#"{"users":["aoc-test"]}"#.into(),
        matched: "[]".into(),
        created_at: now,
        updated_at: now,
    };
    let mut doc = alert_document(&alert, link_base);
    doc["aoc_id"] = json!(format!("alert-test-{}", now.timestamp_millis()));
    doc["link"] = json!(format!("{}/destinations", link_base.trim_end_matches('/')));
    doc
}

impl AlertNotice {
    /// The notice of an [`alert_document`].
    pub fn from_document(doc: &Value) -> Option<Self> {
        let time = |key: &str| {
            doc[key].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).map(|t| t.to_utc())
        };
        let mut entities = Vec::new();
        for key in ["users", "ips", "apps", "targets"] {
            for value in doc["entities"][key].as_array().into_iter().flatten().filter_map(Value::as_str) {
                entities.push(value.to_string());
            }
        }
        let names = ["info", "low", "medium", "high", "critical"];
        Some(Self {
            alert_id: doc["alert_id"].as_i64()?,
            rule_id: doc["rule"]["uid"].as_str().unwrap_or_default().to_string(),
            rule_title: doc["rule"]["name"].as_str().unwrap_or_default().to_string(),
            severity: names.iter().position(|n| Some(*n) == doc["severity"].as_str()).unwrap_or(0) as i16,
            tenant: doc["tenant"].as_str().unwrap_or_default().to_string(),
            entities,
            event_count: doc["event_count"].as_u64().unwrap_or(0),
            first_seen: time("first_seen")?,
            last_seen: time("last_seen")?,
            link: doc["link"].as_str().unwrap_or_default().to_string(),
        })
    }
}

/// Posts one notice to a Teams (`kind` teams) or Slack incoming webhook at `url`.
pub async fn send(client: &reqwest::Client, kind: &str, url: &str, doc: &Value) -> Delivery {
    let Some(notice) = AlertNotice::from_document(doc) else {
        return Delivery::Refused { status: 0, answer: "the record is not an alert".into() };
    };
    let body = if kind == "slack" { slack_message(&notice) } else { teams_message(&notice) };
    super::answer(client.post(url).json(&body).send().await).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_from_tenant_data_is_escaped_for_teams() {
        assert_eq!(
            teams_text("[click](https://evil.example) *now*"),
            "\\[click\\]\\(https://evil.example\\) \\*now\\*"
        );
    }
}
