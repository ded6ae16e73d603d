//! Attack scenarios woven into normal activity: on each day a few scenarios happen at a chosen
//! hour, and each emits its records into every feed that would carry them, consistently (same
//! actor, target, IP and time), as in the detection reference (detections.md §4).

use chrono::{DateTime, Duration, Timelike, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use super::records::{directory_audit, hour_seed, intune_event, sign_in, to_record, ual};
use super::tenant::Tenant;
use super::{ActivityConfig, Feed, Record};

const SCENARIOS: usize = 7;

/// The records `feed` carries for the scenarios of the hour starting at `hour`.
pub(super) fn records_for_hour(config: &ActivityConfig, t: &Tenant, feed: Feed, hour: DateTime<Utc>) -> Vec<Record> {
    let day = hour.timestamp().div_euclid(86_400);
    let mut out = Vec::new();
    for scenario in 0..SCENARIOS {
        // Whether and when a scenario happens depends on the day only, so every feed agrees.
        let seed = hour_seed(
            config,
            t,
            Feed::AuditGeneral,
            DateTime::from_timestamp(day * 86_400 + scenario as i64, 0).unwrap_or(hour),
        );
        let mut rng = StdRng::seed_from_u64(seed);
        // Each scenario happens on about half of the days, at a working hour.
        if !rng.random_bool(0.5) || hour.hour() != rng.random_range(9..18) {
            continue;
        }
        let time = hour + Duration::seconds(rng.random_range(0..3000));
        let admin = rng.random_range(0..t.admins.len());
        let victim = rng.random_range(0..t.users.len());
        // Ids differ per feed, as Microsoft's do.
        let mut ids = StdRng::seed_from_u64(seed ^ hour_seed(config, t, feed, hour));
        emit(scenario, &mut ids, t, feed, time, admin, victim, &mut out);
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn emit(
    scenario: usize,
    rng: &mut StdRng,
    t: &Tenant,
    feed: Feed,
    time: DateTime<Utc>,
    admin: usize,
    victim: usize,
    out: &mut Vec<Record>,
) {
    let attacker_ip = t.attacker_ip.clone();
    let admin = t.admins[admin].clone();
    let victim = t.users[victim].clone();
    let evil = format!("exfil@{}", t.attacker_domain);
    match (scenario, feed) {
        // User added to Global Administrator: both shapes.
        (0, Feed::DirectoryAudits) => {
            let (id, v) = directory_audit(
                rng,
                t,
                time,
                "Add member to role",
                "RoleManagement",
                "Assign",
                &admin,
                &victim,
                json!([
                    {"displayName": "Role.DisplayName", "oldValue": null, "newValue": "\"Global Administrator\""},
                    {"displayName": "Role.TemplateId", "oldValue": null, "newValue": "\"62e90394-69f5-4237-9190-012177145e10\""}
                ]),
            );
            out.push(to_record(id, time, v));
        }
        (0, Feed::AuditAzureActiveDirectory) => {
            let (id, mut v) = ual(
                rng,
                t,
                time,
                "Add member to role.",
                8,
                "AzureActiveDirectory",
                &admin,
                &admin.home_ip,
                &victim.upn,
                "Success",
            );
            v["AzureActiveDirectoryEventType"] = json!(1);
            v["ModifiedProperties"] = json!([
                {"Name": "Role.DisplayName", "NewValue": "Global Administrator", "OldValue": ""},
                {"Name": "Role.TemplateId", "NewValue": "62e90394-69f5-4237-9190-012177145e10", "OldValue": ""}
            ]);
            v["Target"] =
                json!([{"ID": format!("User_{}", victim.object_id), "Type": 2}, {"ID": victim.upn, "Type": 5}]);
            out.push(to_record(id, time, v));
        }
        // Inbox rule forwarding outside and deleting.
        (1, Feed::AuditExchange) => {
            let (id, mut v) = ual(
                rng,
                t,
                time,
                "New-InboxRule",
                1,
                "Exchange",
                &victim,
                &attacker_ip,
                &format!("{}\\..", victim.upn),
                "True",
            );
            v["Parameters"] = json!([{"Name": "Name", "Value": ".."}, {"Name": "ForwardTo", "Value": evil}, {"Name": "DeleteMessage", "Value": "True"}, {"Name": "StopProcessingRules", "Value": "True"}]);
            out.push(to_record(id, time, v));
        }
        // Mailbox forwarding outside without keeping a copy.
        (2, Feed::AuditExchange) => {
            let (id, mut v) =
                ual(rng, t, time, "Set-Mailbox", 1, "Exchange", &admin, &attacker_ip, &victim.upn, "True");
            v["Parameters"] = json!([{"Name": "Identity", "Value": victim.upn}, {"Name": "ForwardingSmtpAddress", "Value": format!("smtp:{evil}")}, {"Name": "DeliverToMailboxAndForward", "Value": "False"}]);
            out.push(to_record(id, time, v));
        }
        // Password spray: failures across many users from one IP, then one success.
        (3, Feed::SignIns) => {
            for (i, u) in t.users.iter().take(15).enumerate() {
                let at = time + Duration::seconds(i as i64 * 20);
                let error = if i == 14 { 0 } else { 50126 };
                let (id, v) = sign_in(rng, t, at, u, &attacker_ip, "Unknown", "RU", 55.75, 37.62, error);
                out.push(to_record(id, at, v));
            }
        }
        (3, Feed::AuditAzureActiveDirectory) => {
            for (i, u) in t.users.iter().take(15).enumerate() {
                let at = time + Duration::seconds(i as i64 * 20);
                let op = if i == 14 { "UserLoggedIn" } else { "UserLoginFailed" };
                let (id, mut v) = ual(
                    rng,
                    t,
                    at,
                    op,
                    15,
                    "AzureActiveDirectory",
                    u,
                    &attacker_ip,
                    "00000003-0000-0000-c000-000000000000",
                    "Success",
                );
                v["ErrorCode"] = json!(if i == 14 { "0" } else { "50126" });
                if i != 14 {
                    v["LogonError"] = json!("InvalidUserNameOrPassword");
                }
                out.push(to_record(id, at, v));
            }
        }
        // Anonymous sharing link.
        (4, Feed::AuditSharePoint) => {
            let object = format!(
                "https://{}.sharepoint.com/sites/finance/Shared Documents/Payroll.xlsx",
                t.domain.split('.').next().unwrap_or("tenant")
            );
            let (id, mut v) = ual(
                rng,
                t,
                time,
                "AnonymousLinkCreated",
                14,
                "SharePoint",
                &victim,
                &attacker_ip,
                &object,
                "Succeeded",
            );
            v["ItemType"] = json!("File");
            v["EventSource"] = json!("SharePoint");
            v["SourceFileName"] = json!("Payroll.xlsx");
            out.push(to_record(id, time, v));
        }
        // Intune bulk wipe.
        (5, Feed::IntuneAuditEvents) => {
            for (i, d) in t.devices.iter().take(6).enumerate() {
                let at = time + Duration::seconds(i as i64 * 30);
                let (id, v) = intune_event(
                    rng,
                    t,
                    at,
                    "wipe ManagedDevice",
                    "Action",
                    "Device",
                    &admin,
                    &d.display_name,
                    "ManagedDevice",
                );
                out.push(to_record(id, at, v));
            }
        }
        // MFA disabled for a user.
        (6, Feed::DirectoryAudits) => {
            let (id, v) = directory_audit(
                rng,
                t,
                time,
                "Disable Strong Authentication",
                "UserManagement",
                "Update",
                &admin,
                &victim,
                json!([
                    {"displayName": "StrongAuthenticationRequirement", "oldValue": "[{\"RelyingParty\":\"*\",\"State\":1}]", "newValue": "[]"}
                ]),
            );
            out.push(to_record(id, time, v));
        }
        (6, Feed::AuditAzureActiveDirectory) => {
            let (id, mut v) = ual(
                rng,
                t,
                time,
                "Disable Strong Authentication.",
                8,
                "AzureActiveDirectory",
                &admin,
                &admin.home_ip,
                &victim.upn,
                "Success",
            );
            v["ModifiedProperties"] = json!([{"Name": "StrongAuthenticationRequirement", "NewValue": "[]", "OldValue": "[{\"RelyingParty\":\"*\",\"State\":1}]"}]);
            out.push(to_record(id, time, v));
        }
        _ => {}
    }
}
