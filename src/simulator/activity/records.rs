//! Hour-by-hour records of every feed, in the shapes Microsoft sends, with the documented
//! irregularities at low rates.

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::tenant::{guid, Person, Tenant};
use super::{scenarios, ActivityConfig, Feed, Record};

/// The seed of one (tenant, feed, hour): a stable mix, never std's hasher.
pub(super) fn hour_seed(config: &ActivityConfig, tenant: &Tenant, feed: Feed, hour: DateTime<Utc>) -> u64 {
    let mut x = config.seed ^ 0x51ed_270b_2734_5f4d;
    for part in [tenant.index as u64, feed as u64 + 1, hour.timestamp() as u64] {
        x ^= part.wrapping_add(0x9e37_79b9_7f4a_7c15).wrapping_add(x << 6).wrapping_add(x >> 2);
        x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x ^= x >> 31;
    }
    x
}

/// Relative activity of an hour: busy working hours, quiet nights and weekends; averages 1 over
/// a week.
fn rhythm(hour: DateTime<Utc>) -> f64 {
    let weekend = hour.weekday().num_days_from_monday() >= 5;
    let h = hour.hour();
    let w = match (weekend, h) {
        (true, _) => 0.3,
        (false, 8..=17) => 2.0,
        (false, 7) | (false, 18..=19) => 1.0,
        _ => 0.35,
    };
    w / 0.879
}

/// UAL time: no zone, whole seconds.
pub(super) fn ual_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// Graph time: seven fractional digits and Z (the seventh is always 0 here, so nothing is lost
/// at microsecond precision).
pub(super) fn graph_time(t: DateTime<Utc>) -> String {
    format!("{}0Z", t.format("%Y-%m-%dT%H:%M:%S%.6f"))
}

/// A client IP as UAL sends it: sometimes with a port, sometimes bracketed IPv6 with a port.
pub(super) fn ual_ip(rng: &mut StdRng, ip: &str) -> Value {
    match rng.random_range(0..100) {
        0..=9 => json!(format!("{ip}:{}", rng.random_range(1024..65535))),
        10..=12 => json!(format!("[2001:db8::{:x}]:{}", rng.random_range(1..0xffff), rng.random_range(1024..65535))),
        13..=14 => json!(format!("2001:db8::{:x}", rng.random_range(1..0xffff))),
        _ => json!(ip),
    }
}

/// A number that Microsoft sometimes sends as a string.
pub(super) fn num(rng: &mut StdRng, n: i64) -> Value {
    if rng.random_range(0..100) < 5 {
        json!(n.to_string())
    } else {
        json!(n)
    }
}

/// The common UAL envelope.
pub(super) fn ual(
    rng: &mut StdRng,
    t: &Tenant,
    time: DateTime<Utc>,
    op: &str,
    rt: i64,
    workload: &str,
    actor: &Person,
    ip: &str,
    object: &str,
    result: &str,
) -> (String, Value) {
    let id = guid(rng);
    let v = json!({
        "CreationTime": ual_time(time),
        "Id": id,
        "Operation": op,
        "OrganizationId": t.tenant_id,
        "RecordType": num(rng, rt),
        "ResultStatus": result,
        "UserKey": actor.user_key,
        "UserType": num(rng, 0),
        "Version": 1,
        "Workload": workload,
        "ClientIP": ual_ip(rng, ip),
        "ObjectId": object,
        "UserId": actor.upn,
    });
    (id, v)
}

fn pick<'a>(rng: &mut StdRng, people: &'a [Person]) -> &'a Person {
    people.choose(rng).expect("a tenant has people")
}

fn extend(v: &mut Value, extra: Value) {
    if let (Some(obj), Some(more)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in more {
            obj.insert(k.clone(), x.clone());
        }
    }
}

fn site(t: &Tenant) -> String {
    format!("https://{}.sharepoint.com", t.domain.split('.').next().unwrap_or("tenant"))
}

const FILES: &[&str] = &[
    "Budget 2026.xlsx",
    "Roadmap.pptx",
    "Contract draft.docx",
    "Team photo.png",
    "Q3 report.pdf",
    "notes.txt",
    "Payroll.xlsx",
];

