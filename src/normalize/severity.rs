//! Built-in severity heuristics (detections.md §5.2–5.3): how dangerous a single record is on
//! its own, from its activity and its flattened fields. Levels: 0 info, 1 low, 2 medium, 3 high,
//! 4 critical. Rules add to this (correlations, first-seen); this is the per-record baseline.
//!
//! Adjustments after the activity's own rating:
//! - a failed operation is one level lower (never below info) — except sign-ins, where the
//!   failure *is* the signal;
//! - an operation run by a Microsoft service account (`NT AUTHORITY\...`, `S-1-5-18`) is one
//!   level lower;
//! - info carries no reasons.

use super::common::{addresses, changed, flat_get, is_external, is_false, is_true, new_value, param, Flat};
use super::{Outcome, Source, Target};

/// Global Administrator's role template id.
pub const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";

/// Roles that can make themselves Global Administrator: assigning them is critical.
const CRITICAL_ROLES: &[(&str, &str)] = &[
    (GLOBAL_ADMIN, "global administrator"),
    ("e8611ab8-c189-46e8-94e1-60213ab1f814", "privileged role administrator"),
    ("7be44c8a-adaf-4e2a-84d6-ab2649e08a13", "privileged authentication administrator"),
];

/// The other privileged roles of detections.md §5.3: assigning them is high.
const PRIVILEGED_ROLES: &[(&str, &str)] = &[
    ("194ae4cb-b126-40b2-bd5b-6091b380977d", "security administrator"),
    ("b1be1c3e-b65d-4f19-8427-f6fa0d97feb9", "conditional access administrator"),
    ("9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", "application administrator"),
    ("158c047a-c907-4556-b7ef-446551a6b5f7", "cloud application administrator"),
    ("8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2", "hybrid identity administrator"),
    ("29232cdf-9323-42fd-ade2-1d097af3e4de", "exchange administrator"),
    ("f28a1f50-f6e7-4571-818b-6a12f2af6b6c", "sharepoint administrator"),
    ("fe930be7-5e62-47db-91af-98c3a49a38b1", "user administrator"),
    ("729827e3-9c14-49f7-bb1b-9608f156bbb8", "helpdesk administrator"),
    ("966707d0-3269-4727-9be2-8c3a10f19b9d", "password administrator"),
    ("c4e39bd9-1100-46d3-8c65-fb160da0071f", "authentication administrator"),
    ("3a2c62db-5318-420d-8d74-23affee5d9d5", "intune administrator"),
    ("7698a772-787b-4ac8-901f-60d6b08affd2", "cloud device administrator"),
    ("17315797-102d-40b4-93e0-432062caca18", "compliance administrator"),
    ("8329153b-31d0-4727-b945-745eb3bc5f31", "domain name administrator"),
    ("be2f45a1-457d-42af-a067-6ec1fa63bc45", "external identity provider administrator"),
    ("9360feb5-f418-4baa-8175-e2a00bac4301", "directory writers"),
    ("f2ef992c-3afb-46b9-b7cf-a126ee74c451", "global reader"),
];

/// OAuth permissions that expose mail, files or the directory (detections.md §5.3).
const HIGH_RISK_SCOPES: &[&str] = &[
    "mail.read",
    "mail.readbasic",
    "mail.readwrite",
    "mail.read.shared",
    "mail.readwrite.shared",
    "mail.send",
    "mail.send.shared",
    "mailboxsettings.readwrite",
    "files.read.all",
    "files.readwrite.all",
    "sites.read.all",
    "sites.readwrite.all",
    "directory.readwrite.all",
    "application.readwrite.all",
    "approleassignment.readwrite.all",
    "rolemanagement.readwrite.directory",
    "user.readwrite.all",
    "full_access_as_app",
    "ews.accessasuser.all",
];

/// Folders an attacker moves mail to so the victim does not see it.
const HIDING_FOLDERS: &[&str] =
    &["rss feeds", "rss subscriptions", "conversation history", "archive", "deleted items", "junk email"];

/// Words a BEC cover-up rule filters on.
const COVER_UP_WORDS: &[&str] =
    &["invoice", "payment", "wire", "phish", "hacked", "security", "helpdesk", "password", "bank"];

/// Exchange protections whose removal weakens mail security.
const PROTECTION_CMDLETS: &[&str] = &[
    "remove-antiphishpolicy",
    "remove-antiphishrule",
    "disable-antiphishrule",
    "disable-safelinksrule",
    "remove-safelinkspolicy",
    "disable-safeattachmentrule",
    "remove-safeattachmentpolicy",
    "remove-malwarefilterpolicy",
    "remove-malwarefilterrule",
    "disable-malwarefilterrule",
    "remove-dlppolicy",
];

