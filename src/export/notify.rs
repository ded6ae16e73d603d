//! Alert notifications to Microsoft Teams and Slack incoming webhooks, built against
//! [`AlertNotice`] (the alert source, detection, fills it in): a card with the severity, the
//! rule, the entities and a link back into AOC, routed by minimum severity and optionally by
//! rule. Alert text comes from tenant data (display names, rule matches): it is sent as plain
//! text (Slack `plain_text`, Teams text with Markdown escaped), so it cannot turn into links or
//! mentions.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::Delivery;

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

/// Where notifications go.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Channel {
    Teams { url: String },
    Slack { url: String },
}

/// A channel and which alerts it receives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Route {
    pub channel: Channel,
    /// Alerts of this severity or worse.
    pub min_severity: i16,
    /// Only these rules (none: every rule).
    #[serde(default)]
    pub rules: Vec<String>,
}

impl Route {
    /// Whether this route receives `notice`.
    pub fn wants(&self, notice: &AlertNotice) -> bool {
        notice.severity >= self.min_severity && (self.rules.is_empty() || self.rules.contains(&notice.rule_id))
    }
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

/// Sends `notice` to every route that wants it; returns each route's outcome (routes that do
/// not want it are left out).
pub async fn notify(client: &reqwest::Client, routes: &[Route], notice: &AlertNotice) -> Vec<(Route, Delivery)> {
    let mut outcomes = Vec::new();
    for route in routes.iter().filter(|r| r.wants(notice)) {
        let (url, body) = match &route.channel {
            Channel::Teams { url } => (url, teams_message(notice)),
            Channel::Slack { url } => (url, slack_message(notice)),
        };
        let delivery = super::answer(client.post(url).json(&body).send().await).await;
        outcomes.push((route.clone(), delivery));
    }
    outcomes
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
