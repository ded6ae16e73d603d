//! Unified Audit Log records (every workload of the Management Activity API): Exchange and
//! Security & Compliance cmdlets, mailbox audit, SharePoint/OneDrive, Entra directory and STS
//! logons, Teams, DLP, threat intelligence, alerts, and anything newer, which degrades to the
//! common envelope.
//!
//! Decisions a reader would otherwise have to guess:
//! - `operation` is `Operation` trimmed, with one trailing "." removed (UAL writes Entra
//!   activities as "Add member to role."; Graph and the rules do not). The flattened map keeps
//!   the text as logged under `Operation`.
//! - STS logons (RecordType 15, `UserLoggedIn`/`UserLoginFailed`) take their outcome from
//!   `ErrorCode` ("0" = success) and the operation name, because their `ResultStatus` only
//!   reports the HTTP exchange ("Success" on a failed logon).
//! - Records without `ResultStatus` (most SharePoint and Teams ones) have outcome `unknown`.
//! - `service` is `Workload`, or the workload implied by the content type when it is missing.
//! - DLP records are logged by `DlpAgent`; their `actor_upn` is the sender of the mail (or the
//!   user, for SharePoint), so a person's activity includes the DLP matches they caused.

use serde_json::{Map, Value};

use super::common::{
    directory_summary, first_ip, first_target_label, first_text, flat_get, int, internal_domains, list, looks_like_upn,
    obj, op_key, outcome_of, owned, param, record_id, record_time, short, summary_line, target_label, text,
    well_known_app, Flat, Targets,
};
use super::severity::{assess, Facts};
use super::{flatten_record, Context, NormalizeError, Normalized, Outcome, Source, Target};

/// The kinds of UAL record that differ in targets and summaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// STS logon (RecordType 15) or the deprecated account logon (9).
    Logon,
    /// Entra directory change (RecordType 8).
    Directory,
    /// A PowerShell cmdlet: Exchange admin (RecordType 1), Security & Compliance (18),
    /// datacenter (10), Skype/Teams (23), or anything named `Verb-Noun` with parameters.
    Cmdlet,
    /// Exchange mailbox audit (RecordType 2, 3, 50).
    Mailbox,
    /// SharePoint / OneDrive.
    Files,
    /// Microsoft Teams.
    Teams,
    /// DLP rule match / undo / info.
    Dlp,
    Other,
}

impl Shape {
    fn of(record_type: Option<i64>, workload: &str, op: &str, o: &Map<String, Value>) -> Shape {
        if op == "userloggedin" || op == "userloginfailed" || matches!(record_type, Some(9 | 15)) {
            return Shape::Logon;
        }
        if op.starts_with("dlp") || matches!(record_type, Some(11 | 13 | 33 | 63 | 99 | 100 | 107)) {
            return Shape::Dlp;
        }
        match record_type {
            Some(8) => return Shape::Directory,
            Some(1 | 10 | 18 | 23) => return Shape::Cmdlet,
            Some(2 | 3 | 50) => return Shape::Mailbox,
            Some(4 | 6 | 7 | 14 | 36 | 37 | 54 | 55 | 56) => return Shape::Files,
            Some(25 | 57) => return Shape::Teams,
            _ => {}
        }
        let w = workload.to_ascii_lowercase();
        match w.as_str() {
            "azureactivedirectory" => Shape::Directory,
            "sharepoint" | "onedrive" => Shape::Files,
            "microsoftteams" => Shape::Teams,
            "exchange" if o.contains_key("MailboxOwnerUPN") || o.contains_key("MailboxGuid") => Shape::Mailbox,
            _ if looks_like_cmdlet(op) && o.contains_key("Parameters") => Shape::Cmdlet,
            "exchange" if looks_like_cmdlet(op) => Shape::Cmdlet,
            _ => Shape::Other,
        }
    }
}

/// The workload a content type implies, for records that lack `Workload`.
fn workload_of(content_type: Option<&str>) -> Option<String> {
    let w = match content_type? {
        "Audit.Exchange" => "Exchange",
        "Audit.SharePoint" => "SharePoint",
        "Audit.AzureActiveDirectory" => "AzureActiveDirectory",
        _ => return None,
    };
    Some(w.to_string())
}

/// Normalizes one UAL record.
pub(super) fn normalize(
    o: &Map<String, Value>,
    content_type: Option<&str>,
    context: &Context,
) -> Result<Normalized, NormalizeError> {
    let record_id = record_id(o, "Id")?;
    let occurred_at = record_time(o, "CreationTime")?;
    let flattened = flatten_record(o);

    let logged = owned(o, "Operation").unwrap_or_default();
    let operation = logged.strip_suffix('.').map(str::trim_end).unwrap_or(&logged).to_string();
    let op = op_key(&operation);
    let record_type = int(o, "RecordType");
    let service = owned(o, "Workload").or_else(|| workload_of(content_type)).unwrap_or_default();
    let shape = Shape::of(record_type, &service, &op, o);

    let result = match shape {
        Shape::Logon => logon_outcome(o, &op),
        _ => outcome_of(text(o, "ResultStatus").as_deref()),
    };

    let user_id = owned(o, "UserId");
    let mut actor_upn = user_id.clone().filter(|u| looks_like_upn(u));
    if actor_upn.is_none() && shape == Shape::Dlp {
        actor_upn = obj(o, "ExchangeMetaData").and_then(|m| owned(m, "From")).filter(|u| looks_like_upn(u));
    }
    let actor_display = user_id.clone().or_else(|| owned(o, "LogonUserDisplayName")).or_else(|| actor_upn.clone());
    let actor_app_id = first_text(o, &["AppId", "ClientAppId", "ApplicationId"])
        .or_else(|| obj(o, "AppAccessContext").and_then(|c| owned(c, "ClientAppId")));
    let actor_ip = first_ip(o, &["ClientIP", "ClientIPAddress", "ActorIpAddress"]);
    let correlation_id = owned(o, "CorrelationId")
        .or_else(|| flat_get(&flattened, "ExtendedProperties.correlationId").map(str::to_string))
        .or_else(|| obj(o, "AppAccessContext").and_then(|c| owned(c, "CorrelationId")));

    let targets = targets(shape, o, &op, &operation, &flattened);
    let internal = internal_domains(
        context,
        [
            actor_upn.as_deref(),
            text(o, "MailboxOwnerUPN").as_deref().filter(|u| looks_like_upn(u)),
            param(&flattened, "Identity").filter(|u| looks_like_upn(u)),
            flat_get(&flattened, "ExchangeMetaData.From"),
        ],
    );
    let (severity, severity_reasons) = assess(&Facts {
        source: Source::Unified,
        op: &op,
        outcome: result,
        sign_in: shape == Shape::Logon,
        actor: user_id.as_deref(),
        targets: &targets,
        flattened: &flattened,
        internal: &internal,
    });

    let actor = actor_upn.as_deref().or(user_id.as_deref()).or(actor_app_id.as_deref()).unwrap_or("someone");
    let summary =
        summary(&Line { shape, op: &op, operation: &operation, actor, result, o, f: &flattened, targets: &targets });

    Ok(Normalized {
        dedupe_key: record_id.clone(),
        record_id,
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
        correlation_id,
        flattened,
    })
}