/// Sign-in clients that cannot do modern authentication.
const LEGACY_CLIENTS: &[&str] = &[
    "imap4",
    "pop3",
    "authenticated smtp",
    "smtp",
    "exchange activesync",
    "exchange web services",
    "mapi over http",
    "autodiscover",
    "other clients",
    "exchange online powershell",
    "offline address book",
    "outlook anywhere (rpc over http)",
];

/// What the heuristics look at.
pub struct Facts<'a> {
    /// Which feed the record came from.
    pub source: Source,
    /// The activity's matching key (`common::op_key`).
    pub op: &'a str,
    /// How the operation went.
    pub outcome: Outcome,
    /// The record is a sign-in (Graph signIns, UAL STS logon).
    pub sign_in: bool,
    /// Who acted, as logged (UAL `UserId`), to recognise Microsoft service accounts.
    pub actor: Option<&'a str>,
    /// What the record acted on (role-typed targets name PIM roles).
    pub targets: &'a [Target],
    /// The flattened record, where parameters and modified properties are looked up.
    pub flattened: &'a Flat,
    /// Domains on the record's own side (`common::internal_domains`).
    pub internal: &'a [String],
}

/// The level reached so far and why.
#[derive(Default)]
struct Rating {
    level: i16,
    reasons: Vec<String>,
}

impl Rating {
    fn raise(&mut self, level: i16, why: impl Into<String>) {
        self.level = self.level.max(level);
        let why = why.into();
        if !self.reasons.contains(&why) {
            self.reasons.push(why);
        }
    }
}