fn exchange(rng: &mut StdRng, t: &Tenant, time: DateTime<Utc>) -> (String, Value) {
    let u = pick(rng, &t.users);
    match rng.random_range(0..100) {
        0..=54 => {
            let (id, mut v) =
                ual(rng, t, time, "MailItemsAccessed", 50, "Exchange", u, &u.home_ip, &u.upn, "Succeeded");
            extend(
                &mut v,
                json!({"LogonType": 0, "MailboxOwnerUPN": u.upn, "MailboxGuid": guid(rng), "ClientInfoString": "Client=OWA;Action=ViaProxy", "OperationCount": rng.random_range(1..20), "OperationProperties": [{"Name": "MailAccessType", "Value": "Bind"}, {"Name": "IsThrottled", "Value": "False"}]}),
            );
            (id, v)
        }
        55..=74 => {
            let (id, mut v) = ual(rng, t, time, "Send", 2, "Exchange", u, &u.home_ip, &u.upn, "Succeeded");
            extend(
                &mut v,
                json!({"LogonType": 0, "MailboxOwnerUPN": u.upn, "Item": {"Id": guid(rng), "Subject": "Weekly update", "ParentFolder": {"Path": "\\Sent Items"}}}),
            );
            (id, v)
        }
        75..=84 => {
            let (id, mut v) = ual(rng, t, time, "SoftDelete", 3, "Exchange", u, &u.home_ip, &u.upn, "Succeeded");
            extend(
                &mut v,
                json!({"LogonType": 0, "MailboxOwnerUPN": u.upn, "Folder": {"Id": guid(rng), "Path": "\\Inbox"}, "AffectedItems": [{"Id": guid(rng), "Subject": "Newsletter"}], "CrossMailboxOperations": false}),
            );
            (id, v)
        }
        85..=92 => {
            let rule = "Move newsletters";
            let (id, mut v) =
                ual(rng, t, time, "New-InboxRule", 1, "Exchange", u, &u.home_ip, &format!("{}\\{rule}", u.upn), "True");
            let params = json!([{"Name": "Name", "Value": rule}, {"Name": "From", "Value": "news@partner.example"}, {"Name": "MoveToFolder", "Value": "Newsletters"}]);
            // A few records carry Parameters as a JSON string ("stringly JSON").
            let params = if rng.random_range(0..100) < 10 { json!(params.to_string()) } else { params };
            extend(&mut v, json!({"Parameters": params, "ExternalAccess": false, "OrganizationName": t.domain}));
            (id, v)
        }
        _ => {
            let admin = pick(rng, &t.admins);
            let target = pick(rng, &t.users);
            let (id, mut v) =
                ual(rng, t, time, "Set-Mailbox", 1, "Exchange", admin, &admin.home_ip, &target.upn, "True");
            extend(
                &mut v,
                json!({"UserType": 2, "Parameters": [{"Name": "Identity", "Value": target.upn}, {"Name": "ProhibitSendQuota", "Value": "49 GB"}], "ModifiedObjectResolvedName": target.display_name, "ExternalAccess": false}),
            );
            (id, v)
        }
    }
}

fn sharepoint(rng: &mut StdRng, t: &Tenant, time: DateTime<Utc>) -> (String, Value) {
    let u = pick(rng, &t.users);
    let file = *FILES.choose(rng).expect("files");
    let onedrive = rng.random_range(0..100) < 30;
    let (workload, base) = if onedrive {
        (
            "OneDrive",
            format!(
                "{}-my.sharepoint.com/personal/{}/",
                site(t).trim_end_matches(".sharepoint.com"),
                u.upn.replace(['@', '.'], "_")
            ),
        )
    } else {
        ("SharePoint", format!("{}/sites/finance/", site(t)))
    };
    let op = *[
        "FileAccessed",
        "FileAccessed",
        "FileAccessed",
        "FileDownloaded",
        "FileUploaded",
        "FileModified",
        "FilePreviewed",
        "SharingSet",
    ]
    .choose(rng)
    .expect("ops");
    let rt = if op == "SharingSet" {
        14
    } else if onedrive {
        7
    } else {
        6
    };
    let object = format!("{base}Shared Documents/{file}");
    let (id, mut v) = ual(rng, t, time, op, rt, workload, u, &u.home_ip, &object, "Succeeded");
    extend(
        &mut v,
        json!({
            "Site": guid(rng), "ItemType": "File", "EventSource": "SharePoint", "SiteUrl": base,
            "SourceRelativeUrl": "Shared Documents", "SourceFileName": file,
            "SourceFileExtension": file.rsplit('.').next().unwrap_or(""),
            "UserAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) ExampleBrowser/1.0",
            "CorrelationId": guid(rng), "ListId": guid(rng), "WebId": guid(rng)
        }),
    );
    if op == "SharingSet" {
        let guest = pick(rng, &t.guests);
        extend(
            &mut v,
            json!({"TargetUserOrGroupName": guest.upn, "TargetUserOrGroupType": "Guest", "EventData": "<Type>Edit</Type>"}),
        );
    }
    (id, v)
}