/// A logon's outcome: the AADSTS error code first, then the operation's name, then the error
/// text; `ResultStatus` only as a last resort.
fn logon_outcome(o: &Map<String, Value>, op: &str) -> Outcome {
    let code = text(o, "ErrorCode").or_else(|| text(o, "ErrorNumber"));
    match code.as_deref().map(str::trim) {
        Some("0") if op != "userloginfailed" => Outcome::Success,
        Some(_) => Outcome::Failure,
        None if op == "userloginfailed" || text(o, "LogonError").is_some() => Outcome::Failure,
        None if op == "userloggedin" => Outcome::Success,
        None => outcome_of(text(o, "ResultStatus").as_deref()),
    }
}

fn looks_like_guid(s: &str) -> bool {
    s.len() == 36 && s.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// An `ObjectId` worth showing (UAL writes "Not Available" / "Unknown" for none).
fn meaningful_object(o: &Map<String, Value>) -> Option<String> {
    owned(o, "ObjectId").filter(|s| !s.eq_ignore_ascii_case("not available") && !s.eq_ignore_ascii_case("unknown"))
}

fn is_inbox_rule_cmdlet(op: &str) -> bool {
    op.ends_with("-inboxrule")
}

/// `verb-noun` (an activity key): one dash between two words of letters.
fn looks_like_cmdlet(op: &str) -> bool {
    match op.split_once('-') {
        Some((verb, noun)) => {
            !verb.is_empty()
                && !noun.is_empty()
                && verb.bytes().all(|b| b.is_ascii_alphabetic())
                && noun.bytes().all(|b| b.is_ascii_alphanumeric())
        }
        None => false,
    }
}

/// What a cmdlet's noun says about its target: `Add-MailboxPermission` acts on a mailbox,
/// `Add-DistributionGroupMember` on a group.
fn cmdlet_target_kind(operation: &str) -> Option<&str> {
    let noun = operation.split_once('-').map(|(_, n)| n.trim()).filter(|n| !n.is_empty())?;
    let base = ["Permission", "Member"].iter().find_map(|s| noun.strip_suffix(s)).filter(|b| !b.is_empty());
    Some(base.unwrap_or(noun))
}

/// Whether a mailbox named in a record (an alias or an address) is the actor's own.
fn is_own_mailbox(mailbox: &str, actor: &str) -> bool {
    let local = |s: &str| s.split('@').next().unwrap_or(s).to_ascii_lowercase();
    mailbox.eq_ignore_ascii_case(actor) || (!mailbox.contains('@') && local(mailbox) == local(actor))
}

fn targets(shape: Shape, o: &Map<String, Value>, op: &str, operation: &str, f: &Flat) -> Vec<Target> {
    let mut t = Targets::default();
    match shape {
        Shape::Logon => {
            let resource = list(o, "Target")
                .iter()
                .filter_map(Value::as_object)
                .find_map(|x| owned(x, "ID").filter(|id| looks_like_guid(id)))
                .or_else(|| meaningful_object(o));
            if let Some(id) = resource {
                t.add(well_known_app(&id).map(str::to_string), Some(id), Some("Application"));
            }
        }
        Shape::Directory => directory_targets(o, &mut t),
        Shape::Cmdlet => {
            let object = meaningful_object(o);
            if is_inbox_rule_cmdlet(op) {
                let rule = param(f, "Name")
                    .map(str::to_string)
                    .or_else(|| object.as_deref().and_then(|x| x.rsplit_once('\\')).map(|(_, r)| r.to_string()));
                t.add(rule, object.clone(), Some("InboxRule"));
                let mailbox = param(f, "Mailbox")
                    .map(str::to_string)
                    .or_else(|| object.as_deref().and_then(|x| x.rsplit_once('\\')).map(|(m, _)| m.to_string()));
                t.add(mailbox, None, Some("Mailbox"));
            } else {
                let noun = cmdlet_target_kind(operation);
                let display = owned(o, "ModifiedObjectResolvedName")
                    .or_else(|| param(f, "Identity").map(str::to_string))
                    .or_else(|| object.clone());
                t.add(display, object, noun);
                for grantee in ["User", "Trustee"] {
                    t.add(param(f, grantee).map(str::to_string), None, Some("User"));
                }
            }
        }
        Shape::Mailbox => {
            if op == "updateinboxrules" {
                t.add(flat_get(f, "OperationProperties.RuleName").map(str::to_string), None, Some("InboxRule"));
            }
            t.add(owned(o, "MailboxOwnerUPN"), owned(o, "MailboxGuid"), Some("Mailbox"));
            if let Some(item) = obj(o, "Item") {
                t.add(owned(item, "Subject"), first_text(item, &["InternetMessageId", "Id"]), Some("Message"));
            }
        }
        Shape::Files => {
            let object = meaningful_object(o);
            let name = owned(o, "SourceFileName").or_else(|| {
                object.as_deref().and_then(|x| x.trim_end_matches('/').rsplit('/').next()).map(str::to_string)
            });
            let kind = text(o, "ItemType").filter(|k| k.parse::<i64>().is_err());
            t.add(name, object, Some(kind.as_deref().unwrap_or("File")));
            for who in ["TargetUserOrGroupName", "UserSharedWith"] {
                let kind = owned(o, "TargetUserOrGroupType");
                t.add(owned(o, who), None, Some(kind.as_deref().unwrap_or("User")));
            }
        }
        Shape::Teams => {
            for m in list(o, "Members").iter().filter_map(Value::as_object) {
                t.add(first_text(m, &["UPN", "DisplayName"]), None, Some("User"));
            }
            t.add(owned(o, "ChannelName"), owned(o, "ChannelGuid"), Some("Channel"));
            t.add(owned(o, "TeamName"), owned(o, "TeamGuid"), Some("Team"));
        }
        Shape::Dlp => {
            if let Some(meta) = obj(o, "ExchangeMetaData") {
                for key in ["To", "CC", "BCC"] {
                    for r in list(meta, key) {
                        t.add(r.as_str().map(str::to_string), None, Some("Recipient"));
                    }
                }
            }
            if let Some(meta) = obj(o, "SharePointMetaData") {
                t.add(owned(meta, "FileName"), first_text(meta, &["FilePathUrl", "UniqueId"]), Some("File"));
            }
            if t.0.is_empty() {
                t.add(meaningful_object(o), None, None);
            }
        }
        Shape::Other if op == "timaildata" => {
            for r in list(o, "Recipients") {
                t.add(r.as_str().map(str::to_string), None, Some("Recipient"));
            }
        }
        Shape::Other => t.add(meaningful_object(o), None, None),
    }
    if t.0.is_empty() && shape != Shape::Dlp && shape != Shape::Other {
        t.add(meaningful_object(o), None, None);
    }
    t.0
}

/// `Target[]` of a directory record: UPN/name entries (types 5 and 1), paired in order with the
/// `Kind_<guid>` entries (type 2) that give their kind and object id.
fn directory_targets(o: &Map<String, Value>, t: &mut Targets) {
    let mut names = Vec::new();
    let mut typed = Vec::new();
    for x in list(o, "Target").iter().filter_map(Value::as_object) {
        let Some(id) = owned(x, "ID") else { continue };
        match int(x, "Type") {
            Some(5 | 1) => names.push(id),
            Some(2) => {
                if let Some((kind, guid)) = id.split_once('_').filter(|(k, g)| !k.is_empty() && looks_like_guid(g)) {
                    typed.push((kind.to_string(), guid.to_string()));
                }
            }
            _ => {}
        }
    }
    let mut typed_iter = typed.into_iter();
    for name in names {
        let (kind, id) = match typed_iter.next() {
            Some((k, g)) => (Some(k), Some(g)),
            None => (looks_like_upn(&name).then(|| "User".to_string()), None),
        };
        t.add(Some(name), id, kind.as_deref());
    }
    for (kind, guid) in typed_iter {
        t.add(None, Some(guid), Some(&kind));
    }
    if t.0.is_empty() {
        t.add(meaningful_object(o), None, None);
    }
}

/// What a summary is made from.
struct Line<'a> {
    shape: Shape,
    op: &'a str,
    operation: &'a str,
    actor: &'a str,
    result: Outcome,
    o: &'a Map<String, Value>,
    f: &'a Flat,
    targets: &'a [Target],
}