/// Rates one record: its severity level and the reasons for it.
pub fn assess(f: &Facts) -> (i16, Vec<String>) {
    let mut r = Rating::default();
    let op = f.op;
    match op {
        _ if is_role_assignment(op) => role_assignment(f, &mut r),
        // Exchange cmdlets.
        "add-mailboxpermission" => mailbox_permission(f, &mut r),
        "add-recipientpermission"
            if param(f.flattened, "AccessRights").is_some_and(|v| v.to_ascii_lowercase().contains("sendas")) =>
        {
            r.raise(2, "SendAs permission granted")
        }
        "set-mailbox" => set_mailbox(f, &mut r),
        "new-inboxrule" | "set-inboxrule" => inbox_rule(f, &mut r),
        "updateinboxrules" => outlook_rule(f, &mut r),
        "new-transportrule" | "set-transportrule" => transport_rule(f, &mut r),
        "remove-transportrule" | "disable-transportrule" => r.raise(1, "mail flow rule removed or disabled"),
        "set-adminauditlogconfig" => {
            if is_false(param(f.flattened, "UnifiedAuditLogIngestionEnabled")) {
                r.raise(4, "unified audit log ingestion turned off");
            } else if is_false(param(f.flattened, "AdminAuditLogEnabled")) {
                r.raise(3, "admin audit logging turned off");
            }
        }
        "set-mailboxauditbypassassociation" if is_true(param(f.flattened, "AuditBypassEnabled")) => {
            r.raise(3, "mailbox auditing bypassed")
        }
        "set-organizationconfig" if is_true(param(f.flattened, "AuditDisabled")) => {
            r.raise(4, "mailbox auditing turned off for the organization")
        }
        "new-managementroleassignment" => {
            let role = param(f.flattened, "Role").unwrap_or("").to_ascii_lowercase();
            if ["applicationimpersonation", "mailbox import export", "organization management"]
                .iter()
                .any(|r| role.contains(r))
            {
                r.raise(3, "powerful Exchange role assigned");
            } else {
                r.raise(1, "Exchange role assigned");
            }
        }
        "add-rolegroupmember" => {
            if param(f.flattened, "Identity")
                .is_some_and(|v| v.to_ascii_lowercase().contains("organization management"))
            {
                r.raise(3, "member added to Exchange Organization Management");
            } else {
                r.raise(1, "member added to an Exchange role group");
            }
        }
        "set-dkimsigningconfig" if is_false(param(f.flattened, "Enabled")) => r.raise(2, "mail protection weakened"),
        _ if PROTECTION_CMDLETS.contains(&op) => r.raise(2, "mail protection weakened"),
        "add-federateddomain" => r.raise(3, "federated domain added"),
        "new-accepteddomain" | "remove-accepteddomain" => r.raise(2, "accepted domain changed"),
        "new-compliancesearchaction" => {
            let dump = f.flattened.range("Parameters.".to_string()..).take_while(|(k, _)| k.starts_with("Parameters."));
            if dump
                .map(|(k, v)| format!("{k}={v}").to_ascii_lowercase())
                .any(|s| s.contains("export") || s.contains("purge"))
            {
                r.raise(3, "compliance search exported or purged");
            } else {
                r.raise(1, "compliance search action");
            }
        }
        "searchexported" | "searchexportdownloaded" => r.raise(3, "eDiscovery search exported"),
        "searchcreated" | "searchstarted" | "new-compliancesearch" | "start-compliancesearch" => {
            r.raise(1, "eDiscovery search")
        }
        // SharePoint and OneDrive.
        "anonymouslinkcreated" | "anonymouslinkupdated" => r.raise(3, "anonymous sharing link created"),
        "anonymouslinkused" => r.raise(1, "anonymous sharing link used"),
        "sharingset"
        | "sharinginvitationcreated"
        | "addedtosecurelink"
        | "securelinkcreated"
        | "sharinginvitationaccepted" => external_share(f, &mut r),
        "sharingpolicychanged" => r.raise(2, "sharing policy changed"),
        "sitecollectionadminadded" => r.raise(2, "site collection administrator added"),
        "filemalwaredetected" => r.raise(3, "malware detected in a file"),
        // Teams.
        "memberadded" if f.targets.iter().any(|t| t.display.as_deref().is_some_and(|d| d.contains("#EXT#"))) => {
            r.raise(2, "external user added to a team")
        }
        "teamdeleted" => r.raise(1, "team deleted"),
        "teamstenantsettingchanged" => {
            let setting = flat_get(f.flattened, "Name").unwrap_or("").to_ascii_lowercase();
            let opened = is_true(flat_get(f.flattened, "NewValue"));
            if opened && ["guest", "external", "federat", "custom app", "sideload"].iter().any(|w| setting.contains(w))
            {
                r.raise(2, "Teams opened to guests, external users or custom apps");
            } else {
                r.raise(1, "Teams tenant setting changed");
            }
        }
        "timaildata" => {
            let verdict = flat_get(f.flattened, "Verdict").unwrap_or("").to_ascii_lowercase();
            let delivered =
                flat_get(f.flattened, "DeliveryAction").is_some_and(|a| a.eq_ignore_ascii_case("delivered"));
            if delivered && (verdict.contains("phish") || verdict.contains("malware")) {
                r.raise(2, "malicious mail delivered");
            }
        }
        // DLP and alerts passed through.
        "dlprulematch" => dlp(f, &mut r),
        "alerttriggered" | "alertentitygenerated" => {
            let sev = flat_get(f.flattened, "Severity").or_else(|| flat_get(f.flattened, "Data.sev"));
            if let Some(level) = sev.and_then(vendor_level) {
                r.raise(level, format!("alert severity {}", sev.unwrap_or("")));
            }
        }
        // Entra ID directory.
        "disable strong authentication" => r.raise(3, "MFA disabled"),
        "update user" => update_user(f, &mut r),
        "user deleted security info" | "admin deleted security info" => r.raise(3, "MFA method removed"),
        "create temporary access pass method for user" => r.raise(3, "temporary access pass created"),
        "user registered security info" | "admin registered security info" => {
            if f.flattened.values().any(|v| v.to_ascii_lowercase().contains("temporary access pass")) {
                r.raise(3, "temporary access pass registered");
            } else {
                r.raise(1, "MFA method registered");
            }
        }
        "delete conditional access policy" => r.raise(3, "conditional access policy deleted"),
        "update conditional access policy" => conditional_access_update(f, &mut r),
        "add conditional access policy" => r.raise(1, "conditional access policy added"),
        // Older UAL spellings carry no "conditional access" in the name; the property tells.
        "delete policy" | "update policy" if mentions_ca_policy(f.flattened) => {
            if op == "delete policy" {
                r.raise(3, "conditional access policy deleted");
            } else {
                conditional_access_update(f, &mut r);
            }
        }
        "consent to application"
        | "add delegated permission grant"
        | "add app role assignment to service principal" => consent(f, &mut r),
        "add service principal credentials" => r.raise(3, "service principal credentials added"),
        "update application - certificates and secrets management" => r.raise(2, "application credentials changed"),
        "update application" if f.flattened.keys().any(|k| k.contains("FederatedIdentityCredentials")) => {
            r.raise(3, "federated identity credential changed")
        }
        "add owner to application" | "add owner to service principal" => r.raise(2, "application owner added"),
        "add service principal" => r.raise(1, "service principal added"),
        "set domain authentication" | "set federation settings on domain" => r.raise(4, "domain federation changed"),
        "add unverified domain" | "verify domain" | "add domain to company" | "add verified domain" => {
            r.raise(2, "domain added")
        }
        "update authorization policy" => {
            let risky = changed(f.flattened, "AllowUserConsentForRiskyApps", "NewValue")
                .iter()
                .any(|(_, v)| v.to_ascii_lowercase().contains("true"));
            if risky {
                r.raise(3, "user consent to risky apps allowed");
            } else {
                r.raise(1, "authorization policy changed");
            }
        }
        "read bitlocker key" | "recover device local administrator password" => {
            r.raise(2, "device recovery secret read")
        }
        "invite external user" => r.raise(1, "external user invited"),
        _ if op.starts_with("user has elevated their access to user access administrator") => {
            r.raise(3, "access elevated to Azure root")
        }
        // Intune.
        _ if f.source == Source::Intune => intune(f, &mut r),
        _ => {}
    }
    if f.sign_in {
        sign_in(f, &mut r);
    }

    if r.level > 0 && f.outcome == Outcome::Failure && !f.sign_in {
        r.level -= 1;
        r.reasons.push("the operation failed".into());
    }
    if r.level > 0 && f.actor.is_some_and(is_service_account) {
        r.level -= 1;
        r.reasons.push("done by a Microsoft service account".into());
    }
    if r.level == 0 {
        r.reasons.clear();
    }
    (r.level, r.reasons)
}

