//! AOC's own rule pack, covering the single-event scenarios of detections.md §4. Seeded at
//! start-up (by `uid`, idempotently: a rule already stored keeps the administrator's edits, such
//! as disabling it), enabled by default. Each rule names the simulator scenario it detects (whose
//! positive it must fire on and whose near miss it must not) and/or carries its own example
//! records with the expected outcome; `tests` checks both.

use serde_json::{json, Value};

use super::{Definition, RuleDraft};

/// An example record for a rule, with whether the rule fires on it.
pub struct Example {
    /// `unified`, `directory`, `signin` or `intune`.
    pub source: &'static str,
    /// The Management Activity content type, for unified records.
    pub content_type: Option<&'static str>,
    pub record: Value,
    pub fires: bool,
}

/// One built-in rule.
pub struct Builtin {
    pub draft: RuleDraft,
    /// The simulator scenario (`simulator::activity::scenario_names`) it must detect.
    pub scenario: Option<&'static str>,
    /// Whether that scenario has a near miss the rule must stay quiet on.
    pub near_miss: bool,
    pub examples: Vec<Example>,
}

/// Directory role template ids that hold tier-0 power (detections.md §5.3).
pub const PRIVILEGED_ROLE_TEMPLATES: &[&str] = &[
    "62e90394-69f5-4237-9190-012177145e10",
    "e8611ab8-c189-46e8-94e1-60213ab1f814",
    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
    "194ae4cb-b126-40b2-bd5b-6091b380977d",
    "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
    "158c047a-c907-4556-b7ef-446551a6b5f7",
    "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2",
    "29232cdf-9323-42fd-ade2-1d097af3e4de",
    "f28a1f50-f6e7-4571-818b-6a12f2af6b6c",
    "fe930be7-5e62-47db-91af-98c3a49a38b1",
    "c4e39bd9-1100-46d3-8c65-fb160da0071f",
    "3a2c62db-5318-420d-8d74-23affee5d9d5",
    "be2f45a1-457d-42af-a067-6ec1fa63bc45",
];

/// Privileged role names, for records that carry the name only.
pub const PRIVILEGED_ROLE_NAMES: &[&str] = &[
    "Global Administrator",
    "Company Administrator",
    "Privileged Role Administrator",
    "Privileged Authentication Administrator",
    "Security Administrator",
    "Conditional Access Administrator",
    "Application Administrator",
    "Cloud Application Administrator",
    "Hybrid Identity Administrator",
    "Exchange Administrator",
    "SharePoint Administrator",
    "User Administrator",
    "Authentication Administrator",
    "Intune Administrator",
    "External Identity Provider Administrator",
];

/// OAuth scopes that give an application a user's mail, files or directory.
pub const RISKY_SCOPES: &[&str] = &[
    "Mail.Read",
    "Mail.ReadWrite",
    "Mail.Send",
    "MailboxSettings.ReadWrite",
    "Files.Read.All",
    "Files.ReadWrite.All",
    "Sites.Read.All",
    "Sites.ReadWrite.All",
    "Directory.ReadWrite.All",
    "Application.ReadWrite.All",
    "AppRoleAssignment.ReadWrite.All",
    "RoleManagement.ReadWrite.Directory",
    "User.ReadWrite.All",
    "full_access_as_app",
    "EWS.AccessAsUser.All",
];

struct Spec {
    uid: &'static str,
    name: &'static str,
    description: &'static str,
    severity: i16,
    tags: &'static [&'static str],
    sources: &'static [&'static str],
    condition: Value,
    group_by: &'static str,
}

fn rule(spec: Spec, scenario: Option<&'static str>, near_miss: bool, examples: Vec<Example>) -> Builtin {
    Builtin {
        draft: RuleDraft {
            uid: format!("builtin.{}", spec.uid),
            name: spec.name.into(),
            description: spec.description.into(),
            kind: "match".into(),
            severity: spec.severity,
            enabled: true,
            hunting: false,
            owner: "AOC".into(),
            sources: spec.sources.iter().map(|s| s.to_string()).collect(),
            tags: spec.tags.iter().map(|s| s.to_string()).collect(),
            definition: Definition { condition: spec.condition, group_by: spec.group_by.into(), ..Default::default() },
            sigma_id: None,
            sigma_yaml: None,
        },
        scenario,
        near_miss,
        examples,
    }
}

/// A threshold rule: `count` matching events (or distinct values of `distinct`) of one entity in
/// a fixed window of `minutes`.
fn threshold(mut b: Builtin, minutes: i64, count: i64, distinct: Option<&str>) -> Builtin {
    b.draft.kind = "threshold".into();
    b.draft.definition.window_minutes = minutes;
    b.draft.definition.threshold = Some(super::ThresholdSpec { count, distinct: distinct.map(str::to_string) });
    b
}

/// A first-seen rule: a value of `field` the entity has not shown in `days`.
fn first_seen(mut b: Builtin, field: &str, days: i64) -> Builtin {
    b.draft.kind = "first_seen".into();
    b.draft.definition.first_seen = Some(super::FirstSeenSpec { field: field.into(), lookback_days: days });
    b
}

/// A UAL Exchange admin cmdlet record.
fn cmdlet(operation: &str, user: &str, params: &[(&str, &str)]) -> Value {
    json!({
        "CreationTime": "2026-11-16T10:00:00", "Id": uuid_like(operation, user), "Operation": operation,
        "OrganizationId": "00000000-0000-0000-0000-00000000c0de", "RecordType": 1, "ResultStatus": "True",
        "UserKey": user, "UserType": 2, "Workload": "Exchange", "ClientIP": "203.0.113.50:51000",
        "ObjectId": "contoso", "UserId": user,
        "Parameters": params.iter().map(|(n, v)| json!({"Name": n, "Value": v})).collect::<Vec<_>>()
    })
}

/// A UAL record of another workload.
fn ual(operation: &str, workload: &str, record_type: i64, user: &str, extra: Value) -> Value {
    let mut record = json!({
        "CreationTime": "2026-11-16T10:00:00", "Id": uuid_like(operation, user), "Operation": operation,
        "OrganizationId": "00000000-0000-0000-0000-00000000c0de", "RecordType": record_type, "ResultStatus": "Succeeded",
        "UserKey": user, "UserType": 0, "Workload": workload, "ClientIP": "203.0.113.50", "UserId": user
    });
    if let (Some(r), Some(e)) = (record.as_object_mut(), extra.as_object()) {
        r.extend(e.clone());
    }
    record
}

/// A Graph directoryAudits record.
fn directory_audit(activity: &str, category: &str, extra: Value) -> Value {
    let mut record = json!({
        "id": format!("Directory_{}", uuid_like(activity, category)), "category": category,
        "correlationId": "7b7c8a8e-0000-4000-8000-000000000001", "result": "success", "resultReason": "",
        "activityDisplayName": activity, "activityDateTime": "2026-11-16T10:00:00Z", "loggedByService": "Core Directory",
        "operationType": "Update",
        "initiatedBy": {"user": {"id": "u1", "userPrincipalName": "admin@contoso.example", "ipAddress": "203.0.113.50"}},
        "targetResources": [{"id": "t1", "displayName": "Target", "type": "User", "userPrincipalName": "lee@contoso.example", "modifiedProperties": []}],
        "additionalDetails": []
    });
    if let (Some(r), Some(e)) = (record.as_object_mut(), extra.as_object()) {
        r.extend(e.clone());
    }
    record
}

