//! Small helpers shared by the normalizers: tolerant field access (Microsoft sends numbers as
//! strings, nulls where a string is documented, and changes key case between examples), IP
//! cleaning, outcomes, e-mail domains, activity-name matching keys and the summary line.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{parse_time, Context, NormalizeError, Outcome, Target};

/// The flattened record, as `flatten_record` returns it.
pub type Flat = BTreeMap<String, String>;

/// Longest summary, in characters (including the ellipsis of a cut one).
pub const MAX_SUMMARY: usize = 300;
/// Most targets kept per record: a Teams record adding 5,000 members must not make 5,000.
pub const MAX_TARGETS: usize = 20;

/// A non-null field by exact key or, failing that, by key ignoring ASCII case (Graph's own
/// examples show both `type` and `Type`).
pub fn field<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    match o.get(key) {
        Some(v) if !v.is_null() => Some(v),
        _ => o.iter().find(|(k, v)| !v.is_null() && k.eq_ignore_ascii_case(key)).map(|(_, v)| v),
    }
}

/// A scalar as text: strings as they are, numbers and booleans printed. Null, objects, arrays
/// and blank strings give None.
pub fn scalar_text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(Cow::Borrowed(s.as_str())),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        _ => None,
    }
}

/// A field as text (see [`scalar_text`]).
pub fn text<'a>(o: &'a Map<String, Value>, key: &str) -> Option<Cow<'a, str>> {
    field(o, key).and_then(scalar_text)
}

/// A field as an owned, trimmed string.
pub fn owned(o: &Map<String, Value>, key: &str) -> Option<String> {
    text(o, key).map(|t| t.trim().to_string())
}

/// The first of `keys` that has text.
pub fn first_text(o: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| owned(o, k))
}

/// A field as a number, whether Microsoft sent `15` or `"15"`.
pub fn int(o: &Map<String, Value>, key: &str) -> Option<i64> {
    match field(o, key)? {
        Value::Number(n) => {
            n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9e15).map(|f| f as i64))
        }
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A nested object, if the field is one.
pub fn obj<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a Map<String, Value>> {
    field(o, key).and_then(Value::as_object)
}

/// A nested array's elements (none when the field is missing or not an array).
pub fn list<'a>(o: &'a Map<String, Value>, key: &str) -> &'a [Value] {
    field(o, key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

/// The record id: a non-empty string, exactly as [`super::fallback_identity`] reads it, so a
/// record keeps the same dedupe key whether or not it normalizes.
pub fn record_id(o: &Map<String, Value>, key: &'static str) -> Result<String, NormalizeError> {
    match o.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(NormalizeError::Missing(key)),
    }
}

/// The event time, which must be a string [`parse_time`] understands.
pub fn record_time(o: &Map<String, Value>, key: &'static str) -> Result<DateTime<Utc>, NormalizeError> {
    match o.get(key) {
        None | Some(Value::Null) => Err(NormalizeError::Missing(key)),
        Some(Value::String(s)) => {
            parse_time(s).ok_or_else(|| NormalizeError::BadTime { field: key, value: cut(s, 100) })
        }
        Some(other) => Err(NormalizeError::BadTime { field: key, value: cut(&other.to_string(), 100) }),
    }
}

fn cut(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

/// An IP address without port, brackets or zone: `203.0.113.7:51544` → `203.0.113.7`,
/// `[2001:db8::5]:443` → `2001:db8::5`, `2001:db8::5` stays whole, an IPv4-mapped
/// `::ffff:192.0.2.1` becomes `192.0.2.1` (the form Graph reports for the same client).
/// Of a forwarded list (`a, b`) the first address is the client. Anything that is not an IP
/// address gives None, so the column only ever holds addresses.
pub fn clean_ip(raw: &str) -> Option<String> {
    let s = raw.split(',').next().unwrap_or("").trim();
    if s.is_empty() {
        return None;
    }
    let host = if let Some(rest) = s.strip_prefix('[') {
        rest.split_once(']').map(|(h, _)| h)?
    } else if s.bytes().filter(|&b| b == b':').count() == 1 {
        // One colon: IPv4 with a port. A bare IPv6 address has at least two.
        s.split_once(':').map(|(h, _)| h).unwrap_or(s)
    } else {
        s
    };
    let host = host.split('%').next().unwrap_or(host);
    let ip = host.parse::<IpAddr>().ok().or_else(|| {
        // `::ffff:192.0.2.1:5000`: an IPv4-mapped address with a port.
        let (h, port) = host.rsplit_once(':')?;
        (h.contains('.') && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())).then(|| h.parse().ok())?
    })?;
    Some(ip.to_canonical().to_string())
}

