//! Normalization as a whole: the severity heuristics end to end (each with a near miss), time
//! and id handling, property tests over arbitrary JSON, everything the simulator produces, and
//! snapshots of one normalized record per kind of simulated activity.

use std::collections::BTreeMap;

use chrono::{Duration, TimeZone, Timelike, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::simulator::activity::{build_tenant, records_for_hour, ActivityConfig, Feed, Tenant};

fn run(source: Source, v: &Value) -> Normalized {
    normalize(source, None, &v.to_string(), &Context::default()).unwrap_or_else(|e| panic!("{e}: {v}"))
}

/// A UAL Exchange admin record running `cmdlet` with `params`.
fn cmdlet(actor: &str, cmdlet: &str, params: Value) -> Value {
    json!({"CreationTime": "2026-11-20T10:00:00", "Id": "4d0b7d0e-2c1f-4a7b-9b3e-6f2c1d9e0a11", "Operation": cmdlet,
           "OrganizationId": "3f1c9d2e-7b1a-4c55-9e0d-2b8f6a4c1e77", "RecordType": 1, "ResultStatus": "True", "UserType": 2,
           "UserId": actor, "Workload": "Exchange", "ClientIP": "198.51.100.23", "ObjectId": "contoso.example\\jdoe",
           "Parameters": params})
}

fn severity_of(v: &Value) -> i16 {
    let n = run(Source::Unified, v);
    assert!(n.severity == 0 || !n.severity_reasons.is_empty(), "a rated record says why: {n:?}");
    n.severity
}

/// A UAL Entra directory record (RecordType 8).
fn ual_directory(op: &str, modified: Value) -> Value {
    json!({"CreationTime": "2026-11-20T08:03:44", "Id": "e2f3a4b5-c6d7-4e8f-9a0b-1c2d3e4f5a6b", "Operation": op,
           "RecordType": 8, "ResultStatus": "Success", "UserType": 0, "Workload": "AzureActiveDirectory",
           "ObjectId": "jdoe@contoso.example", "UserId": "admin@contoso.example", "ModifiedProperties": modified,
           "Target": [{"ID": "User_66666666-7777-4888-9999-000000000000", "Type": 2}, {"ID": "jdoe@contoso.example", "Type": 5}]})
}

/// A Graph directoryAudit of `activity` with `modified` properties on its one target.
fn graph_directory(activity: &str, modified: Value) -> Value {
    json!({"id": "Directory_1", "category": "Policy", "correlationId": "c", "result": "success", "activityDisplayName": activity,
           "activityDateTime": "2026-11-20T08:03:44.0000000Z", "loggedByService": "Core Directory",
           "initiatedBy": {"user": {"userPrincipalName": "admin@contoso.example", "ipAddress": "198.51.100.23"}},
           "targetResources": [{"id": "t1", "displayName": "Target", "type": "Policy", "modifiedProperties": modified}]})
}

#[test]
fn a_global_administrator_assignment_is_critical_in_both_shapes_and_other_roles_less() {
    let ual = |role: &str| {
        severity_of(&ual_directory(
            "Add member to role.",
            json!([{"Name": "Role.DisplayName", "NewValue": role, "OldValue": ""}]),
        ))
    };
    assert_eq!(ual("Global Administrator"), 4);
    assert_eq!(ual("Security Administrator"), 3);
    assert_eq!(ual("Reports Reader"), 1, "a near miss: a non-privileged role");
    let graph = run(
        Source::Directory,
        &graph_directory(
            "Add member to role",
            json!([{"displayName": "Role.TemplateId", "oldValue": null, "newValue": "\"62e90394-69f5-4237-9190-012177145e10\""}]),
        ),
    );
    assert_eq!(graph.severity, 4, "the template id alone is enough: {:?}", graph.severity_reasons);
    let mut failed =
        ual_directory("Add member to role.", json!([{"Name": "Role.DisplayName", "NewValue": "Global Administrator"}]));
    failed["ResultStatus"] = json!("Failed");
    assert_eq!(severity_of(&failed), 3, "a failed assignment is one level lower");
}

#[test]
fn full_access_mailbox_delegation_is_high() {
    let grant = |rights: &str| {
        cmdlet(
            "admin@contoso.example",
            "Add-MailboxPermission",
            json!([{"Name": "Identity", "Value": "ceo"}, {"Name": "User", "Value": "jdoe"}, {"Name": "AccessRights", "Value": rights}]),
        )
    };
    assert_eq!(severity_of(&grant("FullAccess")), 3);
    assert_eq!(severity_of(&grant("ReadPermission")), 2, "a near miss: a lesser right");
    let mut failed = grant("FullAccess");
    failed["ResultStatus"] = json!("False");
    assert_eq!(severity_of(&failed), 2);
}

#[test]
fn mailbox_forwarding_outside_is_high_and_without_a_copy_critical() {
    let forward = |addr: &str, keep: Option<&str>| {
        let mut params = vec![
            json!({"Name": "Identity", "Value": "jdoe@contoso.example"}),
            json!({"Name": "ForwardingSmtpAddress", "Value": addr}),
        ];
        if let Some(keep) = keep {
            params.push(json!({"Name": "DeliverToMailboxAndForward", "Value": keep}));
        }
        cmdlet("admin@contoso.example", "Set-Mailbox", Value::Array(params))
    };
    assert_eq!(severity_of(&forward("smtp:x@evil.example", None)), 3);
    assert_eq!(severity_of(&forward("smtp:x@evil.example", Some("True"))), 3);
    assert_eq!(severity_of(&forward("smtp:x@evil.example", Some("False"))), 4);
    assert_eq!(
        severity_of(&forward("smtp:boss@contoso.example", Some("False"))),
        1,
        "a near miss: internal forwarding"
    );
    assert_eq!(severity_of(&forward("smtp:boss@eu.contoso.example", None)), 1, "a subdomain is internal");
    let clear =
        cmdlet("admin@contoso.example", "Set-Mailbox", json!([{"Name": "ForwardingSmtpAddress", "Value": "$null"}]));
    assert_eq!(severity_of(&clear), 0, "a near miss: forwarding cleared");
    let quota =
        cmdlet("admin@contoso.example", "Set-Mailbox", json!([{"Name": "ProhibitSendQuota", "Value": "49 GB"}]));
    assert_eq!(severity_of(&quota), 0);
}

#[test]
fn the_tenant_domains_of_the_context_make_vanity_domains_internal() {
    let v = cmdlet(
        "admin@contoso.onmicrosoft.com",
        "Set-Mailbox",
        json!([{"Name": "Identity", "Value": "jdoe"}, {"Name": "ForwardingSmtpAddress", "Value": "smtp:boss@contoso.com"}]),
    );
    assert_eq!(severity_of(&v), 3, "without context contoso.com looks external");
    let context = Context { tenant_domains: vec!["contoso.com".into(), "contoso.onmicrosoft.com".into()] };
    let n = normalize(Source::Unified, None, &v.to_string(), &context).unwrap();
    assert_eq!(n.severity, 1);
}

#[test]
fn inbox_rules_that_forward_out_or_hide_mail_are_flagged() {
    let rule = |params: Value| severity_of(&cmdlet("jdoe@contoso.example", "New-InboxRule", params));
    assert_eq!(rule(json!([{"Name": "Name", "Value": "x"}, {"Name": "ForwardTo", "Value": "a@evil.example"}])), 3);
    assert_eq!(
        rule(json!([{"Name": "RedirectTo", "Value": "smtp:ok@contoso.example;smtp:a@evil.example"}])),
        3,
        "any address of a list"
    );
    assert_eq!(
        rule(json!([{"Name": "ForwardTo", "Value": "a@evil.example"}, {"Name": "DeleteMessage", "Value": "True"}])),
        4,
        "forwarding out and deleting the original hides the theft"
    );
    assert_eq!(
        rule(json!([{"Name": "ForwardTo", "Value": "boss@contoso.example"}])),
        1,
        "a near miss: internal forwarding"
    );
    assert_eq!(rule(json!([{"Name": "DeleteMessage", "Value": "True"}])), 2);
    assert_eq!(rule(json!([{"Name": "MoveToFolder", "Value": "RSS Feeds"}])), 2);
    assert_eq!(rule(json!([{"Name": "MoveToFolder", "Value": "jdoe@contoso.example:\\Deleted Items"}])), 2);
    assert_eq!(rule(json!([{"Name": "MoveToFolder", "Value": "Newsletters"}])), 0, "a near miss: an ordinary folder");
    assert_eq!(
        rule(
            json!([{"Name": "SubjectContainsWords", "Value": "invoice;payment"}, {"Name": "DeleteMessage", "Value": "True"}])
        ),
        3
    );
    let set = cmdlet(
        "jdoe@contoso.example",
        "Set-InboxRule",
        json!([{"Name": "ForwardAsAttachmentTo", "Value": "a@evil.example"}]),
    );
    assert_eq!(severity_of(&set), 3);
    // Parameters as a JSON string ("stringly JSON").
    let stringly = cmdlet(
        "jdoe@contoso.example",
        "New-InboxRule",
        json!("[{\"Name\":\"ForwardTo\",\"Value\":\"a@evil.example\"}]"),
    );
    assert_eq!(severity_of(&stringly), 3);
}

#[test]
fn outlook_client_rules_that_forward_outside_are_high() {
    let rule = |actions: &str| {
        json!({"CreationTime": "2026-11-20T10:00:00", "Id": "u1", "Operation": "UpdateInboxRules", "RecordType": 2,
               "ResultStatus": "Succeeded", "Workload": "Exchange", "UserId": "jdoe@contoso.example", "MailboxOwnerUPN": "jdoe@contoso.example",
               "OperationProperties": [{"Name": "RuleName", "Value": "fw"}, {"Name": "RuleActions", "Value": actions}]})
    };
    assert_eq!(
        severity_of(&rule("[{\"ActionType\":\"ForwardToRecipientsAction\",\"Recipients\":[\"x@evil.example\"]}]")),
        3
    );
    assert_eq!(
        severity_of(&rule("[{\"ActionType\":\"ForwardToRecipientsAction\",\"Recipients\":[\"y@contoso.example\"]}]")),
        1
    );
    assert_eq!(severity_of(&rule("[{\"ActionType\":\"MoveToFolderAction\"}]")), 0);
    let n = run(
        Source::Unified,
        &rule("[{\"ActionType\":\"ForwardToRecipientsAction\",\"Recipients\":[\"x@evil.example\"]}]"),
    );
    assert_eq!(n.summary, "jdoe@contoso.example changed Outlook inbox rule 'fw' forwarding to x@evil.example");
}

#[test]
fn anonymous_links_are_high_and_ordinary_file_reads_info() {
    let file = |op: &str| {
        json!({"CreationTime": "2026-11-20T10:00:00", "Id": "f1", "Operation": op, "RecordType": 14, "Workload": "SharePoint",
               "UserId": "jdoe@contoso.example", "ObjectId": "https://contoso.sharepoint.com/sites/finance/Shared Documents/Payroll.xlsx",
               "SourceFileName": "Payroll.xlsx", "ItemType": "File"})
    };
    let n = run(Source::Unified, &file("AnonymousLinkCreated"));
    assert_eq!(n.severity, 3);
    assert_eq!(n.summary, "jdoe@contoso.example created an anonymous link to Payroll.xlsx");
    assert_eq!(severity_of(&file("FileAccessed")), 0);
    assert_eq!(severity_of(&file("SharingSet")), 0, "a near miss: sharing inside the tenant");
}

#[test]
fn mfa_disabled_or_removed_is_high_in_both_shapes() {
    let graph = run(Source::Directory, &graph_directory("Disable Strong Authentication", json!([])));
    assert_eq!(graph.severity, 3);
    let ual = run(Source::Unified, &ual_directory("Disable Strong Authentication.", json!([])));
    assert_eq!((ual.operation.as_str(), ual.severity), ("Disable Strong Authentication", 3));
    assert_eq!(ual.summary, "admin@contoso.example disabled MFA for jdoe@contoso.example");

    let state_zero = ual_directory(
        "Update user.",
        json!([{"Name": "StrongAuthenticationRequirement", "OldValue": "[{\"RelyingParty\":\"*\",\"State\":1}]",
                "NewValue": "[{\"RelyingParty\":\"*\",\"State\":0}]"}]),
    );
    assert_eq!(severity_of(&state_zero), 3);
    let cleared = graph_directory(
        "Update user",
        json!([{"displayName": "StrongAuthenticationMethod", "oldValue": "[{\"MethodType\":6,\"Default\":true}]", "newValue": "[]"}]),
    );
    assert_eq!(run(Source::Directory, &cleared).severity, 3);
    let title =
        ual_directory("Update user.", json!([{"Name": "JobTitle", "NewValue": "[\"Analyst\"]", "OldValue": "[]"}]));
    assert_eq!(severity_of(&title), 0, "a near miss: an ordinary attribute");
    let added = graph_directory(
        "Update user",
        json!([{"displayName": "StrongAuthenticationMethod", "oldValue": "[]", "newValue": "[{\"MethodType\":6}]"}]),
    );
    assert_eq!(run(Source::Directory, &added).severity, 0, "a near miss: a method added");
}

#[test]
fn turning_off_the_unified_audit_log_is_critical() {
    let off = cmdlet(
        "admin@contoso.example",
        "Set-AdminAuditLogConfig",
        json!([{"Name": "UnifiedAuditLogIngestionEnabled", "Value": "False"}]),
    );
    assert_eq!(severity_of(&off), 4);
    let on = cmdlet(
        "admin@contoso.example",
        "Set-AdminAuditLogConfig",
        json!([{"Name": "UnifiedAuditLogIngestionEnabled", "Value": "True"}]),
    );
    assert_eq!(severity_of(&on), 0, "a near miss: turned on");
}

#[test]
fn conditional_access_policies_deleted_or_disabled_are_high() {
    assert_eq!(run(Source::Directory, &graph_directory("Delete conditional access policy", json!([]))).severity, 3);
    let update = |state: &str| {
        graph_directory(
            "Update conditional access policy",
            json!([{"displayName": "ConditionalAccessPolicy",
                    "oldValue": "{\"displayName\":\"MFA for admins\",\"state\":\"enabled\"}",
                    "newValue": format!("{{\"displayName\":\"MFA for admins\",\"state\":\"{state}\"}}")}]),
        )
    };
    assert_eq!(run(Source::Directory, &update("disabled")).severity, 3);
    assert_eq!(run(Source::Directory, &update("enabledForReportingButNotEnforced")).severity, 3);
    assert_eq!(run(Source::Directory, &update("enabled")).severity, 2, "a near miss: changed but enforced");
}

#[test]
fn consent_to_high_risk_scopes_is_high() {
    let consent = |scope: &str| {
        let mut v = graph_directory(
            "Consent to application",
            json!([{"displayName": "ConsentContext.IsAdminConsent", "oldValue": null, "newValue": "\"False\""},
                   {"displayName": "ConsentAction.Permissions", "oldValue": null,
                    "newValue": format!("\"[] => [[Id: abc, ClientId: def, PrincipalId: ghi, ResourceId: jkl, ConsentType: Principal, Scope: {scope}, CreatedDateTime: , LastModifiedDateTime ]]; \"")}]),
        );
        v["targetResources"][0]["type"] = json!("ServicePrincipal");
        v["targetResources"][0]["displayName"] = json!("Mail Helper");
        run(Source::Directory, &v)
    };
    let risky = consent("Mail.ReadWrite offline_access openid");
    assert_eq!(risky.severity, 3, "{:?}", risky.severity_reasons);
    assert_eq!(risky.summary, "admin@contoso.example consented to application Mail Helper");
    assert_eq!(consent("User.Read openid profile").severity, 1, "a near miss: sign-in scopes only");
}

#[test]
fn credentials_added_to_applications_are_rated() {
    assert_eq!(run(Source::Directory, &graph_directory("Add service principal credentials", json!([]))).severity, 3);
    let app = run(
        Source::Directory,
        &graph_directory("Update application – Certificates and secrets management ", json!([])),
    );
    assert_eq!(app.operation, "Update application – Certificates and secrets management");
    assert_eq!(app.severity, 2);
    let ual =
        run(Source::Unified, &ual_directory("Update application – Certificates and secrets management .", json!([])));
    assert_eq!(ual.severity, 2, "the UAL spelling matches too");
}

#[test]
fn severity_reasons_are_empty_exactly_when_the_record_is_info() {
    let n = run(Source::Unified, &cmdlet("admin@contoso.example", "Get-Mailbox", json!([])));
    assert_eq!((n.severity, n.severity_reasons.len()), (0, 0));
    let n = run(
        Source::Unified,
        &cmdlet(
            "admin@contoso.example",
            "Set-AdminAuditLogConfig",
            json!([{"Name": "UnifiedAuditLogIngestionEnabled", "Value": "False"}]),
        ),
    );
    assert_eq!(n.severity_reasons, ["unified audit log ingestion turned off"]);
}

#[test]
fn times_are_read_in_every_source_format_and_cut_to_microseconds() {
    let want = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 5).unwrap();
    assert_eq!(parse_time("2026-11-20T10:00:05"), Some(want), "UAL: no zone means UTC");
    assert_eq!(parse_time(" 2026-11-20T10:00:05Z "), Some(want));
    assert_eq!(parse_time("2026-11-20T12:00:05+02:00"), Some(want));
    assert_eq!(parse_time("2026-11-20T10:00:05.1234567Z"), want.with_nanosecond(123_456_000));
    assert_eq!(parse_time("2026-11-20T10:00:05.1234567"), want.with_nanosecond(123_456_000));
    for bad in ["", "yesterday", "2026-13-01T00:00:00", "2026-11-20", "2026-11-20T25:00:00", "1e9"] {
        assert_eq!(parse_time(bad), None, "{bad}");
    }
}