/// A Graph signIns record.
fn sign_in(extra: Value) -> Value {
    let mut record = json!({
        "id": uuid_like("signin", &extra.to_string()), "createdDateTime": "2026-11-16T10:00:00Z",
        "userPrincipalName": "lee@contoso.example", "userId": "u2", "appId": "00000002-0000-0ff1-ce00-000000000000",
        "appDisplayName": "Office 365 Exchange Online", "ipAddress": "203.0.113.50", "clientAppUsed": "Browser",
        "isInteractive": true, "conditionalAccessStatus": "success",
        "status": {"errorCode": 0, "failureReason": "Other.", "additionalDetails": null},
        "location": {"city": "Lisbon", "countryOrRegion": "PT"}
    });
    if let (Some(r), Some(e)) = (record.as_object_mut(), extra.as_object()) {
        r.extend(e.clone());
    }
    record
}

/// A stable GUID-shaped id from some text (examples need unique, readable ids).
fn uuid_like(a: &str, b: &str) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(format!("{a}\n{b}").as_bytes());
    let hex: String = hash.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

fn unified(content_type: &'static str, record: Value, fires: bool) -> Example {
    Example { source: "unified", content_type: Some(content_type), record, fires }
}

fn graph(source: &'static str, record: Value, fires: bool) -> Example {
    Example { source, content_type: None, record, fires }
}

fn ops(list: &[&str]) -> Value {
    json!({"field": "operation", "op": "in", "value": list})
}

fn modified(name: &str, old: &str, new: &str) -> Value {
    json!({"displayName": name, "oldValue": old, "newValue": new})
}