fn aad(rng: &mut StdRng, t: &Tenant, time: DateTime<Utc>) -> (String, Value) {
    let u = pick(rng, &t.users);
    let roll = rng.random_range(0..100);
    if roll < 85 {
        let failed = roll >= 78;
        let op = if failed { "UserLoginFailed" } else { "UserLoggedIn" };
        let (id, mut v) = ual(
            rng,
            t,
            time,
            op,
            15,
            "AzureActiveDirectory",
            u,
            &u.home_ip,
            "00000003-0000-0000-c000-000000000000",
            "Success",
        );
        extend(
            &mut v,
            json!({
                "AzureActiveDirectoryEventType": num(rng, 1),
                "ApplicationId": "d3590ed6-52b3-4102-aeff-aad2292ab01c",
                "ErrorCode": if failed { "50126" } else { "0" },
                "ExtendedProperties": [{"Name": "ResultStatusDetail", "Value": "Success"}, {"Name": "UserAgent", "Value": "Mozilla/5.0"}, {"Name": "RequestType", "Value": "OAuth2:Authorize"}],
                "ModifiedProperties": [],
                "Actor": [{"ID": u.object_id, "Type": 0}, {"ID": u.upn, "Type": num(rng, 5)}],
                "ActorContextId": t.tenant_id, "ActorIpAddress": u.home_ip,
                "DeviceProperties": [{"Name": "OS", "Value": "Windows 10"}, {"Name": "BrowserType", "Value": "Edge"}],
                "Target": [{"ID": "00000003-0000-0000-c000-000000000000", "Type": 0}], "TargetContextId": t.tenant_id
            }),
        );
        if failed {
            extend(&mut v, json!({"LogonError": "InvalidUserNameOrPassword"}));
        }
        (id, v)
    } else {
        let admin = pick(rng, &t.admins);
        let target = pick(rng, &t.users);
        let (id, mut v) =
            ual(rng, t, time, "Update user.", 8, "AzureActiveDirectory", admin, &admin.home_ip, &target.upn, "Success");
        extend(
            &mut v,
            json!({
                "AzureActiveDirectoryEventType": 1,
                "ExtendedProperties": [{"Name": "resultType", "Value": "Success"}, {"Name": "auditEventCategory", "Value": "UserManagement"}, {"Name": "additionalDetails", "Value": "{\"UserType\":\"Member\"}"}],
                "ModifiedProperties": [{"Name": "JobTitle", "NewValue": "[\"Analyst\"]", "OldValue": "[]"}, {"Name": "Included Updated Properties", "NewValue": "JobTitle", "OldValue": ""}],
                "Actor": [{"ID": admin.upn, "Type": 5}, {"ID": format!("User_{}", admin.object_id), "Type": 2}],
                "Target": [{"ID": format!("User_{}", target.object_id), "Type": 2}, {"ID": target.upn, "Type": 5}],
                "ActorContextId": t.tenant_id, "TargetContextId": t.tenant_id
            }),
        );
        if rng.random_range(0..100) < 20 {
            v.as_object_mut().map(|o| o.remove("ClientIP"));
        }
        (id, v)
    }
}

