//! Built-in severity heuristics (detections.md §5.2): what makes a change dangerous, from the
//! flattened record. Levels: 0 info, 1 low, 2 medium, 3 high, 4 critical. A failed operation is
//! one level lower (never below info).

use std::collections::BTreeMap;

use super::{Context, Outcome};

/// Privileged directory role template ids (Microsoft's permissions reference).
const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";
const TIER0_ROLES: &[&str] = &[
    "e8611ab8-c189-46e8-94e1-60213ab1f814", // Privileged Role Administrator
    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13", // Privileged Authentication Administrator
    "194ae4cb-b126-40b2-bd5b-6091b380977d", // Security Administrator
    "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9", // Conditional Access Administrator
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", // Application Administrator
    "158c047a-c907-4556-b7ef-446551a6b5f7", // Cloud Application Administrator
    "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2", // Hybrid Identity Administrator
    "29232cdf-9323-42fd-ade2-1d097af3e4de", // Exchange Administrator
    "f28a1f50-f6e7-4571-818b-6a12f2af6b6c", // SharePoint Administrator
    "fe930be7-5e62-47db-91af-98c3a49a38b1", // User Administrator
    "c4e39bd9-1100-46d3-8c65-fb160da0071f", // Authentication Administrator
    "3a2c62db-5318-420d-8d74-23affee5d9d5", // Intune Administrator
    "8329153b-31d0-4727-b945-745eb3bc5f31", // Domain Name Administrator
    "be2f45a1-457d-42af-a067-6ec1fa63bc45", // External Identity Provider Administrator
];
const TIER0_NAMES: &[&str] = &[
    "privileged role administrator",
    "privileged authentication administrator",
    "security administrator",
    "conditional access administrator",
    "application administrator",
    "cloud application administrator",
    "hybrid identity administrator",
    "exchange administrator",
    "sharepoint administrator",
    "user administrator",
    "authentication administrator",
    "intune administrator",
    "domain name administrator",
    "external identity provider administrator",
];
const HIGH_RISK_SCOPES: &[&str] = &[
    "mail.read",
    "mail.readwrite",
    "mail.send",
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
];
const HIDING_FOLDERS: &[&str] =
    &["rss feeds", "rss subscriptions", "conversation history", "archive", "deleted items", "junk email"];

/// What the heuristics look at.
pub struct Facts<'a> {
    pub operation: &'a str,
    pub outcome: Outcome,
    pub actor_upn: Option<&'a str>,
    pub flattened: &'a BTreeMap<String, String>,
    pub context: &'a Context,
    /// The record is a sign-in (or logon) event.
    pub sign_in: bool,
}

fn values_where<'a>(
    f: &'a BTreeMap<String, String>,
    pred: impl Fn(&str) -> bool + 'a,
) -> impl Iterator<Item = &'a str> + 'a {
    f.iter().filter(move |(k, _)| pred(k)).map(|(_, v)| v.as_str())
}

fn domain_of(address: &str) -> Option<String> {
    let a = address.trim().trim_start_matches("smtp:").trim_start_matches("SMTP:");
    a.rsplit_once('@').map(|(_, d)| d.trim_end_matches('>').trim().to_ascii_lowercase()).filter(|d| !d.is_empty())
}

/// Whether any address in `value` (`;`/`,` separated) is outside the tenant.
pub fn is_external(value: &str, facts: &Facts) -> bool {
    let own = facts.actor_upn.and_then(domain_of);
    value.split([';', ',']).filter_map(domain_of).any(|d| {
        own.as_deref() != Some(d.as_str()) && !facts.context.tenant_domains.iter().any(|t| t.eq_ignore_ascii_case(&d))
    })
}

fn key_ends(f: &BTreeMap<String, String>, suffixes: &[&str]) -> Option<String> {
    f.iter().find(|(k, _)| suffixes.iter().any(|s| k.ends_with(s))).map(|(_, v)| v.clone())
}