/// Whether an activity adds someone to a directory role (directly, eligibly or through PIM).
pub fn is_role_assignment(op: &str) -> bool {
    op.starts_with("add member to role")
        || op.starts_with("add eligible member to role")
        || op.starts_with("add scoped member to role")
}

fn is_service_account(actor: &str) -> bool {
    let a = actor.trim();
    a.get(..13).is_some_and(|p| p.eq_ignore_ascii_case("nt authority\\")) || a == "S-1-5-18"
}

fn vendor_level(sev: &str) -> Option<i16> {
    match sev.trim().to_ascii_lowercase().as_str() {
        "high" => Some(3),
        "medium" => Some(2),
        "low" => Some(1),
        "informational" | "info" | "none" => Some(0),
        _ => None,
    }
}

/// The roles an assignment grants: names and template ids from the modified properties (UAL and
/// Graph) and from role-typed targets (PIM).
pub fn assigned_roles<'a>(f: &'a Flat, targets: &'a [Target]) -> Vec<&'a str> {
    let mut roles: Vec<&str> = Vec::new();
    for prop in ["Role.DisplayName", "Role.TemplateId", "Role.WellKnownObjectName", "RoleDefinition.DisplayName"] {
        roles.extend(
            changed(f, prop, "NewValue").into_iter().filter(|(rest, _)| rest.is_empty()).map(|(_, v)| v.trim()),
        );
    }
    for t in targets.iter().filter(|t| t.kind.as_deref().is_some_and(|k| k.eq_ignore_ascii_case("role"))) {
        roles.extend(t.display.as_deref());
        roles.extend(t.id.as_deref());
    }
    roles.retain(|r| !r.is_empty());
    roles
}

/// 4 for roles that can reach Global Administrator, 3 for other privileged roles, else 2 for
/// an administrator role and 1 for the rest.
fn role_level(role: &str) -> i16 {
    let r = role.trim().to_ascii_lowercase();
    let hit = |table: &[(&str, &str)]| table.iter().any(|(id, name)| r == *id || r == *name);
    if hit(CRITICAL_ROLES) || r == "companyadministrator" {
        4
    } else if hit(PRIVILEGED_ROLES) {
        3
    } else if r.contains("administrator") {
        2
    } else {
        1
    }
}

fn role_name_of(roles: &[&str]) -> String {
    roles
        .iter()
        .find(|r| r.parse::<u128>().is_err() && !looks_like_guid(r))
        .or(roles.first())
        .map(|r| r.to_string())
        .unwrap_or_default()
}

fn looks_like_guid(s: &str) -> bool {
    s.len() == 36 && s.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

fn role_assignment(f: &Facts, r: &mut Rating) {
    let roles = assigned_roles(f.flattened, f.targets);
    let level = roles.iter().map(|role| role_level(role)).max().unwrap_or(1);
    let name = role_name_of(&roles);
    match level {
        4 => r.raise(4, format!("highly privileged role assigned ({name})")),
        3 => r.raise(3, format!("privileged role assigned ({name})")),
        2 => r.raise(2, format!("administrator role assigned ({name})")),
        _ if name.is_empty() => r.raise(1, "role assigned"),
        _ => r.raise(1, format!("role assigned ({name})")),
    }
}

fn mailbox_permission(f: &Facts, r: &mut Rating) {
    // Exchange grants every new mailbox to itself ("NT AUTHORITY\SELF"): housekeeping.
    if param(f.flattened, "User").is_some_and(is_service_account) {
        return;
    }
    let rights = param(f.flattened, "AccessRights").unwrap_or("").to_ascii_lowercase();
    if rights.contains("fullaccess") || rights.contains("changepermission") || rights.contains("changeowner") {
        r.raise(3, "full access to another mailbox granted");
    } else {
        r.raise(2, "mailbox permission granted");
    }
    if is_false(param(f.flattened, "AutoMapping")) && r.level > 0 {
        r.raise(r.level, "hidden from the grantee's Outlook (AutoMapping False)");
    }
}

fn first_external<'a>(text: &'a str, f: &Facts) -> Option<&'a str> {
    addresses(text).find(|a| is_external(a, f.internal))
}