/// The first of `keys` that holds an IP address.
pub fn first_ip(o: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| text(o, k).and_then(|t| clean_ip(&t)))
}

/// `ResultStatus` / `result` / `activityResult` → outcome, whatever the spelling.
pub fn outcome_of(value: Option<&str>) -> Outcome {
    let Some(v) = value else { return Outcome::Unknown };
    let v = v.trim();
    let is = |s: &str| v.eq_ignore_ascii_case(s);
    if is("succeeded") || is("success") || is("true") || is("successful") {
        Outcome::Success
    } else if is("failed") || is("failure") || is("false") || is("timeout") || is("clienterror") || is("servererror") {
        Outcome::Failure
    } else if is("partiallysucceeded") || is("partialsuccess") || is("partial_success") {
        Outcome::PartialSuccess
    } else {
        Outcome::Unknown
    }
}

/// The key activity names are matched on: lower case, dashes unified (Graph writes
/// "Update application – Certificates and secrets management " with an en dash and a trailing
/// space), whitespace collapsed, a trailing "." removed (UAL directory operations).
pub fn op_key(operation: &str) -> String {
    let mut out = String::with_capacity(operation.len());
    for word in operation.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        for c in word.chars() {
            match c {
                '\u{2010}'..='\u{2015}' | '\u{2212}' => out.push('-'),
                c => out.extend(c.to_lowercase()),
            }
        }
    }
    while out.ends_with('.') {
        out.pop();
    }
    out
}

/// Whether `s` looks like a user principal name / e-mail address (not `app@sharepoint`, not
/// `NT AUTHORITY\SYSTEM (...)`).
pub fn looks_like_upn(s: &str) -> bool {
    match s.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// The lower-case domain of an address, tolerating `smtp:` prefixes and angle brackets.
pub fn domain_of(address: &str) -> Option<String> {
    let a = address.trim().trim_matches(['<', '>', '"', '\'']);
    let a = a.rsplit_once(':').map(|(_, rest)| rest).unwrap_or(a);
    let (local, domain) = a.rsplit_once('@')?;
    let domain = domain.trim().trim_end_matches(['.', '>']).to_ascii_lowercase();
    (!local.is_empty() && domain.contains('.') && !domain.contains(char::is_whitespace)).then_some(domain)
}

/// Every address in a text: tokens with an `@` and a dotted domain, split at anything that
/// cannot be part of an address (`smtp:x@y; z@w`, `"[x@y]"`, rule-action dumps).
pub fn addresses(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| {
        c.is_whitespace()
            || matches!(c, ',' | ';' | ':' | '"' | '\'' | '<' | '>' | '(' | ')' | '[' | ']' | '{' | '}' | '|' | '=')
    })
    .map(|t| t.trim_end_matches('.'))
    .filter(|t| domain_of(t).is_some())
}