/// The severity level and the reasons for it.
pub fn assess(facts: &Facts) -> (i16, Vec<String>) {
    let op = facts.operation.to_ascii_lowercase();
    let f = facts.flattened;
    let mut level: i16 = 0;
    let mut reasons = Vec::new();
    let mut raise = |l: i16, why: &str| {
        if l > level {
            level = l;
        }
        reasons.push(why.to_string());
    };

    if op.contains("member to role") {
        let roles: Vec<String> = values_where(f, |k| {
            let k = k.to_ascii_lowercase();
            (k.contains("role.displayname") || k.contains("role.templateid"))
                && (k.ends_with("newvalue") || k.ends_with("new_value"))
        })
        .map(|v| v.to_ascii_lowercase())
        .collect();
        if roles.iter().any(|r| r.contains(GLOBAL_ADMIN) || r.contains("global administrator")) {
            raise(4, "Global Administrator role assigned");
        } else if roles
            .iter()
            .any(|r| TIER0_ROLES.iter().any(|id| r.contains(id)) || TIER0_NAMES.iter().any(|n| r.contains(n)))
        {
            raise(3, "privileged role assigned");
        } else {
            raise(1, "role assigned");
        }
    }
    if op == "add-mailboxpermission" {
        let rights = key_ends(f, &["Parameters.AccessRights"]).unwrap_or_default().to_ascii_lowercase();
        if rights.contains("fullaccess") {
            raise(3, "FullAccess mailbox permission granted");
        } else {
            raise(2, "mailbox permission granted");
        }
    }
    if op == "set-mailbox" {
        let forward =
            key_ends(f, &["Parameters.ForwardingSmtpAddress", "Parameters.ForwardingAddress"]).unwrap_or_default();
        if !forward.trim().is_empty() {
            let keep_copy = key_ends(f, &["Parameters.DeliverToMailboxAndForward"]).unwrap_or_default();
            if is_external(&forward, facts) {
                if keep_copy.eq_ignore_ascii_case("false") {
                    raise(4, "mailbox forwarded outside the tenant without keeping a copy");
                } else {
                    raise(3, "mailbox forwarded outside the tenant");
                }
            } else {
                raise(1, "mailbox forwarding set");
            }
        }
    }
    if op == "new-inboxrule" || op == "set-inboxrule" || op == "updateinboxrules" {
        let forward: Vec<&str> = values_where(f, |k| {
            k.ends_with(".ForwardTo")
                || k.ends_with(".RedirectTo")
                || k.ends_with(".ForwardAsAttachmentTo")
                || k.contains("RuleActions")
        })
        .collect();
        let external = forward.iter().any(|v| is_external(v, facts));
        let deletes = key_ends(f, &["Parameters.DeleteMessage"]).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let hides = key_ends(f, &["Parameters.MoveToFolder"])
            .is_some_and(|v| HIDING_FOLDERS.contains(&v.to_ascii_lowercase().as_str()));
        if external {
            raise(3, "inbox rule forwards outside the tenant");
        }
        if deletes || hides {
            raise(if external { 3 } else { 2 }, "inbox rule deletes or hides mail");
        }
    }
    if op.contains("anonymouslink") || op == "anonymouslinkcreated" {
        raise(3, "anonymous sharing link created");
    }
    if op == "disable strong authentication" {
        raise(3, "MFA disabled");
    }
    if op == "update user" || op == "update user." {
        let mfa = values_where(f, |k| {
            k.contains("StrongAuthenticationRequirement") && k.to_ascii_lowercase().ends_with("newvalue")
        })
        .next();
        if mfa.is_some_and(|v| v.trim().is_empty() || v.trim() == "[]" || v.contains("\"State\":0")) {
            raise(3, "MFA requirement removed");
        }
    }
    if op == "set-adminauditlogconfig" {
        let off = key_ends(f, &["Parameters.UnifiedAuditLogIngestionEnabled", "Parameters.AdminAuditLogEnabled"])
            .is_some_and(|v| v.eq_ignore_ascii_case("false"));
        if off {
            raise(4, "audit logging turned off");
        }
    }
    if op.contains("conditional access policy") || op == "delete policy" || op == "update policy" {
        let disabled =
            f.values().any(|v| v.contains("\"state\":\"disabled\"") || v.contains("enabledForReportingButNotEnforced"));
        if op.starts_with("delete") || disabled {
            raise(3, "conditional access policy deleted or disabled");
        } else {
            raise(2, "conditional access policy changed");
        }
    }
    if op.starts_with("consent to application") {
        let text = f.values().map(|v| v.to_ascii_lowercase()).collect::<Vec<_>>().join(" ");
        if HIGH_RISK_SCOPES.iter().any(|s| text.contains(s)) {
            raise(3, "consent to high-risk permissions");
        } else {
            raise(2, "consent to application");
        }
    }
    if op.contains("service principal credentials") || op.contains("certificates and secrets management") {
        raise(2, "application credentials added");
    }
    if op.contains("wipe")
        || op.contains("retire managed")
        || op.contains("retire manageddevice")
        || op == "delete manageddevice"
    {
        raise(2, "device wiped, retired or deleted");
    }
    if op == "dlprulematch" {
        let sev = key_ends(f, &[".Severity"]).unwrap_or_default().to_ascii_lowercase();
        match sev.as_str() {
            "high" => raise(3, "DLP rule match (high)"),
            "medium" => raise(2, "DLP rule match (medium)"),
            _ => raise(1, "DLP rule match"),
        }
    }
    if facts.sign_in && facts.outcome == Outcome::Failure {
        raise(1, "failed sign-in");
        return (level, reasons);
    }
    if facts.outcome == Outcome::Failure && level > 0 {
        level -= 1;
        reasons.push("the operation failed".into());
    }
    (level, reasons)
}