fn set_mailbox(f: &Facts, r: &mut Rating) {
    let flat = f.flattened;
    let target = param(flat, "ForwardingSmtpAddress").or_else(|| param(flat, "ForwardingAddress"));
    if let Some(target) = target.filter(|t| !t.trim().eq_ignore_ascii_case("$null")) {
        let keeps_copy = !is_false(param(flat, "DeliverToMailboxAndForward"));
        match first_external(target, f) {
            Some(addr) if !keeps_copy => {
                r.raise(4, format!("mailbox forwarded outside the tenant to {addr} without keeping a copy"))
            }
            Some(addr) => r.raise(3, format!("mailbox forwarded outside the tenant to {addr}")),
            // A ForwardingAddress names a recipient object (a contact may still be outside).
            None if addresses(target).next().is_none() => r.raise(2, "mailbox forwarding to a recipient set"),
            None => r.raise(1, "mailbox forwarding to an internal address set"),
        }
    }
    if param(flat, "GrantSendOnBehalfTo").is_some_and(|v| !v.trim().eq_ignore_ascii_case("$null")) {
        r.raise(2, "send-on-behalf permission granted");
    }
    if is_false(param(flat, "AuditEnabled")) {
        r.raise(3, "mailbox auditing turned off");
    }
}

fn inbox_rule(f: &Facts, r: &mut Rating) {
    let flat = f.flattened;
    let mut forwards_out = None;
    let mut forwards = false;
    for name in ["ForwardTo", "RedirectTo", "ForwardAsAttachmentTo"] {
        if let Some(v) = param(flat, name) {
            forwards = true;
            if forwards_out.is_none() {
                forwards_out = first_external(v, f);
            }
        }
    }
    let deletes = is_true(param(flat, "DeleteMessage")) || is_true(param(flat, "SoftDeleteMessage"));
    let hides = param(flat, "MoveToFolder").is_some_and(|v| {
        let folder = v.rsplit([':', '\\', '/']).next().unwrap_or(v).trim().to_ascii_lowercase();
        HIDING_FOLDERS.contains(&folder.as_str())
    });
    let words = ["SubjectContainsWords", "BodyContainsWords", "SubjectOrBodyContainsWords"]
        .iter()
        .filter_map(|n| param(flat, n))
        .any(|v| {
            let v = v.to_ascii_lowercase();
            COVER_UP_WORDS.iter().any(|w| v.contains(w))
        });
    let symbol_name =
        param(flat, "Name").is_some_and(|n| !n.trim().is_empty() && !n.chars().any(char::is_alphanumeric));

    match forwards_out {
        Some(addr) if deletes || hides => {
            r.raise(4, format!("inbox rule forwards outside the tenant to {addr} and hides the original"))
        }
        Some(addr) => r.raise(3, format!("inbox rule forwards outside the tenant to {addr}")),
        None if forwards => r.raise(1, "inbox rule forwards to an internal address"),
        None => {}
    }
    if deletes || hides {
        if words || symbol_name {
            r.raise(3, "inbox rule hides mail about payments or security");
        } else if deletes {
            r.raise(2, "inbox rule deletes mail");
        } else {
            r.raise(2, "inbox rule moves mail out of sight");
        }
    } else if symbol_name && r.level > 0 {
        r.raise(r.level, "inbox rule name is only symbols");
    }
}

/// An Outlook-client rule (`UpdateInboxRules`): the actions are a text dump.
fn outlook_rule(f: &Facts, r: &mut Rating) {
    let dump: Vec<&str> = f
        .flattened
        .range("OperationProperties.".to_string()..)
        .take_while(|(k, _)| k.starts_with("OperationProperties."))
        .map(|(_, v)| v.as_str())
        .collect();
    let dump = dump.join(" ");
    let lower = dump.to_ascii_lowercase();
    if ["forwardtorecipientsaction", "redirecttorecipientsaction", "forwardasattachmenttorecipientsaction"]
        .iter()
        .any(|a| lower.contains(a))
    {
        match first_external(&dump, f) {
            Some(addr) => r.raise(3, format!("inbox rule forwards outside the tenant to {addr}")),
            None => r.raise(1, "inbox rule forwards mail"),
        }
    }
    if lower.contains("deleteaction") || lower.contains("permanentdeleteaction") {
        r.raise(2, "inbox rule deletes mail");
    }
}

