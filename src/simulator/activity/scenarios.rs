//! Attack scenarios woven into normal activity (`reference/detections.md` §4): on each day a few
//! scenarios happen, each at its own hour, and each emits its records into every feed that would
//! carry them, consistently — the same actor, target, address, correlation id and moment — so an
//! Entra role assignment is in `DirectoryAudits` as "Add member to role" and in
//! `AuditAzureActiveDirectory` as "Add member to role.", in the same second.
//!
//! Which scenarios happen on a day rotates through the catalogue (five positions a day, four to
//! six scenarios), so any seven consecutive days contain every scenario at least once. About a
//! third of the occurrences of scenarios that have one are near misses instead: forwarding to a
//! colleague, a reader role, a download burst below the threshold, a service account granting
//! mailbox access.
//!
//! Scenario records come on top of the hour's normal count. Values shared between feeds are
//! drawn from a generator seeded by the scenario only; ids and irregularities from one seeded by
//! the scenario and the feed, so every feed's records differ in id as Microsoft's do.

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use serde_json::json;

use super::records::{
    alert, ca_policy_json, consent_changes, device_action, directory_audit, dlp_mail, exchange_cmdlet, intune_event,
    mail_delete, mail_items_accessed, mail_send, mailbox_identity, nv, pick, role_changes, sharepoint_env,
    sharepoint_event, sign_in, sts_logon, ual_directory, At, Change, DirChange, DlpMatch, Empty, Env, Ident, Initiator,
    IntuneActor, Key, Logon, Mailbox, Member, Out, Risk, Sharing, SpTarget, Target, TeamsFields, Where, AGENTS,
    DLP_POLICIES, EXCHANGE_ONLINE, EXCHANGE_SYSTEM, GLOBAL_ADMINISTRATOR, HIDDEN_RISK, NO_RISK, OFFICE, READER_ROLES,
    TOOL_AGENT,
};
use super::tenant::{fnv, stable_seed, Guid, Person, Tenant};
use super::{ActivityConfig, Feed};

/// The scenarios, with their numbers in detections.md §4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Kind {
    /// #1: inbox rule forwarding outside and deleting (near miss: forwarding to a colleague).
    InboxForwardRule,
    /// #3: mailbox forwarding outside without a copy (near miss: internal, with a copy).
    MailboxForwarding,
    /// #6: FullAccess to someone else's mailbox, then reading it (near miss: service account).
    FullAccessGrant,
    /// #10: unified audit log ingestion turned off.
    AuditIngestionDisabled,
    /// #17: user added to Global Administrator (near miss: a reader role).
    GlobalAdminAdded,
    /// #19: per-user MFA disabled.
    MfaDisabled,
    /// #21: conditional access policy disabled.
    ConditionalAccessDisabled,
    /// #24: user consent to an application with mail and file scopes, which then reads mail.
    RiskyConsent,
    /// #23: credentials added to a service principal.
    ServicePrincipalCredential,
    /// #36: password spray from one foreign address, then one success.
    PasswordSpray,
    /// #38: two successful sign-ins from distant countries within the hour.
    ImpossibleTravel,
    /// #44: anonymous link to a sensitive file, used from elsewhere (near miss: internal share).
    AnonymousLink,
    /// #46: burst of downloads (near miss: below the threshold).
    MassDownload,
    /// #47: burst of deletions in SharePoint and Exchange (near miss: below the threshold).
    MassDeletion,
    /// #50: eDiscovery search over all locations, exported and downloaded.
    EDiscoveryExport,
    /// #51: DLP match on card numbers mailed outside (near miss: internal, low severity).
    DlpExternal,
    /// #52/#53: guest access turned on and an outside "helpdesk" added to a team (near miss: a
    /// colleague added).
    TeamsGuestAdded,
    /// #54: bulk Intune wipe (near miss: four wipes, below the threshold of five).
    IntuneBulkWipe,
}

impl Kind {
    /// Every scenario, in rotation order.
    pub(super) const ALL: [Kind; 18] = [
        Kind::InboxForwardRule,
        Kind::GlobalAdminAdded,
        Kind::PasswordSpray,
        Kind::MassDownload,
        Kind::MailboxForwarding,
        Kind::MfaDisabled,
        Kind::AnonymousLink,
        Kind::IntuneBulkWipe,
        Kind::FullAccessGrant,
        Kind::ConditionalAccessDisabled,
        Kind::ImpossibleTravel,
        Kind::DlpExternal,
        Kind::AuditIngestionDisabled,
        Kind::RiskyConsent,
        Kind::MassDeletion,
        Kind::TeamsGuestAdded,
        Kind::ServicePrincipalCredential,
        Kind::EDiscoveryExport,
    ];

    fn has_near_miss(self) -> bool {
        matches!(
            self,
            Kind::InboxForwardRule
                | Kind::MailboxForwarding
                | Kind::FullAccessGrant
                | Kind::GlobalAdminAdded
                | Kind::AnonymousLink
                | Kind::MassDownload
                | Kind::MassDeletion
                | Kind::DlpExternal
                | Kind::TeamsGuestAdded
                | Kind::IntuneBulkWipe
        )
    }
}

/// One scenario occurrence.
#[derive(Clone, Copy, Debug)]
pub(super) struct Planned {
    pub kind: Kind,
    /// The hour it happens in.
    pub hour: DateTime<Utc>,
    pub near_miss: bool,
    seed: u64,
}

/// The scenarios of tenant `t` on day `day` (days since the Unix epoch, UTC).
pub(super) fn plan_day(config: &ActivityConfig, t: &Tenant, day: i64) -> Vec<Planned> {
    let mut rng = StdRng::seed_from_u64(stable_seed(&[config.seed, t.index as u64, fnv("scenarios"), day as u64]));
    let count = rng.random_range(4..=6);
    let n = Kind::ALL.len() as i64;
    // Five positions a day: seven consecutive days visit every residue with windows of four.
    let first = (day * 5 + t.index as i64 * 7).rem_euclid(n) as usize;
    (0..count)
        .map(|j| {
            let kind = Kind::ALL[(first + j) % Kind::ALL.len()];
            // Half happen in working hours, half whenever the attacker likes.
            let hour_of_day = if rng.random_bool(0.5) { rng.random_range(8..18) } else { rng.random_range(0..24) };
            let hour = DateTime::from_timestamp(day * 86_400 + hour_of_day * 3_600, 0)
                .expect("an hour of a day near the present is a valid time");
            let near_miss = kind.has_near_miss() && rng.random_range(0..100) < 30;
            Planned { kind, hour, near_miss, seed: rng.random() }
        })
        .collect()
}