/// The domains a record's own side owns: the tenant's, plus those of the people involved.
pub fn internal_domains<'a>(context: &Context, people: impl IntoIterator<Item = Option<&'a str>>) -> Vec<String> {
    let mut out: Vec<String> = context.tenant_domains.iter().map(|d| d.trim().to_ascii_lowercase()).collect();
    for p in people.into_iter().flatten() {
        if let Some(d) = domain_of(p) {
            if !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out
}

/// Whether an address is outside `internal` (a subdomain of an internal domain is internal: no
/// one else can own it).
pub fn is_external(address: &str, internal: &[String]) -> bool {
    match domain_of(address) {
        Some(d) => !internal.iter().any(|i| {
            d == *i || (d.len() > i.len() && d.ends_with(i.as_str()) && d.as_bytes()[d.len() - i.len() - 1] == b'.')
        }),
        None => false,
    }
}

/// Readable names of the Microsoft resources sign-ins most often target.
pub fn well_known_app(id: &str) -> Option<&'static str> {
    Some(match id.trim().to_ascii_lowercase().as_str() {
        "00000003-0000-0000-c000-000000000000" => "Microsoft Graph",
        "00000002-0000-0000-c000-000000000000" => "Azure AD Graph",
        "00000002-0000-0ff1-ce00-000000000000" => "Office 365 Exchange Online",
        "00000003-0000-0ff1-ce00-000000000000" => "Office 365 SharePoint Online",
        "01cb2876-7ebd-4aa4-9cc9-d28bd4d359a9" => "Device Registration Service",
        "d3590ed6-52b3-4102-aeff-aad2292ab01c" => "Microsoft Office",
        "29d9ed98-a469-4536-ade2-f981bc1d605e" => "Microsoft Authentication Broker",
        "04b07795-8ddb-461a-bbee-02f9e1bf7b46" => "Azure CLI",
        "1950a258-227b-4e31-a9cf-717495945fc2" => "Azure PowerShell",
        "1b730954-1685-4b74-9bfd-dac224a7b894" => "Azure Active Directory PowerShell",
        "9ba1a5c7-f17a-4de9-a1f1-6178c8d51223" => "Intune Company Portal",
        "aebc6443-996d-45c2-90f0-388ff96faa56" => "Visual Studio Code",
        _ => return None,
    })
}

/// Collects targets without duplicates and within [`MAX_TARGETS`].
#[derive(Default)]
pub struct Targets(pub Vec<Target>);

impl Targets {
    /// Adds a target when it names something (blank parts are dropped).
    pub fn add(&mut self, display: Option<String>, id: Option<String>, kind: Option<&str>) {
        let clean = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let (display, id) = (clean(display), clean(id));
        if (display.is_none() && id.is_none()) || self.0.len() >= MAX_TARGETS {
            return;
        }
        if self.0.iter().any(|t| t.display == display && t.id == id) {
            return;
        }
        let kind = kind.map(str::trim).filter(|k| !k.is_empty()).map(str::to_string);
        self.0.push(Target { display, id, kind });
    }
}

/// A target's name for a summary: display, else id.
pub fn target_label(t: &Target) -> Option<&str> {
    t.display.as_deref().or(t.id.as_deref())
}

/// The first target not of `kind_to_skip` (e.g. the user of a role assignment, not the role).
pub fn first_target_label<'a>(targets: &'a [Target], kind_to_skip: &str) -> Option<&'a str> {
    targets
        .iter()
        .find(|t| !t.kind.as_deref().is_some_and(|k| k.eq_ignore_ascii_case(kind_to_skip)))
        .and_then(target_label)
}

/// Values of modified property `prop` on side `side` (`NewValue` or `OldValue`), in every shape
/// the sources use: UAL `ModifiedProperties.<prop>.NewValue`, Graph
/// `targetResources.N.modifiedProperties.<prop>.newValue`, Intune `resources.N.modifiedProperties...`.
/// Yields (the key's remainder after the side — "" for the value itself, ".0.State" for a
/// decoded leaf — and the value).
pub fn changed<'a>(f: &'a Flat, prop: &str, side: &str) -> Vec<(&'a str, &'a str)> {
    let upper = format!(".{prop}.{side}");
    let mut lower_side = side.to_string();
    if let Some(first) = lower_side.get_mut(0..1) {
        first.make_ascii_lowercase();
    }
    let lower = format!(".{prop}.{lower_side}");
    let mut out = Vec::new();
    for (k, v) in f {
        for pattern in [&upper, &lower] {
            if let Some(at) = k.find(pattern.as_str()) {
                let rest = &k[at + pattern.len()..];
                let prefix = &k[..at];
                if (rest.is_empty() || rest.starts_with('.'))
                    && prefix.to_ascii_lowercase().ends_with("modifiedproperties")
                {
                    out.push((rest, v.as_str()));
                    break;
                }
            }
        }
    }
    out
}

/// The new value of a modified property (the text itself), if any.
pub fn new_value<'a>(f: &'a Flat, prop: &str) -> Option<&'a str> {
    changed(f, prop, "NewValue").into_iter().find(|(rest, _)| rest.is_empty()).map(|(_, v)| v)
}

