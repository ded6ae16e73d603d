//! Microsoft Graph records: directoryAudits, signIns and Intune auditEvents.
//!
//! Decisions a reader would otherwise have to guess:
//! - directoryAudits: `service` is `loggedByService` ("Core Directory", "PIM", ...; "Entra ID"
//!   when absent), `operation` is `activityDisplayName` trimmed, `result` `timeout` counts as a
//!   failure.
//! - signIns: `service` is always [`SIGNIN_SERVICE`] and `operation` always [`SIGNIN_OPERATION`],
//!   failed or not — the outcome (from `status.errorCode`, 0 = success) says which, and the
//!   summary names the app, the place and the error code.
//! - Intune: `service` is "Intune", `operation` is `activityType` (else `activity`, else
//!   `displayName`).

use serde_json::{Map, Value};

use super::common::{
    clean_ip, directory_summary, first_text, int, internal_domains, list, looks_like_upn, obj, op_key, outcome_of,
    owned, record_id, record_time, short, summary_line, target_label, text, Flat, Targets,
};
use super::severity::{assess, Facts};
use super::{flatten_record, Context, NormalizeError, Normalized, Outcome, Source, Target};

/// The `service` of every sign-in.
pub const SIGNIN_SERVICE: &str = "Sign-ins";
/// The `operation` of every sign-in.
pub const SIGNIN_OPERATION: &str = "Sign-in";
/// The `service` of every Intune audit event.
pub const INTUNE_SERVICE: &str = "Intune";

fn ip_in(o: Option<&Map<String, Value>>, key: &str) -> Option<String> {
    o.and_then(|o| text(o, key)).and_then(|ip| clean_ip(&ip))
}

/// What every Graph normalizer hands over to be finished.
struct Parts {
    record_id: String,
    occurred_at: chrono::DateTime<chrono::Utc>,
    service: String,
    operation: String,
    result: Outcome,
    actor_display: Option<String>,
    actor_upn: Option<String>,
    actor_app_id: Option<String>,
    actor_ip: Option<String>,
    targets: Vec<Target>,
    correlation_id: Option<String>,
}

fn finish(
    source: Source,
    p: Parts,
    o: &Map<String, Value>,
    context: &Context,
    summary: impl FnOnce(&Parts, &str, &Flat) -> (String, Vec<String>),
) -> Normalized {
    let flattened = flatten_record(o);
    let op = op_key(&p.operation);
    let internal = internal_domains(context, [p.actor_upn.as_deref()]);
    let (severity, severity_reasons) = assess(&Facts {
        source,
        op: &op,
        outcome: p.result,
        sign_in: source == Source::Signin,
        actor: p.actor_upn.as_deref().or(p.actor_display.as_deref()),
        targets: &p.targets,
        flattened: &flattened,
        internal: &internal,
    });
    let (main, mut details) = summary(&p, &op, &flattened);
    if p.result == Outcome::Failure && source != Source::Signin {
        details.push("failed".into());
    }
    let summary = summary_line(&main, &details);
    Normalized {
        dedupe_key: p.record_id.clone(),
        record_id: p.record_id,
        occurred_at: p.occurred_at,
        service: p.service,
        operation: p.operation,
        result: p.result,
        actor_display: p.actor_display,
        actor_upn: p.actor_upn,
        actor_app_id: p.actor_app_id,
        actor_ip: p.actor_ip,
        targets: p.targets,
        summary,
        severity,
        severity_reasons,
        correlation_id: p.correlation_id,
        flattened,
    }
}

/// Who acted, for a summary.
fn actor_label(p: &Parts) -> &str {
    p.actor_upn.as_deref().or(p.actor_display.as_deref()).or(p.actor_app_id.as_deref()).unwrap_or("someone")
}

