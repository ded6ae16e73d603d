//! Normalization over hand-made records, over everything the simulator produces, and over
//! arbitrary JSON.

use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::simulator::activity::{build_tenant, records_for_hour, ActivityConfig, Feed};

fn unified(v: Value) -> Normalized {
    normalize(Source::Unified, Some("Audit.Exchange"), &v.to_string(), &Context::default()).unwrap()
}

fn ual(op: &str, params: Value) -> Value {
    json!({"CreationTime": "2026-11-20T10:00:00", "Id": "4d0b7d0e-2c1f-4a7b-9b3e-6f2c1d9e0a11", "Operation": op, "RecordType": "1",
           "ResultStatus": "True", "UserId": "admin@contoso.example", "Workload": "Exchange", "ClientIP": "[2001:db8::5]:443",
           "ObjectId": "contoso.example\\jdoe", "Parameters": params})
}

#[test]
fn exchange_admin_records_keep_their_fields_and_tolerate_string_numbers() {
    let n = unified(ual("Set-Mailbox", json!([{"Name": "Identity", "Value": "jdoe"}])));
    assert_eq!(n.record_id, "4d0b7d0e-2c1f-4a7b-9b3e-6f2c1d9e0a11");
    assert_eq!(n.occurred_at, Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap());
    assert_eq!((n.service.as_str(), n.operation.as_str(), n.result), ("Exchange", "Set-Mailbox", Outcome::Success));
    assert_eq!(n.actor_ip.as_deref(), Some("2001:db8::5"));
    assert_eq!(n.flattened["Parameters.Identity"], "jdoe");
    assert_eq!(n.severity, 0);
}

#[test]
fn forwarding_outside_the_tenant_is_high_and_without_a_copy_critical() {
    let out = unified(ual("Set-Mailbox", json!([{"Name": "ForwardingSmtpAddress", "Value": "smtp:x@evil.example"}])));
    assert_eq!(out.severity, 3, "{:?}", out.severity_reasons);
    let silent = unified(ual(
        "Set-Mailbox",
        json!([{"Name": "ForwardingSmtpAddress", "Value": "smtp:x@evil.example"}, {"Name": "DeliverToMailboxAndForward", "Value": "False"}]),
    ));
    assert_eq!(silent.severity, 4);
    let internal =
        unified(ual("Set-Mailbox", json!([{"Name": "ForwardingSmtpAddress", "Value": "smtp:boss@contoso.example"}])));
    assert_eq!(internal.severity, 1, "a near miss: internal forwarding");
}

#[test]
fn inbox_rules_that_forward_out_or_delete_are_flagged() {
    assert_eq!(unified(ual("New-InboxRule", json!([{"Name": "ForwardTo", "Value": "a@evil.example"}]))).severity, 3);
    assert_eq!(unified(ual("New-InboxRule", json!([{"Name": "DeleteMessage", "Value": "True"}]))).severity, 2);
    assert_eq!(unified(ual("New-InboxRule", json!([{"Name": "MoveToFolder", "Value": "Newsletters"}]))).severity, 0);
}

#[test]
fn mailbox_permissions_roles_mfa_and_audit_tampering_are_rated() {
    assert_eq!(
        unified(ual("Add-MailboxPermission", json!([{"Name": "AccessRights", "Value": "FullAccess"}]))).severity,
        3
    );
    assert_eq!(
        unified(ual("Set-AdminAuditLogConfig", json!([{"Name": "UnifiedAuditLogIngestionEnabled", "Value": "False"}])))
            .severity,
        4
    );
    let role = |name: &str| {
        let mut v = ual("Add member to role.", json!([]));
        v["Workload"] = json!("AzureActiveDirectory");
        v["ModifiedProperties"] = json!([{"Name": "Role.DisplayName", "NewValue": name, "OldValue": ""}]);
        unified(v)
    };
    let ga = role("Global Administrator");
    assert_eq!((ga.operation.as_str(), ga.severity), ("Add member to role", 4), "the trailing dot is removed");
    assert_eq!(role("Security Administrator").severity, 3);
    assert_eq!(role("Reports Reader").severity, 1, "a near miss: a non-privileged role");
    let mut failed = ual("Add-MailboxPermission", json!([{"Name": "AccessRights", "Value": "FullAccess"}]));
    failed["ResultStatus"] = json!("False");
    assert_eq!(unified(failed).severity, 2, "a failed operation is one level lower");
}

#[test]
fn sts_logons_take_their_outcome_from_the_error_code() {
    let v = json!({"CreationTime": "2026-11-20T07:59:10", "Id": "x1", "Operation": "UserLoginFailed", "RecordType": 15, "ResultStatus": "Success",
                   "UserId": "jdoe@contoso.example", "Workload": "AzureActiveDirectory", "ClientIP": "192.0.2.77:5000", "ErrorCode": "50126"});
    let n = unified(v);
    assert_eq!((n.result, n.severity), (Outcome::Failure, 1));
    assert_eq!(n.actor_ip.as_deref(), Some("192.0.2.77"));
}