#[test]
fn records_without_a_usable_id_or_time_are_errors_naming_the_field() {
    let ctx = Context::default();
    let e = |raw: &str| normalize(Source::Unified, None, raw, &ctx).unwrap_err();
    assert_eq!(e(r#"{"Operation":"x","CreationTime":"2026-11-20T10:00:00"}"#), NormalizeError::Missing("Id"));
    assert_eq!(e(r#"{"Id":"","CreationTime":"2026-11-20T10:00:00"}"#), NormalizeError::Missing("Id"));
    assert_eq!(e(r#"{"Id":17,"CreationTime":"2026-11-20T10:00:00"}"#), NormalizeError::Missing("Id"));
    assert_eq!(e(r#"{"Id":"a"}"#), NormalizeError::Missing("CreationTime"));
    assert_eq!(e(r#"{"Id":"a","CreationTime":null}"#), NormalizeError::Missing("CreationTime"));
    assert_eq!(
        e(r#"{"Id":"a","CreationTime":1763632800}"#),
        NormalizeError::BadTime { field: "CreationTime", value: "1763632800".into() }
    );
    assert!(matches!(e("[1]"), NormalizeError::NotAnObject));
    assert!(matches!(e("{oops"), NormalizeError::NotJson(_)));
}

#[test]
fn numbers_sent_as_strings_and_fields_of_the_wrong_type_are_tolerated() {
    let v = json!({"CreationTime": "2026-11-20T10:00:00", "Id": "n1", "Operation": ["not", "a", "string"], "RecordType": "15",
                   "UserType": "0", "Workload": 7, "UserId": {"odd": true}, "ClientIP": 12345, "ResultStatus": null,
                   "ErrorCode": 50126, "Target": "nope", "ExtendedProperties": {"Name": "x"}, "ModifiedProperties": [1, "two", null]});
    let n = run(Source::Unified, &v);
    assert_eq!(n.operation, "");
    assert_eq!(n.service, "7");
    assert_eq!(n.result, Outcome::Failure, "RecordType \"15\" is a logon and ErrorCode 50126 a failure");
    assert_eq!((n.actor_upn, n.actor_ip), (None, None));
    assert_eq!(n.flattened["ModifiedProperties"], "1, two");
}

#[test]
fn a_trailing_dot_is_removed_once_and_only_from_the_end() {
    for (logged, want) in [
        ("Add member to role.", "Add member to role"),
        ("Update user.", "Update user"),
        ("Set-Mailbox", "Set-Mailbox"),
        (
            "Update application – Certificates and secrets management .",
            "Update application – Certificates and secrets management",
        ),
        ("Ends with two..", "Ends with two."),
        (".", ""),
    ] {
        let mut v = ual_directory(logged, json!([]));
        v["Operation"] = json!(logged);
        assert_eq!(run(Source::Unified, &v).operation, want, "{logged}");
    }
}

#[test]
fn the_fallback_identity_matches_what_normalize_reports() {
    let v = cmdlet("admin@contoso.example", "Set-Mailbox", json!([]));
    let raw = v.to_string();
    let n = normalize(Source::Unified, None, &raw, &Context::default()).unwrap();
    let (id, key, time) = fallback_identity(&raw, Utc::now());
    assert_eq!((id, key, time), (n.record_id, n.dedupe_key, n.occurred_at));
}

// ---------------------------------------------------------------------------------------------
// Property tests.

/// Strings that stress parsers: JSON-looking text, addresses, IPs, times, control characters.
fn weird_string() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,24}",
        "[\\[\\]{}\":,0-9a-zA-Z@.\\\\ ]{0,24}",
        Just(String::new()),
        Just("[]".to_string()),
        Just("\"\\\"quoted\\\"\"".to_string()),
        Just("[{\"Name\":\"ForwardTo\",\"Value\":\"x@evil.example\"}]".to_string()),
        Just("{\"state\":\"disabled\"}".to_string()),
        Just("[{\"RelyingParty\":\"*\",\"State\":0}]".to_string()),
        Just("[2001:db8::5]:443".to_string()),
        Just("::ffff:1.2.3.4:5".to_string()),
        Just("smtp:a@evil.example;b@".to_string()),
        Just("2026-11-20T10:00:00".to_string()),
        Just("2026-11-20T10:00:00.1234567Z".to_string()),
        Just("\u{0}\r\n\u{202e}é漢".to_string()),
        Just("NT AUTHORITY\\SYSTEM (x)".to_string()),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        weird_string().prop_map(Value::String),
    ]
}

/// Keys the normalizers read, so generated records reach deep into every code path.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "Id",
            "id",
            "CreationTime",
            "activityDateTime",
            "createdDateTime",
            "Operation",
            "RecordType",
            "Workload",
            "ResultStatus",
            "UserId",
            "ClientIP",
            "ClientIPAddress",
            "ActorIpAddress",
            "ObjectId",
            "Parameters",
            "ModifiedProperties",
            "ExtendedProperties",
            "OperationProperties",
            "Target",
            "Members",
            "ExchangeMetaData",
            "PolicyDetails",
            "Rules",
            "Severity",
            "To",
            "From",
            "Name",
            "Value",
            "NewValue",
            "OldValue",
            "displayName",
            "newValue",
            "oldValue",
            "key",
            "value",
            "Key",
            "ID",
            "Type",
            "type",
            "initiatedBy",
            "user",
            "app",
            "userPrincipalName",
            "ipAddress",
            "targetResources",
            "modifiedProperties",
            "status",
            "errorCode",
            "location",
            "actor",
            "resources",
            "activityType",
            "activityDisplayName",
            "ErrorCode",
            "MailboxOwnerUPN",
            "SourceFileName",
            "TargetUserOrGroupName",
            "AppAccessContext",
            "Item",
            "AffectedItems",
            "OperationCount",
            "riskLevelDuringSignIn",
            "clientAppUsed",
            "result",
            "activityResult",
        ])
        .prop_map(str::to_string),
        "[a-zA-Z@.]{1,10}",
    ]
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..8).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An arbitrary object, half the time with a valid id and time for every source so that
/// normalization gets past its first checks.
fn arbitrary_record() -> impl Strategy<Value = Value> {
    (
        prop::collection::btree_map(key(), arbitrary_json(), 0..14),
        any::<bool>(),
        prop::sample::select(vec![
            "Set-Mailbox",
            "New-InboxRule",
            "UpdateInboxRules",
            "Add member to role.",
            "Update user.",
            "UserLoginFailed",
            "DlpRuleMatch",
            "AnonymousLinkCreated",
            "Consent to application",
            "Update conditional access policy",
            "wipe ManagedDevice",
            "MemberAdded",
            "SharingSet",
            "MailItemsAccessed",
            "SoftDelete",
            "AlertTriggered",
        ]),
    )
        .prop_map(|(fields, valid, op)| {
            let mut o: serde_json::Map<String, Value> = fields.into_iter().collect();
            if valid {
                for (k, v) in [
                    ("Id", json!("id-1")),
                    ("id", json!("id-1")),
                    ("CreationTime", json!("2026-11-20T10:00:00")),
                    ("activityDateTime", json!("2026-11-20T10:00:00Z")),
                    ("createdDateTime", json!("2026-11-20T10:00:00Z")),
                ] {
                    o.insert(k.into(), v);
                }
                o.entry("Operation").or_insert(json!(op));
                o.entry("activityDisplayName").or_insert(json!(op));
                o.entry("activityType").or_insert(json!(op));
            }
            Value::Object(o)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn normalize_never_panics_is_deterministic_and_bounded_for_every_source(record in arbitrary_record()) {
        let raw = record.to_string();
        let context = Context { tenant_domains: vec!["contoso.example".into()] };
        for source in Source::ALL {
            for content_type in [None, Some("Audit.Exchange"), Some("DLP.All")] {
                let a = normalize(source, content_type, &raw, &context);
                let b = normalize(source, content_type, &raw, &context);
                prop_assert_eq!(&a, &b);
                if let Ok(n) = a {
                    prop_assert!(n.flattened.len() <= flatten::MAX_KEYS);
                    prop_assert!(n.flattened.values().all(|v| v.len() <= flatten::MAX_VALUE));
                    prop_assert!(n.summary.chars().count() <= common::MAX_SUMMARY);
                    prop_assert!(!n.summary.contains(['\n', '\r']));
                    prop_assert!((0..=4).contains(&n.severity));
                    prop_assert_eq!(n.severity == 0, n.severity_reasons.is_empty());
                    prop_assert!(n.targets.len() <= common::MAX_TARGETS);
                    prop_assert_eq!(&n.record_id, &n.dedupe_key);
                    if let Some(ip) = &n.actor_ip {
                        prop_assert!(ip.parse::<std::net::IpAddr>().is_ok(), "{}", ip);
                    }
                }
            }
        }
    }

    #[test]
    fn normalize_never_panics_on_arbitrary_json_text(v in arbitrary_json()) {
        let raw = v.to_string();
        for source in Source::ALL {
            let _ = normalize(source, Some("Audit.General"), &raw, &Context::default());
        }
    }

    #[test]
    fn flattening_is_bounded_for_wide_and_deep_records(
        width in 0..2_000usize,
        value_len in 0..6_000usize,
        nested in arbitrary_json(),
    ) {
        let mut o = serde_json::Map::new();
        for i in 0..width {
            o.insert(format!("k{i}"), json!([{"Name": format!("n{i}"), "Value": "v".repeat(value_len)}, i]));
        }
        o.insert("nested".into(), nested);
        let f = flatten_record(&o);
        prop_assert!(f.len() <= flatten::MAX_KEYS);
        prop_assert!(f.values().all(|v| v.len() <= flatten::MAX_VALUE));
        prop_assert!(f.keys().all(|k| k.len() <= flatten::MAX_KEY));
    }

    #[test]
    fn the_fallback_identity_is_stable_and_uses_the_id_when_present(id in ".{1,40}", extra in arbitrary_json(), hours in 0..10_000i64) {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::hours(hours);
        let raw = json!({"Id": id, "extra": extra}).to_string();
        let (rid, key, time) = fallback_identity(&raw, now);
        prop_assert_eq!(&rid, &id);
        prop_assert_eq!(&key, &id);
        prop_assert_eq!(time, now);
        prop_assert_eq!(fallback_identity(&raw, now), (rid, key, time));
        let anonymous = json!({"extra": extra}).to_string();
        let (a, b, _) = fallback_identity(&anonymous, now);
        prop_assert!(a.starts_with("sha256:") && a == b);
        prop_assert_eq!(fallback_identity(&anonymous, now).0, a);
    }

    #[test]
    fn ip_cleaning_never_panics_and_returns_only_addresses(raw in weird_string()) {
        if let Some(ip) = common::clean_ip(&raw) {
            prop_assert!(ip.parse::<std::net::IpAddr>().is_ok());
            prop_assert!(!ip.contains(['[', ']', '%']));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The simulator's records.

const SEED: u64 = 7;

fn source_of(feed: Feed) -> Source {
    match feed {
        Feed::DirectoryAudits => Source::Directory,
        Feed::SignIns => Source::Signin,
        Feed::IntuneAuditEvents => Source::Intune,
        _ => Source::Unified,
    }
}

fn simulated_week() -> (Tenant, Vec<(Feed, crate::simulator::activity::Record)>) {
    let config = ActivityConfig { seed: SEED, events_per_day: 2_000, scenarios: true };
    let tenant = build_tenant(SEED, 0);
    // Monday 2026-11-16 00:00Z, for a whole week: working hours, nights, a weekend, and every
    // scenario hour the seed picks.
    let start = Utc.with_ymd_and_hms(2026, 11, 16, 0, 0, 0).unwrap();
    let mut out = Vec::new();
    for feed in Feed::ALL {
        for h in 0..24 * 7 {
            out.extend(
                records_for_hour(&config, &tenant, feed, start + Duration::hours(h)).into_iter().map(|r| (feed, r)),
            );
        }
    }
    (tenant, out)
}

/// The scenarios of detections.md §4 that are dangerous on their own, recognised by their
/// activity and the attacker's infrastructure (address, mail domain, application), which the
/// simulator uses only in scenarios and never in their near misses.
fn dangerous_scenario(t: &Tenant, n: &Normalized, raw: &str) -> Option<&'static str> {
    let attacker = raw.contains(&t.attacker_ip)
        || raw.contains(&t.attacker_domain)
        || raw.contains(&t.attacker_app.app_id)
        || raw.contains(&t.attacker_app.display_name);
    if !attacker {
        return None;
    }
    Some(match n.operation.as_str() {
        "New-InboxRule" => "#1 inbox rule forwarding outside",
        "Set-Mailbox" => "#3 mailbox forwarding outside",
        "Add-MailboxPermission" => "#6 full access granted",
        "Set-AdminAuditLogConfig" => "#10 audit ingestion turned off",
        "Add member to role" => "#17 Global Administrator assigned",
        "Disable Strong Authentication" | "Update user" => "#19 MFA disabled",
        "Update conditional access policy" => "#21 conditional access disabled",
        "Add service principal credentials" => "#23 service principal credentials",
        "Consent to application" | "Add delegated permission grant" => "#24 risky consent",
        "AnonymousLinkCreated" => "#44 anonymous link",
        "SearchExported" | "SearchExportDownloaded" | "New-ComplianceSearchAction" => "#50 eDiscovery export",
        "DlpRuleMatch" => "#51 DLP match mailed outside",
        _ => return None,
    })
}

/// Scenarios that have no near miss, so every week of the simulator has them.
const ALWAYS_POSITIVE: &[&str] = &[
    "#10 audit ingestion turned off",
    "#19 MFA disabled",
    "#21 conditional access disabled",
    "#23 service principal credentials",
    "#24 risky consent",
    "#50 eDiscovery export",
];

#[test]
fn every_record_the_simulator_produces_in_a_week_normalizes_and_dangerous_scenarios_are_high() {
    let (tenant, records) = simulated_week();
    let context = Context { tenant_domains: vec![tenant.domain.clone()] };
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (feed, r) in &records {
        let n = normalize(source_of(*feed), feed.content_type(), &r.json, &context)
            .unwrap_or_else(|e| panic!("{feed:?} {}: {e}", r.json));
        assert_eq!(n.record_id, r.id);
        assert_eq!(n.occurred_at, r.time);
        assert_eq!(fallback_identity(&r.json, Utc::now()), (n.record_id.clone(), n.dedupe_key.clone(), n.occurred_at));
        assert!(!n.operation.is_empty() && !n.service.is_empty() && !n.summary.is_empty(), "{feed:?} {n:?}");
        match dangerous_scenario(&tenant, &n, &r.json) {
            Some(scenario) => {
                assert!(n.severity >= 3, "{scenario} is rated {}: {:?} {}", n.severity, n.severity_reasons, r.json);
                *seen.entry(scenario).or_default() += 1;
            }
            // The near misses of the forwarding and role scenarios, and their routine cousins.
            None if ["New-InboxRule", "Set-Mailbox", "Add member to role"].contains(&n.operation.as_str()) => {
                assert!(n.severity < 3, "a near miss is rated {}: {:?} {}", n.severity, n.severity_reasons, r.json);
            }
            None => {}
        }
    }
    eprintln!("dangerous scenarios seen: {seen:?}");
    for scenario in ALWAYS_POSITIVE {
        assert!(seen.contains_key(scenario), "{scenario} happens during the week: {seen:?}");
    }
    assert!(seen.len() >= ALWAYS_POSITIVE.len() + 3, "most dangerous scenarios happen during the week: {seen:?}");
}

/// What a snapshot groups by: the feed, the activity and how severe it was rated (so a routine
/// and a malicious variant of one activity are both kept).
fn snapshot_key(feed: Feed, n: &Normalized) -> (String, String, i16) {
    (feed.key().to_string(), n.operation.clone(), n.severity)
}

#[test]
fn one_record_of_each_simulated_activity_normalizes_as_in_the_snapshots() {
    let (tenant, records) = simulated_week();
    let context = Context { tenant_domains: vec![tenant.domain.clone()] };
    let mut picked: BTreeMap<(String, String, i16), Normalized> = BTreeMap::new();
    for (feed, r) in &records {
        let n = normalize(source_of(*feed), feed.content_type(), &r.json, &context).expect("normalizes");
        picked.entry(snapshot_key(*feed, &n)).or_insert(n);
    }
    for feed in Feed::ALL {
        let of_feed: Vec<&Normalized> =
            picked.iter().filter(|((f, _, _), _)| f == feed.key()).map(|(_, n)| n).collect();
        assert!(!of_feed.is_empty(), "{feed:?} produced records");
        insta::assert_json_snapshot!(format!("simulator_{}", feed.key()), of_feed);
    }
}

/// Run with `cargo test --release --lib normalize::tests::normalization_throughput -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check; run it in release"]
fn normalization_throughput() {
    let (tenant, records) = simulated_week();
    let context = Context { tenant_domains: vec![tenant.domain.clone()] };
    let rounds = 5;
    let started = std::time::Instant::now();
    let mut total = 0usize;
    for _ in 0..rounds {
        for (feed, r) in &records {
            let n = normalize(source_of(*feed), feed.content_type(), &r.json, &context).expect("normalizes");
            total += n.flattened.len();
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let count = records.len() * rounds;
    println!(
        "{count} records in {elapsed:.2} s: {:.0} records/s ({:.1} keys per record)",
        count as f64 / elapsed,
        total as f64 / count as f64
    );
}