/// A directoryAudit.
pub(super) fn normalize_directory(o: &Map<String, Value>, context: &Context) -> Result<Normalized, NormalizeError> {
    let record_id = record_id(o, "id")?;
    let occurred_at = record_time(o, "activityDateTime")?;
    let initiated = obj(o, "initiatedBy");
    let user = initiated.and_then(|i| obj(i, "user"));
    let app = initiated.and_then(|i| obj(i, "app"));
    let actor_upn = user.and_then(|u| owned(u, "userPrincipalName"));
    let actor_display = user
        .and_then(|u| owned(u, "displayName"))
        .or_else(|| actor_upn.clone())
        .or_else(|| app.and_then(|a| first_text(a, &["displayName", "servicePrincipalName"])));
    let mut targets = Targets::default();
    for t in list(o, "targetResources").iter().filter_map(Value::as_object) {
        targets.add(first_text(t, &["userPrincipalName", "displayName"]), owned(t, "id"), text(t, "type").as_deref());
    }
    let parts = Parts {
        record_id,
        occurred_at,
        service: owned(o, "loggedByService").unwrap_or_else(|| "Entra ID".into()),
        operation: owned(o, "activityDisplayName").unwrap_or_default(),
        result: outcome_of(text(o, "result").as_deref()),
        actor_display,
        actor_upn,
        actor_app_id: app.and_then(|a| owned(a, "appId")),
        actor_ip: ip_in(user, "ipAddress"),
        targets: targets.0,
        correlation_id: owned(o, "correlationId"),
    };
    Ok(finish(Source::Directory, parts, o, context, |p, op, f| {
        let main = directory_summary(op, &p.operation, actor_label(p), &p.targets, f);
        let reason = owned(o, "resultReason").map(|r| short(&r, 80));
        (main, reason.into_iter().collect())
    }))
}

/// A signIn.
pub(super) fn normalize_signin(o: &Map<String, Value>, context: &Context) -> Result<Normalized, NormalizeError> {
    let record_id = record_id(o, "id")?;
    let occurred_at = record_time(o, "createdDateTime")?;
    let status = obj(o, "status");
    let code = status.and_then(|s| int(s, "errorCode"));
    let result = match code {
        Some(0) => Outcome::Success,
        Some(_) => Outcome::Failure,
        None => Outcome::Unknown,
    };
    let actor_upn = owned(o, "userPrincipalName");
    let mut targets = Targets::default();
    targets.add(owned(o, "appDisplayName"), owned(o, "appId"), Some("Application"));
    targets.add(owned(o, "resourceDisplayName"), owned(o, "resourceId"), Some("Resource"));
    let parts = Parts {
        record_id,
        occurred_at,
        service: SIGNIN_SERVICE.into(),
        operation: SIGNIN_OPERATION.into(),
        result,
        actor_display: owned(o, "userDisplayName").or_else(|| actor_upn.clone()),
        actor_upn,
        actor_app_id: owned(o, "appId"),
        actor_ip: text(o, "ipAddress").and_then(|ip| clean_ip(&ip)),
        targets: targets.0,
        correlation_id: owned(o, "correlationId"),
    };
    Ok(finish(Source::Signin, parts, o, context, |p, _, _| {
        let app = p.targets.first().and_then(|t| t.display.as_deref()).unwrap_or("an application");
        let mut main = format!("{} signed in to {app}", actor_label(p));
        let location = obj(o, "location");
        let city = location.and_then(|l| owned(l, "city"));
        let country = location.and_then(|l| owned(l, "countryOrRegion"));
        let place: Vec<String> = [city, country].into_iter().flatten().collect();
        if !place.is_empty() {
            main.push_str(" from ");
            main.push_str(&place.join(", "));
        }
        let details = match (p.result, code) {
            (Outcome::Failure, Some(code)) => vec![format!("failed: {code}")],
            _ => Vec::new(),
        };
        (main, details)
    }))
}