/// Every built-in rule.
pub fn pack() -> Vec<Builtin> {
    const MAIL_COLLECTION: &[&str] = &["attack.collection", "attack.t1114.003"];
    vec![
        rule(
            Spec {
                uid: "inbox_rule_forwards_outside",
                name: "Inbox rule forwards mail outside the organization",
                description: "An inbox rule (New-InboxRule / Set-InboxRule / an Outlook rule) forwards or redirects mail to an address outside the tenant: the classic business-email-compromise persistence (detections.md §4 #1, #2).",
                severity: 3,
                tags: MAIL_COLLECTION,
                sources: &["unified"],
                condition: json!({"all": [
                    ops(&["New-InboxRule", "Set-InboxRule", "UpdateInboxRules"]),
                    {"any": [
                        {"field": "Parameters.ForwardTo", "op": "external"},
                        {"field": "Parameters.RedirectTo", "op": "external"},
                        {"field": "Parameters.ForwardAsAttachmentTo", "op": "external"},
                        {"field": "*RuleActions", "op": "external"}
                    ]}
                ]}),
                group_by: "actor",
            },
            Some("InboxForwardRule"),
            true,
            vec![
                unified("Audit.Exchange", cmdlet("Set-InboxRule", "lee@contoso.example", &[("RedirectTo", "x@evil.example")]), true),
                unified("Audit.Exchange", cmdlet("New-InboxRule", "lee@contoso.example", &[("ForwardTo", "smtp:boss@contoso.example")]), false),
            ],
        ),
        rule(
            Spec {
                uid: "inbox_rule_hides_mail",
                name: "Inbox rule deletes or hides incoming mail",
                description: "An inbox rule deletes messages, moves them to a folder nobody reads (RSS Feeds, Conversation History, Archive, Deleted Items, Junk Email) or has a name made only of symbols: how intruders hide replies (§4 #4).",
                severity: 2,
                tags: &["attack.defense_evasion", "attack.t1564.008"],
                sources: &["unified"],
                condition: json!({"all": [
                    ops(&["New-InboxRule", "Set-InboxRule"]),
                    {"any": [
                        {"field": "Parameters.DeleteMessage", "value": "True"},
                        {"field": "Parameters.MoveToFolder", "op": "in", "value": ["RSS Feeds", "RSS Subscriptions", "Conversation History", "Archive", "Deleted Items", "Junk Email"]},
                        {"field": "Parameters.Name", "op": "regex", "value": "^[^\\p{L}\\p{N}]+$"}
                    ]}
                ]}),
                group_by: "actor",
            },
            Some("InboxForwardRule"),
            true,
            vec![unified(
                "Audit.Exchange",
                cmdlet("New-InboxRule", "lee@contoso.example", &[("Name", "Newsletters"), ("MoveToFolder", "Newsletters")]),
                false,
            )],
        ),
        rule(
            Spec {
                uid: "mailbox_forwards_outside",
                name: "Mailbox forwarding to an outside address",
                description: "Set-Mailbox sets ForwardingSmtpAddress or ForwardingAddress to an address outside the tenant (§4 #3).",
                severity: 3,
                tags: MAIL_COLLECTION,
                sources: &["unified"],
                condition: json!({"all": [
                    ops(&["Set-Mailbox"]),
                    {"any": [
                        {"field": "Parameters.ForwardingSmtpAddress", "op": "external"},
                        {"field": "Parameters.ForwardingAddress", "op": "external"}
                    ]}
                ]}),
                group_by: "target",
            },
            Some("MailboxForwarding"),
            true,
            vec![],
        ),
        rule(
            Spec {
                uid: "transport_rule_redirects",
                name: "Transport rule copies or redirects mail",
                description: "A mail-flow rule blind-copies, redirects or adds recipients: tenant-wide interception (§4 #5).",
                severity: 3,
                tags: MAIL_COLLECTION,
                sources: &["unified"],
                condition: json!({"all": [
                    ops(&["New-TransportRule", "Set-TransportRule"]),
                    {"any": [
                        {"field": "Parameters.BlindCopyTo", "op": "exists"},
                        {"field": "Parameters.RedirectMessageTo", "op": "exists"},
                        {"field": "Parameters.AddToRecipients", "op": "exists"}
                    ]}
                ]}),
                group_by: "actor",
            },
            None,
            false,
            vec![
                unified("Audit.Exchange", cmdlet("New-TransportRule", "admin@contoso.example", &[("Name", "copy"), ("BlindCopyTo", "drop@evil.example")]), true),
                unified("Audit.Exchange", cmdlet("New-TransportRule", "admin@contoso.example", &[("Name", "disclaimer"), ("ApplyHtmlDisclaimerText", "Confidential")]), false),
            ],
        ),
        rule(
            Spec {
                uid: "mailbox_full_access_granted",
                name: "Full access to another mailbox granted",
                description: "Add-MailboxPermission grants FullAccess (or ChangePermission / ChangeOwner) by a person; Exchange's own service account is excluded (§4 #6).",
                severity: 2,
                tags: &["attack.persistence", "attack.t1098.002"],
                sources: &["unified"],
                condition: json!({"all": [
                    ops(&["Add-MailboxPermission"]),
                    {"field": "Parameters.AccessRights", "op": "contains", "value": ["FullAccess", "ChangePermission", "ChangeOwner"]},
                    {"not": {"field": "actor", "op": "starts_with", "value": "NT AUTHORITY"}}
                ]}),
                group_by: "actor",
            },
            Some("FullAccessGrant"),
            true,
            vec![],
        ),
        rule(
            Spec {
                uid: "send_as_granted",
                name: "Send-as or send-on-behalf permission granted",
                description: "Add-RecipientPermission grants SendAs, or Set-Mailbox sets GrantSendOnBehalfTo (§4 #7).",
                severity: 2,
                tags: &["attack.persistence", "attack.t1098.002"],
                sources: &["unified"],
                condition: json!({"any": [
                    {"all": [ops(&["Add-RecipientPermission"]), {"field": "Parameters.AccessRights", "op": "contains", "value": "SendAs"}]},
                    {"all": [ops(&["Set-Mailbox"]), {"field": "Parameters.GrantSendOnBehalfTo", "op": "exists"}]}
                ]}),
                group_by: "actor",
            },
            None,
            false,
            vec![
                unified("Audit.Exchange", cmdlet("Add-RecipientPermission", "admin@contoso.example", &[("Identity", "ceo"), ("Trustee", "lee"), ("AccessRights", "SendAs")]), true),
                unified("Audit.Exchange", cmdlet("Set-Mailbox", "admin@contoso.example", &[("Identity", "ceo"), ("CustomAttribute1", "x")]), false),
            ],
        ),
        rule(
            Spec {
                uid: "mailbox_folder_shared_with_everyone",
                name: "Mailbox folder shared with Default or Anonymous",
                description: "A mailbox folder permission is given to Default (everyone in the organization) or Anonymous (§4 #8).",
                severity: 2,
                tags: &["attack.collection", "attack.t1114.002"],
                sources: &["unified"],
                condition: json!({"all": [
                    ops(&["Add-MailboxFolderPermission", "Set-MailboxFolderPermission"]),
                    {"field": "Parameters.User", "op": "in", "value": ["Default", "Anonymous"]},
                    {"not": {"field": "Parameters.AccessRights", "op": "in", "value": ["None", "AvailabilityOnly", "LimitedDetails"]}}
                ]}),
                group_by: "actor",
            },
            None,
            false,
            vec![
                unified("Audit.Exchange", cmdlet("Add-MailboxFolderPermission", "lee@contoso.example", &[("Identity", "lee:\\Inbox"), ("User", "Default"), ("AccessRights", "Reviewer")]), true),
                unified("Audit.Exchange", cmdlet("Set-MailboxFolderPermission", "lee@contoso.example", &[("Identity", "lee:\\Calendar"), ("User", "Default"), ("AccessRights", "LimitedDetails")]), false),
            ],
        ),
        rule(
            Spec {
                uid: "exchange_impersonation_role",
                name: "Exchange impersonation or export role assigned",
                description: "New-ManagementRoleAssignment gives ApplicationImpersonation, Mailbox Import Export or Organization Management (§4 #9).",
                severity: 3,
                tags: &["attack.privilege_escalation", "attack.t1098"],
                sources: &["unified"],
                condition: json!({"all": [
                    ops(&["New-ManagementRoleAssignment"]),
                    {"field": "Parameters.Role", "op": "in", "value": ["ApplicationImpersonation", "Mailbox Import Export", "Organization Management"]}
                ]}),
                group_by: "actor",
            },
            None,
            false,
            vec![
                unified("Audit.Exchange", cmdlet("New-ManagementRoleAssignment", "admin@contoso.example", &[("Role", "ApplicationImpersonation"), ("User", "svc-sync")]), true),
                unified("Audit.Exchange", cmdlet("New-ManagementRoleAssignment", "admin@contoso.example", &[("Role", "View-Only Recipients"), ("User", "helpdesk")]), false),
            ],
        ),
        rule(
            Spec {
                uid: "audit_log_ingestion_disabled",
                name: "Unified audit log ingestion turned off",
                description: "Set-AdminAuditLogConfig turns off unified audit log ingestion or admin auditing: the tenant may go silent after this (§4 #10).",
                severity: 4,
                tags: &["attack.defense_evasion", "attack.t1562.008"],
                sources: &["unified"],
                condition: json!({"all": [
                    ops(&["Set-AdminAuditLogConfig"]),
                    {"any": [
                        {"field": "Parameters.UnifiedAuditLogIngestionEnabled", "value": "False"},
                        {"field": "Parameters.AdminAuditLogEnabled", "value": "False"}
                    ]}
                ]}),
                group_by: "actor",
            },
            Some("AuditIngestionDisabled"),
            false,
            vec![unified(
                "Audit.Exchange",
                cmdlet("Set-AdminAuditLogConfig", "admin@contoso.example", &[("UnifiedAuditLogIngestionEnabled", "True")]),
                false,
            )],
        ),
        rule(
            Spec {
                uid: "mailbox_audit_bypassed",
                name: "Mailbox auditing bypassed or disabled",
                description: "Set-MailboxAuditBypassAssociation turns the audit bypass on, or a mailbox's auditing is turned off (§4 #11).",
                severity: 3,
                tags: &["attack.defense_evasion", "attack.t1562.008"],
                sources: &["unified"],
                condition: json!({"any": [
                    {"all": [ops(&["Set-MailboxAuditBypassAssociation"]), {"field": "Parameters.AuditBypassEnabled", "value": "True"}]},
                    {"all": [ops(&["Set-Mailbox", "Set-OrganizationConfig"]), {"any": [
                        {"field": "Parameters.AuditEnabled", "value": "False"},
                        {"field": "Parameters.AuditDisabled", "value": "True"}
                    ]}]}
                ]}),
                group_by: "actor",
            },
            None,
            false,
            vec![
                unified("Audit.Exchange", cmdlet("Set-MailboxAuditBypassAssociation", "admin@contoso.example", &[("Identity", "svc"), ("AuditBypassEnabled", "True")]), true),
                unified("Audit.Exchange", cmdlet("Set-Mailbox", "admin@contoso.example", &[("Identity", "lee"), ("AuditEnabled", "True")]), false),
            ],
        ),
        rule(
            Spec {
                uid: "email_protection_weakened",
                name: "Email protection weakened",
                description: "Anti-phishing, Safe Links, Safe Attachments, malware filter, DKIM or DLP protection removed or disabled (§4 #12).",
                severity: 2,
                tags: &["attack.defense_evasion", "attack.t1562.001"],
                sources: &["unified"],
                condition: json!({"any": [
                    ops(&["Remove-AntiPhishPolicy", "Remove-AntiPhishRule", "Disable-AntiPhishRule", "Disable-SafeLinksRule", "Remove-SafeLinksPolicy", "Disable-SafeAttachmentRule", "Remove-SafeAttachmentPolicy", "Remove-MalwareFilterPolicy", "Remove-MalwareFilterRule", "Disable-MalwareFilterRule", "Remove-DlpPolicy"]),
                    {"all": [ops(&["Set-DkimSigningConfig"]), {"field": "Parameters.Enabled", "value": "False"}]}
                ]}),
                group_by: "actor",
            },
            None,
            false,
            vec![
                unified("Audit.Exchange", cmdlet("Disable-SafeLinksRule", "admin@contoso.example", &[("Identity", "Default")]), true),
                unified("Audit.Exchange", cmdlet("Set-DkimSigningConfig", "admin@contoso.example", &[("Identity", "contoso.example"), ("Enabled", "True")]), false),
            ],
        ),
        rule(
            Spec {
                uid: "exchange_domain_added",
                name: "Federated or accepted domain added in Exchange",
                description: "Add-FederatedDomain, New-AcceptedDomain or Set-AcceptedDomain (§4 #13).",
                severity: 2,
                tags: &["attack.persistence", "attack.t1484.002"],
                sources: &["unified"],
                condition: ops(&["Add-FederatedDomain", "New-AcceptedDomain", "Set-AcceptedDomain"]),
                group_by: "actor",
            },
            None,
            false,
            vec![
                unified("Audit.Exchange", cmdlet("Add-FederatedDomain", "admin@contoso.example", &[("DomainName", "evil.example")]), true),
                unified("Audit.Exchange", cmdlet("Get-AcceptedDomain", "admin@contoso.example", &[]), false),
            ],
        ),
        rule(
            Spec {
                uid: "malicious_mail_delivered",
                name: "Malicious email delivered",
                description: "Threat Intelligence reports an inbound phishing or malware message that was delivered (§4 #15).",
                severity: 2,
                tags: &["attack.initial_access", "attack.t1566"],
                sources: &["unified"],
                condition: json!({"all": [
                    ops(&["TIMailData"]),
                    {"field": "Directionality", "value": "Inbound"},
                    {"field": "DeliveryAction", "value": "Delivered"}
                ]}),
                group_by: "target",
            },
            None,
            false,
            vec![
                unified("Audit.General", ual("TIMailData", "ThreatIntelligence", 28, "ThreatIntelligence", json!({"Directionality": "Inbound", "DeliveryAction": "Delivered", "Recipients": ["lee@contoso.example"]})), true),
                unified("Audit.General", ual("TIMailData", "ThreatIntelligence", 28, "ThreatIntelligence", json!({"Directionality": "Inbound", "DeliveryAction": "Blocked", "Recipients": ["lee@contoso.example"]})), false),
            ],
        ),
        rule(
            Spec {
                uid: "security_alert_raised",
                name: "Microsoft security alert raised",
                description: "A Security & Compliance or Defender for Cloud Apps alert policy fired (§4 #16); the alert name is in the record.",
                severity: 2,
                tags: &[],
                sources: &["unified"],
                condition: json!({"all": [ops(&["AlertTriggered"]), {"field": "Workload", "value": "SecurityComplianceCenter"}]}),
                group_by: "actor",
            },
            Some("InboxForwardRule"),
            false,
            vec![unified(
                "Audit.General",
                ual("AlertTriggered", "MicrosoftTeams", 25, "lee@contoso.example", json!({})),
                false,
            )],
        ),
        rule(
            Spec {
                uid: "privileged_role_assigned",
                name: "Privileged directory role assigned",
                description: "Add member to role with a tier-0 role (Global Administrator, Privileged Role Administrator, Security Administrator, ...), in the Graph or the UAL shape (§4 #17, #26).",
                severity: 4,
                tags: &["attack.privilege_escalation", "attack.t1098.003"],
                sources: &["directory", "unified"],
                condition: json!({"all": [
                    ops(&["Add member to role", "Add eligible member to role", "Add member to role in PIM completed (permanent)", "Add member to role in PIM completed (timebound)"]),
                    {"any": [
                        {"field": "*Role.TemplateId.newValue", "op": "in", "value": PRIVILEGED_ROLE_TEMPLATES},
                        {"field": "*Role.DisplayName.newValue", "op": "in", "value": PRIVILEGED_ROLE_NAMES}
                    ]}
                ]}),
                group_by: "target",
            },
            Some("GlobalAdminAdded"),
            true,
            vec![],
        ),
        rule(
            Spec {
                uid: "pim_role_changed",
                name: "PIM role assignment or setting changed",
                description: "A role is assigned or activated through PIM, or a PIM role setting is updated (§4 #18).",
                severity: 3,
                tags: &["attack.privilege_escalation", "attack.t1098.003"],
                sources: &["directory", "unified"],
                condition: json!({"any": [
                    {"field": "operation", "op": "starts_with", "value": ["Add eligible member to role in PIM", "Add member to role in PIM", "Add member to role completed (PIM activation)", "Update role setting in PIM"]}
                ]}),
                group_by: "actor",
            },
            None,
            false,
            vec![
                graph("directory", directory_audit("Update role setting in PIM", "RoleManagement", json!({"loggedByService": "PIM"})), true),
                graph("directory", directory_audit("Add member to group", "GroupManagement", json!({})), false),
            ],
        ),
        rule(
            Spec {
                uid: "mfa_disabled",
                name: "Multi-factor authentication disabled or methods removed",
                description: "Per-user MFA is disabled, or a user's strong authentication methods are cleared, or security info is deleted (§4 #19).",
                severity: 3,
                tags: &["attack.defense_evasion", "attack.t1556.006"],
                sources: &["directory", "unified"],
                condition: json!({"any": [
                    ops(&["Disable Strong Authentication", "User deleted security info", "Admin deleted security info"]),
                    {"all": [ops(&["Update user"]), {"field": "*StrongAuthenticationMethod.newValue", "value": "[]"}]}
                ]}),
                group_by: "target",
            },
            Some("MfaDisabled"),
            false,
            vec![graph(
                "directory",
                directory_audit("Update user", "UserManagement", json!({"targetResources": [{"id": "t1", "type": "User", "userPrincipalName": "lee@contoso.example", "modifiedProperties": [modified("DisplayName", "[\"Lee\"]", "[\"Lee Gu\"]")]}]})),
                false,
            )],
        ),
        rule(
            Spec {
                uid: "temporary_access_pass_or_mfa_method_added",
                name: "Temporary Access Pass or MFA method registered",
                description: "Security info or a Temporary Access Pass is registered for a user (§4 #20).",
                severity: 2,
                tags: &["attack.persistence", "attack.t1098.005"],
                sources: &["directory", "unified"],
                condition: json!({"any": [
                    ops(&["Admin registered security info", "Create Temporary Access Pass method for user"]),
                    {"field": "resultReason", "op": "contains", "value": "temporary access pass"}
                ]}),
                group_by: "target",
            },
            None,
            false,
            vec![
                graph("directory", directory_audit("Admin registered security info", "UserManagement", json!({"loggedByService": "Authentication Methods", "resultReason": "Admin registered temporary access pass method for user"})), true),
                graph("directory", directory_audit("User changed default security info", "UserManagement", json!({"loggedByService": "Authentication Methods"})), false),
            ],
        ),
        rule(
            Spec {
                uid: "conditional_access_weakened",
                name: "Conditional Access policy deleted or disabled",
                description: "A Conditional Access policy is deleted, or updated to disabled or report-only (§4 #21).",
                severity: 3,
                tags: &["attack.defense_evasion", "attack.t1562"],
                sources: &["directory", "unified"],
                condition: json!({"any": [
                    ops(&["Delete conditional access policy", "Delete policy"]),
                    {"all": [
                        ops(&["Update conditional access policy", "Update policy"]),
                        {"field": "*ConditionalAccessPolicy.newValue", "op": "regex", "value": "\"state\"\\s*:\\s*\"(disabled|enabledForReportingButNotEnforced)\""}
                    ]}
                ]}),
                group_by: "actor",
            },
            Some("ConditionalAccessDisabled"),
            false,
            vec![graph(
                "directory",
                directory_audit("Update conditional access policy", "Policy", json!({"targetResources": [{"id": "p1", "type": "Policy", "displayName": "Require MFA", "modifiedProperties": [modified("ConditionalAccessPolicy", "{\"state\":\"enabledForReportingButNotEnforced\"}", "{\"state\":\"enabled\"}")]}]})),
                false,
            )],
        ),
        rule(
            Spec {
                uid: "domain_federation_changed",
                name: "Domain federation or new domain",
                description: "Domain authentication is set to federated, federation settings change, or a domain is added or verified (§4 #22).",
                severity: 4,
                tags: &["attack.persistence", "attack.t1484.002"],
                sources: &["directory", "unified"],
                condition: ops(&["Set domain authentication", "Set federation settings on domain", "Add unverified domain", "Verify domain", "Add domain to company"]),
                group_by: "actor",
            },
            None,
            false,
            vec![
                graph("directory", directory_audit("Set federation settings on domain", "DirectoryManagement", json!({})), true),
                unified("Audit.AzureActiveDirectory", ual("Add domain to company.", "AzureActiveDirectory", 8, "admin@contoso.example", json!({})), true),
                graph("directory", directory_audit("Update domain", "DirectoryManagement", json!({})), false),
            ],
        ),
        rule(
            Spec {
                uid: "app_credentials_added",
                name: "Credentials added to an application or service principal",
                description: "A secret or certificate is added to a service principal or application (§4 #23).",
                severity: 3,
                tags: &["attack.persistence", "attack.t1098.001"],
                sources: &["directory", "unified"],
                condition: ops(&["Add service principal credentials", "Update application - Certificates and secrets management"]),
                group_by: "target",
            },
            Some("ServicePrincipalCredential"),
            false,
            vec![graph(
                "directory",
                directory_audit("Update application \u{2013} Certificates and secrets management ", "ApplicationManagement", json!({})),
                true,
            ), graph("directory", directory_audit("Update application", "ApplicationManagement", json!({})), false)],
        ),
        rule(
            Spec {
                uid: "risky_app_consent",
                name: "Consent to an application with mail, file or directory scopes",
                description: "A user or an administrator consents to an application asking for high-risk scopes (Mail.ReadWrite, Files.ReadWrite.All, ...) (§4 #24).",
                severity: 3,
                tags: &["attack.credential_access", "attack.t1528"],
                sources: &["directory", "unified"],
                condition: json!({"all": [
                    ops(&["Consent to application", "Add delegated permission grant", "Add app role assignment to service principal"]),
                    {"any": [
                        {"field": "*ConsentAction.Permissions.newValue", "op": "regex", "value": format!("(^|[\\s,:])({})([\\s,;\\]]|$)", RISKY_SCOPES.iter().map(|s| regex::escape(s)).collect::<Vec<_>>().join("|"))},
                        {"field": "*DelegatedPermissionGrant.Scope.newValue", "op": "regex", "value": format!("(^|\\s)({})(\\s|$)", RISKY_SCOPES.iter().map(|s| regex::escape(s)).collect::<Vec<_>>().join("|"))},
                        {"field": "*AppRole.Value.newValue", "op": "in", "value": RISKY_SCOPES}
                    ]}
                ]}),
                group_by: "actor",
            },
            Some("RiskyConsent"),
            false,
            vec![graph(
                "directory",
                directory_audit("Consent to application", "ApplicationManagement", json!({"targetResources": [{"id": "a1", "type": "ServicePrincipal", "displayName": "Calendar helper", "modifiedProperties": [modified("ConsentAction.Permissions", "", "[] => [[Scope:  User.Read Calendars.Read, ConsentType: Principal]]; ")]}]})),
                false,
            )],
        ),
        rule(
            Spec {
                uid: "consent_protection_weakened",
                name: "User consent protection weakened",
                description: "The authorization policy allows user consent to risky apps (§4 #25).",
                severity: 3,
                tags: &["attack.defense_evasion"],
                sources: &["directory", "unified"],
                condition: json!({"all": [
                    ops(&["Update authorization policy"]),
                    {"field": "*AllowUserConsentForRiskyApps.newValue", "value": "true"}
                ]}),
                group_by: "actor",
            },
            None,
            false,
            vec![
                graph("directory", directory_audit("Update authorization policy", "Policy", json!({"targetResources": [{"id": "p", "type": "Policy", "modifiedProperties": [modified("AllowUserConsentForRiskyApps", "[false]", "[true]")]}]})), true),
                graph("directory", directory_audit("Update authorization policy", "Policy", json!({"targetResources": [{"id": "p", "type": "Policy", "modifiedProperties": [modified("AllowedToSignUpEmailBasedSubscriptions", "[true]", "[false]")]}]})), false),
            ],
        ),
        rule(
            Spec {
                uid: "guest_promoted_to_member",
                name: "Guest account promoted to member",
                description: "A user's type changes from Guest to Member (§4 #28).",
                severity: 2,
                tags: &["attack.persistence", "attack.t1098"],
                sources: &["directory", "unified"],
                condition: json!({"all": [
                    ops(&["Update user"]),
                    {"field": "*UserType.oldValue", "value": "Guest"},
                    {"field": "*UserType.newValue", "value": "Member"}
                ]}),
                group_by: "target",
            },
            None,
            false,
            vec![
                graph("directory", directory_audit("Update user", "UserManagement", json!({"targetResources": [{"id": "g", "type": "User", "modifiedProperties": [modified("UserType", "[\"Guest\"]", "[\"Member\"]")]}]})), true),
                graph("directory", directory_audit("Update user", "UserManagement", json!({"targetResources": [{"id": "g", "type": "User", "modifiedProperties": [modified("UserType", "[\"Member\"]", "[\"Guest\"]")]}]})), false),
            ],
        ),
        rule(
            Spec {
                uid: "tenant_auth_settings_weakened",
                name: "Tenant authentication settings changed",
                description: "Company information (trusted IPs, trusted root CAs), the authentication methods policy or the cross-tenant access settings change; elevated access to Azure root (§4 #31, #32, #33).",
                severity: 3,
                tags: &["attack.defense_evasion", "attack.t1556"],
                sources: &["directory", "unified"],
                condition: json!({"any": [
                    {"all": [ops(&["Set Company Information"]), {"any": [
                        {"field": "*StrongAuthenticationPolicy.newValue", "op": "exists"},
                        {"field": "*newValue", "op": "contains", "value": "TrustedCAsForPasswordlessAuth"}
                    ]}]},
                    ops(&["Authentication Methods Policy Update", "Update User Risk and MFA Registration Policy", "Add a partner to cross-tenant access setting", "Delete partner specific cross-tenant access setting", "User has elevated their access to User Access Administrator for their Azure Resources"])
                ]}),
                group_by: "actor",
            },
            None,
            false,
            vec![
                graph("directory", directory_audit("Authentication Methods Policy Update", "Policy", json!({})), true),
                graph("directory", directory_audit("Set Company Information", "DirectoryManagement", json!({"targetResources": [{"id": "c", "type": "Other", "modifiedProperties": [modified("TechnicalNotificationMails", "[]", "[\"it@contoso.example\"]")]}]})), false),
            ],
        ),
        rule(
            Spec {
                uid: "bitlocker_or_laps_read",
                name: "BitLocker key or LAPS password read",
                description: "A BitLocker recovery key or a device's local administrator password is read (§4 #34).",
                severity: 2,
                tags: &["attack.credential_access", "attack.t1555"],
                sources: &["directory", "unified"],
                condition: ops(&["Read BitLocker key", "Recover device local administrator password"]),
                group_by: "actor",
            },
            None,
            false,
            vec![
                graph("directory", directory_audit("Read BitLocker key", "KeyManagement", json!({})), true),
                graph("directory", directory_audit("Update device", "Device", json!({})), false),
            ],
        ),
        rule(
            Spec {
                uid: "legacy_auth_success",
                name: "Successful sign-in with legacy authentication",
                description: "A successful sign-in through a legacy protocol (IMAP, POP, SMTP AUTH, ActiveSync, EWS, MAPI, other clients) or ROPC, which bypasses MFA (§4 #40).",
                severity: 2,
                tags: &["attack.initial_access", "attack.t1078.004"],
                sources: &["signin"],
                condition: json!({"all": [
                    {"field": "status.errorCode", "value": "0"},
                    {"any": [
                        {"field": "clientAppUsed", "op": "in", "value": ["IMAP4", "POP3", "Authenticated SMTP", "Exchange ActiveSync", "Exchange Web Services", "MAPI Over HTTP", "Autodiscover", "Other clients", "Exchange Online PowerShell"]},
                        {"field": "authenticationProtocol", "value": "ropc"},
                        {"field": "userAgent", "op": "contains", "value": "BAV2ROPC"}
                    ]}
                ]}),
                group_by: "actor",
            },
            None,
            false,
            vec![
                graph("signin", sign_in(json!({"clientAppUsed": "IMAP4"})), true),
                graph("signin", sign_in(json!({"clientAppUsed": "IMAP4", "status": {"errorCode": 50126, "failureReason": "Invalid username or password."}})), false),
                graph("signin", sign_in(json!({"clientAppUsed": "Browser"})), false),
            ],
        ),
        rule(
            Spec {
                uid: "device_code_sign_in",
                name: "Sign-in with the device code flow",
                description: "A successful sign-in with the device code flow, the mechanism of device-code phishing (§4 #41).",
                severity: 3,
                tags: &["attack.initial_access", "attack.t1566.002"],
                sources: &["signin", "unified"],
                condition: json!({"any": [
                    {"all": [{"field": "authenticationProtocol", "value": "deviceCode"}, {"field": "status.errorCode", "value": "0"}]},
                    {"field": "originalTransferMethod", "value": "deviceCodeFlow"},
                    {"all": [ops(&["UserLoggedIn"]), {"field": "ExtendedProperties.RequestType", "value": "Cmsi:Cmsi"}]}
                ]}),
                group_by: "actor",
            },
            None,
            false,
            vec![
                graph("signin", sign_in(json!({"authenticationProtocol": "deviceCode", "appId": "29d9ed98-a469-4536-ade2-f981bc1d605e"})), true),
                graph("signin", sign_in(json!({"authenticationProtocol": "none"})), false),
            ],
        ),
        rule(
            Spec {
                uid: "attack_tool_user_agent",
                name: "Sign-in with an attack-tool user agent or high risk",
                description: "A sign-in whose user agent is an attack tool or phishing kit (axios, python-requests, AzureHound, ...) or that Identity Protection rates high risk (§4 #43).",
                severity: 3,
                tags: &["attack.initial_access", "attack.t1078.004"],
                sources: &["signin"],
                condition: json!({"any": [
                    {"field": "userAgent", "op": "regex", "value": "axios|python-requests|aiohttp|azurehound|bloodhound|undici|node-fetch|kali365|go-http-client"},
                    {"field": "riskLevelDuringSignIn", "value": "high"},
                    {"field": "riskState", "value": "confirmedCompromised"}
                ]}),
                group_by: "actor",
            },
            None,
            false,
            vec![
                graph("signin", sign_in(json!({"userAgent": "axios/1.7.7"})), true),
                graph("signin", sign_in(json!({"userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "riskLevelDuringSignIn": "none"})), false),
            ],
        ),
        rule(
            Spec {
                uid: "anonymous_link_created",
                name: "Anonymous sharing link created",
                description: "An \"Anyone\" link to a file or folder is created or updated (§4 #44).",
                severity: 2,
                tags: &["attack.exfiltration", "attack.t1567"],
                sources: &["unified"],
                condition: ops(&["AnonymousLinkCreated", "AnonymousLinkUpdated"]),
                group_by: "actor",
            },
            Some("AnonymousLink"),
            true,
            vec![],
        ),
        rule(
            Spec {
                uid: "sharing_policy_weakened",
                name: "SharePoint sharing policy weakened or site admin added",
                description: "Guest or anonymous sharing is turned on, or a site collection administrator is added (§4 #45).",
                severity: 2,
                tags: &["attack.persistence"],
                sources: &["unified"],
                condition: json!({"any": [
                    ops(&["SiteCollectionAdminAdded"]),
                    {"all": [ops(&["SharingPolicyChanged"]), {"any": [
                        {"field": "ModifiedProperties.ShareWithGuests.NewValue", "op": "in", "value": ["true", "Enabled"]},
                        {"field": "ModifiedProperties.ShareUsingAnonymousLinks.NewValue", "op": "in", "value": ["true", "Enabled"]},
                        {"field": "ModifiedProperties.AllowGuestUser.NewValue", "op": "in", "value": ["true", "Enabled"]}
                    ]}]}
                ]}),
                group_by: "actor",
            },
            None,
            false,
            vec![
                unified("Audit.SharePoint", ual("SharingPolicyChanged", "SharePoint", 4, "admin@contoso.example", json!({"ModifiedProperties": [{"Name": "ShareUsingAnonymousLinks", "OldValue": "false", "NewValue": "true"}]})), true),
                unified("Audit.SharePoint", ual("SharingPolicyChanged", "SharePoint", 4, "admin@contoso.example", json!({"ModifiedProperties": [{"Name": "ShareUsingAnonymousLinks", "OldValue": "true", "NewValue": "false"}]})), false),
            ],
        ),
        rule(
            Spec {
                uid: "malware_uploaded",
                name: "Malware detected in SharePoint or OneDrive",
                description: "A file is flagged as malware by the built-in scanner (§4 #48).",
                severity: 3,
                tags: &["attack.execution"],
                sources: &["unified"],
                condition: ops(&["FileMalwareDetected"]),
                group_by: "actor",
            },
            None,
            false,
            vec![
                unified("Audit.SharePoint", ual("FileMalwareDetected", "SharePoint", 6, "SHAREPOINT\\system", json!({"VirusInfo": "Trojan:Win32/Wacatac", "ObjectId": "https://contoso.sharepoint.com/x.docm"})), true),
                unified("Audit.SharePoint", ual("FileUploaded", "SharePoint", 6, "lee@contoso.example", json!({"ObjectId": "https://contoso.sharepoint.com/x.docx"})), false),
            ],
        ),
        rule(
            Spec {
                uid: "search_for_secrets",
                name: "Search for passwords or secrets",
                description: "A SharePoint search query asks for passwords, secrets, keys or salaries (§4 #49).",
                severity: 1,
                tags: &["attack.collection", "attack.t1213.002"],
                sources: &["unified"],
                condition: json!({"all": [
                    ops(&["SearchQueryPerformed"]),
                    {"field": "SearchQueryText", "op": "regex", "value": "passw|secret|api[ _-]?key|salar|confidential|credential"}
                ]}),
                group_by: "actor",
            },
            None,
            false,
            vec![
                unified("Audit.SharePoint", ual("SearchQueryPerformed", "SharePoint", 6, "lee@contoso.example", json!({"SearchQueryText": "admin password list"})), true),
                unified("Audit.SharePoint", ual("SearchQueryPerformed", "SharePoint", 6, "lee@contoso.example", json!({"SearchQueryText": "holiday schedule"})), false),
            ],
        ),
        rule(
            Spec {
                uid: "ediscovery_export",
                name: "eDiscovery search exported",
                description: "A compliance search is exported or its export downloaded (§4 #50).",
                severity: 3,
                tags: &["attack.collection", "attack.exfiltration", "attack.t1114"],
                sources: &["unified"],
                condition: json!({"any": [
                    ops(&["SearchExported", "SearchExportDownloaded"]),
                    {"all": [ops(&["New-ComplianceSearchAction"]), {"any": [
                        {"field": "Parameters.Export", "value": "True"},
                        {"field": "Parameters.Purge", "value": "True"}
                    ]}]}
                ]}),
                group_by: "actor",
            },
            Some("EDiscoveryExport"),
            false,
            vec![unified(
                "Audit.General",
                ual("SearchCreated", "SecurityComplianceCenter", 24, "admin@contoso.example", json!({"Query": "project x"})),
                false,
            )],
        ),
        rule(
            Spec {
                uid: "dlp_high_severity_match",
                name: "High-severity DLP match",
                description: "A DLP policy rule of high severity matched (§4 #51).",
                severity: 3,
                tags: &["attack.exfiltration"],
                sources: &["unified"],
                condition: json!({"all": [ops(&["DLPRuleMatch"]), {"field": "PolicyDetails.Rules.Severity", "value": "High"}]}),
                group_by: "actor",
            },
            Some("DlpExternal"),
            true,
            vec![],
        ),
        rule(
            Spec {
                uid: "teams_external_member_added",
                name: "External user added to a team",
                description: "A guest or external account (#EXT#) is added to a Microsoft Teams team (§4 #53).",
                severity: 2,
                tags: &["attack.initial_access", "attack.t1566.003"],
                sources: &["unified"],
                condition: json!({"all": [ops(&["MemberAdded"]), {"field": "Members.UPN", "op": "contains", "value": "#EXT#"}]}),
                group_by: "actor",
            },
            Some("TeamsGuestAdded"),
            true,
            vec![],
        ),
        rule(
            Spec {
                uid: "teams_guest_or_apps_enabled",
                name: "Teams guest access or custom apps turned on",
                description: "A Teams tenant setting enables guest access, external access or custom app sideloading (§4 #52).",
                severity: 2,
                tags: &["attack.persistence"],
                sources: &["unified"],
                condition: json!({"any": [
                    {"all": [ops(&["TeamsTenantSettingChanged"]), {"field": "Name", "op": "regex", "value": "guest|external|custom apps"}, {"field": "NewValue", "value": "True"}]},
                    {"all": [ops(&["Set-CsTenantFederationConfiguration", "Set-CsExternalAccessPolicy"]), {"field": "Parameters.AllowFederatedUsers", "value": "True"}]}
                ]}),
                group_by: "actor",
            },
            None,
            false,
            vec![
                unified("Audit.General", ual("TeamsTenantSettingChanged", "MicrosoftTeams", 25, "admin@contoso.example", json!({"Name": "Allow guest access in Teams", "OldValue": "False", "NewValue": "True"})), true),
                unified("Audit.General", ual("TeamsTenantSettingChanged", "MicrosoftTeams", 25, "admin@contoso.example", json!({"Name": "Allow guest access in Teams", "OldValue": "True", "NewValue": "False"})), false),
            ],
        ),
        rule(
            Spec {
                uid: "intune_script_pushed",
                name: "Intune script or app pushed to devices",
                description: "A device management script, compliance script or app is created or assigned in Intune (§4 #55).",
                severity: 3,
                tags: &["attack.execution", "attack.t1072"],
                sources: &["intune"],
                condition: json!({"field": "operation", "op": "regex", "value": "^(create|assign)DeviceManagementScript|^(create|assign)DeviceComplianceScript|^(create|assign)DeviceHealthScript|^Create MobileApp"}),
                group_by: "actor",
            },
            None,
            false,
            vec![
                graph("intune", json!({"id": "i1", "displayName": "createDeviceManagementScript DeviceManagementScript", "componentName": "DeviceConfiguration", "activity": "createDeviceManagementScript DeviceManagementScript", "activityDateTime": "2026-11-16T10:00:00Z", "activityType": "createDeviceManagementScript DeviceManagementScript", "activityOperationType": "Create", "activityResult": "Success", "correlationId": "c", "category": "DeviceConfiguration", "actor": {"userPrincipalName": "admin@contoso.example"}, "resources": []}), true),
                graph("intune", json!({"id": "i2", "displayName": "patchDeviceConfiguration", "componentName": "DeviceConfiguration", "activity": "patch DeviceConfiguration", "activityDateTime": "2026-11-16T10:00:00Z", "activityType": "patch DeviceConfiguration", "activityOperationType": "Patch", "activityResult": "Success", "correlationId": "c", "category": "DeviceConfiguration", "actor": {"userPrincipalName": "admin@contoso.example"}, "resources": []}), false),
            ],
        ),
        rule(
            Spec {
                uid: "intune_policies_deleted",
                name: "Intune compliance or configuration policy deleted",
                description: "A device compliance policy or device configuration is deleted (§4 #56).",
                severity: 2,
                tags: &["attack.defense_evasion"],
                sources: &["intune"],
                condition: json!({"field": "operation", "op": "regex", "value": "^delete ?(DeviceCompliancePolicy|DeviceConfiguration)"}),
                group_by: "actor",
            },
            None,
            false,
            vec![
                graph("intune", json!({"id": "i3", "displayName": "deleteDeviceCompliancePolicy", "componentName": "DeviceCompliance", "activity": "delete DeviceCompliancePolicy", "activityDateTime": "2026-11-16T10:00:00Z", "activityType": "Delete DeviceCompliancePolicy", "activityOperationType": "Delete", "activityResult": "Success", "correlationId": "c", "category": "Compliance", "actor": {"userPrincipalName": "admin@contoso.example"}, "resources": []}), true),
                graph("intune", json!({"id": "i4", "displayName": "createDeviceCompliancePolicy", "componentName": "DeviceCompliance", "activity": "create DeviceCompliancePolicy", "activityDateTime": "2026-11-16T10:00:00Z", "activityType": "Create DeviceCompliancePolicy", "activityOperationType": "Create", "activityResult": "Success", "correlationId": "c", "category": "Compliance", "actor": {"userPrincipalName": "admin@contoso.example"}, "resources": []}), false),
            ],
        ),
        threshold(
            rule(
                Spec {
                    uid: "password_spray",
                    name: "Password spray: many users failing from one address",
                    description: "At least 10 different users fail to sign in from one address within an hour with a wrong password (50126), a locked account (50053) or an expired password (50055) (§4 #36).",
                    severity: 3,
                    tags: &["attack.credential_access", "attack.t1110.003"],
                    sources: &["signin"],
                    condition: json!({"field": "status.errorCode", "op": "in", "value": ["50126", "50053", "50055"]}),
                    group_by: "ip",
                },
                Some("PasswordSpray"),
                false,
                vec![
                    graph("signin", sign_in(json!({"status": {"errorCode": 50126, "failureReason": "Invalid username or password."}})), true),
                    graph("signin", sign_in(json!({})), false),
                ],
            ),
            60,
            10,
            Some("actor"),
        ),
        threshold(
            rule(
                Spec {
                    uid: "mass_download",
                    name: "Mass download of files by one user",
                    description: "One user downloads or syncs at least 25 files from SharePoint or OneDrive within an hour (§4 #46).",
                    severity: 2,
                    tags: &["attack.collection", "attack.exfiltration", "attack.t1530"],
                    sources: &["unified"],
                    condition: ops(&["FileDownloaded", "FileSyncDownloadedFull"]),
                    group_by: "actor",
                },
                Some("MassDownload"),
                true,
                vec![],
            ),
            60,
            25,
            None,
        ),
        threshold(
            rule(
                Spec {
                    uid: "mass_deletion",
                    name: "Mass deletion of files by one user",
                    description: "One user deletes or recycles at least 100 files in SharePoint or OneDrive within an hour (§4 #47).",
                    severity: 3,
                    tags: &["attack.impact", "attack.t1485"],
                    sources: &["unified"],
                    condition: ops(&["FileDeleted", "FileRecycled", "FileDeletedFirstStageRecycleBin", "FileDeletedSecondStageRecycleBin"]),
                    group_by: "actor",
                },
                Some("MassDeletion"),
                true,
                vec![],
            ),
            60,
            100,
            None,
        ),
        threshold(
            rule(
                Spec {
                    uid: "intune_bulk_wipe",
                    name: "Bulk wipe of managed devices",
                    description: "One administrator wipes at least five managed devices within an hour (§4 #54).",
                    severity: 4,
                    tags: &["attack.impact", "attack.t1485"],
                    sources: &["intune"],
                    condition: json!({"field": "operation", "op": "contains", "value": "wipe"}),
                    group_by: "actor",
                },
                Some("IntuneBulkWipe"),
                true,
                vec![],
            ),
            60,
            5,
            None,
        ),
        first_seen(
            rule(
                Spec {
                    uid: "new_sign_in_country",
                    name: "Sign-in from a country new for the user",
                    description: "A successful sign-in from a country the user has not signed in from in 30 days, while they did sign in from others (§4 #38, #39).",
                    severity: 2,
                    tags: &["attack.initial_access", "attack.t1078.004"],
                    sources: &["signin"],
                    condition: json!({"field": "status.errorCode", "value": "0"}),
                    group_by: "actor",
                },
                Some("ImpossibleTravel"),
                false,
                vec![
                    graph("signin", sign_in(json!({})), true),
                    graph("signin", sign_in(json!({"status": {"errorCode": 50126, "failureReason": "Invalid username or password."}})), false),
                ],
            ),
            "location.countryOrRegion",
            30,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{CompiledRule, EventDoc};
    use crate::simulator::activity::{build_tenant, scenario_records, ActivityConfig, Feed};

    fn compiled(b: &Builtin) -> CompiledRule {
        let d = b.draft.clone().validate().unwrap_or_else(|e| panic!("{}: {e}", b.draft.uid));
        CompiledRule::new(
            1,
            &d.name,
            d.severity,
            d.hunting,
            d.sources.clone(),
            &serde_json::to_string(&d.definition).unwrap(),
        )
        .unwrap()
    }

    fn source_of(feed: Feed) -> (&'static str, Option<&'static str>) {
        match feed {
            Feed::DirectoryAudits => ("directory", None),
            Feed::SignIns => ("signin", None),
            Feed::IntuneAuditEvents => ("intune", None),
            other => ("unified", other.content_type()),
        }
    }

    /// The events of one scenario occurrence, as the rules see them.
    fn scenario_docs(name: &str, near_miss: bool) -> Vec<EventDoc> {
        scenario_events(name, near_miss).into_iter().map(|(doc, _)| doc).collect()
    }

    /// The events of one scenario occurrence with their times.
    fn scenario_events(name: &str, near_miss: bool) -> Vec<(EventDoc, chrono::DateTime<chrono::Utc>)> {
        let config = ActivityConfig { seed: 21, events_per_day: 2_000, scenarios: true };
        let tenant = build_tenant(21, 0);
        let from_day =
            chrono::NaiveDate::from_ymd_opt(2026, 11, 16).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp()
                / 86_400;
        let records = scenario_records(&config, &tenant, name, near_miss, from_day)
            .unwrap_or_else(|| panic!("scenario {name} (near miss {near_miss}) exists"));
        assert!(!records.is_empty(), "{name} has records");
        records
            .into_iter()
            .map(|(feed, r)| {
                let (source, content_type) = source_of(feed);
                let parsed = crate::normalize::Source::parse(source).unwrap();
                let n = crate::normalize::normalize(parsed, content_type, &r.json, &Default::default()).unwrap();
                let mut doc = EventDoc::from_normalized(&tenant.tenant_id, source, content_type, &n);
                doc.tenant_domains = std::sync::Arc::new(vec![tenant.domain.clone()]);
                (doc, n.occurred_at)
            })
            .collect()
    }

    #[test]
    fn every_builtin_rule_is_valid_and_has_a_unique_id_and_name() {
        let pack = pack();
        let mut uids = std::collections::HashSet::new();
        let mut names = std::collections::HashSet::new();
        for b in &pack {
            compiled(b);
            assert!(uids.insert(b.draft.uid.clone()), "{}", b.draft.uid);
            assert!(names.insert(b.draft.name.clone()), "{}", b.draft.name);
            assert!(
                b.scenario.is_some() || b.examples.iter().any(|e| e.fires),
                "{} has no positive example",
                b.draft.uid
            );
            assert!(b.near_miss || b.examples.iter().any(|e| !e.fires), "{} has no negative example", b.draft.uid);
        }
        assert!(pack.len() >= 30, "{}", pack.len());
    }

    /// The alerts a stateful rule raises over one scenario occurrence (the pure decisions the
    /// evaluator and the backtest make).
    fn stateful_alerts(rule: &CompiledRule, scenario: &str, near_miss: bool) -> usize {
        use crate::rules::stateful::{self as st, Logic, Obs};
        let mut entities: std::collections::BTreeMap<String, Vec<Obs>> = Default::default();
        for (i, (doc, at)) in scenario_events(scenario, near_miss).into_iter().enumerate() {
            for (step, value) in rule.observations(&doc) {
                let entity = doc.entity(&rule.group_by).unwrap_or_default();
                entities.entry(entity).or_default().push(Obs { occurred_at: at, event_id: i as i64, step, value });
            }
        }
        entities
            .values()
            .map(|obs| match &rule.logic {
                Logic::Threshold { count, distinct } => {
                    st::threshold(obs, rule.window, *count, distinct.is_some()).len()
                }
                Logic::Sequence { any_order, .. } => st::sequence(obs, rule.window, *any_order).len(),
                Logic::FirstSeen { lookback, .. } => st::first_seen(obs, *lookback).len(),
                Logic::Match => 0,
            })
            .sum()
    }

    #[test]
    fn every_builtin_rule_fires_on_its_scenario_and_not_on_the_near_miss() {
        for b in pack() {
            let rule = compiled(&b);
            let Some(scenario) = b.scenario else { continue };
            if rule.logic.is_stateful() {
                let alerts = stateful_alerts(&rule, scenario, false);
                assert!(alerts >= 1, "{} raises no alert on scenario {scenario}", b.draft.uid);
                if b.near_miss {
                    assert_eq!(
                        stateful_alerts(&rule, scenario, true),
                        0,
                        "{} on the near miss of {scenario}",
                        b.draft.uid
                    );
                }
                continue;
            }
            let hits = scenario_docs(scenario, false).iter().filter(|d| rule.fires_on(d)).count();
            assert!(hits >= 1, "{} does not fire on scenario {scenario}", b.draft.uid);
            if b.near_miss {
                let misses = scenario_docs(scenario, true);
                let wrong: Vec<_> = misses.iter().filter(|d| rule.fires_on(d)).map(|d| d.operation.clone()).collect();
                assert!(wrong.is_empty(), "{} fires on the near miss of {scenario}: {wrong:?}", b.draft.uid);
            }
        }
    }

    #[test]
    fn indexing_only_the_fields_rules_read_and_looking_rules_up_by_operation_change_no_decision() {
        let pack = pack();
        let rules: Vec<CompiledRule> = pack.iter().map(compiled).collect();
        let mut wanted = crate::rules::engine::FieldSet::default();
        rules.iter().for_each(|r| r.note_fields(&mut wanted));
        let index = crate::rules::RuleIndex::new(&rules);
        // Every example record and every scenario event (and near miss) of the pack.
        let mut records: Vec<(&str, Option<&str>, String)> = Vec::new();
        for b in &pack {
            records.extend(b.examples.iter().map(|e| (e.source, e.content_type, e.record.to_string())));
            let config = ActivityConfig { seed: 21, events_per_day: 2_000, scenarios: true };
            let tenant = build_tenant(21, 0);
            for near_miss in [false, true] {
                let Some(scenario) = b.scenario else { continue };
                for (feed, r) in scenario_records(&config, &tenant, scenario, near_miss, 20_000).unwrap_or_default() {
                    let (source, content_type) = source_of(feed);
                    records.push((source, content_type, r.json));
                }
            }
        }
        let (mut fired, mut candidates) = (0, Vec::new());
        for (source, content_type, raw) in &records {
            let parsed = crate::normalize::Source::parse(source).unwrap();
            let Ok(n) = crate::normalize::normalize(parsed, *content_type, raw, &Default::default()) else { continue };
            let flattened = serde_json::to_string(&n.flattened).unwrap();
            let mut full = EventDoc::from_normalized("t", source, *content_type, &n);
            full.set_flattened(&flattened);
            let mut part = full.clone();
            part.set_flattened_for(&flattened, &wanted);
            assert!(part.fields.len() <= full.fields.len());
            index.candidates(&part, &mut candidates);
            for (i, rule) in rules.iter().enumerate() {
                let decided = (rule.fires_on(&full), rule.observations(&full));
                assert_eq!((rule.fires_on(&part), rule.observations(&part)), decided, "rule {i} on {raw}");
                assert_eq!(rule.condition.explain(&part), rule.condition.explain(&full), "rule {i} on {raw}");
                if decided.0 || !decided.1.is_empty() {
                    fired += 1;
                    assert!(candidates.contains(&i), "rule {i} fires on {raw} but is no candidate");
                }
            }
        }
        assert!(fired > 40, "{fired} decisions that fired");
    }

    #[test]
    fn every_builtin_rule_decides_its_examples_as_expected() {
        for b in pack() {
            let rule = compiled(&b);
            for (i, example) in b.examples.iter().enumerate() {
                let doc = EventDoc::from_raw("t", example.source, example.content_type, &example.record.to_string())
                    .unwrap_or_else(|e| panic!("{} example {i}: {e}", b.draft.uid));
                assert_eq!(rule.fires_on(&doc), example.fires, "{} example {i}: {:?}", b.draft.uid, doc);
            }
        }
    }
}