fn transport_rule(f: &Facts, r: &mut Rating) {
    let external = ["BlindCopyTo", "RedirectMessageTo", "AddToRecipients", "CopyTo"]
        .iter()
        .filter_map(|n| param(f.flattened, n))
        .find_map(|v| first_external(v, f));
    match external {
        Some(addr) => r.raise(3, format!("mail flow rule copies or redirects mail outside the tenant to {addr}")),
        None => r.raise(1, "mail flow rule changed"),
    }
}

fn external_share(f: &Facts, r: &mut Rating) {
    let guest = flat_get(f.flattened, "TargetUserOrGroupType").is_some_and(|t| {
        let t = t.to_ascii_lowercase();
        t == "guest" || t == "partner"
    });
    let outside = flat_get(f.flattened, "TargetUserOrGroupName")
        .is_some_and(|n| n.contains("#EXT#") || first_external(n, f).is_some());
    if guest || outside {
        r.raise(1, "shared with a guest or external user");
    }
}

fn dlp(f: &Facts, r: &mut Rating) {
    let level = f
        .flattened
        .iter()
        .filter(|(k, _)| k.starts_with("PolicyDetails.") && k.ends_with(".Severity"))
        .filter_map(|(_, v)| vendor_level(v).map(|l| (l, v.as_str())))
        .max_by_key(|(l, _)| *l);
    match level {
        Some((l, name)) => r.raise(l.max(1), format!("DLP rule matched (severity {name})")),
        None => r.raise(1, "DLP rule matched"),
    }
    let recipients = ["ExchangeMetaData.To", "ExchangeMetaData.CC", "ExchangeMetaData.BCC"]
        .iter()
        .filter_map(|k| flat_get(f.flattened, k))
        .find_map(|v| first_external(v, f));
    if let Some(addr) = recipients {
        // Vendor severity already weighs the content; an external recipient adds one level, up to high.
        r.raise((r.level + 1).min(3), format!("sent outside the tenant to {addr}"));
    }
}

fn update_user(f: &Facts, r: &mut Rating) {
    let flat = f.flattened;
    let empty = |v: &str| {
        let v = v.trim();
        v.is_empty() || v == "[]" || v == "{}"
    };
    // Per-user MFA: the requirement's state drops to 0 or the requirement disappears.
    let requirement_new = changed(flat, "StrongAuthenticationRequirement", "NewValue");
    let state_zero =
        requirement_new.iter().any(|(rest, v)| rest.to_ascii_lowercase().ends_with(".state") && v.trim() == "0");
    let requirement_old_set = changed(flat, "StrongAuthenticationRequirement", "OldValue")
        .iter()
        .any(|(rest, v)| rest.is_empty() && !empty(v));
    let requirement_cleared =
        requirement_old_set && new_value(flat, "StrongAuthenticationRequirement").is_none_or(empty);
    if state_zero || requirement_cleared {
        r.raise(3, "MFA requirement removed");
    }
    let methods_old_set =
        changed(flat, "StrongAuthenticationMethod", "OldValue").iter().any(|(rest, v)| rest.is_empty() && !empty(v));
    if methods_old_set && new_value(flat, "StrongAuthenticationMethod").is_none_or(empty) {
        r.raise(3, "MFA methods removed");
    }
    let became_member = new_value(flat, "UserType").is_some_and(|v| v.eq_ignore_ascii_case("member"))
        && changed(flat, "UserType", "OldValue").iter().any(|(_, v)| v.eq_ignore_ascii_case("guest"));
    if became_member {
        r.raise(2, "guest promoted to member");
    }
}

fn mentions_ca_policy(f: &Flat) -> bool {
    f.keys().any(|k| k.contains("ConditionalAccessPolicy"))
}

fn conditional_access_update(f: &Facts, r: &mut Rating) {
    let news = changed(f.flattened, "ConditionalAccessPolicy", "NewValue");
    let weakened = news.iter().any(|(rest, v)| {
        let v_lower = v.to_ascii_lowercase();
        let state = rest.to_ascii_lowercase().ends_with(".state")
            && (v_lower == "disabled" || v_lower == "enabledforreportingbutnotenforced");
        let text = rest.is_empty()
            && (v_lower.contains("\"state\":\"disabled\"")
                || v_lower.contains("\"state\":\"enabledforreportingbutnotenforced\""));
        state || text
    });
    if weakened {
        r.raise(3, "conditional access policy disabled");
    } else {
        r.raise(2, "conditional access policy changed");
    }
}

