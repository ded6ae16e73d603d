//! Microsoft Graph records: directoryAudits, signIns and Intune auditEvents.

use serde_json::{Map, Value};

use super::common::{clean_ip, outcome_of, summary_line, text};
use super::severity::{assess, Facts};
use super::{flatten_record, parse_time, Context, NormalizeError, Normalized, Outcome, Target};

fn obj<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a Map<String, Value>> {
    o.get(key).and_then(|v| v.as_object())
}

fn identity(
    o: &Map<String, Value>,
    time_field: &'static str,
) -> Result<(String, chrono::DateTime<chrono::Utc>), NormalizeError> {
    let id = text(o, "id").filter(|s| !s.is_empty()).ok_or(NormalizeError::Missing("id"))?;
    let raw = text(o, time_field).ok_or(NormalizeError::Missing(time_field))?;
    let t = parse_time(&raw).ok_or(NormalizeError::BadTime { field: time_field, value: raw })?;
    Ok((id, t))
}

#[allow(clippy::too_many_arguments)]
fn finish(
    id: String,
    occurred_at: chrono::DateTime<chrono::Utc>,
    service: String,
    operation: String,
    result: Outcome,
    actor_display: Option<String>,
    actor_upn: Option<String>,
    actor_app_id: Option<String>,
    actor_ip: Option<String>,
    targets: Vec<Target>,
    detail: Option<String>,
    o: &Map<String, Value>,
    context: &Context,
    sign_in: bool,
) -> Normalized {
    let flattened = flatten_record(o);
    let (severity, severity_reasons) = assess(&Facts {
        operation: &operation,
        outcome: result,
        actor_upn: actor_upn.as_deref(),
        flattened: &flattened,
        context,
        sign_in,
    });
    let summary = summary_line(
        actor_display.as_deref().or(actor_upn.as_deref()).or(actor_app_id.as_deref()),
        &operation,
        targets.first().and_then(|t| t.display.as_deref()),
        detail.as_deref(),
    );
    Normalized {
        dedupe_key: id.clone(),
        record_id: id,
        occurred_at,
        service,
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
        correlation_id: text(o, "correlationId"),
        flattened,
    }
}

/// A directoryAudit.
pub(super) fn normalize_directory(o: &Map<String, Value>, context: &Context) -> Result<Normalized, NormalizeError> {
    let (id, t) = identity(o, "activityDateTime")?;
    let initiated = obj(o, "initiatedBy");
    let user = initiated.and_then(|i| obj(i, "user"));
    let app = initiated.and_then(|i| obj(i, "app"));
    let actor_upn = user.and_then(|u| text(u, "userPrincipalName"));
    let actor_display = actor_upn
        .clone()
        .or_else(|| user.and_then(|u| text(u, "displayName")))
        .or_else(|| app.and_then(|a| text(a, "displayName")));
    let targets: Vec<Target> = o
        .get("targetResources")
        .and_then(|t| t.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|t| t.as_object())
                .map(|t| Target {
                    display: text(t, "userPrincipalName").or_else(|| text(t, "displayName")),
                    id: text(t, "id"),
                    kind: text(t, "type").or_else(|| text(t, "Type")),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(finish(
        id,
        t,
        text(o, "loggedByService").unwrap_or_else(|| "Entra ID".into()),
        text(o, "activityDisplayName").unwrap_or_default(),
        outcome_of(text(o, "result").as_deref()),
        actor_display,
        actor_upn,
        app.and_then(|a| text(a, "appId")),
        user.and_then(|u| text(u, "ipAddress")).and_then(|ip| clean_ip(&ip)),
        targets,
        text(o, "resultReason").filter(|r| !r.is_empty()),
        o,
        context,
        false,
    ))
}

/// A signIn. The operation is "Sign-in"; the outcome comes from `status.errorCode`.
pub(super) fn normalize_signin(o: &Map<String, Value>, context: &Context) -> Result<Normalized, NormalizeError> {
    let (id, t) = identity(o, "createdDateTime")?;
    let status = obj(o, "status");
    let code = status.and_then(|s| super::common::int(s, "errorCode")).unwrap_or(0);
    let result = if code == 0 { Outcome::Success } else { Outcome::Failure };
    let location = obj(o, "location");
    let place = location.map(|l| {
        let city = text(l, "city").unwrap_or_default();
        let country = text(l, "countryOrRegion").unwrap_or_default();
        format!("{city}, {country}").trim_matches([',', ' ']).to_string()
    });
    let app = text(o, "appDisplayName").or_else(|| text(o, "resourceDisplayName"));
    let mut detail = place.filter(|p| !p.is_empty()).map(|p| format!("from {p}"));
    if code != 0 {
        let reason = status.and_then(|s| text(s, "failureReason")).unwrap_or_default();
        detail = Some(
            format!("{}failed: {code} {reason}", detail.map(|d| format!("{d}; ")).unwrap_or_default())
                .trim()
                .to_string(),
        );
    }
    Ok(finish(
        id,
        t,
        "Entra ID sign-ins".into(),
        "Sign-in".into(),
        result,
        text(o, "userDisplayName").or_else(|| text(o, "userPrincipalName")),
        text(o, "userPrincipalName"),
        text(o, "appId"),
        text(o, "ipAddress").and_then(|ip| clean_ip(&ip)),
        app.map(|a| vec![Target { display: Some(a), id: text(o, "appId"), kind: Some("Application".into()) }])
            .unwrap_or_default(),
        detail,
        o,
        context,
        true,
    ))
}

/// An Intune auditEvent.
pub(super) fn normalize_intune(o: &Map<String, Value>, context: &Context) -> Result<Normalized, NormalizeError> {
    let (id, t) = identity(o, "activityDateTime")?;
    let actor = obj(o, "actor");
    let actor_upn = actor.and_then(|a| text(a, "userPrincipalName")).filter(|u| !u.is_empty());
    let targets: Vec<Target> = o
        .get("resources")
        .and_then(|r| r.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|r| r.as_object())
                .map(|r| Target { display: text(r, "displayName"), id: text(r, "resourceId"), kind: text(r, "type") })
                .collect()
        })
        .unwrap_or_default();
    Ok(finish(
        id,
        t,
        "Intune".into(),
        text(o, "activityType").or_else(|| text(o, "activity")).or_else(|| text(o, "displayName")).unwrap_or_default(),
        outcome_of(text(o, "activityResult").as_deref()),
        actor_upn.clone().or_else(|| actor.and_then(|a| text(a, "applicationDisplayName"))),
        actor_upn,
        actor.and_then(|a| text(a, "applicationId")),
        actor.and_then(|a| text(a, "ipAddress")).and_then(|ip| clean_ip(&ip)),
        targets,
        None,
        o,
        context,
        false,
    ))
}