fn general(rng: &mut StdRng, t: &Tenant, time: DateTime<Utc>) -> (String, Value) {
    let u = pick(rng, &t.users);
    let member = pick(rng, &t.users);
    let op = *["MemberAdded", "ChannelAdded", "TeamCreated", "MessageSent"].choose(rng).expect("ops");
    let (id, mut v) = ual(rng, t, time, op, 25, "MicrosoftTeams", u, &u.home_ip, "Finance Ops", "Succeeded");
    extend(&mut v, json!({"TeamName": "Finance Ops", "TeamGuid": "19:abcdef0123456789abcdef0123456789@thread.tacv2"}));
    if op == "MemberAdded" {
        extend(&mut v, json!({"Members": [{"UPN": member.upn, "Role": 0, "DisplayName": member.display_name}]}));
    }
    (id, v)
}

fn dlp(rng: &mut StdRng, t: &Tenant, time: DateTime<Utc>) -> (String, Value) {
    let u = pick(rng, &t.users);
    let exchange = rng.random_range(0..2) == 0;
    let agent = Person { upn: "DlpAgent".into(), user_key: "1153800000000000001".into(), ..u.clone() };
    let (id, mut v) = if exchange {
        ual(rng, t, time, "DlpRuleMatch", 13, "Exchange", &agent, "", "<MSG0001@mail.example>", "Success")
    } else {
        ual(
            rng,
            t,
            time,
            "DlpRuleMatch",
            11,
            "SharePoint",
            u,
            &u.home_ip,
            &format!("{}/sites/finance/Shared Documents/Payroll.xlsx", site(t)),
            "Success",
        )
    };
    v.as_object_mut().map(|o| o.remove("ClientIP"));
    extend(
        &mut v,
        json!({
            "UserType": if exchange { 4 } else { 0 },
            "IncidentId": guid(rng),
            "PolicyDetails": [{"PolicyId": guid(rng), "PolicyName": "PCI outbound", "Rules": [{"RuleId": guid(rng), "RuleName": "Card numbers", "Actions": ["NotifyUser"], "Severity": "Medium", "RuleMode": "Enable",
                "ConditionsMatched": {"SensitiveInformation": [{"SensitiveType": "50842eb7-edc8-4019-85dd-5a5c1f2bb085", "SensitiveInformationTypeName": "Credit Card Number", "Count": 2, "Confidence": 85, "UniqueCount": 2}]}}]}],
            "SensitiveInfoDetectionIsIncluded": false
        }),
    );
    if exchange {
        extend(
            &mut v,
            json!({"ExchangeMetaData": {"MessageID": "<MSG0001@mail.example>", "From": u.upn, "To": [format!("buyer@partner.example")], "CC": [], "BCC": [], "Subject": "Order", "RecipientCount": 1}}),
        );
    } else {
        extend(
            &mut v,
            json!({"SharePointMetaData": {"FileName": "Payroll.xlsx", "FileOwner": u.upn, "FilePathUrl": format!("{}/sites/finance/Shared Documents/Payroll.xlsx", site(t)), "IsViewableByExternalUsers": false}}),
        );
    }
    (id, v)
}

/// A Graph directoryAudit record.
pub(super) fn directory_audit(
    rng: &mut StdRng,
    _t: &Tenant,
    time: DateTime<Utc>,
    activity: &str,
    category: &str,
    operation: &str,
    actor: &Person,
    target: &Person,
    modified: Value,
) -> (String, Value) {
    let correlation = guid(rng);
    let id = format!("Directory_{correlation}_{:X}", rng.random::<u32>());
    let v = json!({
        "id": id, "category": category, "correlationId": correlation, "result": "success", "resultReason": "",
        "activityDisplayName": activity, "activityDateTime": graph_time(time), "loggedByService": "Core Directory",
        "operationType": operation,
        "initiatedBy": {"app": null, "user": {"id": actor.object_id, "displayName": actor.display_name, "userPrincipalName": actor.upn, "ipAddress": actor.home_ip}},
        "targetResources": [{"id": target.object_id, "displayName": target.display_name, "type": "User", "userPrincipalName": target.upn, "groupType": null, "modifiedProperties": modified}],
        "additionalDetails": [{"key": "User-Agent", "value": "Mozilla/5.0"}]
    });
    (id, v)
}