fn summary(l: &Line) -> String {
    let mut details = Vec::new();
    let main = match l.shape {
        Shape::Logon => logon_summary(l, &mut details),
        Shape::Directory => directory_summary(l.op, l.operation, l.actor, l.targets, l.f),
        Shape::Cmdlet => cmdlet_summary(l, &mut details),
        Shape::Mailbox => mailbox_summary(l, &mut details),
        Shape::Files => files_summary(l, &mut details),
        Shape::Teams => teams_summary(l),
        Shape::Dlp => dlp_summary(l, &mut details),
        Shape::Other => other_summary(l, &mut details),
    };
    if l.result == Outcome::Failure && l.shape != Shape::Logon {
        details.push("failed".into());
    }
    summary_line(&main, &details)
}

fn logon_summary(l: &Line, details: &mut Vec<String>) -> String {
    let resource = l.targets.first().and_then(target_label).unwrap_or("Entra ID");
    let mut main = format!("{} signed in to {resource}", l.actor);
    if let Some(client) = first_text(l.o, &["ApplicationId", "AppId"]).as_deref().and_then(well_known_app) {
        if client != resource {
            main.push_str(" via ");
            main.push_str(client);
        }
    }
    if l.result == Outcome::Failure {
        let code = first_text(l.o, &["ErrorCode", "ErrorNumber"]);
        let error = owned(l.o, "LogonError");
        let why: Vec<String> = [code, error].into_iter().flatten().collect();
        details.push(if why.is_empty() { "failed".into() } else { format!("failed: {}", why.join(" ")) });
    }
    main
}

/// Parameters worth showing first in a cmdlet summary.
const KEY_PARAMS: &[&str] = &[
    "ForwardingSmtpAddress",
    "ForwardingAddress",
    "DeliverToMailboxAndForward",
    "AccessRights",
    "User",
    "Trustee",
    "ForwardTo",
    "RedirectTo",
    "ForwardAsAttachmentTo",
    "BlindCopyTo",
    "RedirectMessageTo",
    "UnifiedAuditLogIngestionEnabled",
    "AdminAuditLogEnabled",
    "AuditEnabled",
    "AuditBypassEnabled",
    "Role",
    "GrantSendOnBehalfTo",
    "Enabled",
];
/// Parameters that never help a reader.
const NOISE_PARAMS: &[&str] =
    &["Identity", "ErrorAction", "WarningAction", "Confirm", "Force", "DomainController", "Name", "Mailbox"];

/// Up to three `Name=Value` parameters, the telling ones first.
fn param_details(f: &Flat) -> Vec<String> {
    let mut params: Vec<(&str, &str)> = f
        .range("Parameters.".to_string()..)
        .take_while(|(k, _)| k.starts_with("Parameters."))
        .map(|(k, v)| (&k["Parameters.".len()..], v.as_str()))
        .filter(|(name, v)| !name.contains('.') && !v.trim().is_empty())
        .filter(|(name, _)| !NOISE_PARAMS.iter().any(|n| n.eq_ignore_ascii_case(name)))
        .collect();
    params.sort_by_key(|(name, _)| {
        KEY_PARAMS.iter().position(|k| k.eq_ignore_ascii_case(name)).unwrap_or(KEY_PARAMS.len())
    });
    params.into_iter().take(3).map(|(name, v)| format!("{name}={}", short(v, 80))).collect()
}