fn consent(f: &Facts, r: &mut Rating) {
    let flat = f.flattened;
    let mut risky: Option<&str> = None;
    let mut tenant_wide = false;
    for (k, v) in flat {
        let k_lower = k.to_ascii_lowercase();
        let relevant = k_lower.contains("permissions")
            || k_lower.contains("scope")
            || k_lower.contains("approle")
            || k_lower.contains("consentaction");
        if !relevant {
            continue;
        }
        let v_lower = v.to_ascii_lowercase();
        if v_lower.contains("allprincipals") {
            tenant_wide = true;
        }
        if risky.is_none() {
            risky = v
                .split(|c: char| {
                    c.is_whitespace() || matches!(c, ',' | ';' | '[' | ']' | '"' | '\'' | ':' | '=' | '(' | ')')
                })
                .find(|token| HIGH_RISK_SCOPES.iter().any(|s| s.eq_ignore_ascii_case(token)));
        }
    }
    if changed(flat, "ConsentContext.OnBehalfOfAll", "NewValue").iter().any(|(_, v)| v.eq_ignore_ascii_case("true")) {
        tenant_wide = true;
    }
    match risky {
        Some(scope) if tenant_wide => r.raise(3, format!("tenant-wide consent to high-risk permission {scope}")),
        Some(scope) => r.raise(3, format!("consent to high-risk permission {scope}")),
        None if tenant_wide => r.raise(2, "tenant-wide consent to an application"),
        None => r.raise(1, "consent to an application"),
    }
}

fn intune(f: &Facts, r: &mut Rating) {
    let op = f.op;
    let device_op = op.ends_with("manageddevice") || op.ends_with("manageddevices");
    if device_op
        && (op.starts_with("wipe")
            || op.starts_with("retire")
            || op.starts_with("delete")
            || op.starts_with("cleanwindowsdevice"))
    {
        r.raise(2, "device wiped, retired or deleted");
    } else if ["devicemanagementscript", "devicehealthscript", "devicecompliancescript", "deviceshellscript"]
        .iter()
        .any(|s| op.contains(s))
        && (op.starts_with("create") || op.starts_with("assign") || op.starts_with("patch"))
    {
        r.raise(3, "script pushed to devices");
    } else if op == "delete devicecompliancepolicy" || op == "delete deviceconfiguration" {
        r.raise(1, "device policy deleted");
    }
}