fn directory(rng: &mut StdRng, t: &Tenant, time: DateTime<Utc>) -> (String, Value) {
    let admin = pick(rng, &t.admins);
    let target = pick(rng, &t.users);
    match rng.random_range(0..100) {
        0..=49 => directory_audit(
            rng,
            t,
            time,
            "Update user",
            "UserManagement",
            "Update",
            admin,
            target,
            json!([{"displayName": "JobTitle", "oldValue": "[]", "newValue": "[\"Analyst\"]"}]),
        ),
        50..=74 => directory_audit(
            rng,
            t,
            time,
            "Add member to group",
            "GroupManagement",
            "Assign",
            admin,
            target,
            json!([{"displayName": "Group.DisplayName", "oldValue": null, "newValue": "\"HR Team\""}]),
        ),
        75..=89 => {
            directory_audit(rng, t, time, "Reset user password", "UserManagement", "Update", admin, target, json!([]))
        }
        _ => directory_audit(
            rng,
            t,
            time,
            "Add member to role",
            "RoleManagement",
            "Assign",
            admin,
            target,
            json!([{"displayName": "Role.DisplayName", "oldValue": null, "newValue": "\"Helpdesk Administrator\""}, {"displayName": "Role.TemplateId", "oldValue": null, "newValue": "\"729827e3-9c14-49f7-bb1b-9608f156bbb8\""}]),
        ),
    }
}

/// A Graph signIn record.
pub(super) fn sign_in(
    rng: &mut StdRng,
    _t: &Tenant,
    time: DateTime<Utc>,
    u: &Person,
    ip: &str,
    city: &str,
    country: &str,
    lat: f64,
    lon: f64,
    error: i64,
) -> (String, Value) {
    let id = guid(rng);
    let reason = match error {
        0 => "Other.",
        50126 => "Error validating credentials due to invalid username or password.",
        50074 => "Strong Authentication is required.",
        53003 => "Access has been blocked by Conditional Access policies.",
        _ => "Authentication failed.",
    };
    let v = json!({
        "id": id, "createdDateTime": graph_time(time), "userDisplayName": u.display_name, "userPrincipalName": u.upn,
        "userId": u.object_id, "appId": "00000002-0000-0ff1-ce00-000000000000", "appDisplayName": "Office 365 Exchange Online",
        "ipAddress": ip, "clientAppUsed": "Browser", "correlationId": guid(rng), "conditionalAccessStatus": if error == 53003 { "failure" } else { "success" },
        "isInteractive": true, "riskDetail": "none", "riskLevelAggregated": "none", "riskLevelDuringSignIn": "none", "riskState": "none",
        "riskEventTypes": [], "riskEventTypes_v2": [], "resourceDisplayName": "Office 365 Exchange Online", "resourceId": "00000002-0000-0ff1-ce00-000000000000",
        "status": {"errorCode": error, "failureReason": reason, "additionalDetails": null},
        "deviceDetail": {"deviceId": "", "displayName": null, "operatingSystem": "Windows 10", "browser": "Edge 120.0.0", "isCompliant": null, "isManaged": null, "trustType": null},
        "location": {"city": city, "state": null, "countryOrRegion": country, "geoCoordinates": {"altitude": null, "latitude": lat, "longitude": lon}},
        "appliedConditionalAccessPolicies": []
    });
    (id, v)
}

fn signin(rng: &mut StdRng, t: &Tenant, time: DateTime<Utc>) -> (String, Value) {
    let u = pick(rng, &t.users).clone();
    let error = match rng.random_range(0..100) {
        0..=5 => 50126,
        6..=7 => 50074,
        8 => 53003,
        _ => 0,
    };
    sign_in(rng, t, time, &u, &u.home_ip, &u.city, &u.country, u.latitude, u.longitude, error)
}