fn cmdlet_summary(l: &Line, details: &mut Vec<String>) -> String {
    let f = l.f;
    if is_inbox_rule_cmdlet(l.op) {
        let verb = match l.op.split('-').next().unwrap_or("") {
            "new" => "created",
            "set" => "changed",
            "remove" => "removed",
            "enable" => "enabled",
            "disable" => "disabled",
            _ => "changed",
        };
        let rule = l
            .targets
            .iter()
            .find(|t| t.kind.as_deref() == Some("InboxRule"))
            .and_then(|t| t.display.as_deref())
            .unwrap_or("");
        let mut main = format!("{} {verb} inbox rule '{}'", l.actor, short(rule, 60));
        let mut actions = Vec::new();
        for (name, phrase) in [
            ("ForwardTo", "forwarding to"),
            ("RedirectTo", "redirecting to"),
            ("ForwardAsAttachmentTo", "forwarding to"),
        ] {
            if let Some(v) = param(f, name) {
                actions.push(format!("{phrase} {}", short(v, 80)));
            }
        }
        if super::common::is_true(param(f, "DeleteMessage")) {
            actions.push("deleting the mail".into());
        }
        if let Some(folder) = param(f, "MoveToFolder") {
            actions.push(format!("moving mail to {}", short(folder, 60)));
        }
        if !actions.is_empty() {
            main.push(' ');
            main.push_str(&actions.join(" and "));
        }
        if let Some(mailbox) = l.targets.iter().find(|t| t.kind.as_deref() == Some("Mailbox")).and_then(target_label) {
            if !is_own_mailbox(mailbox, l.actor) {
                main.push_str(" in ");
                main.push_str(mailbox);
            }
        }
        return main;
    }
    details.extend(param_details(f));
    match l.targets.first().and_then(target_label) {
        Some(target) => format!("{} ran {} on {}", l.actor, l.operation, short(target, 100)),
        None => format!("{} ran {}", l.actor, l.operation),
    }
}

fn mailbox_summary(l: &Line, details: &mut Vec<String>) -> String {
    let o = l.o;
    let owner = owned(o, "MailboxOwnerUPN");
    let elsewhere = owner.as_deref().filter(|m| !is_own_mailbox(m, l.actor));
    let in_mailbox = |s: String| match elsewhere {
        Some(m) => format!("{s} in mailbox {m}"),
        None => s,
    };
    let subject = obj(o, "Item").and_then(|i| owned(i, "Subject")).map(|s| short(&s, 80));
    match l.op {
        "mailitemsaccessed" => {
            let count = int(o, "OperationCount").unwrap_or(1);
            let mailbox = match elsewhere {
                Some(m) => format!("mailbox {m}"),
                None => "their mailbox".to_string(),
            };
            if let Some(kind) = flat_get(l.f, "OperationProperties.MailAccessType") {
                details.push(kind.to_string());
            }
            format!("{} accessed {count} mail item{} in {mailbox}", l.actor, if count == 1 { "" } else { "s" })
        }
        "send" | "sendas" | "sendonbehalf" => {
            let mut s = match subject {
                Some(sub) => format!("{} sent '{sub}'", l.actor),
                None => format!("{} sent a message", l.actor),
            };
            if l.op == "sendas" {
                if let Some(who) = owned(o, "SendAsUserSmtp") {
                    s.push_str(&format!(" as {who}"));
                }
            } else if l.op == "sendonbehalf" {
                if let Some(who) = owned(o, "SendOnBehalfOfUserSmtp") {
                    s.push_str(&format!(" on behalf of {who}"));
                }
            }
            s
        }
        "softdelete" | "harddelete" | "movetodeleteditems" => {
            let count = list(o, "AffectedItems").len().max(usize::from(o.contains_key("Item")));
            let (verb, destination) = match l.op {
                "softdelete" => ("soft-deleted", ""),
                "harddelete" => ("permanently deleted", ""),
                _ => ("moved", " to Deleted Items"),
            };
            let folder = obj(o, "Folder").and_then(|f| owned(f, "Path"));
            let mut s = format!("{} {verb} {count} item{}", l.actor, if count == 1 { "" } else { "s" });
            if let Some(folder) = folder {
                s.push_str(&format!(" from {folder}"));
            }
            s.push_str(destination);
            in_mailbox(s)
        }
        "updateinboxrules" => {
            let rule = flat_get(l.f, "OperationProperties.RuleName").unwrap_or("");
            let mut s = format!("{} changed Outlook inbox rule '{}'", l.actor, short(rule, 60));
            let actions = flat_get(l.f, "OperationProperties.RuleActions").unwrap_or("");
            if let Some(addr) = super::common::addresses(actions).next() {
                s.push_str(&format!(" forwarding to {addr}"));
            }
            in_mailbox(s)
        }
        _ => {
            let mut s = format!("{} {}", l.actor, l.operation);
            if let Some(sub) = subject {
                s.push_str(&format!(" '{sub}'"));
            }
            in_mailbox(s)
        }
    }
}

fn files_summary(l: &Line, details: &mut Vec<String>) -> String {
    let file = l.targets.first().and_then(target_label).map(|f| short(f, 120)).unwrap_or_else(|| "an item".into());
    let who = owned(l.o, "TargetUserOrGroupName").or_else(|| owned(l.o, "UserSharedWith"));
    let who_label = who.as_deref().unwrap_or("someone");
    if let Some(kind) = owned(l.o, "TargetUserOrGroupType").filter(|_| who.is_some()) {
        details.push(kind);
    }
    let a = l.actor;
    let verb = match l.op {
        "fileaccessed" | "fileaccessedextended" => "opened",
        "filedownloaded" => "downloaded",
        "fileuploaded" => "uploaded",
        "filemodified" | "filemodifiedextended" => "modified",
        "filepreviewed" => "previewed",
        "filedeleted" => "deleted",
        "filerecycled" => "recycled",
        "filedeletedfirststagerecyclebin" | "filedeletedsecondstagerecyclebin" => "purged",
        "filerenamed" => "renamed",
        "filemoved" => "moved",
        "filecopied" => "copied",
        "filerestored" => "restored",
        "filesyncdownloadedfull" => "synced down",
        "filesyncuploadedfull" => "synced up",
        "filecheckedout" => "checked out",
        "filecheckedin" => "checked in",
        "foldercreated" => "created folder",
        "sharingset" => return format!("{a} shared {file} with {who_label}"),
        "sharinginvitationcreated" => return format!("{a} invited {who_label} to {file}"),
        "sharinginvitationaccepted" => return format!("{a} accepted an invitation to {file}"),
        "anonymouslinkcreated" => return format!("{a} created an anonymous link to {file}"),
        "anonymouslinkupdated" => return format!("{a} changed an anonymous link to {file}"),
        "anonymouslinkused" => return format!("{a} used an anonymous link to {file}"),
        "securelinkcreated" | "companylinkcreated" => return format!("{a} created a sharing link to {file}"),
        "addedtosecurelink" => return format!("{a} added {who_label} to a sharing link to {file}"),
        "sitecollectionadminadded" => return format!("{a} made {who_label} a site collection administrator"),
        "filemalwaredetected" => return format!("malware detected in {file}"),
        "searchqueryperformed" => {
            return match owned(l.o, "SearchQueryText") {
                Some(q) => format!("{a} searched for '{}'", short(&q, 80)),
                None => format!("{a} searched"),
            }
        }
        _ => return format!("{a} {}: {file}", l.operation),
    };
    format!("{a} {verb} {file}")
}