/// A flattened field, by exact key or ignoring ASCII case.
pub fn flat_get<'a>(f: &'a Flat, key: &str) -> Option<&'a str> {
    f.get(key)
        .or_else(|| f.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
        .map(String::as_str)
        .filter(|v| !v.trim().is_empty())
}

/// A cmdlet parameter (`Parameters.<name>`), ignoring case.
pub fn param<'a>(f: &'a Flat, name: &str) -> Option<&'a str> {
    let key = format!("Parameters.{name}");
    flat_get(f, &key)
}

/// Whether a parameter holds `$false`/`False`.
pub fn is_false(v: Option<&str>) -> bool {
    v.is_some_and(|v| {
        let v = v.trim().trim_start_matches('$');
        v.eq_ignore_ascii_case("false") || v == "0"
    })
}

/// Whether a parameter holds `$true`/`True`.
pub fn is_true(v: Option<&str>) -> bool {
    v.is_some_and(|v| {
        let v = v.trim().trim_start_matches('$');
        v.eq_ignore_ascii_case("true") || v == "1"
    })
}

/// Unicode's bidirectional formatting characters (embeddings, overrides, isolates, marks).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Finishes a summary: the main clause, then the details in parentheses, on one line, cut to
/// [`MAX_SUMMARY`] characters with "…".
pub fn summary_line(main: &str, details: &[String]) -> String {
    let mut s = String::with_capacity(main.len() + 32);
    s.push_str(main.trim());
    let details: Vec<&str> = details.iter().map(|d| d.trim()).filter(|d| !d.is_empty()).collect();
    if !details.is_empty() {
        s.push_str(" (");
        s.push_str(&details.join("; "));
        s.push(')');
    }
    // One line: control characters (newlines, tabs, the "\r\n" Exchange appends) become spaces.
    // Bidirectional formatting characters from a tenant value (a right-to-left override in an
    // actor's name) would reorder the rest of the line: they are dropped (fields and raw keep them).
    let mut out = String::with_capacity(s.len());
    let mut last_space = false;
    for c in s.chars().filter(|c| !is_bidi_control(*c)) {
        let c = if c.is_control() { ' ' } else { c };
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        out.push(c);
    }
    let out = out.trim().to_string();
    if out.chars().count() > MAX_SUMMARY {
        let mut cut: String = out.chars().take(MAX_SUMMARY - 1).collect();
        cut.push('…');
        cut
    } else {
        out
    }
}

/// A value shortened for a summary.
pub fn short(v: &str, max_chars: usize) -> String {
    let v = v.trim();
    if v.chars().count() > max_chars {
        let mut s: String = v.chars().take(max_chars - 1).collect();
        s.push('…');
        s
    } else {
        v.to_string()
    }
}

/// The role a directory record is about: the new value of `Role.DisplayName` (UAL and Graph),
/// else the old one (removals), else a role-typed target (PIM).
pub fn role_name<'a>(f: &'a Flat, targets: &'a [Target]) -> Option<&'a str> {
    let from = |side: &str| {
        changed(f, "Role.DisplayName", side)
            .into_iter()
            .find(|(rest, v)| rest.is_empty() && !v.trim().is_empty())
            .map(|(_, v)| v)
    };
    from("NewValue").or_else(|| from("OldValue")).or_else(|| {
        targets
            .iter()
            .find(|t| t.kind.as_deref().is_some_and(|k| k.eq_ignore_ascii_case("role")))
            .and_then(|t| t.display.as_deref())
    })
}