/// A Graph Intune auditEvent record.
pub(super) fn intune_event(
    rng: &mut StdRng,
    _t: &Tenant,
    time: DateTime<Utc>,
    activity: &str,
    operation: &str,
    category: &str,
    actor: &Person,
    resource: &str,
    resource_type: &str,
) -> (String, Value) {
    let id = guid(rng);
    let v = json!({
        "@odata.type": "#microsoft.graph.auditEvent", "id": id, "displayName": activity, "componentName": category,
        "actor": {"type": "ItPro", "auditActorType": "ItPro", "userPermissions": ["*"], "applicationId": "5b3e0f1a-0000-4000-8000-000000000001",
                  "applicationDisplayName": "Microsoft Intune portal extension", "userPrincipalName": actor.upn, "servicePrincipalName": null, "ipAddress": actor.home_ip, "userId": actor.object_id},
        "activity": activity, "activityDateTime": graph_time(time), "activityType": activity, "activityOperationType": operation, "activityResult": "Success",
        "correlationId": guid(rng),
        "resources": [{"displayName": resource, "type": resource_type, "auditResourceType": resource_type, "resourceId": guid(rng), "modifiedProperties": []}],
        "category": category
    });
    (id, v)
}

fn intune(rng: &mut StdRng, t: &Tenant, time: DateTime<Utc>) -> (String, Value) {
    let admin = pick(rng, &t.admins);
    let device = t.devices.choose(rng).expect("devices").display_name.clone();
    match rng.random_range(0..100) {
        0..=59 => intune_event(
            rng,
            t,
            time,
            "Patch DeviceConfiguration",
            "Patch",
            "DeviceConfiguration",
            admin,
            "Win11 baseline",
            "DeviceConfiguration",
        ),
        60..=84 => intune_event(
            rng,
            t,
            time,
            "Create MobileApp",
            "Create",
            "Application",
            admin,
            "Company Portal",
            "MobileApp",
        ),
        85..=96 => {
            intune_event(rng, t, time, "syncDevice ManagedDevice", "Action", "Device", admin, &device, "ManagedDevice")
        }
        _ => intune_event(rng, t, time, "retire ManagedDevice", "Action", "Device", admin, &device, "ManagedDevice"),
    }
}

pub(super) fn records_for_hour(
    config: &ActivityConfig,
    tenant: &Tenant,
    feed: Feed,
    hour_start: DateTime<Utc>,
) -> Vec<Record> {
    let mut rng = StdRng::seed_from_u64(hour_seed(config, tenant, feed, hour_start));
    let expected = f64::from(config.events_per_day) * feed.share() * rhythm(hour_start) / 24.0;
    // A little Poisson-like spread around the expected count.
    let spread = expected.sqrt() * (rng.random::<f64>() * 2.0 - 1.0);
    let count = (expected + spread).max(0.0);
    let count = count.floor() as usize + usize::from(rng.random::<f64>() < count.fract());
    let mut out = Vec::with_capacity(count + 8);
    for _ in 0..count {
        let time = hour_start + Duration::seconds(rng.random_range(0..3600));
        let (id, value) = match feed {
            Feed::AuditExchange => exchange(&mut rng, tenant, time),
            Feed::AuditSharePoint => sharepoint(&mut rng, tenant, time),
            Feed::AuditAzureActiveDirectory => aad(&mut rng, tenant, time),
            Feed::AuditGeneral => general(&mut rng, tenant, time),
            Feed::DlpAll => dlp(&mut rng, tenant, time),
            Feed::DirectoryAudits => directory(&mut rng, tenant, time),
            Feed::SignIns => signin(&mut rng, tenant, time),
            Feed::IntuneAuditEvents => intune(&mut rng, tenant, time),
        };
        out.push(to_record(id, time, value));
    }
    if config.scenarios {
        out.extend(scenarios::records_for_hour(config, tenant, feed, hour_start));
    }
    out.sort_by(|a, b| (a.time, &a.id).cmp(&(b.time, &b.id)));
    out
}