fn sign_in(f: &Facts, r: &mut Rating) {
    let flat = f.flattened;
    if f.outcome == Outcome::Failure {
        r.raise(1, "failed sign-in");
    }
    let risk = ["riskLevelDuringSignIn", "riskLevelAggregated"]
        .iter()
        .filter_map(|k| match flat_get(flat, k).map(str::to_ascii_lowercase).as_deref() {
            Some("high") => Some(3),
            Some("medium") => Some(2),
            _ => None,
        })
        .max();
    match risk {
        Some(3) => r.raise(3, "high-risk sign-in"),
        Some(_) => r.raise(2, "medium-risk sign-in"),
        None => {}
    }
    if let Some(state) = flat_get(flat, "riskState") {
        if state.eq_ignore_ascii_case("atRisk") || state.eq_ignore_ascii_case("confirmedCompromised") {
            r.raise(3, format!("user risk state {state}"));
        }
    }
    if f.outcome == Outcome::Success {
        if let Some(client) = flat_get(flat, "clientAppUsed") {
            if LEGACY_CLIENTS.contains(&client.trim().to_ascii_lowercase().as_str()) {
                r.raise(2, format!("legacy authentication ({client})"));
            }
        }
        let device_code = flat_get(flat, "authenticationProtocol")
            .is_some_and(|p| p.eq_ignore_ascii_case("deviceCode"))
            || flat_get(flat, "ExtendedProperties.RequestType").is_some_and(|p| p.eq_ignore_ascii_case("Cmsi:Cmsi"));
        if device_code {
            r.raise(2, "device code sign-in");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(pairs: &[(&str, &str)]) -> Flat {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn rate(op: &str, pairs: &[(&str, &str)], outcome: Outcome) -> (i16, Vec<String>) {
        let f = flat(pairs);
        let internal = vec!["contoso.example".to_string()];
        assess(&Facts {
            source: Source::Unified,
            op,
            outcome,
            sign_in: false,
            actor: Some("admin@contoso.example"),
            targets: &[],
            flattened: &f,
            internal: &internal,
        })
    }

    #[test]
    fn roles_are_tiered_by_template_id_and_name() {
        assert_eq!(role_level(GLOBAL_ADMIN), 4);
        assert_eq!(role_level("Global Administrator"), 4);
        assert_eq!(role_level("CompanyAdministrator"), 4);
        assert_eq!(role_level("Privileged Role Administrator"), 4);
        assert_eq!(role_level("194ae4cb-b126-40b2-bd5b-6091b380977d"), 3);
        assert_eq!(role_level("Helpdesk Administrator"), 3);
        assert_eq!(role_level("Teams Administrator"), 2);
        assert_eq!(role_level("Reports Reader"), 1);
    }

    #[test]
    fn an_unknown_activity_is_info_without_reasons() {
        assert_eq!(rate("fileaccessed", &[], Outcome::Success), (0, vec![]));
    }

    #[test]
    fn a_failed_dangerous_operation_is_one_level_lower_but_never_below_info() {
        let ok = rate(
            "set-adminauditlogconfig",
            &[("Parameters.UnifiedAuditLogIngestionEnabled", "False")],
            Outcome::Success,
        );
        let failed = rate(
            "set-adminauditlogconfig",
            &[("Parameters.UnifiedAuditLogIngestionEnabled", "False")],
            Outcome::Failure,
        );
        assert_eq!((ok.0, failed.0), (4, 3));
        assert!(failed.1.contains(&"the operation failed".to_string()));
        assert_eq!(rate("fileaccessed", &[], Outcome::Failure), (0, vec![]));
    }

    #[test]
    fn a_microsoft_service_account_lowers_the_level() {
        let f = flat(&[("Parameters.AccessRights", "FullAccess")]);
        let (level, reasons) = assess(&Facts {
            source: Source::Unified,
            op: "add-mailboxpermission",
            outcome: Outcome::Success,
            sign_in: false,
            actor: Some("NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)"),
            targets: &[],
            flattened: &f,
            internal: &[],
        });
        assert_eq!(level, 2);
        assert!(reasons.iter().any(|r| r.contains("service account")));
    }

    #[test]
    fn consent_is_rated_by_its_scopes_as_whole_words() {
        let risky = rate(
            "consent to application",
            &[(
                "targetResources.0.modifiedProperties.ConsentAction.Permissions.newValue",
                "[[Id: x, ConsentType: Principal, Scope: Mail.ReadWrite offline_access]]",
            )],
            Outcome::Success,
        );
        assert_eq!(risky.0, 3, "{risky:?}");
        let benign = rate(
            "consent to application",
            &[(
                "targetResources.0.modifiedProperties.ConsentAction.Permissions.newValue",
                "[[Id: x, ConsentType: Principal, Scope: User.Read openid profile Mail.ReadWriteX]]",
            )],
            Outcome::Success,
        );
        assert_eq!(benign.0, 1, "a near miss: harmless scopes: {benign:?}");
        let wide = rate(
            "consent to application",
            &[(
                "ModifiedProperties.ConsentAction.Permissions.NewValue",
                "ConsentType: AllPrincipals, Scope: User.Read",
            )],
            Outcome::Success,
        );
        assert_eq!(wide.0, 2);
    }

    #[test]
    fn conditional_access_policies_disabled_are_high_and_other_updates_medium() {
        let disabled = rate(
            "update conditional access policy",
            &[("targetResources.0.modifiedProperties.ConditionalAccessPolicy.newValue.state", "disabled")],
            Outcome::Success,
        );
        assert_eq!(disabled.0, 3);
        let text = rate(
            "update policy",
            &[(
                "ModifiedProperties.ConditionalAccessPolicy.NewValue",
                "{\"state\":\"enabledForReportingButNotEnforced\"}",
            )],
            Outcome::Success,
        );
        assert_eq!(text.0, 3);
        let other = rate(
            "update conditional access policy",
            &[("targetResources.0.modifiedProperties.ConditionalAccessPolicy.newValue.state", "enabled")],
            Outcome::Success,
        );
        assert_eq!(other.0, 2, "a near miss: still enabled");
        assert_eq!(rate("update policy", &[("ModifiedProperties.Other.NewValue", "x")], Outcome::Success).0, 0);
        assert_eq!(rate("delete conditional access policy", &[], Outcome::Success).0, 3);
    }

    #[test]
    fn transport_rules_copying_mail_outside_are_high() {
        assert_eq!(rate("new-transportrule", &[("Parameters.BlindCopyTo", "spy@evil.example")], Outcome::Success).0, 3);
        assert_eq!(
            rate("new-transportrule", &[("Parameters.BlindCopyTo", "audit@contoso.example")], Outcome::Success).0,
            1
        );
    }

    #[test]
    fn audit_tampering_and_mailbox_audit_bypass_are_flagged() {
        assert_eq!(
            rate("set-mailboxauditbypassassociation", &[("Parameters.AuditBypassEnabled", "True")], Outcome::Success).0,
            3
        );
        assert_eq!(
            rate("set-mailboxauditbypassassociation", &[("Parameters.AuditBypassEnabled", "False")], Outcome::Success)
                .0,
            0
        );
        assert_eq!(
            rate("set-adminauditlogconfig", &[("Parameters.AdminAuditLogEnabled", "$false")], Outcome::Success).0,
            3
        );
        assert_eq!(
            rate(
                "set-adminauditlogconfig",
                &[("Parameters.UnifiedAuditLogIngestionEnabled", "True")],
                Outcome::Success
            )
            .0,
            0
        );
    }
}