/// The first occurrence of the scenario named `name` (a [`Kind`] name such as
/// `InboxForwardRule`), as a positive or a near miss, in the days from `from_day` on.
pub(super) fn find_occurrence(
    config: &ActivityConfig,
    t: &Tenant,
    name: &str,
    near_miss: bool,
    from_day: i64,
) -> Option<Planned> {
    let kind = Kind::ALL.into_iter().find(|k| format!("{k:?}") == name)?;
    (0..120).flat_map(|d| plan_day(config, t, from_day + d)).find(|p| p.kind == kind && p.near_miss == near_miss)
}

/// The names of every scenario.
pub(super) fn names() -> Vec<String> {
    Kind::ALL.iter().map(|k| format!("{k:?}")).collect()
}

/// Adds to `out` the records `feed` carries for the scenarios of its hour.
pub(super) fn emit_hour(config: &ActivityConfig, out: &mut Out<'_>, feed: Feed) {
    let start = out.clock.start();
    let day = start.timestamp().div_euclid(86_400);
    for plan in plan_day(config, out.t, day) {
        if plan.hour != start {
            continue;
        }
        emit_one(plan, out, feed);
    }
}

/// Adds to `out` the records `feed` carries for one scenario occurrence.
pub(super) fn emit_one(plan: Planned, out: &mut Out<'_>, feed: Feed) {
    {
        let mut shared = StdRng::seed_from_u64(plan.seed);
        let mut render = StdRng::seed_from_u64(stable_seed(&[plan.seed, fnv(feed.key())]));
        let mut s = Scene { s: &mut shared, r: &mut render, feed, near: plan.near_miss };
        match plan.kind {
            Kind::InboxForwardRule => inbox_forward_rule(&mut s, out),
            Kind::MailboxForwarding => mailbox_forwarding(&mut s, out),
            Kind::FullAccessGrant => full_access_grant(&mut s, out),
            Kind::AuditIngestionDisabled => audit_ingestion_disabled(&mut s, out),
            Kind::GlobalAdminAdded => global_admin_added(&mut s, out),
            Kind::MfaDisabled => mfa_disabled(&mut s, out),
            Kind::ConditionalAccessDisabled => conditional_access_disabled(&mut s, out),
            Kind::RiskyConsent => risky_consent(&mut s, out),
            Kind::ServicePrincipalCredential => service_principal_credential(&mut s, out),
            Kind::PasswordSpray => password_spray(&mut s, out),
            Kind::ImpossibleTravel => impossible_travel(&mut s, out),
            Kind::AnonymousLink => anonymous_link(&mut s, out),
            Kind::MassDownload => mass_download(&mut s, out),
            Kind::MassDeletion => mass_deletion(&mut s, out),
            Kind::EDiscoveryExport => ediscovery_export(&mut s, out),
            Kind::DlpExternal => dlp_external(&mut s, out),
            Kind::TeamsGuestAdded => teams_guest_added(&mut s, out),
            Kind::IntuneBulkWipe => intune_bulk_wipe(&mut s, out),
        }
    }
}

/// The generators of one scenario occurrence in one feed. Everything every feed must agree on is
/// drawn from `s` before looking at `feed`; only `r` is used to write records.
struct Scene<'g> {
    s: &'g mut StdRng,
    r: &'g mut StdRng,
    feed: Feed,
    near: bool,
}

/// Risk as Identity Protection reports the attacker's successful sign-ins.
fn attacker_risk(t: &Tenant, events: &'static [&'static str]) -> Risk {
    if t.premium {
        Risk { during: "medium", aggregated: "high", state: "atRisk", detail: "none", events }
    } else {
        HIDDEN_RISK
    }
}

/// A sign-in by `user` from an address and place that are not theirs.
fn foreign_logon<'a>(
    s: &mut StdRng,
    t: &'a Tenant,
    user: &'a Person,
    at: At,
    ip: &'a str,
    place: Where<'a>,
    error: u32,
) -> Logon<'a> {
    Logon {
        user,
        at,
        ip,
        place,
        app: OFFICE,
        resource: EXCHANGE_ONLINE,
        client: "Mobile Apps and Desktop clients",
        error,
        device: None,
        agent: AGENTS[1],
        correlation: Guid::random(s),
        risk: if error != 0 {
            if t.premium {
                NO_RISK
            } else {
                HIDDEN_RISK
            }
        } else {
            attacker_risk(t, &["unfamiliarFeatures"])
        },
        interactive: true,
    }
}