pub(super) fn to_record(id: String, time: DateTime<Utc>, value: Value) -> Record {
    Record { id, time, json: value.to_string() }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use chrono::TimeZone;

    use super::*;
    use crate::simulator::activity::build_tenant;

    fn config() -> ActivityConfig {
        ActivityConfig { seed: 21, events_per_day: 2_000, scenarios: true }
    }

    fn week(feed: Feed) -> Vec<Record> {
        let tenant = build_tenant(21, 0);
        let start = Utc.with_ymd_and_hms(2026, 11, 16, 0, 0, 0).unwrap();
        (0..24 * 7).flat_map(|h| records_for_hour(&config(), &tenant, feed, start + Duration::hours(h))).collect()
    }

    #[test]
    fn the_same_inputs_give_the_same_records() {
        let tenant = build_tenant(21, 0);
        let hour = Utc.with_ymd_and_hms(2026, 11, 18, 10, 0, 0).unwrap();
        for feed in Feed::ALL {
            assert_eq!(
                records_for_hour(&config(), &tenant, feed, hour),
                records_for_hour(&config(), &tenant, feed, hour)
            );
        }
    }

    #[test]
    fn records_fall_inside_their_hour_and_ids_are_unique_over_a_week() {
        let tenant = build_tenant(21, 0);
        let start = Utc.with_ymd_and_hms(2026, 11, 16, 0, 0, 0).unwrap();
        for feed in Feed::ALL {
            let mut ids = HashSet::new();
            for h in 0..24 * 7 {
                let hour = start + Duration::hours(h);
                for r in records_for_hour(&config(), &tenant, feed, hour) {
                    assert!(r.time >= hour && r.time < hour + Duration::hours(1), "{feed:?}");
                    assert!(ids.insert(r.id.clone()), "{feed:?} repeats {}", r.id);
                    let v: Value = serde_json::from_str(&r.json).unwrap();
                    let (id_field, time_field) = match feed {
                        Feed::DirectoryAudits | Feed::IntuneAuditEvents => ("id", "activityDateTime"),
                        Feed::SignIns => ("id", "createdDateTime"),
                        _ => ("Id", "CreationTime"),
                    };
                    assert_eq!(v[id_field], json!(r.id));
                    assert!(v[time_field].is_string(), "{feed:?} {}", r.json);
                }
            }
        }
    }

    #[test]
    fn ual_directory_operations_end_with_a_dot_and_quirks_occur() {
        let aad = week(Feed::AuditAzureActiveDirectory);
        let directory_ops: Vec<String> = aad
            .iter()
            .map(|r| serde_json::from_str::<Value>(&r.json).unwrap())
            .filter(|v| v["RecordType"] == json!(8) || v["RecordType"] == json!("8"))
            .map(|v| v["Operation"].as_str().unwrap().to_string())
            .collect();
        assert!(!directory_ops.is_empty());
        assert!(directory_ops.iter().all(|op| op.ends_with('.')), "{directory_ops:?}");
        let all: Vec<Value> =
            week(Feed::AuditExchange).iter().map(|r| serde_json::from_str(&r.json).unwrap()).collect();
        assert!(all.iter().any(|v| v["RecordType"].is_string()), "RecordType sometimes arrives as a string");
        assert!(
            all.iter().any(|v| v["ClientIP"].as_str().is_some_and(|ip| ip.starts_with('['))),
            "bracketed IPv6 with a port"
        );
        assert!(all.iter().any(|v| v["Parameters"].is_string()), "Parameters sometimes arrive as a JSON string");
    }

    #[test]
    fn a_role_assignment_scenario_appears_in_both_shapes_in_the_same_hour() {
        let directory = week(Feed::DirectoryAudits);
        let ual = week(Feed::AuditAzureActiveDirectory);
        let graph_ga: Vec<&Record> =
            directory.iter().filter(|r| r.json.contains("62e90394-69f5-4237-9190-012177145e10")).collect();
        assert!(!graph_ga.is_empty(), "the scenario happens during the week");
        for g in graph_ga {
            let hour = g.time.timestamp() / 3600;
            assert!(
                ual.iter().any(|u| u.json.contains("Add member to role.")
                    && u.json.contains("Global Administrator")
                    && u.time.timestamp() / 3600 == hour),
                "the UAL shape of the same assignment"
            );
        }
    }

    #[test]
    fn working_hours_are_busier_than_sunday_nights() {
        let tenant = build_tenant(21, 0);
        let monday_10 = Utc.with_ymd_and_hms(2026, 11, 16, 10, 0, 0).unwrap();
        let sunday_3 = Utc.with_ymd_and_hms(2026, 11, 22, 3, 0, 0).unwrap();
        let count =
            |hour| Feed::ALL.iter().map(|f| records_for_hour(&config(), &tenant, *f, hour).len()).sum::<usize>();
        assert!(count(monday_10) > 2 * count(sunday_3), "{} vs {}", count(monday_10), count(sunday_3));
    }
}
