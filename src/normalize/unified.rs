//! Unified Audit Log records (every workload of the Management Activity API).

use serde_json::{Map, Value};

use super::common::{clean_ip, int, outcome_of, summary_line, text};
use super::severity::{assess, Facts};
use super::{flatten_record, parse_time, Context, NormalizeError, Normalized, Outcome, Target};

pub(super) fn normalize(
    o: &Map<String, Value>,
    _content_type: Option<&str>,
    context: &Context,
) -> Result<Normalized, NormalizeError> {
    let id = text(o, "Id").ok_or(NormalizeError::Missing("Id"))?;
    let raw_time = text(o, "CreationTime").ok_or(NormalizeError::Missing("CreationTime"))?;
    let occurred_at =
        parse_time(&raw_time).ok_or(NormalizeError::BadTime { field: "CreationTime", value: raw_time.clone() })?;
    let workload = text(o, "Workload").unwrap_or_default();
    let raw_op = text(o, "Operation").unwrap_or_default();
    // UAL directory operations end with "." ("Add member to role."); Graph's do not.
    let operation = raw_op.strip_suffix('.').unwrap_or(&raw_op).to_string();
    let record_type = int(o, "RecordType");
    let logon = record_type == Some(15) || raw_op == "UserLoggedIn" || raw_op == "UserLoginFailed";
    let result = if logon {
        match text(o, "ErrorCode").as_deref() {
            Some("0") if raw_op != "UserLoginFailed" => Outcome::Success,
            Some(_) => Outcome::Failure,
            None if raw_op == "UserLoginFailed" => Outcome::Failure,
            None => Outcome::Success,
        }
    } else {
        outcome_of(text(o, "ResultStatus").as_deref())
    };
    let user = text(o, "UserId");
    let actor_upn = user.clone().filter(|u| u.contains('@'));
    let actor_app_id = ["AppId", "ClientAppId", "ApplicationId"]
        .iter()
        .find_map(|k| text(o, k).filter(|s| !s.is_empty()))
        .or_else(|| o.get("AppAccessContext").and_then(|c| c.as_object()).and_then(|c| text(c, "ClientAppId")));
    let actor_ip =
        ["ClientIP", "ClientIPAddress", "ActorIpAddress"].iter().find_map(|k| text(o, k).and_then(|ip| clean_ip(&ip)));

    let mut targets: Vec<Target> = Vec::new();
    fn add(targets: &mut Vec<Target>, display: Option<String>, id: Option<String>, kind: &str) {
        if display.as_deref().is_some_and(|d| !d.is_empty()) || id.as_deref().is_some_and(|i| !i.is_empty()) {
            if !targets.iter().any(|t| t.display == display && t.id == id) {
                targets.push(Target { display, id, kind: Some(kind.into()) });
            }
        }
    }
    if let Some(name) = text(o, "ModifiedObjectResolvedName") {
        add(&mut targets, Some(name), text(o, "ObjectId"), "Object");
    }
    if let Some(targets_list) = o.get("Target").and_then(|t| t.as_array()) {
        for t in targets_list.iter().filter_map(|t| t.as_object()) {
            if int(t, "Type") == Some(5) || int(t, "Type") == Some(1) {
                add(&mut targets, text(t, "ID"), None, "User");
            }
        }
    }
    if let Some(members) = o.get("Members").and_then(|m| m.as_array()) {
        for m in members.iter().filter_map(|m| m.as_object()) {
            add(&mut targets, text(m, "UPN").or_else(|| text(m, "DisplayName")), None, "User");
        }
    }
    if let Some(t) = text(o, "TargetUserOrGroupName") {
        add(&mut targets, Some(t), None, "Recipient");
    }
    if let Some(to) = o.get("ExchangeMetaData").and_then(|e| e.get("To")).and_then(|t| t.as_array()) {
        for r in to.iter().filter_map(|r| r.as_str()) {
            add(&mut targets, Some(r.to_string()), None, "Recipient");
        }
    }
    if let Some(file) = text(o, "SourceFileName") {
        add(&mut targets, Some(file), text(o, "ObjectId"), "File");
    } else if targets.is_empty() {
        if let Some(object) = text(o, "ObjectId").filter(|s| !s.is_empty() && s != "Not Available" && s != "Unknown") {
            add(&mut targets, Some(object), None, "Object");
        }
    }

    let flattened = flatten_record(o);
    let correlation_id = text(o, "CorrelationId")
        .or_else(|| o.get("AppAccessContext").and_then(|c| c.as_object()).and_then(|c| text(c, "CorrelationId")))
        .or_else(|| flattened.get("ExtendedProperties.correlationId").cloned());
    let (severity, severity_reasons) = assess(&Facts {
        operation: &operation,
        outcome: result,
        actor_upn: actor_upn.as_deref(),
        flattened: &flattened,
        context,
        sign_in: logon,
    });
    let actor_display = user.clone();
    let detail = detail(&operation, &flattened, logon, result, o);
    let summary = summary_line(
        actor_display.as_deref().or(actor_app_id.as_deref()),
        &operation,
        targets.first().and_then(|t| t.display.as_deref()),
        detail.as_deref(),
    );
    Ok(Normalized {
        dedupe_key: id.clone(),
        record_id: id,
        occurred_at,
        service: workload,
        operation,
        result,
        actor_display,
        actor_upn,
        actor_app_id,
        actor_ip,
        targets,
        summary,
        severity,
        severity_reasons,
        correlation_id,
        flattened,
    })
}

/// The detail worth a summary: forwarding addresses, roles, failure codes.
fn detail(
    operation: &str,
    f: &std::collections::BTreeMap<String, String>,
    logon: bool,
    result: Outcome,
    o: &Map<String, Value>,
) -> Option<String> {
    if logon && result == Outcome::Failure {
        return Some(format!("failed: {}", text(o, "ErrorCode").or_else(|| text(o, "LogonError")).unwrap_or_default()));
    }
    for key in [
        "Parameters.ForwardTo",
        "Parameters.RedirectTo",
        "Parameters.ForwardingSmtpAddress",
        "Parameters.ForwardingAddress",
        "Parameters.AccessRights",
    ] {
        if let Some(v) = f.get(key) {
            return Some(format!("{}={v}", key.trim_start_matches("Parameters.")));
        }
    }
    if operation.contains("member to role") {
        return f.iter().find(|(k, _)| k.ends_with("Role.DisplayName.NewValue")).map(|(_, v)| format!("role {v}"));
    }
    None
}