fn teams_summary(l: &Line) -> String {
    let team = owned(l.o, "TeamName");
    let channel = owned(l.o, "ChannelName");
    let members: Vec<&str> =
        l.targets.iter().filter(|t| t.kind.as_deref() == Some("User")).filter_map(target_label).collect();
    let members_label = match members.len() {
        0 => "someone".to_string(),
        1..=3 => members.join(", "),
        n => format!("{} and {} more", members[..3].join(", "), n - 3),
    };
    let team_label = team.as_deref().unwrap_or("a team");
    let a = l.actor;
    match l.op {
        "memberadded" => format!("{a} added {members_label} to team {team_label}"),
        "memberremoved" => format!("{a} removed {members_label} from team {team_label}"),
        "teamcreated" => format!("{a} created team {team_label}"),
        "teamdeleted" => format!("{a} deleted team {team_label}"),
        "channeladded" => format!("{a} added channel {} to team {team_label}", channel.as_deref().unwrap_or("?")),
        "channeldeleted" => format!("{a} deleted channel {} of team {team_label}", channel.as_deref().unwrap_or("?")),
        "chatcreated" if !members.is_empty() => format!("{a} started a chat with {members_label}"),
        "teamstenantsettingchanged" | "teamsettingchanged" if l.o.contains_key("Name") => {
            let setting = owned(l.o, "Name").unwrap_or_default();
            let old = owned(l.o, "OldValue").unwrap_or_else(|| "?".into());
            let new = owned(l.o, "NewValue").unwrap_or_else(|| "?".into());
            let scope = team.map(|t| format!(" of team {t}")).unwrap_or_default();
            format!(
                "{a} changed setting '{}'{scope} from {} to {}",
                short(&setting, 80),
                short(&old, 40),
                short(&new, 40)
            )
        }
        "messagesent" => match team {
            Some(t) => format!("{a} sent a message in team {t}"),
            None => format!("{a} sent a message"),
        },
        _ => match team {
            Some(t) => format!("{a} {} in team {t}", l.operation),
            None if !members.is_empty() => format!("{a} {}: {members_label}", l.operation),
            None => format!("{a} {}", l.operation),
        },
    }
}

fn dlp_summary(l: &Line, details: &mut Vec<String>) -> String {
    let f = l.f;
    let rule = flat_get(f, "PolicyDetails.0.Rules.0.RuleName");
    let policy = flat_get(f, "PolicyDetails.0.PolicyName");
    let what = match (rule, policy) {
        (Some(r), Some(p)) => format!("DLP rule '{}' of policy '{}'", short(r, 60), short(p, 60)),
        (Some(r), None) => format!("DLP rule '{}'", short(r, 60)),
        (None, Some(p)) => format!("DLP policy '{}'", short(p, 60)),
        (None, None) => "DLP".to_string(),
    };
    let verb = match l.op {
        "dlprulematch" => "matched",
        "dlpruleundo" => "match undone on",
        _ => "reported",
    };
    if let Some(kind) =
        flat_get(f, "PolicyDetails.0.Rules.0.ConditionsMatched.SensitiveInformation.0.SensitiveInformationTypeName")
    {
        details.push(kind.to_string());
    }
    if let Some(sev) = flat_get(f, "PolicyDetails.0.Rules.0.Severity") {
        details.push(format!("severity {sev}"));
    }
    if let Some(meta) = obj(l.o, "ExchangeMetaData") {
        let from = owned(meta, "From").unwrap_or_else(|| "someone".into());
        let to: Vec<&str> = list(meta, "To").iter().filter_map(Value::as_str).take(3).collect();
        return if to.is_empty() {
            format!("{what} {verb} mail from {from}")
        } else {
            format!("{what} {verb} mail from {from} to {}", to.join(", "))
        };
    }
    match first_target_label(l.targets, "Recipient") {
        Some(target) => format!("{what} {verb} {}", short(target, 120)),
        None => format!("{what} {verb}"),
    }
}