#[test]
fn graph_records_normalize_with_seven_digit_times() {
    let d = json!({"id": "Directory_1", "activityDateTime": "2026-11-20T08:03:44.1234567Z", "activityDisplayName": "Disable Strong Authentication",
                   "loggedByService": "Core Directory", "result": "success", "initiatedBy": {"user": {"userPrincipalName": "admin@contoso.example", "ipAddress": "198.51.100.23"}},
                   "targetResources": [{"id": "u1", "userPrincipalName": "jdoe@contoso.example", "type": "User"}]});
    let n = normalize(Source::Directory, None, &d.to_string(), &Context::default()).unwrap();
    assert_eq!(n.occurred_at.timestamp_subsec_micros(), 123_456);
    assert_eq!(n.severity, 3);
    assert_eq!(n.targets[0].display.as_deref(), Some("jdoe@contoso.example"));
    let s = json!({"id": "s1", "createdDateTime": "2026-11-20T08:00:00Z", "userPrincipalName": "jdoe@contoso.example", "ipAddress": "203.0.113.5",
                   "status": {"errorCode": 50126, "failureReason": "bad password"}, "location": {"city": "Lisbon", "countryOrRegion": "PT"}});
    let n = normalize(Source::Signin, None, &s.to_string(), &Context::default()).unwrap();
    assert_eq!((n.result, n.operation.as_str()), (Outcome::Failure, "Sign-in"));
    assert!(n.summary.contains("Lisbon") && n.summary.contains("50126"), "{}", n.summary);
}

#[test]
fn missing_ids_and_times_are_errors_and_the_fallback_identity_is_stable() {
    let e = normalize(Source::Unified, None, r#"{"Operation":"x"}"#, &Context::default()).unwrap_err();
    assert_eq!(e, NormalizeError::Missing("Id"));
    assert!(matches!(normalize(Source::Signin, None, "[1]", &Context::default()), Err(NormalizeError::NotAnObject)));
    assert!(matches!(normalize(Source::Signin, None, "{oops", &Context::default()), Err(NormalizeError::NotJson(_))));
    let now = Utc::now();
    let (id, key, _) = fallback_identity(r#"{"Operation":"x"}"#, now);
    let (id_again, key_again, _) = fallback_identity(r#"{"Operation":"x"}"#, now);
    assert_eq!((&id, &key), (&id_again, &key_again));
    assert!(key.starts_with("sha256:"));
    assert_eq!(fallback_identity(r#"{"Id":"abc","CreationTime":"bad"}"#, now).0, "abc");
}

#[test]
fn every_record_the_simulator_produces_in_a_week_normalizes() {
    let config = ActivityConfig { seed: 3, events_per_day: 2_000, scenarios: true };
    let tenant = build_tenant(3, 0);
    let start = Utc.with_ymd_and_hms(2026, 11, 16, 0, 0, 0).unwrap();
    let mut dangerous = 0;
    for feed in Feed::ALL {
        let source = match feed {
            Feed::DirectoryAudits => Source::Directory,
            Feed::SignIns => Source::Signin,
            Feed::IntuneAuditEvents => Source::Intune,
            _ => Source::Unified,
        };
        for h in 0..24 * 7 {
            for r in records_for_hour(&config, &tenant, feed, start + Duration::hours(h)) {
                let n = normalize(source, feed.content_type(), &r.json, &Context::default())
                    .unwrap_or_else(|e| panic!("{feed:?} {}: {e}", r.json));
                assert_eq!(n.record_id, r.id);
                assert_eq!(n.occurred_at, r.time);
                if n.severity >= 3 {
                    dangerous += 1;
                }
            }
        }
    }
    assert!(dangerous > 5, "the woven-in scenarios are rated high: {dangerous}");
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,20}".prop_map(Value::String),
        Just(json!("[{\"Name\":\"a\",\"Value\":\"[1,2]\"}]")),
        Just(json!("2026-11-20T10:00:00")),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("Id".to_string()),
                    Just("id".to_string()),
                    Just("CreationTime".to_string()),
                    Just("Name".to_string()),
                    Just("Value".to_string()),
                    Just("Parameters".to_string()),
                    Just("ClientIP".to_string()),
                    "[a-zA-Z]{1,8}"
                ],
                inner,
                0..8
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn normalize_never_panics_and_is_deterministic(v in arbitrary_json()) {
        let raw = v.to_string();
        for source in Source::ALL {
            let a = normalize(source, Some("Audit.General"), &raw, &Context::default());
            let b = normalize(source, Some("Audit.General"), &raw, &Context::default());
            prop_assert_eq!(format!("{a:?}"), format!("{b:?}"));
            if let Ok(n) = a {
                prop_assert!(n.flattened.len() <= flatten::MAX_KEYS);
                prop_assert!(!n.summary.contains('\n'));
            }
        }
    }
}