/// An Intune auditEvent.
pub(super) fn normalize_intune(o: &Map<String, Value>, context: &Context) -> Result<Normalized, NormalizeError> {
    let record_id = record_id(o, "id")?;
    let occurred_at = record_time(o, "activityDateTime")?;
    let actor = obj(o, "actor");
    let actor_upn = actor.and_then(|a| owned(a, "userPrincipalName")).filter(|u| looks_like_upn(u));
    let actor_display = actor_upn.clone().or_else(|| {
        actor.and_then(|a| first_text(a, &["applicationDisplayName", "servicePrincipalName", "userPrincipalName"]))
    });
    let mut targets = Targets::default();
    for r in list(o, "resources").iter().filter_map(Value::as_object) {
        let kind = first_text(r, &["type", "auditResourceType"]);
        targets.add(owned(r, "displayName"), owned(r, "resourceId"), kind.as_deref());
    }
    let parts = Parts {
        record_id,
        occurred_at,
        service: INTUNE_SERVICE.into(),
        operation: first_text(o, &["activityType", "activity", "displayName"]).unwrap_or_default(),
        result: outcome_of(text(o, "activityResult").as_deref()),
        actor_display,
        actor_upn,
        actor_app_id: actor.and_then(|a| owned(a, "applicationId")),
        actor_ip: ip_in(actor, "ipAddress"),
        targets: targets.0,
        correlation_id: owned(o, "correlationId"),
    };
    Ok(finish(Source::Intune, parts, o, context, |p, _, _| {
        let main = match p.targets.first().and_then(target_label) {
            Some(t) => format!("{} ran {} on {}", actor_label(p), p.operation, short(t, 100)),
            None => format!("{} ran {}", actor_label(p), p.operation),
        };
        (main, Vec::new())
    }))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Timelike, Utc};
    use serde_json::json;

    use super::super::{normalize, Context, NormalizeError, Normalized, Outcome, Source};

    fn norm(source: Source, v: serde_json::Value) -> Normalized {
        normalize(source, None, &v.to_string(), &Context::default()).unwrap()
    }

    fn directory_audit() -> serde_json::Value {
        json!({
            "id": "Directory_6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d_ABCDE_123456",
            "category": "RoleManagement", "correlationId": "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d",
            "result": "success", "resultReason": "", "activityDisplayName": "Add member to role",
            "activityDateTime": "2026-11-20T08:03:44.1234567Z", "loggedByService": "Core Directory", "operationType": "Assign",
            "initiatedBy": {"app": null, "user": {"id": "11111111-2222-4333-8444-555555555555", "displayName": "Tenant Admin",
                "userPrincipalName": "admin@contoso.example", "ipAddress": "198.51.100.23"}},
            "targetResources": [{"id": "66666666-7777-4888-9999-000000000000", "displayName": "Helpdesk One", "type": "User",
                "userPrincipalName": "helpdesk1@contoso.example", "groupType": null,
                "modifiedProperties": [{"displayName": "Role.DisplayName", "oldValue": null, "newValue": "\"Helpdesk Administrator\""},
                                       {"displayName": "Role.TemplateId", "oldValue": null, "newValue": "\"729827e3-9c14-49f7-bb1b-9608f156bbb8\""}]}],
            "additionalDetails": [{"key": "User-Agent", "value": "ExampleAgent/2.0"}]
        })
    }

    #[test]
    fn a_directory_audit_names_actor_target_and_role() {
        let n = norm(Source::Directory, directory_audit());
        assert_eq!(n.record_id, "Directory_6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d_ABCDE_123456");
        assert_eq!(
            n.occurred_at,
            Utc.with_ymd_and_hms(2026, 11, 20, 8, 3, 44).unwrap().with_nanosecond(123_456_000).unwrap()
        );
        assert_eq!(
            (n.service.as_str(), n.operation.as_str(), n.result),
            ("Core Directory", "Add member to role", Outcome::Success)
        );
        assert_eq!(n.actor_display.as_deref(), Some("Tenant Admin"));
        assert_eq!(n.actor_upn.as_deref(), Some("admin@contoso.example"));
        assert_eq!(n.actor_ip.as_deref(), Some("198.51.100.23"));
        assert_eq!(n.correlation_id.as_deref(), Some("6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d"));
        assert_eq!(n.targets[0].display.as_deref(), Some("helpdesk1@contoso.example"));
        assert_eq!(n.targets[0].kind.as_deref(), Some("User"));
        assert_eq!(n.summary, "admin@contoso.example added helpdesk1@contoso.example to role Helpdesk Administrator");
        assert_eq!(
            n.flattened["targetResources.0.modifiedProperties.Role.DisplayName.newValue"],
            "Helpdesk Administrator"
        );
        assert_eq!(n.flattened["additionalDetails.User-Agent"], "ExampleAgent/2.0");
        assert_eq!(n.severity, 3);
    }

    #[test]
    fn a_directory_audit_by_an_app_names_the_app() {
        let mut v = directory_audit();
        v["initiatedBy"] = json!({"user": null, "app": {"appId": "a1", "displayName": "HR Sync", "servicePrincipalId": "sp1", "servicePrincipalName": null}});
        v["result"] = json!("timeout");
        v["targetResources"][0]["Type"] = v["targetResources"][0]["type"].take();
        let n = norm(Source::Directory, v);
        assert_eq!(n.actor_display.as_deref(), Some("HR Sync"));
        assert_eq!(n.actor_upn, None);
        assert_eq!(n.actor_app_id.as_deref(), Some("a1"));
        assert_eq!(n.actor_ip, None);
        assert_eq!(n.result, Outcome::Failure);
        assert_eq!(n.targets[0].kind.as_deref(), Some("User"), "a capitalised Type is read too");
        assert!(
            n.summary.starts_with("HR Sync added helpdesk1@contoso.example") && n.summary.ends_with("(failed)"),
            "{}",
            n.summary
        );
        assert_eq!(n.severity, 2, "a failed assignment is one level lower");
    }

    fn sign_in(code: i64) -> serde_json::Value {
        json!({
            "id": "1f2e3d4c-5b6a-4789-8a9b-0c1d2e3f4a5b", "createdDateTime": "2026-11-20T07:59:10Z",
            "userDisplayName": "Jane Doe", "userPrincipalName": "jdoe@contoso.example", "userId": "abcdef01",
            "appId": "00000002-0000-0ff1-ce00-000000000000", "appDisplayName": "Office 365",
            "ipAddress": "192.0.2.77", "clientAppUsed": "Browser", "correlationId": "0f0e", "conditionalAccessStatus": "notApplied",
            "isInteractive": true, "riskDetail": "none", "riskLevelAggregated": "none", "riskLevelDuringSignIn": "none", "riskState": "none",
            "riskEventTypes": [], "resourceDisplayName": "Office 365 Exchange Online", "resourceId": "00000002-0000-0ff1-ce00-000000000000",
            "status": {"errorCode": code, "failureReason": "Error validating credentials due to invalid username or password.", "additionalDetails": null},
            "deviceDetail": {"deviceId": "", "displayName": null, "operatingSystem": "Windows 10", "browser": "Edge 120.0.0"},
            "location": {"city": "Lisbon", "state": "Lisboa", "countryOrRegion": "PT", "geoCoordinates": {"altitude": null, "latitude": 38.72, "longitude": -9.14}},
            "appliedConditionalAccessPolicies": []
        })
    }

    #[test]
    fn a_failed_sign_in_says_where_from_and_why() {
        let n = norm(Source::Signin, sign_in(50126));
        assert_eq!((n.service.as_str(), n.operation.as_str(), n.result), ("Sign-ins", "Sign-in", Outcome::Failure));
        assert_eq!(n.summary, "jdoe@contoso.example signed in to Office 365 from Lisbon, PT (failed: 50126)");
        assert_eq!(n.actor_display.as_deref(), Some("Jane Doe"));
        assert_eq!(n.actor_app_id.as_deref(), Some("00000002-0000-0ff1-ce00-000000000000"));
        assert_eq!(n.actor_ip.as_deref(), Some("192.0.2.77"));
        assert_eq!(n.targets.len(), 2);
        assert_eq!(n.flattened["location.geoCoordinates.latitude"], "38.72");
        assert_eq!(n.flattened["status.errorCode"], "50126");
        assert_eq!(n.severity, 1);
        let ok = norm(Source::Signin, sign_in(0));
        assert_eq!((ok.result, ok.severity), (Outcome::Success, 0));
        assert_eq!(ok.summary, "jdoe@contoso.example signed in to Office 365 from Lisbon, PT");
    }

    #[test]
    fn a_sign_in_error_code_sent_as_a_string_still_counts() {
        let mut v = sign_in(0);
        v["status"]["errorCode"] = json!("53003");
        assert_eq!(norm(Source::Signin, v).result, Outcome::Failure);
        let mut v = sign_in(0);
        v["status"] = json!(null);
        assert_eq!(norm(Source::Signin, v).result, Outcome::Unknown);
    }

    #[test]
    fn risky_and_legacy_sign_ins_are_rated() {
        let mut risky = sign_in(0);
        risky["riskLevelDuringSignIn"] = json!("high");
        assert_eq!(norm(Source::Signin, risky).severity, 3);
        let mut legacy = sign_in(0);
        legacy["clientAppUsed"] = json!("IMAP4");
        assert_eq!(norm(Source::Signin, legacy).severity, 2);
        let mut legacy_failed = sign_in(50126);
        legacy_failed["clientAppUsed"] = json!("IMAP4");
        assert_eq!(
            norm(Source::Signin, legacy_failed).severity,
            1,
            "a near miss: a failed legacy sign-in is only a failure"
        );
    }

    fn intune_event(activity: &str) -> serde_json::Value {
        json!({
            "@odata.type": "#microsoft.graph.auditEvent", "id": "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", "displayName": activity,
            "componentName": "Device",
            "actor": {"type": "ItPro", "auditActorType": "ItPro", "userPermissions": ["*"], "applicationId": "5b3e0f1a-0000-4000-8000-000000000001",
                      "applicationDisplayName": "Microsoft Intune portal extension", "userPrincipalName": "admin@contoso.example",
                      "servicePrincipalName": null, "ipAddress": "198.51.100.23", "userId": "11111111"},
            "activity": activity, "activityDateTime": "2026-11-20T15:20:31.5512345Z",
            "activityType": activity, "activityOperationType": "Action", "activityResult": "Success", "correlationId": "7e8f",
            "resources": [{"displayName": "LAPTOP-007", "type": "ManagedDevice", "auditResourceType": "ManagedDevice",
                           "resourceId": "c0ffee00", "modifiedProperties": [{"displayName": "PasswordMinimumLength", "oldValue": "8", "newValue": "14"}]}],
            "category": "Device"
        })
    }

    #[test]
    fn an_intune_event_names_the_device_and_rates_wipes() {
        let n = norm(Source::Intune, intune_event("wipe ManagedDevice"));
        assert_eq!(
            (n.service.as_str(), n.operation.as_str(), n.result),
            ("Intune", "wipe ManagedDevice", Outcome::Success)
        );
        assert_eq!(n.summary, "admin@contoso.example ran wipe ManagedDevice on LAPTOP-007");
        assert_eq!(n.actor_app_id.as_deref(), Some("5b3e0f1a-0000-4000-8000-000000000001"));
        assert_eq!(n.targets[0].kind.as_deref(), Some("ManagedDevice"));
        assert_eq!(n.flattened["resources.0.modifiedProperties.PasswordMinimumLength.newValue"], "14");
        assert_eq!(n.flattened["actor.userPermissions"], "*");
        assert_eq!(n.occurred_at.timestamp_subsec_micros(), 551_234, "seven digits are cut to microseconds");
        assert_eq!(n.severity, 2);
        assert_eq!(norm(Source::Intune, intune_event("syncDevice ManagedDevice")).severity, 0, "a near miss: a sync");
        let mut app_only = intune_event("retire ManagedDevice");
        app_only["actor"]["userPrincipalName"] = json!(null);
        app_only["activityResult"] = json!("Failure");
        let n = norm(Source::Intune, app_only);
        assert_eq!(n.actor_display.as_deref(), Some("Microsoft Intune portal extension"));
        assert_eq!((n.result, n.severity), (Outcome::Failure, 1));
    }

    #[test]
    fn graph_records_without_id_or_time_are_errors() {
        let mut v = sign_in(0);
        v.as_object_mut().unwrap().remove("id");
        assert_eq!(
            normalize(Source::Signin, None, &v.to_string(), &Context::default()),
            Err(NormalizeError::Missing("id"))
        );
        let mut v = directory_audit();
        v["activityDateTime"] = json!("yesterday");
        assert_eq!(
            normalize(Source::Directory, None, &v.to_string(), &Context::default()),
            Err(NormalizeError::BadTime { field: "activityDateTime", value: "yesterday".into() })
        );
        let mut v = intune_event("x");
        v["activityDateTime"] = json!(null);
        assert_eq!(
            normalize(Source::Intune, None, &v.to_string(), &Context::default()),
            Err(NormalizeError::Missing("activityDateTime"))
        );
    }
}