/// The summary of an Entra directory activity, shared by UAL (RecordType 8) and Graph
/// directoryAudits so both shapes of one change read the same.
pub fn directory_summary(op: &str, operation: &str, actor: &str, targets: &[Target], f: &Flat) -> String {
    let target = first_target_label(targets, "Role").map(|t| short(t, 100));
    let who = target.as_deref().unwrap_or("someone");
    let group = || {
        changed(f, "Group.DisplayName", "NewValue")
            .into_iter()
            .chain(changed(f, "Group.DisplayName", "OldValue"))
            .find(|(rest, v)| rest.is_empty() && !v.trim().is_empty())
            .map(|(_, v)| short(v, 80))
            .unwrap_or_else(|| "?".into())
    };
    let role = || role_name(f, targets).map(|r| short(r, 80)).unwrap_or_else(|| "?".into());
    if op.starts_with("add eligible member to role") {
        return format!("{actor} made {who} eligible for role {}", role());
    }
    if op.starts_with("add member to role") || op.starts_with("add scoped member to role") {
        return format!("{actor} added {who} to role {}", role());
    }
    if op.starts_with("remove member from role") || op.starts_with("remove eligible member from role") {
        return format!("{actor} removed {who} from role {}", role());
    }
    match op {
        "add member to group" => format!("{actor} added {who} to group {}", group()),
        "remove member from group" => format!("{actor} removed {who} from group {}", group()),
        "disable strong authentication" => format!("{actor} disabled MFA for {who}"),
        "reset user password" | "reset password (by admin)" => format!("{actor} reset the password of {who}"),
        "add user" => format!("{actor} created user {who}"),
        "delete user" => format!("{actor} deleted user {who}"),
        "consent to application" => format!("{actor} consented to application {who}"),
        "add service principal credentials" => format!("{actor} added credentials to {who}"),
        _ => match target {
            Some(t) => format!("{actor} {operation}: {t}"),
            None => format!("{actor} {operation}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ip_addresses_lose_ports_brackets_and_zones_but_ipv6_stays_whole() {
        for (raw, want) in [
            ("203.0.113.7:51544", Some("203.0.113.7")),
            ("203.0.113.7", Some("203.0.113.7")),
            ("[2001:db8::5]:443", Some("2001:db8::5")),
            ("[2001:db8::5]", Some("2001:db8::5")),
            ("2001:db8::5", Some("2001:db8::5")),
            ("2001:DB8:0:0:0:0:0:5", Some("2001:db8::5")),
            ("fe80::1%eth0", Some("fe80::1")),
            ("::ffff:1.2.3.4", Some("1.2.3.4")),
            ("::ffff:1.2.3.4:5000", Some("1.2.3.4")),
            ("[::ffff:1.2.3.4]:5000", Some("1.2.3.4")),
            ("  198.51.100.23  ", Some("198.51.100.23")),
            ("198.51.100.23, 10.0.0.1", Some("198.51.100.23")),
            ("", None),
            ("   ", None),
            ("[", None),
            ("[]:443", None),
            ("Not Available", None),
            ("<null>", None),
            ("999.1.1.1", None),
            (":", None),
        ] {
            assert_eq!(clean_ip(raw).as_deref(), want, "{raw:?}");
        }
    }

    #[test]
    fn ip_fields_that_are_null_or_numbers_give_no_address() {
        let o = json!({"ClientIP": null, "ClientIPAddress": 12, "ActorIpAddress": "192.0.2.9:1"});
        assert_eq!(
            first_ip(o.as_object().unwrap(), &["ClientIP", "ClientIPAddress", "ActorIpAddress"]).as_deref(),
            Some("192.0.2.9")
        );
    }

    #[test]
    fn outcomes_cover_every_spelling() {
        for (raw, want) in [
            ("True", Outcome::Success),
            ("TRUE", Outcome::Success),
            ("Succeeded", Outcome::Success),
            ("Success", Outcome::Success),
            ("success", Outcome::Success),
            ("False", Outcome::Failure),
            ("Failed", Outcome::Failure),
            ("failure", Outcome::Failure),
            ("timeout", Outcome::Failure),
            ("PartiallySucceeded", Outcome::PartialSuccess),
            ("unknownFutureValue", Outcome::Unknown),
            ("", Outcome::Unknown),
        ] {
            assert_eq!(outcome_of(Some(raw)), want, "{raw}");
        }
        assert_eq!(outcome_of(None), Outcome::Unknown);
    }

    #[test]
    fn numbers_are_read_whether_sent_as_numbers_or_strings() {
        let o = json!({"a": 15, "b": "15", "c": " 15 ", "d": "x", "e": null, "f": 15.0, "g": [15]});
        let o = o.as_object().unwrap();
        assert_eq!([int(o, "a"), int(o, "b"), int(o, "c"), int(o, "f")], [Some(15); 4]);
        assert_eq!([int(o, "d"), int(o, "e"), int(o, "g"), int(o, "missing")], [None; 4]);
    }

    #[test]
    fn field_lookup_falls_back_to_any_case() {
        let o = json!({"Type": "User", "type2": 1});
        assert_eq!(text(o.as_object().unwrap(), "type").as_deref(), Some("User"));
    }

    #[test]
    fn activity_keys_ignore_case_dashes_spacing_and_a_trailing_dot() {
        assert_eq!(op_key("Add member to role."), "add member to role");
        assert_eq!(
            op_key("Update application – Certificates and secrets management "),
            "update application - certificates and secrets management"
        );
        assert_eq!(op_key("  Set-Mailbox "), "set-mailbox");
        assert_eq!(op_key(""), "");
    }

    #[test]
    fn upns_are_told_apart_from_system_accounts() {
        assert!(looks_like_upn("jdoe@contoso.example"));
        assert!(looks_like_upn("x_partner.example#EXT#@contoso.onmicrosoft.com"));
        assert!(!looks_like_upn("NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)"));
        assert!(!looks_like_upn("app@sharepoint"));
        assert!(!looks_like_upn("S-1-5-18"));
        assert!(!looks_like_upn("@contoso.example"));
    }

    #[test]
    fn addresses_are_found_in_prefixed_lists_and_rule_dumps() {
        let found: Vec<&str> =
            addresses("smtp:a@evil.example; B@Contoso.example,[\"c@x.example\"] Forward(d@y.example) not-an@address")
                .collect();
        assert_eq!(found, ["a@evil.example", "B@Contoso.example", "c@x.example", "d@y.example"]);
    }

    #[test]
    fn external_means_outside_every_internal_domain_and_its_subdomains() {
        let internal = internal_domains(
            &Context { tenant_domains: vec!["Contoso.example".into()] },
            [Some("admin@contoso.onmicrosoft.com"), None, Some("not an address")],
        );
        assert_eq!(internal, ["contoso.example", "contoso.onmicrosoft.com"]);
        assert!(!is_external("smtp:boss@contoso.example", &internal));
        assert!(!is_external("x@mail.contoso.example", &internal));
        assert!(!is_external("SMTP:x@CONTOSO.ONMICROSOFT.COM", &internal));
        assert!(is_external("x@evil.example", &internal));
        assert!(is_external("x@notcontoso.example", &internal));
        assert!(is_external("x@evil.onmicrosoft.com", &internal));
        assert!(!is_external("no address here", &internal));
    }

    #[test]
    fn summaries_are_single_bounded_lines() {
        let s = summary_line(&format!("a@b ran X on {}", "x\r\ny".repeat(200)), &["d".into(), String::new()]);
        assert!(!s.contains('\n') && !s.contains('\r'));
        assert_eq!(s.chars().count(), MAX_SUMMARY);
        assert!(s.ends_with('…'));
        assert_eq!(summary_line("a  did\tb", &["x".into(), " ".into(), "y".into()]), "a did b (x; y)");
        assert_eq!(summary_line("\u{202E}nimda@x added y", &["\u{2067}z\u{2069}".into()]), "nimda@x added y (z)");
    }

    #[test]
    fn modified_properties_are_found_in_ual_graph_and_intune_shapes() {
        let mut f = Flat::new();
        f.insert("ModifiedProperties.Role.DisplayName.NewValue".into(), "Global Administrator".into());
        f.insert(
            "targetResources.0.modifiedProperties.Role.DisplayName.newValue".into(),
            "Helpdesk Administrator".into(),
        );
        f.insert("ModifiedProperties.X.NewValue.0.State".into(), "0".into());
        f.insert("ExtendedProperties.Role.DisplayName.NewValue".into(), "not a modified property".into());
        let roles: Vec<&str> = changed(&f, "Role.DisplayName", "NewValue").into_iter().map(|(_, v)| v).collect();
        assert_eq!(roles, ["Global Administrator", "Helpdesk Administrator"]);
        assert_eq!(changed(&f, "X", "NewValue"), [(".0.State", "0")]);
        assert_eq!(new_value(&f, "X"), None);
    }
}