/// Writes `logons` into the sign-in feeds.
fn emit_logons(scene: &mut Scene<'_>, out: &mut Out<'_>, logons: &[Logon<'_>]) {
    for logon in logons {
        match scene.feed {
            Feed::SignIns => sign_in(scene.r, out, logon),
            Feed::AuditAzureActiveDirectory => sts_logon(scene.r, out, logon),
            _ => {}
        }
    }
}

/// Writes a directory change into both of its feeds.
fn emit_change(scene: &mut Scene<'_>, out: &mut Out<'_>, at: At, change: &DirChange<'_>) {
    match scene.feed {
        Feed::DirectoryAudits => directory_audit(scene.r, out, at, change),
        Feed::AuditAzureActiveDirectory => ual_directory(scene.r, out, at, change),
        _ => {}
    }
}

/// An Exchange cmdlet run by `actor` from `ip`.
fn admin_env<'a>(r: &mut StdRng, actor: &'a Person, ip: &'a str, op: &'a str, object: &'a str) -> Env<'a> {
    let mut env = if ip == actor.home_ip {
        Env::person(r, actor, op, 1, "Exchange")
    } else {
        Env::person_at(r, actor, ip, op, 1, "Exchange")
    };
    env.user_type = 2;
    env.result = Some("True");
    env.object = Some(object);
    env
}

fn inbox_forward_rule(scene: &mut Scene<'_>, out: &mut Out<'_>) {
    let t = out.t;
    let s = &mut *scene.s;
    let victim = pick(s, &t.users);
    let colleague = pick(s, &t.users);
    let login_at = At::between(s, 0, 2_400);
    let delay = s.random_range(60..600);
    let rule_at = login_at.later(s, delay);
    let alert_at = rule_at.later(s, 240);
    let rule = *pick(s, &[".", "..", "Clean up", "RSS Sync"]);
    let logon = foreign_logon(s, t, victim, login_at, &t.attacker_ip, Where::from(t.attacker_places[0]), 0);
    let (ip, target) = if scene.near {
        (victim.home_ip.as_str(), colleague.mail.clone())
    } else {
        (t.attacker_ip.as_str(), format!("{}@{}", victim.alias, t.attacker_domain))
    };
    match scene.feed {
        Feed::SignIns | Feed::AuditAzureActiveDirectory if !scene.near => emit_logons(scene, out, &[logon]),
        Feed::AuditExchange => {
            let r = &mut *scene.r;
            let object = format!("{}\\{rule}", victim.alias);
            let mut env = admin_env(r, victim, ip, "New-InboxRule", &object);
            env.user_type = 0;
            let params = if scene.near {
                vec![
                    nv("Name", "Forward to assistant"),
                    nv("ForwardTo", target.as_str()),
                    nv("StopProcessingRules", "False"),
                ]
            } else {
                vec![
                    nv("Name", rule),
                    nv("ForwardTo", target.as_str()),
                    nv("DeleteMessage", "True"),
                    nv("MarkAsRead", "True"),
                    nv("StopProcessingRules", "True"),
                    nv("SubjectOrBodyContainsWords", "invoice;payment;wire"),
                ]
            };
            exchange_cmdlet(r, out, rule_at, &env, None, &params);
        }
        Feed::AuditGeneral if !scene.near => {
            alert(scene.r, out, alert_at, "Suspicious email forwarding activity", "High", victim);
        }
        _ => {}
    }
}

fn mailbox_forwarding(scene: &mut Scene<'_>, out: &mut Out<'_>) {
    let t = out.t;
    let s = &mut *scene.s;
    let admin = pick(s, &t.admins);
    let victim = pick(s, &t.users);
    let colleague = pick(s, &t.users);
    let at = At::random(s);
    if scene.feed != Feed::AuditExchange {
        return;
    }
    let r = &mut *scene.r;
    let identity = mailbox_identity(t, victim);
    let (ip, address, keep) = if scene.near {
        (admin.home_ip.as_str(), format!("smtp:{}", colleague.mail), "True")
    } else {
        (t.attacker_ip.as_str(), format!("smtp:{}@{}", victim.alias, t.attacker_domain), "False")
    };
    let env = admin_env(r, admin, ip, "Set-Mailbox", &identity);
    let params = [
        nv("Identity", victim.alias.as_str()),
        nv("ForwardingSmtpAddress", address),
        nv("DeliverToMailboxAndForward", keep),
    ];
    exchange_cmdlet(r, out, at, &env, Some(&victim.display_name), &params);
}

fn full_access_grant(scene: &mut Scene<'_>, out: &mut Out<'_>) {
    let t = out.t;
    let s = &mut *scene.s;
    let admin = pick(s, &t.admins);
    let victim = pick(s, &t.users);
    let grantee = pick(s, &t.users);
    let at = At::between(s, 0, 2_400);
    let read_at = at.later(s, 600);
    if scene.feed != Feed::AuditExchange {
        return;
    }
    let r = &mut *scene.r;
    let identity = mailbox_identity(t, victim);
    let params = [
        nv("Identity", victim.alias.as_str()),
        nv("User", grantee.upn.as_str()),
        nv("AccessRights", "FullAccess"),
        nv("InheritanceType", "All"),
        nv("AutoMapping", "False"),
    ];
    if scene.near {
        let mut env = Env::system(EXCHANGE_SYSTEM, "Add-MailboxPermission", 1, "Exchange");
        env.result = Some("True");
        env.object = Some(&identity);
        exchange_cmdlet(r, out, at, &env, Some(&victim.display_name), &params);
        return;
    }
    let env = admin_env(r, admin, &t.attacker_ip, "Add-MailboxPermission", &identity);
    exchange_cmdlet(r, out, at, &env, Some(&victim.display_name), &params);
    // The grantee then reads the victim's mailbox.
    let mailbox = Mailbox {
        actor: grantee,
        owner: victim,
        ip: &t.attacker_ip,
        client: ("Client=OWA;Action=ViaProxy", EXCHANGE_ONLINE.id),
    };
    mail_items_accessed(r, out, read_at, &mailbox, 150);
}

fn audit_ingestion_disabled(scene: &mut Scene<'_>, out: &mut Out<'_>) {
    let t = out.t;
    let s = &mut *scene.s;
    let admin = pick(s, &t.admins);
    let at = At::random(s);
    if scene.feed != Feed::AuditExchange {
        return;
    }
    let r = &mut *scene.r;
    let env = admin_env(r, admin, &t.attacker_ip, "Set-AdminAuditLogConfig", "Admin Audit Log Settings");
    let params = [nv("Identity", "Admin Audit Log Settings"), nv("UnifiedAuditLogIngestionEnabled", "False")];
    exchange_cmdlet(r, out, at, &env, None, &params);
}

fn global_admin_added(scene: &mut Scene<'_>, out: &mut Out<'_>) {
    let t = out.t;
    let s = &mut *scene.s;
    let admin = pick(s, &t.admins);
    let victim = pick(s, &t.users);
    let at = At::random(s);
    let role = if scene.near { *pick(s, READER_ROLES) } else { GLOBAL_ADMINISTRATOR };
    let ip = if scene.near { &admin.home_ip } else { &t.attacker_ip };
    let mut change = DirChange::new(
        s,
        "Add member to role",
        "RoleManagement",
        "Assign",
        Initiator::User(admin, ip),
        Target::User(victim),
    );
    change.changes = role_changes(t, &role);
    emit_change(scene, out, at, &change);
}

fn mfa_disabled(scene: &mut Scene<'_>, out: &mut Out<'_>) {
    let t = out.t;
    let s = &mut *scene.s;
    let admin = pick(s, &t.admins);
    let victim = pick(s, &t.users);
    let at = At::random(s);
    let per_user = s.random_bool(0.5);
    let by = Initiator::User(admin, &t.attacker_ip);
    let mut change = if per_user {
        let mut c =
            DirChange::new(s, "Disable Strong Authentication", "UserManagement", "Update", by, Target::User(victim));
        c.changes.push(Change::json(
            "StrongAuthenticationRequirement",
            "[{\"RelyingParty\":\"*\",\"State\":1,\"RememberDevicesNotIssuedBefore\":\"2026-01-10T09:00:00Z\"}]",
            "[]",
        ));
        c
    } else {
        let mut c = DirChange::new(s, "Update user", "UserManagement", "Update", by, Target::User(victim));
        c.changes.push(Change::json(
            "StrongAuthenticationMethod",
            "[{\"MethodType\":6,\"Default\":true},{\"MethodType\":7,\"Default\":false}]",
            "[]",
        ));
        c
    };
    change.included = true;
    emit_change(scene, out, at, &change);
}

fn conditional_access_disabled(scene: &mut Scene<'_>, out: &mut Out<'_>) {
    let t = out.t;
    let s = &mut *scene.s;
    let admin = pick(s, &t.admins);
    let at = At::random(s);
    let policy = &t.policies[2];
    let target = Target::Other { id: Ident::Guid(policy.id), name: policy.name, kind: "Policy" };
    let mut change = DirChange::new(
        s,
        "Update conditional access policy",
        "Policy",
        "Update",
        Initiator::User(admin, &t.attacker_ip),
        target,
    );
    change.service = "Conditional Access";
    change.changes.push(Change::json(
        "ConditionalAccessPolicy",
        ca_policy_json(policy.id, policy.name, "enabled", &[]),
        ca_policy_json(policy.id, policy.name, "disabled", &[]),
    ));
    emit_change(scene, out, at, &change);
}

const RISKY_SCOPES: &str = "Mail.ReadWrite Mail.Send Files.ReadWrite.All offline_access User.Read";

fn risky_consent(scene: &mut Scene<'_>, out: &mut Out<'_>) {
    let t = out.t;
    let s = &mut *scene.s;
    let victim = pick(s, &t.users);
    let at = At::between(s, 0, 2_400);
    let read_at = at.later(s, 900);
    let app = &t.attacker_app;
    let by = Initiator::User(victim, &victim.home_ip);
    let mut consent =
        DirChange::new(s, "Consent to application", "ApplicationManagement", "Assign", by, Target::App(app));
    consent.changes = consent_changes(app, victim, RISKY_SCOPES, false);
    let mut grant =
        DirChange::new(s, "Add delegated permission grant", "ApplicationManagement", "Add", by, Target::App(app));
    grant.correlation = consent.correlation;
    grant.changes.push(Change::text("DelegatedPermissionGrant.Scope", None, RISKY_SCOPES));
    grant.changes.push(Change::text("DelegatedPermissionGrant.ConsentType", None, "Principal"));
    grant.changes.push(Change::text("ServicePrincipal.ObjectID", None, app.object_id.as_str()));
    emit_change(scene, out, at, &consent);
    emit_change(scene, out, at, &grant);
    if scene.feed == Feed::AuditExchange {
        // The application then reads the mailbox through Graph, from the attacker's address.
        let mailbox = Mailbox {
            actor: victim,
            owner: victim,
            ip: &t.attacker_ip2,
            client: ("Client=REST;Client=RESTSystem;;", app.app_id.as_str()),
        };
        mail_items_accessed(scene.r, out, read_at, &mailbox, 480);
    }
}

fn service_principal_credential(scene: &mut Scene<'_>, out: &mut Out<'_>) {
    let t = out.t;
    let s = &mut *scene.s;
    let admin = pick(s, &t.admins);
    let app = pick(s, &t.service_principals);
    let at = At::random(s);
    let key_id = Guid::random(s);
    let by = Initiator::User(admin, &t.attacker_ip);
    let mut change =
        DirChange::new(s, "Add service principal credentials", "ApplicationManagement", "Update", by, Target::App(app));
    change.changes.push(Change::json(
        "KeyDescription",
        "[]".to_string(),
        json!([format!("[KeyIdentifier={key_id},KeyType=Password,KeyUsage=Verify,DisplayName=backup-sync]")])
            .to_string(),
    ));
    change.changes.push(Change::text("TargetId.ServicePrincipalNames", None, app.app_id.as_str()));
    change.included = true;
    emit_change(scene, out, at, &change);
}

fn password_spray(scene: &mut Scene<'_>, out: &mut Out<'_>) {
    let t = out.t;
    let s = &mut *scene.s;
    let failures = s.random_range(15..=25).min(t.users.len() - 1);
    let victims = sample(s, t.users.len(), failures + 1);
    let mut at = At::between(s, 0, 3_600 - 25 * 45 - 60);
    let place = Where::from(t.attacker_places[0]);
    let mut logons = Vec::with_capacity(failures + 1);
    for (k, i) in victims.iter().enumerate() {
        let step = s.random_range(20..45);
        at = at.later(s, step);
        let error = if k == failures { 0 } else { 50126 };
        let mut logon = foreign_logon(s, t, &t.users[i], at, &t.attacker_ip, place, error);
        logon.agent = TOOL_AGENT;
        logons.push(logon);
    }
    emit_logons(scene, out, &logons);
}

fn impossible_travel(scene: &mut Scene<'_>, out: &mut Out<'_>) {
    let t = out.t;
    let s = &mut *scene.s;
    let user = pick(s, &t.users);
    let first = At::between(s, 0, 1_200);
    let gap = s.random_range(1_200..2_100);
    let second = first.later(s, gap);
    let mut home = Logon::usual(s, t, user, first);
    home.ip = &user.home_ip;
    let mut away = foreign_logon(s, t, user, second, &t.attacker_ip2, Where::from(t.attacker_places[1]), 0);
    away.risk = attacker_risk(t, &["unlikelyTravel"]);
    emit_logons(scene, out, &[home, away]);
}

fn anonymous_link(scene: &mut Scene<'_>, out: &mut Out<'_>) {
    let t = out.t;
    let s = &mut *scene.s;
    let victim = pick(s, &t.users);
    let colleague = pick(s, &t.users);
    let site = pick(s, &t.sites);
    let sensitive: Vec<_> = site.files.iter().filter(|f| f.sensitive).collect();
    let file = *pick(s, &sensitive);
    let at = At::between(s, 0, 3_000);
    let used_at = at.later(s, 300);
    let anonymous = format!("urn:spo:anon#{:016x}", s.random::<u64>());
    if scene.feed != Feed::AuditSharePoint {
        return;
    }
    let r = &mut *scene.r;
    let target = SpTarget::site_file(site, file);
    let agent = AGENTS[0].user_agent;
    if scene.near {
        let mut env = sharepoint_env(r, victim, None, "SharingInvitationCreated", 14, "SharePoint");
        env.object = Some(&file.url);
        let sharing = Sharing {
            target_user_or_group_name: Some(&colleague.upn),
            target_user_or_group_type: Some("Member"),
            event_data: "<Type>View</Type>",
            unique_sharing_id: Guid::random(r),
        };
        sharepoint_event(r, out, at, &env, &target, agent, sharing);
        return;
    }
    let mut env = sharepoint_env(r, victim, Some(&t.attacker_ip), "AnonymousLinkCreated", 14, "SharePoint");
    env.object = Some(&file.url);
    let sharing = Sharing {
        target_user_or_group_name: None,
        target_user_or_group_type: None,
        event_data: "<Type>Edit</Type><MembersCanShare>False</MembersCanShare>",
        unique_sharing_id: Guid::random(r),
    };
    sharepoint_event(r, out, at, &env, &target, agent, sharing);
    let mut env = sharepoint_env(r, victim, Some(&t.attacker_ip2), "AnonymousLinkUsed", 14, "SharePoint");
    env.user_id = &anonymous;
    env.user_key = Key::Plain(&anonymous);
    env.object = Some(&file.url);
    sharepoint_event(r, out, used_at, &env, &target, TOOL_AGENT.user_agent, Empty {});
}

fn mass_download(scene: &mut Scene<'_>, out: &mut Out<'_>) {
    let t = out.t;
    let s = &mut *scene.s;
    let victim = pick(s, &t.users);
    let site = pick(s, &t.sites);
    let count = if scene.near { 20 } else { s.random_range(30..=60) };
    let files = sample(s, site.files.len(), count);
    let start = At::between(s, 0, 3_000);
    let steps: Vec<u32> = (0..count).map(|_| s.random_range(2..9)).collect();
    if scene.feed != Feed::AuditSharePoint {
        return;
    }
    let r = &mut *scene.r;
    let (ip, agent) = if scene.near {
        (victim.home_ip.as_str(), AGENTS[0].user_agent)
    } else {
        (t.attacker_ip2.as_str(), "rclone/v1.68.1")
    };
    let mut at = start;
    for (i, step) in files.iter().zip(steps) {
        at = at.later(r, step);
        let file = &site.files[i];
        let mut env = sharepoint_env(r, victim, Some(ip), "FileDownloaded", 6, "SharePoint");
        env.object = Some(&file.url);
        sharepoint_event(r, out, at, &env, &SpTarget::site_file(site, file), agent, Empty {});
    }
}

fn mass_deletion(scene: &mut Scene<'_>, out: &mut Out<'_>) {
    let t = out.t;
    let s = &mut *scene.s;
    let victim = pick(s, &t.users);
    let count = if scene.near { 60 } else { s.random_range(110..=130) };
    let start = At::between(s, 0, 2_800);
    let ip: &str = if scene.near { &victim.home_ip } else { &t.attacker_ip };
    match scene.feed {
        Feed::AuditSharePoint => {
            let r = &mut *scene.r;
            let files = t.sites.iter().flat_map(|site| site.files.iter().map(move |f| (site, f))).take(count);
            let mut at = start;
            for (site, file) in files {
                let step = r.random_range(2..5);
                at = at.later(r, step);
                let mut env = sharepoint_env(r, victim, Some(ip), "FileDeleted", 6, "SharePoint");
                env.object = Some(&file.url);
                sharepoint_event(r, out, at, &env, &SpTarget::site_file(site, file), TOOL_AGENT.user_agent, Empty {});
            }
        }
        Feed::AuditExchange if !scene.near => {
            let r = &mut *scene.r;
            let mailbox = Mailbox {
                actor: victim,
                owner: victim,
                ip,
                client: ("Client=REST;Client=RESTSystem;;", EXCHANGE_ONLINE.id),
            };
            let mut at = start;
            for _ in 0..4 {
                at = at.later(r, 90);
                mail_delete(r, out, at, &mailbox, "HardDelete", 25);
            }
        }
        _ => {}
    }
}

fn ediscovery_export(scene: &mut Scene<'_>, out: &mut Out<'_>) {
    let t = out.t;
    let s = &mut *scene.s;
    let admin = pick(s, &t.admins);
    let start = At::between(s, 0, 1_800);
    let search = format!("Search {:04}", s.random_range(1..10_000));
    if scene.feed != Feed::AuditGeneral {
        return;
    }
    let r = &mut *scene.r;
    let steps: [(&str, i64, u32); 5] = [
        ("SearchCreated", 24, 0),
        ("SearchStarted", 24, 60),
        ("New-ComplianceSearchAction", 18, 600),
        ("SearchExported", 24, 660),
        ("SearchExportDownloaded", 24, 1_500),
    ];
    for (op, record_type, offset) in steps {
        let at = start.later(r, offset);
        let mut env = Env::person_at(r, admin, &t.attacker_ip, op, record_type, "SecurityComplianceCenter");
        env.user_type = 2;
        env.object = Some(&search);
        let extra = if record_type == 18 {
            env.result = Some("True");
            json!({"Parameters": [{"Name": "SearchName", "Value": search}, {"Name": "Export", "Value": "True"},
                                  {"Name": "Format", "Value": "FxStream"}, {"Name": "Scope", "Value": "IndexedItemsOnly"}],
                   "ClientApplication": "PowerShell"})
        } else {
            json!({"Case": "", "Query": "password OR confidential OR salary OR \"wire transfer\"",
                   "ExchangeLocations": ["All"], "SharePointLocations": ["All"], "PublicFolderLocations": [],
                   "ObjectType": "Search"})
        };
        out.ual(r, at, &env, extra);
    }
}

fn dlp_external(scene: &mut Scene<'_>, out: &mut Out<'_>) {
    let t = out.t;
    let s = &mut *scene.s;
    let victim = pick(s, &t.users);
    let colleague = pick(s, &t.users);
    let at = At::random(s);
    let drop_box = format!("drop@{}", t.attacker_domain);
    let to = if scene.near { colleague.mail.as_str() } else { drop_box.as_str() };
    let subject = "Customer card list";
    match scene.feed {
        Feed::DlpAll => {
            let m = if scene.near {
                DlpMatch { policy: &DLP_POLICIES[0], severity: "Low", count: 2, actions: &["NotifyUser"] }
            } else {
                DlpMatch {
                    policy: &DLP_POLICIES[0],
                    severity: "High",
                    count: 25,
                    actions: &["NotifyUser", "GenerateIncidentReport"],
                }
            };
            dlp_mail(scene.r, out, at, victim, &[to], subject, &m);
        }
        Feed::AuditExchange => {
            let mailbox = Mailbox::own(scene.r, victim);
            mail_send(scene.r, out, at, &mailbox, subject);
        }
        _ => {}
    }
}

fn teams_guest_added(scene: &mut Scene<'_>, out: &mut Out<'_>) {
    let t = out.t;
    let s = &mut *scene.s;
    let owner = pick(s, &t.users);
    let admin = pick(s, &t.admins);
    let colleague = pick(s, &t.users);
    let team = pick(s, &t.teams);
    let start = At::between(s, 0, 3_000);
    let invite_at = start.later(s, 60);
    let added_at = invite_at.later(s, 120);
    let setting_changed = s.random_bool(0.5);
    let guest_upn = format!("it.helpdesk_{}#EXT#@{}", t.attacker_domain, t.domain);
    let guest_mail = format!("it.helpdesk@{}", t.attacker_domain);
    let guest_id = Guid::derived(&[fnv(&t.tenant_id), fnv(&guest_mail)]);
    let mut invite = DirChange::new(
        s,
        "Invite external user",
        "UserManagement",
        "Add",
        Initiator::User(owner, &owner.home_ip),
        Target::Other { id: Ident::Guid(guest_id), name: "IT Helpdesk", kind: "User" },
    );
    invite.service = "Invited Users";
    invite.details.push(("invitedUserEmailAddress", guest_mail.as_str().into()));
    if scene.near {
        if scene.feed == Feed::AuditGeneral {
            let r = &mut *scene.r;
            let mut env = Env::person(r, owner, "MemberAdded", 25, "MicrosoftTeams");
            env.object = Some(&team.name);
            let fields = TeamsFields {
                team_name: Some(&team.name),
                team_guid: Some(&team.thread),
                members: vec![Member { upn: &colleague.upn, role: 0, display_name: &colleague.display_name }],
                ..Default::default()
            };
            out.ual(r, added_at, &env, fields);
        }
        return;
    }
    emit_change(scene, out, invite_at, &invite);
    if scene.feed != Feed::AuditGeneral {
        return;
    }
    let r = &mut *scene.r;
    if setting_changed {
        let mut env = Env::person(r, admin, "TeamsTenantSettingChanged", 25, "MicrosoftTeams");
        env.user_type = 2;
        let fields = TeamsFields {
            name: Some("Allow guest access in Teams"),
            old_value: Some("False"),
            new_value: Some("True"),
            ..Default::default()
        };
        out.ual(r, start, &env, fields);
    }
    let mut env = Env::person(r, owner, "MemberAdded", 25, "MicrosoftTeams");
    env.object = Some(&team.name);
    let fields = TeamsFields {
        team_name: Some(&team.name),
        team_guid: Some(&team.thread),
        members: vec![Member { upn: &guest_upn, role: 2, display_name: "IT Helpdesk" }],
        ..Default::default()
    };
    out.ual(r, added_at, &env, fields);
}

fn intune_bulk_wipe(scene: &mut Scene<'_>, out: &mut Out<'_>) {
    let t = out.t;
    let s = &mut *scene.s;
    let admin = pick(s, &t.admins);
    let count = if scene.near { 4 } else { s.random_range(6..=10) };
    let devices = sample(s, t.devices.len(), count);
    let start = At::between(s, 0, 1_500);
    let steps: Vec<u32> = (0..count).map(|_| s.random_range(60..180)).collect();
    if scene.feed != Feed::IntuneAuditEvents {
        return;
    }
    let r = &mut *scene.r;
    let ip = if scene.near { &admin.home_ip } else { &t.attacker_ip };
    let mut at = start;
    for (i, step) in devices.iter().zip(steps) {
        at = at.later(r, step);
        let event = device_action(r, "wipe ManagedDevice", IntuneActor::User(admin, ip), &t.devices[i]);
        intune_event(r, out, at, &event);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use chrono::{Duration, TimeZone};
    use serde_json::Value;

    use super::*;
    use crate::simulator::activity::{build_tenant, records_for_hour, Record};

    fn config() -> ActivityConfig {
        ActivityConfig { seed: 21, events_per_day: 2_000, scenarios: true }
    }

    fn day_of(t: DateTime<Utc>) -> i64 {
        t.timestamp().div_euclid(86_400)
    }

    fn monday() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 16, 0, 0, 0).unwrap()
    }

    /// The first occurrence of `kind` (positive or near miss as asked) from `monday()` on.
    fn find(t: &Tenant, kind: Kind, near_miss: bool) -> Planned {
        (0..120)
            .flat_map(|d| plan_day(&config(), t, day_of(monday()) + d))
            .find(|p| p.kind == kind && p.near_miss == near_miss)
            .expect("the scenario happens within four months")
    }

    fn parsed(t: &Tenant, feed: Feed, hour: DateTime<Utc>) -> Vec<Value> {
        records_for_hour(&config(), t, feed, hour).iter().map(|r| serde_json::from_str(&r.json).unwrap()).collect()
    }

    fn number(v: &Value) -> Option<i64> {
        v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    }

    fn ip_host(v: &Value) -> String {
        let ip = v.as_str().unwrap_or("");
        match ip.split_once(':') {
            Some((host, port)) if !host.is_empty() && !port.contains(':') && !ip.starts_with('[') => host.to_string(),
            _ => ip.to_string(),
        }
    }

    #[test]
    fn every_seven_consecutive_days_contain_every_scenario() {
        for index in 0..3 {
            let t = build_tenant(5, index);
            for first in 20_000..20_010 {
                let kinds: HashSet<Kind> =
                    (first..first + 7).flat_map(|d| plan_day(&config(), &t, d)).map(|p| p.kind).collect();
                assert_eq!(kinds.len(), Kind::ALL.len(), "tenant {index}, days from {first}");
            }
        }
    }

    #[test]
    fn plans_are_deterministic_and_a_few_a_day() {
        let t = build_tenant(5, 1);
        for day in 20_400..20_430 {
            let plan = plan_day(&config(), &t, day);
            assert!((4..=6).contains(&plan.len()));
            let again = plan_day(&config(), &t, day);
            assert_eq!(format!("{plan:?}"), format!("{again:?}"));
            for p in plan {
                assert_eq!(day_of(p.hour), day);
                assert_eq!(p.hour.timestamp() % 3_600, 0);
            }
        }
    }

    #[test]
    fn both_shapes_of_a_role_assignment_appear_in_the_same_hour_and_second() {
        let t = build_tenant(21, 0);
        let plan = find(&t, Kind::GlobalAdminAdded, false);
        let graph: Vec<Value> = parsed(&t, Feed::DirectoryAudits, plan.hour)
            .into_iter()
            .filter(|v| {
                v["activityDisplayName"] == "Add member to role"
                    && v.to_string().contains(GLOBAL_ADMINISTRATOR.template)
            })
            .collect();
        assert_eq!(graph.len(), 1, "one Graph record of the assignment");
        let g = &graph[0];
        assert_eq!(g["category"], "RoleManagement");
        let modified = g["targetResources"][0]["modifiedProperties"].as_array().unwrap();
        assert!(modified
            .iter()
            .any(|m| m["displayName"] == "Role.DisplayName" && m["newValue"] == "\"Global Administrator\""));
        assert!(modified
            .iter()
            .any(|m| m["displayName"] == "Role.TemplateId"
                && m["newValue"] == "\"62e90394-69f5-4237-9190-012177145e10\""));
        let ual: Vec<Value> = parsed(&t, Feed::AuditAzureActiveDirectory, plan.hour)
            .into_iter()
            .filter(|v| v["Operation"] == "Add member to role." && v.to_string().contains("Global Administrator"))
            .collect();
        assert_eq!(ual.len(), 1, "one UAL record of the assignment");
        let u = &ual[0];
        assert_eq!(number(&u["RecordType"]), Some(8));
        assert_eq!(u["InterSystemsId"], g["correlationId"], "the same correlation id");
        assert_eq!(u["UserId"], g["initiatedBy"]["user"]["userPrincipalName"], "the same actor");
        assert_eq!(u["ObjectId"], g["targetResources"][0]["userPrincipalName"], "the same target");
        assert_eq!(
            &g["activityDateTime"].as_str().unwrap()[..19],
            u["CreationTime"].as_str().unwrap(),
            "the same second"
        );
        assert_eq!(ip_host(&u["ActorIpAddress"]), t.attacker_ip);
    }

    #[test]
    fn the_near_miss_role_assignment_is_a_reader_role_in_both_shapes() {
        let t = build_tenant(21, 0);
        let plan = find(&t, Kind::GlobalAdminAdded, true);
        for feed in [Feed::DirectoryAudits, Feed::AuditAzureActiveDirectory] {
            let text: Vec<String> =
                records_for_hour(&config(), &t, feed, plan.hour).into_iter().map(|r: Record| r.json).collect();
            assert!(!text.iter().any(|j| j.contains(GLOBAL_ADMINISTRATOR.template)), "{feed:?}");
            assert!(text
                .iter()
                .any(|j| j.contains("Add member to role") && READER_ROLES.iter().any(|r| j.contains(r.template))));
        }
    }

    #[test]
    fn a_password_spray_fails_for_many_users_from_one_address_then_succeeds() {
        let t = build_tenant(21, 1);
        let plan = find(&t, Kind::PasswordSpray, false);
        let signins: Vec<Value> = parsed(&t, Feed::SignIns, plan.hour)
            .into_iter()
            .filter(|v| v["ipAddress"] == t.attacker_ip.as_str())
            .collect();
        let failed: HashSet<&str> = signins
            .iter()
            .filter(|v| v["status"]["errorCode"] == 50126)
            .map(|v| v["userPrincipalName"].as_str().unwrap())
            .collect();
        assert!(failed.len() >= 15, "{} users", failed.len());
        let last = signins.iter().max_by_key(|v| v["createdDateTime"].as_str().unwrap().to_string()).unwrap();
        assert_eq!(last["status"]["errorCode"], 0, "the spray ends in a success");
        let ual: Vec<Value> = parsed(&t, Feed::AuditAzureActiveDirectory, plan.hour)
            .into_iter()
            .filter(|v| ip_host(&v["ClientIP"]) == t.attacker_ip || v["ActorIpAddress"] == t.attacker_ip.as_str())
            .collect();
        let ual_failed: HashSet<&str> =
            ual.iter().filter(|v| v["ErrorCode"] == "50126").map(|v| v["UserId"].as_str().unwrap()).collect();
        assert_eq!(ual_failed, failed, "the UAL holds the same failures");
        assert!(ual.iter().any(|v| v["Operation"] == "UserLoggedIn"));
    }

    #[test]
    fn impossible_travel_signs_in_from_two_countries_within_the_hour() {
        let t = build_tenant(21, 2);
        let plan = find(&t, Kind::ImpossibleTravel, false);
        let signins = parsed(&t, Feed::SignIns, plan.hour);
        let away: Vec<&Value> = signins.iter().filter(|v| v["ipAddress"] == t.attacker_ip2.as_str()).collect();
        assert_eq!(away.len(), 1);
        let user = away[0]["userPrincipalName"].as_str().unwrap();
        let countries: HashSet<&str> = signins
            .iter()
            .filter(|v| v["userPrincipalName"] == user && v["status"]["errorCode"] == 0)
            .map(|v| v["location"]["countryOrRegion"].as_str().unwrap())
            .collect();
        assert!(countries.len() >= 2, "{countries:?}");
    }

    #[test]
    fn a_mass_download_takes_thirty_or_more_files_in_minutes() {
        let t = build_tenant(21, 3);
        let plan = find(&t, Kind::MassDownload, false);
        let downloads: Vec<Value> = parsed(&t, Feed::AuditSharePoint, plan.hour)
            .into_iter()
            .filter(|v| v["Operation"] == "FileDownloaded" && v["UserAgent"] == "rclone/v1.68.1")
            .collect();
        let objects: HashSet<&str> = downloads.iter().map(|v| v["ObjectId"].as_str().unwrap()).collect();
        let users: HashSet<&str> = downloads.iter().map(|v| v["UserId"].as_str().unwrap()).collect();
        assert!(objects.len() >= 30, "{}", objects.len());
        assert_eq!(users.len(), 1);
        let times: Vec<&str> = downloads.iter().map(|v| v["CreationTime"].as_str().unwrap()).collect();
        let first = chrono::NaiveDateTime::parse_from_str(times.iter().min().unwrap(), "%Y-%m-%dT%H:%M:%S").unwrap();
        let last = chrono::NaiveDateTime::parse_from_str(times.iter().max().unwrap(), "%Y-%m-%dT%H:%M:%S").unwrap();
        assert!(last - first <= Duration::minutes(10), "{first} .. {last}");
    }

    #[test]
    fn exchange_scenarios_carry_the_detection_fields() {
        let t = build_tenant(21, 0);
        let params = |v: &Value| -> HashMap<String, String> {
            let list = match &v["Parameters"] {
                Value::String(text) => serde_json::from_str(text).unwrap(),
                other => other.clone(),
            };
            list.as_array()
                .unwrap()
                .iter()
                .map(|p| (p["Name"].as_str().unwrap().to_string(), p["Value"].as_str().unwrap().to_string()))
                .collect()
        };
        let exchange = |plan: Planned, op: &str| -> Vec<HashMap<String, String>> {
            parsed(&t, Feed::AuditExchange, plan.hour).iter().filter(|v| v["Operation"] == op).map(params).collect()
        };
        let rule = exchange(find(&t, Kind::InboxForwardRule, false), "New-InboxRule");
        assert!(rule.iter().any(|p| p["ForwardTo"].ends_with("@evil-mail.example") && p["DeleteMessage"] == "True"));
        let near = exchange(find(&t, Kind::InboxForwardRule, true), "New-InboxRule");
        assert!(
            near.iter().any(|p| p.get("ForwardTo").is_some_and(|to| to.ends_with(&t.domain))),
            "forwarding to a colleague"
        );
        let forward = exchange(find(&t, Kind::MailboxForwarding, false), "Set-Mailbox");
        assert!(forward
            .iter()
            .any(|p| p.get("ForwardingSmtpAddress").is_some_and(|a| a.ends_with("@evil-mail.example"))
                && p["DeliverToMailboxAndForward"] == "False"));
        let grant = exchange(find(&t, Kind::FullAccessGrant, false), "Add-MailboxPermission");
        assert!(grant.iter().any(|p| p["AccessRights"] == "FullAccess" && p["AutoMapping"] == "False"));
        let audit = exchange(find(&t, Kind::AuditIngestionDisabled, false), "Set-AdminAuditLogConfig");
        assert!(audit.iter().any(|p| p["UnifiedAuditLogIngestionEnabled"] == "False"));
    }

    #[test]
    fn directory_scenarios_appear_in_both_feeds() {
        let t = build_tenant(21, 1);
        for (kind, activity) in [
            (Kind::MfaDisabled, "Strong"),
            (Kind::ConditionalAccessDisabled, "Update conditional access policy"),
            (Kind::RiskyConsent, "Consent to application"),
            (Kind::ServicePrincipalCredential, "Add service principal credentials"),
        ] {
            let plan = find(&t, kind, false);
            let marker = if kind == Kind::RiskyConsent { "Mail.ReadWrite".to_string() } else { t.attacker_ip.clone() };
            let graph = records_for_hour(&config(), &t, Feed::DirectoryAudits, plan.hour);
            let ual = records_for_hour(&config(), &t, Feed::AuditAzureActiveDirectory, plan.hour);
            let in_graph = graph.iter().filter(|r| r.json.contains(activity) && r.json.contains(&marker)).count();
            let in_ual = ual.iter().filter(|r| r.json.contains(activity) && r.json.contains(&marker)).count();
            assert!(in_graph >= 1 && in_graph == in_ual, "{kind:?}: {in_graph} / {in_ual}");
        }
        let plan = find(&t, Kind::ConditionalAccessDisabled, false);
        let graph = parsed(&t, Feed::DirectoryAudits, plan.hour);
        let policy = graph
            .iter()
            .find(|v| {
                v["activityDisplayName"] == "Update conditional access policy"
                    && v["initiatedBy"]["user"]["ipAddress"] == t.attacker_ip.as_str()
            })
            .unwrap();
        let new: Value =
            serde_json::from_str(policy["targetResources"][0]["modifiedProperties"][0]["newValue"].as_str().unwrap())
                .unwrap();
        assert_eq!(new["state"], "disabled");
    }

    #[test]
    fn an_intune_bulk_wipe_wipes_five_or_more_devices_by_one_actor() {
        let t = build_tenant(21, 4);
        let plan = find(&t, Kind::IntuneBulkWipe, false);
        let wipes: Vec<Value> = parsed(&t, Feed::IntuneAuditEvents, plan.hour)
            .into_iter()
            .filter(|v| v["activityType"] == "wipe ManagedDevice" && v["actor"]["ipAddress"] == t.attacker_ip.as_str())
            .collect();
        let devices: HashSet<&str> = wipes.iter().map(|v| v["resources"][0]["resourceId"].as_str().unwrap()).collect();
        let actors: HashSet<&str> = wipes.iter().map(|v| v["actor"]["userPrincipalName"].as_str().unwrap()).collect();
        assert!(devices.len() >= 5, "{}", devices.len());
        assert_eq!(actors.len(), 1);
    }

    #[test]
    fn sharepoint_general_and_dlp_scenarios_carry_the_detection_fields() {
        let t = build_tenant(21, 2);
        let link = parsed(&t, Feed::AuditSharePoint, find(&t, Kind::AnonymousLink, false).hour);
        assert!(link.iter().any(|v| v["Operation"] == "AnonymousLinkCreated" && number(&v["RecordType"]) == Some(14)));
        let deletions = parsed(&t, Feed::AuditSharePoint, find(&t, Kind::MassDeletion, false).hour);
        let deleted: HashSet<&str> = deletions
            .iter()
            .filter(|v| v["Operation"] == "FileDeleted" && v["UserAgent"] == TOOL_AGENT.user_agent)
            .map(|v| v["ObjectId"].as_str().unwrap())
            .collect();
        assert!(deleted.len() >= 100, "{}", deleted.len());
        let general = parsed(&t, Feed::AuditGeneral, find(&t, Kind::EDiscoveryExport, false).hour);
        assert!(general.iter().any(|v| v["Operation"] == "SearchExported" && v["ExchangeLocations"][0] == "All"));
        assert!(general.iter().any(|v| v["Operation"] == "New-ComplianceSearchAction"));
        let teams = parsed(&t, Feed::AuditGeneral, find(&t, Kind::TeamsGuestAdded, false).hour);
        assert!(teams.iter().any(|v| v["Operation"] == "MemberAdded"
            && v["Members"][0]["UPN"].as_str().unwrap().contains("#EXT#")
            && v["Members"][0]["Role"] == 2));
        let dlp = parsed(&t, Feed::DlpAll, find(&t, Kind::DlpExternal, false).hour);
        assert!(dlp.iter().any(|v| v["UserId"] == "DlpAgent"
            && v["ExchangeMetaData"]["To"][0].as_str().unwrap().ends_with("@evil-mail.example")
            && v["PolicyDetails"][0]["Rules"][0]["Severity"] == "High"));
    }

    #[test]
    fn without_scenarios_the_attacker_never_appears() {
        let t = build_tenant(21, 0);
        let plain = ActivityConfig { scenarios: false, ..config() };
        let mut woven = 0;
        for h in 0..24 * 7 {
            let hour = monday() + Duration::hours(h);
            for feed in Feed::ALL {
                for r in records_for_hour(&plain, &t, feed, hour) {
                    assert!(!r.json.contains(&t.attacker_ip) && !r.json.contains(&t.attacker_domain), "{}", r.json);
                }
                woven += records_for_hour(&config(), &t, feed, hour)
                    .iter()
                    .filter(|r| r.json.contains(&t.attacker_ip) || r.json.contains(&t.attacker_domain))
                    .count();
            }
        }
        assert!(woven > 30, "{woven}");
    }
}