fn other_summary(l: &Line, details: &mut Vec<String>) -> String {
    if l.op == "alerttriggered" {
        let name = owned(l.o, "Name").or_else(|| flat_get(l.f, "Data.an").map(str::to_string));
        if let Some(sev) = owned(l.o, "Severity") {
            details.push(format!("severity {sev}"));
        }
        return format!("alert '{}' triggered", name.as_deref().unwrap_or("?"));
    }
    if l.op == "timaildata" {
        let verdict = owned(l.o, "Verdict").unwrap_or_else(|| "Mail".into());
        let from = first_text(l.o, &["P2Sender", "P1Sender"]).unwrap_or_else(|| "someone".into());
        let to: Vec<&str> = l.targets.iter().filter_map(target_label).take(3).collect();
        if let Some(action) = owned(l.o, "DeliveryAction") {
            details.push(action);
        }
        return if to.is_empty() {
            format!("{verdict} mail from {from}")
        } else {
            format!("{verdict} mail from {from} to {}", to.join(", "))
        };
    }
    match l.targets.first().and_then(target_label) {
        Some(t) => format!("{} {}: {}", l.actor, l.operation, short(t, 120)),
        None => format!("{} {}", l.actor, l.operation),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    use super::super::{normalize as normalize_raw, Context, Normalized, Outcome, Source};

    fn norm(v: serde_json::Value) -> Normalized {
        normalize_raw(Source::Unified, Some("Audit.Exchange"), &v.to_string(), &Context::default()).unwrap()
    }

    #[test]
    fn an_exchange_admin_cmdlet_names_its_target_and_key_parameters() {
        let n = norm(json!({
            "CreationTime": "2026-11-20T14:05:11", "Id": "4d0b7d0e-2c1f-4a7b-9b3e-6f2c1d9e0a11", "Operation": "Set-Mailbox",
            "OrganizationId": "3f1c9d2e-7b1a-4c55-9e0d-2b8f6a4c1e77", "RecordType": 1, "ResultStatus": "True", "UserKey": "10032000A1B2C3D4",
            "UserType": 2, "Version": 1, "Workload": "Exchange", "ClientIP": "198.51.100.23", "ObjectId": "contoso.example\\jdoe",
            "UserId": "admin@contoso.example", "AppId": "", "ClientAppId": "", "ExternalAccess": false,
            "OrganizationName": "contoso.example", "OriginatingServer": "AM0PR01MB1234 (15.20.8000.12)\r\n", "ModifiedObjectResolvedName": "jdoe",
            "Parameters": [{"Name": "Identity", "Value": "jdoe"}, {"Name": "ForwardingSmtpAddress", "Value": "smtp:jane@contoso.example"}]
        }));
        assert_eq!(n.record_id, "4d0b7d0e-2c1f-4a7b-9b3e-6f2c1d9e0a11");
        assert_eq!(n.dedupe_key, n.record_id);
        assert_eq!(n.occurred_at, Utc.with_ymd_and_hms(2026, 11, 20, 14, 5, 11).unwrap());
        assert_eq!((n.service.as_str(), n.operation.as_str(), n.result), ("Exchange", "Set-Mailbox", Outcome::Success));
        assert_eq!(n.actor_upn.as_deref(), Some("admin@contoso.example"));
        assert_eq!(n.actor_app_id, None, "empty AppId is no app");
        assert_eq!(n.actor_ip.as_deref(), Some("198.51.100.23"));
        assert_eq!(n.targets[0].display.as_deref(), Some("jdoe"));
        assert_eq!(n.targets[0].id.as_deref(), Some("contoso.example\\jdoe"));
        assert_eq!(n.targets[0].kind.as_deref(), Some("Mailbox"));
        assert_eq!(
            n.summary,
            "admin@contoso.example ran Set-Mailbox on jdoe (ForwardingSmtpAddress=smtp:jane@contoso.example)"
        );
        assert_eq!(n.flattened["OriginatingServer"], "AM0PR01MB1234 (15.20.8000.12)\r\n");
        assert_eq!(n.severity, 1, "internal forwarding is only low: {:?}", n.severity_reasons);
    }

    #[test]
    fn an_inbox_rule_summary_says_where_mail_goes() {
        let n = norm(json!({
            "CreationTime": "2026-11-20T09:00:00", "Id": "r1", "Operation": "New-InboxRule", "RecordType": "1", "ResultStatus": "True",
            "Workload": "Exchange", "UserId": "jdoe@contoso.example", "ClientIP": "203.0.113.66:50123", "ObjectId": "jdoe@contoso.example\\x",
            "Parameters": [{"Name": "Name", "Value": "x"}, {"Name": "ForwardTo", "Value": "attacker@evil.example"}]
        }));
        assert_eq!(n.summary, "jdoe@contoso.example created inbox rule 'x' forwarding to attacker@evil.example");
        assert_eq!(n.targets[0].kind.as_deref(), Some("InboxRule"));
        assert_eq!(n.targets[0].display.as_deref(), Some("x"));
        assert_eq!(n.actor_ip.as_deref(), Some("203.0.113.66"));
        assert_eq!(n.severity, 3);
    }

    #[test]
    fn a_mailbox_audit_record_targets_the_mailbox() {
        let n = norm(json!({
            "CreationTime": "2026-11-20T09:41:27", "Id": "a6e3c0b2-5d44-4f1e-8e77-0c9a2b1d4e55", "Operation": "SoftDelete",
            "RecordType": 3, "ResultStatus": "Succeeded", "UserType": 0, "Workload": "Exchange", "ClientIP": "203.0.113.45",
            "UserId": "jdoe@contoso.example", "ClientIPAddress": "203.0.113.45", "ClientInfoString": "Client=OWA;Action=ViaProxy",
            "LogonType": 0, "MailboxGuid": "0d9e4c1a-2b3f-4a5d-8e6f-7a8b9c0d1e2f", "MailboxOwnerUPN": "boss@contoso.example",
            "Folder": {"Id": "LgAAAAB", "Path": "\\Inbox"},
            "AffectedItems": [{"Id": "RgAAAAB", "Subject": "Quarterly numbers", "ParentFolder": {"Id": "LgAAAAB", "Path": "\\Inbox"}}],
            "AppAccessContext": {"ClientAppId": "00000002-0000-0ff1-ce00-000000000000", "CorrelationId": "c0"}
        }));
        assert_eq!(n.targets[0].display.as_deref(), Some("boss@contoso.example"));
        assert_eq!(n.targets[0].kind.as_deref(), Some("Mailbox"));
        assert_eq!(n.summary, "jdoe@contoso.example soft-deleted 1 item from \\Inbox in mailbox boss@contoso.example");
        assert_eq!(n.actor_app_id.as_deref(), Some("00000002-0000-0ff1-ce00-000000000000"));
        assert_eq!(n.correlation_id.as_deref(), Some("c0"));
        assert_eq!(n.flattened["AffectedItems.0.Subject"], "Quarterly numbers");
        assert_eq!(n.severity, 0);
    }

    #[test]
    fn mail_items_accessed_counts_items() {
        let n = norm(json!({
            "CreationTime": "2026-11-20T09:41:27", "Id": "m1", "Operation": "MailItemsAccessed", "RecordType": 50, "ResultStatus": "Succeeded",
            "Workload": "Exchange", "UserId": "jdoe@contoso.example", "MailboxOwnerUPN": "jdoe@contoso.example", "OperationCount": 12,
            "OperationProperties": [{"Name": "MailAccessType", "Value": "Bind"}, {"Name": "IsThrottled", "Value": "False"}]
        }));
        assert_eq!(n.summary, "jdoe@contoso.example accessed 12 mail items in their mailbox (Bind)");
        assert_eq!(n.flattened["OperationProperties.MailAccessType"], "Bind");
    }

    #[test]
    fn a_sharepoint_file_operation_targets_the_file() {
        let v = json!({
            "CreationTime": "2026-11-20T11:17:52", "Id": "7b1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f", "Operation": "FileDownloaded",
            "RecordType": 6, "UserKey": "i:0h.f|membership|10032000e5f6a7b8@live.com", "UserType": 0, "Version": 1,
            "Workload": "SharePoint", "ClientIP": "203.0.113.45", "UserId": "jdoe@contoso.example",
            "ObjectId": "https://contoso.sharepoint.com/sites/finance/Shared Documents/Budget 2026.xlsx",
            "CorrelationId": "c1d2e3f4-0000-4000-a000-5b6c7d8e9f00", "EventSource": "SharePoint", "ItemType": "File",
            "SiteUrl": "https://contoso.sharepoint.com/sites/finance/", "SourceRelativeUrl": "Shared Documents",
            "SourceFileName": "Budget 2026.xlsx", "SourceFileExtension": "xlsx"
        });
        let n = normalize_raw(Source::Unified, Some("Audit.SharePoint"), &v.to_string(), &Context::default()).unwrap();
        assert_eq!(n.result, Outcome::Unknown, "SharePoint records carry no ResultStatus");
        assert_eq!(n.targets[0].display.as_deref(), Some("Budget 2026.xlsx"));
        assert_eq!(n.targets[0].kind.as_deref(), Some("File"));
        assert_eq!(n.targets[0].id.as_deref(), v["ObjectId"].as_str());
        assert_eq!(n.summary, "jdoe@contoso.example downloaded Budget 2026.xlsx");
        assert_eq!(n.correlation_id.as_deref(), Some("c1d2e3f4-0000-4000-a000-5b6c7d8e9f00"));
        assert_eq!(n.severity, 0);
    }

    #[test]
    fn a_onedrive_share_with_a_guest_names_the_guest() {
        let n = norm(json!({
            "CreationTime": "2026-11-20T11:17:52", "Id": "s1", "Operation": "SharingSet", "RecordType": 14, "Workload": "OneDrive",
            "UserId": "jdoe@contoso.example", "ObjectId": "https://contoso-my.sharepoint.com/personal/jdoe/Documents/Plan.docx",
            "TargetUserOrGroupName": "partner_x.example#EXT#@contoso.onmicrosoft.com", "TargetUserOrGroupType": "Guest"
        }));
        assert_eq!(n.service, "OneDrive");
        assert_eq!(n.targets[0].display.as_deref(), Some("Plan.docx"), "the file name comes from the URL");
        assert_eq!(n.targets[1].kind.as_deref(), Some("Guest"));
        assert_eq!(
            n.summary,
            "jdoe@contoso.example shared Plan.docx with partner_x.example#EXT#@contoso.onmicrosoft.com (Guest)"
        );
        assert_eq!(n.severity, 1);
    }

    #[test]
    fn an_entra_directory_record_loses_its_trailing_dot_and_pairs_targets() {
        let n = norm(json!({
            "CreationTime": "2026-11-20T08:03:44", "Id": "e2f3a4b5-c6d7-4e8f-9a0b-1c2d3e4f5a6b", "Operation": "Add member to role.",
            "RecordType": 8, "ResultStatus": "Success", "UserType": 0, "Workload": "AzureActiveDirectory", "ClientIP": null,
            "ObjectId": "helpdesk1@contoso.example", "UserId": "admin@contoso.example", "AzureActiveDirectoryEventType": 1,
            "ExtendedProperties": [{"Name": "resultType", "Value": "Success"}, {"Name": "correlationId", "Value": "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d"}],
            "ModifiedProperties": [{"Name": "Role.DisplayName", "NewValue": "Helpdesk Administrator", "OldValue": ""},
                                   {"Name": "Included Updated Properties", "NewValue": "", "OldValue": ""}],
            "Actor": [{"ID": "admin@contoso.example", "Type": 5}], "ActorIpAddress": "[2001:db8::7]:443",
            "Target": [{"ID": "User_66666666-7777-4888-9999-000000000000", "Type": 2}, {"ID": "helpdesk1@contoso.example", "Type": "5"}]
        }));
        assert_eq!(n.operation, "Add member to role");
        assert_eq!(
            n.flattened["Operation"], "Add member to role.",
            "the flattened record keeps the operation as logged"
        );
        assert_eq!(n.actor_ip.as_deref(), Some("2001:db8::7"));
        assert_eq!(n.correlation_id.as_deref(), Some("6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d"));
        assert_eq!(n.targets.len(), 1);
        assert_eq!(n.targets[0].display.as_deref(), Some("helpdesk1@contoso.example"));
        assert_eq!(n.targets[0].id.as_deref(), Some("66666666-7777-4888-9999-000000000000"));
        assert_eq!(n.targets[0].kind.as_deref(), Some("User"));
        assert_eq!(n.summary, "admin@contoso.example added helpdesk1@contoso.example to role Helpdesk Administrator");
        assert_eq!(n.severity, 3);
    }

    #[test]
    fn an_sts_logon_takes_its_outcome_from_the_error_code_not_result_status() {
        let failed = norm(json!({
            "CreationTime": "2026-11-20T07:59:10", "Id": "0aa1bb2c", "Operation": "UserLoginFailed", "RecordType": "15",
            "ResultStatus": "Success", "UserType": 0, "Workload": "AzureActiveDirectory", "ClientIP": "192.0.2.77",
            "ObjectId": "00000003-0000-0000-c000-000000000000", "UserId": "jdoe@contoso.example",
            "ExtendedProperties": [{"Name": "UserAgent", "Value": "ExampleAgent/2.0"}, {"Name": "RequestType", "Value": "OAuth2:Token"}],
            "ApplicationId": "1b730954-1685-4b74-9bfd-dac224a7b894",
            "DeviceProperties": [{"Name": "OS", "Value": "Windows 10"}, {"Name": "BrowserType", "Value": "Edge"}],
            "ErrorCode": "50126", "LogonError": "InvalidUserNameOrPassword",
            "Target": [{"ID": "00000003-0000-0000-c000-000000000000", "Type": 0}]
        }));
        assert_eq!(failed.result, Outcome::Failure);
        assert_eq!(failed.actor_app_id.as_deref(), Some("1b730954-1685-4b74-9bfd-dac224a7b894"));
        assert_eq!(failed.targets[0].display.as_deref(), Some("Microsoft Graph"));
        assert_eq!(failed.flattened["DeviceProperties.OS"], "Windows 10");
        assert_eq!(
            failed.summary,
            "jdoe@contoso.example signed in to Microsoft Graph via Azure Active Directory PowerShell (failed: 50126 InvalidUserNameOrPassword)"
        );
        assert_eq!((failed.severity, failed.severity_reasons.clone()), (1, vec!["failed sign-in".to_string()]));

        let ok = norm(
            json!({"CreationTime": "2026-11-20T07:59:10", "Id": "x", "Operation": "UserLoggedIn", "RecordType": 15,
                              "ResultStatus": "Succeeded", "UserId": "jdoe@contoso.example", "ErrorCode": 0}),
        );
        assert_eq!((ok.result, ok.severity), (Outcome::Success, 0));
        let no_code = norm(
            json!({"CreationTime": "2026-11-20T07:59:10", "Id": "y", "Operation": "UserLoginFailed", "ResultStatus": "Success"}),
        );
        assert_eq!(no_code.result, Outcome::Failure);
    }

    #[test]
    fn a_teams_record_names_members_and_team() {
        let n = norm(json!({
            "CreationTime": "2026-11-20T12:30:05", "Id": "5c6d7e8f", "Operation": "MemberAdded", "RecordType": 25,
            "Workload": "MicrosoftTeams", "UserId": "owner@contoso.example", "ClientIP": "203.0.113.45",
            "TeamName": "Finance Ops", "TeamGuid": "19:abc@thread.tacv2",
            "Members": [{"UPN": "newhire@contoso.example", "Role": 0, "DisplayName": "New Hire"}],
            "ExtraProperties": [{"Key": "Client", "Value": "Desktop"}]
        }));
        assert_eq!(n.summary, "owner@contoso.example added newhire@contoso.example to team Finance Ops");
        assert_eq!(n.targets.iter().map(|t| t.kind.as_deref().unwrap_or("")).collect::<Vec<_>>(), ["User", "Team"]);
        assert_eq!(n.flattened["ExtraProperties.Client"], "Desktop");
        assert_eq!(n.flattened["Members.0.UPN"], "newhire@contoso.example");
    }

    #[test]
    fn a_dlp_exchange_match_is_attributed_to_the_sender_and_rated_by_the_rule() {
        let v = json!({
            "CreationTime": "2026-11-20T13:45:00", "Id": "9f8e7d6c", "Operation": "DlpRuleMatch", "RecordType": 13,
            "UserKey": "1153800000000000001", "UserType": 4, "Version": 1, "Workload": "Exchange",
            "ObjectId": "<MSG0001@mail.contoso.example>", "UserId": "DlpAgent", "IncidentId": "2e3f",
            "PolicyDetails": [{"PolicyId": "aaaa", "PolicyName": "PCI outbound", "Rules": [{"RuleId": "cccc", "RuleName": "Card numbers to external",
                "Actions": ["NotifyUser"], "Severity": "High", "RuleMode": "Enable",
                "ConditionsMatched": {"SensitiveInformation": [{"SensitiveType": "50842eb7-edc8-4019-85dd-5a5c1f2bb085",
                    "SensitiveInformationTypeName": "Credit Card Number", "Count": 2, "Confidence": 85}]}}]}],
            "ExchangeMetaData": {"MessageID": "<MSG0001@mail.contoso.example>", "From": "jdoe@contoso.example",
                "To": ["buyer@partner.example"], "CC": [], "BCC": [], "Subject": "Order", "RecipientCount": 1}
        });
        let n = normalize_raw(Source::Unified, Some("DLP.All"), &v.to_string(), &Context::default()).unwrap();
        assert_eq!(n.service, "Exchange", "DLP keeps its workload");
        assert_eq!(n.actor_display.as_deref(), Some("DlpAgent"));
        assert_eq!(n.actor_upn.as_deref(), Some("jdoe@contoso.example"));
        assert_eq!(n.targets[0].display.as_deref(), Some("buyer@partner.example"));
        assert_eq!(n.flattened["PolicyDetails.0.Rules.0.Actions"], "NotifyUser");
        assert_eq!(
            n.summary,
            "DLP rule 'Card numbers to external' of policy 'PCI outbound' matched mail from jdoe@contoso.example to buyer@partner.example (Credit Card Number; severity High)"
        );
        assert_eq!(n.severity, 3);

        let mut medium = v.clone();
        medium["PolicyDetails"][0]["Rules"][0]["Severity"] = json!("Low");
        medium["ExchangeMetaData"]["To"] = json!(["colleague@contoso.example"]);
        let n = normalize_raw(Source::Unified, Some("DLP.All"), &medium.to_string(), &Context::default()).unwrap();
        assert_eq!(n.severity, 1, "a near miss: a low rule sent inside the tenant");
    }

    #[test]
    fn a_record_of_an_unknown_workload_still_normalizes() {
        let n = norm(
            json!({"CreationTime": "2026-11-20T13:45:00", "Id": "z", "Operation": "CopilotInteraction", "RecordType": 261,
                            "Workload": "Copilot", "UserId": "jdoe@contoso.example", "ObjectId": "chat-1", "CopilotEventData": {"AppHost": "Word"}}),
        );
        assert_eq!(n.service, "Copilot");
        assert_eq!(n.summary, "jdoe@contoso.example CopilotInteraction: chat-1");
        assert_eq!(n.flattened["CopilotEventData.AppHost"], "Word");
    }

    #[test]
    fn a_missing_workload_comes_from_the_content_type_and_system_actors_are_not_upns() {
        let v = json!({"CreationTime": "2026-11-20T13:45:00", "Id": "w", "Operation": "Add-MailboxPermission", "RecordType": 1,
                       "ResultStatus": "True", "UserId": "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)",
                       "Parameters": [{"Name": "Identity", "Value": "jdoe"}, {"Name": "User", "Value": "svc"}, {"Name": "AccessRights", "Value": "FullAccess"}]});
        let n = norm(v);
        assert_eq!(n.service, "Exchange");
        assert_eq!(n.actor_upn, None);
        assert_eq!(n.actor_display.as_deref(), Some("NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)"));
        assert_eq!(n.targets.iter().filter_map(|t| t.display.as_deref()).collect::<Vec<_>>(), ["jdoe", "svc"]);
        assert_eq!(n.severity, 2, "a near miss: a Microsoft service account granted it");
    }
}
