//! The match engine: conditions parsed from a rule's JSON, compiled once, and evaluated against
//! one event at a time (its normalized columns and its flattened raw fields).
//!
//! - Field names are looked up case-insensitively, through an alias table covering the
//!   spellings of Graph, the Unified Audit Log, Log Analytics, the Azure diagnostic export and
//!   the portal CSV (detections.md §1.5): `Operation`, `activityDisplayName`, `OperationName` and
//!   `properties.message` all name the operation. A name that is no alias is a flattened field;
//!   positions in arrays do not count (`targetResources.modifiedProperties.Role.DisplayName.newValue`
//!   matches any element), so a test holds when *any* value of the field satisfies it.
//! - Comparisons are case-insensitive unless `"case_sensitive": true`; values are normalized on
//!   both sides (en and em dashes become "-", a trailing "." is ignored, so UAL's `Add member to
//!   role.` equals Graph's `Add member to role`), and the result column understands
//!   `Success`/`Succeeded`/`True` as `success`.

use std::collections::HashMap;

use ipnet::IpNet;
use regex::{Regex, RegexBuilder};
use serde_json::Value;

/// A normalized column of the events table a rule can test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    Tenant,
    Source,
    ContentType,
    Service,
    Operation,
    Result,
    Actor,
    ActorDisplay,
    ActorIp,
    ActorApp,
    Target,
    Severity,
    RecordId,
}

impl Column {
    /// The column a field name (lower case) stands for, through the alias table.
    fn from_alias(name: &str) -> Option<Column> {
        Some(match name {
            "tenant" | "tenant_id" | "tenantid" | "organizationid" => Column::Tenant,
            "source" => Column::Source,
            "content_type" | "contenttype" => Column::ContentType,
            "service" | "workload" | "eventsource" => Column::Service,
            "operation"
            | "activitydisplayname"
            | "operationname"
            | "activity"
            | "properties.message"
            | "activitytype"
            | "eventname"
            | "activity_display_name" => Column::Operation,
            "result" | "resultstatus" | "properties.result" | "activityresult" => Column::Result,
            "actor"
            | "actor_upn"
            | "user"
            | "userid"
            | "userprincipalname"
            | "username"
            | "initiatedby"
            | "initiated.by"
            | "initiatied.by"
            | "properties.initiatedby"
            | "upn" => Column::Actor,
            "actor_display" | "actor_name" => Column::ActorDisplay,
            "ip" | "actor_ip" | "clientip" | "client_ip" | "ipaddress" | "callerip" | "calleripaddress"
            | "clientipaddress" => Column::ActorIp,
            "app" | "app_id" | "actor_app_id" | "appid" | "properties.appid" => Column::ActorApp,
            "target" | "target_display" | "targets" => Column::Target,
            "severity" => Column::Severity,
            "record_id" | "recordid" => Column::RecordId,
            _ => return None,
        })
    }

    /// The flattened field names that are aliases of other flattened fields (Log Analytics and
    /// portal spellings of Graph sign-in fields).
    fn flat_alias(name: &str) -> Option<&'static str> {
        Some(match name {
            "resulttype" => "status.errorcode",
            "resultdescription" => "status.failurereason",
            "clientapp" => "clientappused",
            "location" | "country" => "location.countryorregion",
            "category" => "category",
            "authenticationrequirement" | "properties.authenticationrequirement" => "authenticationrequirement",
            "devicedetail.trusttype" => "devicedetail.trusttype",
            _ => return None,
        })
    }
}

/// An event as rules see it.
#[derive(Clone, Debug, Default)]
pub struct EventDoc {
    pub tenant_id: String,
    pub source: String,
    pub content_type: Option<String>,
    pub service: String,
    pub operation: String,
    pub result: String,
    pub actor_upn: Option<String>,
    pub actor_display: Option<String>,
    pub actor_ip: Option<String>,
    pub actor_app_id: Option<String>,
    pub target_display: Option<String>,
    pub severity: i16,
    pub record_id: String,
    /// Flattened fields by lower-case key without array positions; a key may hold several values.
    pub fields: HashMap<String, Vec<String>>,
    /// The tenant's own mail domains, when known (for the `external` operator).
    pub tenant_domains: std::sync::Arc<Vec<String>>,
}

/// The lookup key of a flattened field: lower case, array positions dropped.
pub fn field_key(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    field_key_into(name, &mut out);
    out
}

/// `field_key` written into `out` (cleared first), so the evaluator reuses one buffer.
fn field_key_into(name: &str, out: &mut String) {
    out.clear();
    for part in name.split('.') {
        if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if !out.is_empty() {
            out.push('.');
        }
        if part.is_ascii() {
            out.extend(part.bytes().map(|b| char::from(b.to_ascii_lowercase())));
        } else {
            out.push_str(&part.to_lowercase());
        }
    }
}

/// The flattened keys some rule reads (exact keys, `prefix.*` and `*suffix` patterns): events
/// are indexed for these only, which gives the same answers as indexing every field for the
/// rules the set was built from, at a fraction of the cost.
#[derive(Clone, Debug, Default)]
pub struct FieldSet {
    keys: std::collections::HashSet<String>,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
    /// Decisions by raw key (the lookup key when wanted): events repeat their keys, so most
    /// are decided once instead of lower-cased and looked up for every event.
    decided: std::cell::RefCell<HashMap<Box<str>, Option<Box<str>>>>,
}

/// Most raw keys a `FieldSet` remembers (keys are the records' own: bounded, whatever they hold).
const MAX_DECIDED_KEYS: usize = 50_000;

impl FieldSet {
    /// Adds what a field reference reads.
    pub fn add(&mut self, field: &FieldRef) {
        self.keys.extend(field.keys.iter().cloned());
        if let Some(prefix) = &field.prefix {
            if !self.prefixes.contains(prefix) {
                self.prefixes.push(prefix.clone());
            }
        }
        if let Some(suffix) = &field.suffix {
            self.keys.insert(suffix[1..].to_string());
            if !self.suffixes.contains(suffix) {
                self.suffixes.push(suffix.clone());
            }
        }
    }

    /// Whether a field of this (lookup) key can be read by the rules.
    fn wants(&self, key: &str) -> bool {
        self.keys.contains(key)
            || self.prefixes.iter().any(|p| key.starts_with(p.as_str()))
            || self.suffixes.iter().any(|s| key.ends_with(s.as_str()))
    }
}

/// A JSON string, borrowed from the input when it has no escapes.
struct JsonText<'a>(std::borrow::Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for JsonText<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = JsonText<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(JsonText(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(JsonText(std::borrow::Cow::Owned(v.to_string())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(JsonText(std::borrow::Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(Visit)
    }
}

/// Calls `pick` with every key of a JSON object of strings; where it answers a lookup key,
/// calls `each` with that and the value (borrowed where it can). The values of keys not picked
/// are skipped without being read. False (after some calls, perhaps) when the text is not an
/// object or a picked value is not a string.
fn each_picked_entry<'a, K>(
    text: &'a str,
    mut pick: impl FnMut(&str) -> Option<K>,
    mut each: impl FnMut(K, std::borrow::Cow<'a, str>),
) -> bool {
    struct Visit<'f, P, F>(&'f mut P, &'f mut F);
    impl<'de, K, P: FnMut(&str) -> Option<K>, F: FnMut(K, std::borrow::Cow<'de, str>)> serde::de::Visitor<'de>
        for Visit<'_, P, F>
    {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object of strings")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(k) = map.next_key::<JsonText<'de>>()? {
                match (self.0)(&k.0) {
                    Some(lookup) => (self.1)(lookup, map.next_value::<JsonText<'de>>()?.0),
                    None => {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
            }
            Ok(())
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    serde::Deserializer::deserialize_map(&mut de, Visit(&mut pick, &mut each)).and_then(|()| de.end()).is_ok()
}

impl EventDoc {
    /// Calls `each` with every value of the operation column and of the flattened `keys`,
    /// normalized as an operation test compares them.
    pub fn each_operation(&self, keys: &[String], mut each: impl FnMut(&str)) {
        let mut buffer = String::new();
        if !self.operation.is_empty() {
            normalize_into(&self.operation, false, &mut buffer);
            each(&buffer);
        }
        for key in keys {
            for value in self.fields.get(key).into_iter().flatten() {
                normalize_into(value, false, &mut buffer);
                each(&buffer);
            }
        }
    }

    /// Indexes the flattened fields (the `flattened` column's JSON object).
    pub fn set_flattened(&mut self, flattened: &str) {
        self.index_flattened(flattened, None);
    }

    /// Indexes the flattened fields some rule of `wanted` reads; the rules it was built from
    /// see the same event as with `set_flattened`.
    pub fn set_flattened_for(&mut self, flattened: &str, wanted: &FieldSet) {
        self.index_flattened(flattened, Some(wanted));
    }

    fn index_flattened(&mut self, flattened: &str, wanted: Option<&FieldSet>) {
        self.fields.clear();
        let fields = &mut self.fields;
        let add = |lookup: String, v: std::borrow::Cow<'_, str>| match fields.get_mut(lookup.as_str()) {
            Some(values) => values.push(v.into_owned()),
            None => {
                fields.insert(lookup, vec![v.into_owned()]);
            }
        };
        let pick = |k: &str| {
            let mut key = String::new();
            let Some(wanted) = wanted else {
                field_key_into(k, &mut key);
                return Some(key);
            };
            let mut decided = wanted.decided.borrow_mut();
            if let Some(decision) = decided.get(k) {
                return decision.as_deref().map(str::to_string);
            }
            field_key_into(k, &mut key);
            let wants = wanted.wants(&key);
            if decided.len() < MAX_DECIDED_KEYS {
                decided.insert(k.into(), wants.then(|| Box::from(key.as_str())));
            }
            wants.then_some(key)
        };
        if !each_picked_entry(flattened, pick, add) {
            // Not an object of strings: no flattened fields at all.
            self.fields.clear();
        }
    }

    fn column(&self, column: Column) -> Option<std::borrow::Cow<'_, str>> {
        use std::borrow::Cow::{Borrowed, Owned};
        match column {
            Column::Tenant => Some(Borrowed(self.tenant_id.as_str())),
            Column::Source => Some(Borrowed(&self.source)),
            Column::ContentType => self.content_type.as_deref().map(Borrowed),
            Column::Service => Some(Borrowed(self.service.as_str())).filter(|s| !s.is_empty()),
            Column::Operation => Some(Borrowed(self.operation.as_str())).filter(|s| !s.is_empty()),
            Column::Result => Some(Borrowed(&self.result)),
            Column::Actor => self
                .actor_upn
                .as_deref()
                .or(self.actor_display.as_deref())
                .or(self.actor_app_id.as_deref())
                .map(Borrowed),
            Column::ActorDisplay => self.actor_display.as_deref().map(Borrowed),
            Column::ActorIp => self.actor_ip.as_deref().map(Borrowed),
            Column::ActorApp => self.actor_app_id.as_deref().map(Borrowed),
            Column::Target => self.target_display.as_deref().map(Borrowed),
            Column::Severity => Some(Owned(self.severity.to_string())),
            Column::RecordId => Some(Borrowed(&self.record_id)),
        }
    }

    /// Every value of a field reference.
    fn values<'a>(&'a self, field: &'a FieldRef, out: &mut Vec<std::borrow::Cow<'a, str>>) {
        out.clear();
        if let Some(column) = field.column {
            if let Some(v) = self.column(column) {
                out.push(v);
            }
        }
        for key in &field.keys {
            if let Some(values) = self.fields.get(key) {
                out.extend(values.iter().map(|v| std::borrow::Cow::Borrowed(v.as_str())));
            }
        }
        if let Some(prefix) = &field.prefix {
            for (key, values) in &self.fields {
                if key.starts_with(prefix.as_str()) {
                    out.extend(values.iter().map(|v| std::borrow::Cow::Borrowed(v.as_str())));
                }
            }
        }
        if let Some(suffix) = &field.suffix {
            for (key, values) in &self.fields {
                if key.ends_with(suffix.as_str()) || key == &suffix[1..] {
                    out.extend(values.iter().map(|v| std::borrow::Cow::Borrowed(v.as_str())));
                }
            }
        }
    }

    /// Whether any value of a field reference satisfies `test` (the values of `values`, in
    /// the same order, without collecting them).
    fn any_value(&self, field: &FieldRef, mut test: impl FnMut(&str) -> bool) -> bool {
        if let Some(column) = field.column {
            if self.column(column).is_some_and(|v| test(&v)) {
                return true;
            }
        }
        for key in &field.keys {
            if self.fields.get(key).is_some_and(|values| values.iter().any(|v| test(v))) {
                return true;
            }
        }
        if let Some(prefix) = &field.prefix {
            for (key, values) in &self.fields {
                if key.starts_with(prefix.as_str()) && values.iter().any(|v| test(v)) {
                    return true;
                }
            }
        }
        if let Some(suffix) = &field.suffix {
            for (key, values) in &self.fields {
                if (key.ends_with(suffix.as_str()) || key == &suffix[1..]) && values.iter().any(|v| test(v)) {
                    return true;
                }
            }
        }
        false
    }

    /// Whether an address in `value` is outside the tenant: an e-mail address (`smtp:` prefixes
    /// and `;`/`,` lists understood) whose domain is neither the actor's nor one of the
    /// tenant's domains.
    fn has_external_address(&self, value: &str) -> bool {
        let actor_domain =
            self.actor_upn.as_deref().and_then(|u| u.rsplit_once('@')).map(|(_, d)| d.to_ascii_lowercase());
        value
            .split([';', ',', ' ', '\t'])
            .filter_map(|part| {
                let part = part.trim().trim_matches(['"', '\'', '<', '>', '[', ']']);
                let part = part.strip_prefix("smtp:").or_else(|| part.strip_prefix("SMTP:")).unwrap_or(part);
                part.rsplit_once('@').map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase())
            })
            .any(|domain| {
                !domain.is_empty()
                    && actor_domain.as_deref() != Some(domain.as_str())
                    && !self.tenant_domains.iter().any(|d| d.eq_ignore_ascii_case(&domain))
            })
    }

    /// The first value of a field reference (a threshold's distinct field, a first-seen rule's
    /// remembered field), trimmed; `None` when the event has none or only empty ones.
    pub fn first_value(&self, field: &FieldRef) -> Option<String> {
        let mut values = Vec::new();
        self.values(field, &mut values);
        values.into_iter().map(|v| v.trim().to_string()).find(|v| !v.is_empty())
    }

    /// The entity of a kind, for grouping and the alert's entity lists. Several keys give
    /// their values joined by " · " (a missing one as "(none)"); none at all gives `None`.
    pub fn entity(&self, group_by: &GroupBy) -> Option<String> {
        match group_by {
            GroupBy::Actor => self.column(Column::Actor).map(|v| v.into_owned()),
            GroupBy::Target => self.target_display.clone(),
            GroupBy::Ip => self.actor_ip.clone(),
            GroupBy::App => self.actor_app_id.clone(),
            GroupBy::Tenant => Some(self.tenant_id.clone()),
            GroupBy::Field(field) => {
                let mut values = Vec::new();
                self.values(field, &mut values);
                values.into_iter().next().map(|v| v.into_owned())
            }
            GroupBy::Several(keys) => {
                let parts: Vec<Option<String>> = keys.iter().map(|k| self.entity(k)).collect();
                if parts.iter().all(Option::is_none) {
                    return None;
                }
                Some(parts.into_iter().map(|p| p.unwrap_or_else(|| "(none)".into())).collect::<Vec<_>>().join(" · "))
            }
        }
    }
}

/// What alerts of a rule are grouped by.
#[derive(Clone, Debug)]
pub enum GroupBy {
    Actor,
    Target,
    Ip,
    App,
    Tenant,
    /// Any field (`field:<name>`).
    Field(FieldRef),
    /// Several of the above, comma-separated (`actor, ip`, `field:UserId, field:ClientIP`): one
    /// group per combination of their values.
    Several(Vec<GroupBy>),
}

/// At most this many keys in one grouping.
const MAX_GROUP_KEYS: usize = 5;

impl GroupBy {
    /// Parses `actor`, `target`, `ip`, `app`, `tenant` or `field:<name>`, or several of them
    /// separated by commas.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.contains(',') {
            let keys: Vec<&str> = text.split(',').map(str::trim).collect();
            if keys.iter().any(|k| k.is_empty()) {
                return Err(format!("group_by `{text}` has an empty key between its commas"));
            }
            if keys.len() > MAX_GROUP_KEYS {
                return Err(format!("group_by names {} keys; at most {MAX_GROUP_KEYS}", keys.len()));
            }
            return Ok(GroupBy::Several(keys.into_iter().map(Self::parse_one).collect::<Result<_, _>>()?));
        }
        Self::parse_one(text)
    }

    fn parse_one(text: &str) -> Result<Self, String> {
        Ok(match text.trim().to_ascii_lowercase().as_str() {
            "" | "actor" | "user" => GroupBy::Actor,
            "target" => GroupBy::Target,
            "ip" => GroupBy::Ip,
            "app" => GroupBy::App,
            "tenant" => GroupBy::Tenant,
            other => match other.strip_prefix("field:") {
                Some(name) if !name.trim().is_empty() => GroupBy::Field(FieldRef::new(name.trim())),
                _ => {
                    return Err(format!(
                        "unknown group_by `{text}`: use actor, target, ip, app, tenant or field:<name>, or several separated by commas"
                    ))
                }
            },
        })
    }

    /// Adds the flattened keys the grouping reads to `set`.
    pub fn note_fields(&self, set: &mut FieldSet) {
        match self {
            GroupBy::Field(field) => set.add(field),
            GroupBy::Several(keys) => keys.iter().for_each(|k| k.note_fields(set)),
            _ => {}
        }
    }
}

/// A field a condition tests: a column (through the alias table) and/or flattened keys.
#[derive(Clone, Debug)]
pub struct FieldRef {
    /// As the rule wrote it.
    pub name: String,
    column: Option<Column>,
    keys: Vec<String>,
    /// `*Role.TemplateId.newValue`: every flattened field whose key ends with this (after a
    /// dot), so one name covers the UAL and the Graph shape.
    suffix: Option<String>,
    /// `targetResources.*`: the field itself and every flattened field under it (a `contains`
    /// over a whole object or list, as Sigma rules write it).
    prefix: Option<String>,
}

impl FieldRef {
    pub fn new(name: &str) -> Self {
        if let Some(rest) = name.strip_prefix('*') {
            let key = field_key(rest.trim_start_matches('.'));
            return Self {
                name: name.to_string(),
                column: None,
                keys: Vec::new(),
                suffix: Some(format!(".{key}")),
                prefix: None,
            };
        }
        if let Some(rest) = name.strip_suffix(".*") {
            let key = field_key(rest);
            return Self {
                name: name.to_string(),
                column: None,
                keys: vec![key.clone()],
                suffix: None,
                prefix: Some(format!("{key}.")),
            };
        }
        let key = field_key(name);
        let column = Column::from_alias(&key);
        let mut keys = Vec::new();
        if let Some(alias) = Column::flat_alias(&key) {
            keys.push(alias.to_string());
        }
        if !keys.contains(&key) {
            keys.push(key);
        }
        Self { name: name.to_string(), column, keys, suffix: None, prefix: None }
    }
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
    Regex,
    In,
    Cidr,
    Gt,
    Gte,
    Lt,
    Lte,
    Exists,
    /// An e-mail address outside the tenant (no value).
    External,
}

impl Op {
    fn parse(text: &str) -> Option<Op> {
        Some(match text.to_ascii_lowercase().replace('-', "_").as_str() {
            "equals" | "eq" | "=" | "==" => Op::Equals,
            "contains" => Op::Contains,
            "starts_with" | "startswith" => Op::StartsWith,
            "ends_with" | "endswith" => Op::EndsWith,
            "regex" | "re" | "matches" => Op::Regex,
            "in" => Op::In,
            "cidr" => Op::Cidr,
            "gt" | ">" => Op::Gt,
            "gte" | ">=" => Op::Gte,
            "lt" | "<" => Op::Lt,
            "lte" | "<=" => Op::Lte,
            "exists" => Op::Exists,
            "external" => Op::External,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Equals => "equals",
            Op::Contains => "contains",
            Op::StartsWith => "starts_with",
            Op::EndsWith => "ends_with",
            Op::Regex => "regex",
            Op::In => "in",
            Op::Cidr => "cidr",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::Exists => "exists",
            Op::External => "external",
        }
    }
}

/// How one field test decides.
#[derive(Clone, Debug)]
pub enum Predicate {
    /// Any of the (normalized) texts; `Contains` with `all` needs every one.
    Text {
        op: Op,
        values: Vec<String>,
        all: bool,
        case_sensitive: bool,
        result: bool,
    },
    Regex(Regex),
    Cidr(Vec<IpNet>),
    Number {
        op: Op,
        value: f64,
    },
    Exists(bool),
    External,
}

/// A compiled condition.
#[derive(Clone, Debug)]
pub enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Test { field: FieldRef, predicate: Predicate, label: String },
}

/// Normalizes a value for comparison: dashes, a trailing ".", surrounding space, and case.
fn normalize(text: &str, case_sensitive: bool) -> String {
    let mut out = String::new();
    normalize_into(text, case_sensitive, &mut out);
    out
}

/// `normalize` written into `out` (cleared first); ASCII text, the common case, is copied
/// without allocating.
fn normalize_into(text: &str, case_sensitive: bool, out: &mut String) {
    out.clear();
    let t = text.trim();
    let t = t.strip_suffix('.').unwrap_or(t);
    if t.is_ascii() {
        if case_sensitive {
            out.push_str(t);
        } else {
            out.extend(t.bytes().map(|b| char::from(b.to_ascii_lowercase())));
        }
        return;
    }
    let t: String = t.chars().map(|c| if matches!(c, '\u{2013}' | '\u{2014}') { '-' } else { c }).collect();
    if case_sensitive {
        out.push_str(&t);
    } else {
        // `str::to_lowercase`, not per character: a final sigma lowers differently.
        out.push_str(&t.to_lowercase());
    }
}

/// The outcome words Microsoft uses for a result, as AOC's normalized result.
fn normalize_result(text: &str) -> String {
    let mut out = String::new();
    normalize_result_into(text, &mut out);
    out
}

/// `normalize_result` written into `out` (cleared first).
fn normalize_result_into(text: &str, out: &mut String) {
    out.clear();
    out.push_str(text.trim());
    out.make_ascii_lowercase();
    let word = match out.as_str() {
        "success" | "succeeded" | "true" | "0" => "success",
        "failure" | "failed" | "false" => "failure",
        "partialsuccess" | "partial_success" => "partial_success",
        _ => return,
    };
    out.clear();
    out.push_str(word);
}

/// An IP address from `1.2.3.4`, `1.2.3.4:443`, `[2001:db8::1]:443` or `2001:db8::1`.
fn parse_ip(text: &str) -> Option<std::net::IpAddr> {
    let t = text.trim();
    if let Ok(ip) = t.parse() {
        return Some(ip);
    }
    if let Ok(sock) = t.parse::<std::net::SocketAddr>() {
        return Some(sock.ip());
    }
    t.trim_start_matches('[').split(']').next().and_then(|s| s.parse().ok())
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Parses and compiles a condition (`{"all": [...]}`, `{"any": [...]}`, `{"not": {...}}` or
/// `{"field", "op", "value"}`); errors name where in the condition the problem is.
pub fn compile(value: &Value, at: &str) -> Result<Condition, String> {
    let Some(object) = value.as_object() else {
        return Err(format!("{at}: expected an object with `all`, `any`, `not` or `field`"));
    };
    let is_test = object.contains_key("field");
    if let Some(items) = object.get("all").or_else(|| object.get("any")).filter(|_| !is_test) {
        let key = if object.contains_key("all") { "all" } else { "any" };
        if object.len() != 1 {
            return Err(format!("{at}: `{key}` stands alone in its object"));
        }
        let Some(items) = items.as_array().filter(|a| !a.is_empty()) else {
            return Err(format!("{at}.{key}: expected a non-empty list of conditions"));
        };
        let compiled = items
            .iter()
            .enumerate()
            .map(|(i, c)| compile(c, &format!("{at}.{key}[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(if key == "all" { Condition::All(compiled) } else { Condition::Any(compiled) });
    }
    if let Some(inner) = object.get("not").filter(|_| !is_test) {
        if object.len() != 1 {
            return Err(format!("{at}: `not` stands alone in its object"));
        }
        return Ok(Condition::Not(Box::new(compile(inner, &format!("{at}.not"))?)));
    }
    let field = object
        .get("field")
        .and_then(Value::as_str)
        .filter(|f| !f.trim().is_empty())
        .ok_or_else(|| format!("{at}: expected `all`, `any`, `not` or a `field` name"))?;
    for key in object.keys() {
        if !["field", "op", "value", "values", "case_sensitive", "all", "watchlist"].contains(&key.as_str()) {
            return Err(format!("{at}: unknown key `{key}`"));
        }
    }
    let op_text = object.get("op").and_then(Value::as_str).unwrap_or("equals");
    let op = Op::parse(op_text).ok_or_else(|| {
        format!(
            "{at}: unknown operator `{op_text}` (equals, contains, starts_with, ends_with, regex, in, cidr, gt, \
             gte, lt, lte, exists, external)"
        )
    })?;
    let case_sensitive = object.get("case_sensitive").and_then(Value::as_bool).unwrap_or(false);
    let all = object.get("all").and_then(Value::as_bool).unwrap_or(false);
    let raw = object.get("value").or_else(|| object.get("values"));
    let texts: Vec<String> = match raw {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| scalar_text(v).ok_or_else(|| format!("{at}.value: list items must be text, numbers or booleans")))
            .collect::<Result<_, _>>()?,
        Some(v) => vec![scalar_text(v).ok_or_else(|| format!("{at}.value: expected text, a number or a list"))?],
    };
    // `"watchlist": "admins"`: the values are the watchlist's items, filled in when rules are
    // loaded (`resolve_watchlists`); unresolved, the test matches nothing.
    let watchlist = match object.get("watchlist") {
        None => None,
        Some(Value::String(name)) if !name.trim().is_empty() => Some(name.trim().to_string()),
        Some(_) => return Err(format!("{at}.watchlist: expected a watchlist's name")),
    };
    if watchlist.is_some() && matches!(op, Op::Exists | Op::External | Op::Regex | Op::Gt | Op::Gte | Op::Lt | Op::Lte)
    {
        return Err(format!("{at}.watchlist: `{}` cannot take a watchlist", op.as_str()));
    }
    let field_ref = FieldRef::new(field);
    let is_result = field_ref.column == Some(Column::Result);
    let shown = match &watchlist {
        Some(name) => format!("watchlist:{name}"),
        None if texts.len() == 1 => texts[0].clone(),
        None => format!("[{}]", texts.join(", ")),
    };
    let label = match op {
        Op::Exists => format!("{field} exists"),
        Op::External => format!("{field} is an address outside the tenant"),
        _ => format!("{field} {} {shown}", op.as_str()),
    };
    let predicate = match op {
        Op::Exists => Predicate::Exists(match raw {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            _ => return Err(format!("{at}.value: `exists` takes true or false")),
        }),
        Op::External => Predicate::External,
        _ if texts.is_empty() && watchlist.is_none() => {
            return Err(format!("{at}.value: `{}` needs a value", op.as_str()))
        }
        Op::Regex => {
            if texts.len() != 1 {
                return Err(format!("{at}.value: `regex` takes one pattern"));
            }
            Predicate::Regex(
                RegexBuilder::new(&texts[0])
                    .case_insensitive(!case_sensitive)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| format!("{at}.value: invalid regular expression: {e}"))?,
            )
        }
        Op::Cidr => Predicate::Cidr(
            texts
                .iter()
                .map(|t| {
                    t.trim()
                        .parse::<IpNet>()
                        .or_else(|_| t.trim().parse::<std::net::IpAddr>().map(IpNet::from))
                        .map_err(|_| format!("{at}.value: `{t}` is not a CIDR range"))
                })
                .collect::<Result<_, _>>()?,
        ),
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
            if texts.len() != 1 {
                return Err(format!("{at}.value: `{}` takes one number", op.as_str()));
            }
            let value =
                texts[0].trim().parse::<f64>().map_err(|_| format!("{at}.value: `{}` is not a number", texts[0]))?;
            Predicate::Number { op, value }
        }
        Op::Equals | Op::In | Op::Contains | Op::StartsWith | Op::EndsWith => {
            let values = texts
                .iter()
                .map(|t| {
                    if is_result && matches!(op, Op::Equals | Op::In) {
                        normalize_result(t)
                    } else {
                        normalize(t, case_sensitive)
                    }
                })
                .collect();
            Predicate::Text { op, values, all, case_sensitive, result: is_result }
        }
    };
    Ok(Condition::Test { field: field_ref, predicate, label })
}

impl Predicate {
    fn holds_for(&self, value: &str) -> bool {
        match self {
            Predicate::Text { op, values, all, case_sensitive, result } => {
                thread_local! {
                    // One buffer per thread for the normalized value: no allocation per test.
                    static NORMALIZED: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
                }
                NORMALIZED.with_borrow_mut(|v| {
                    if *result && matches!(op, Op::Equals | Op::In) {
                        normalize_result_into(value, v);
                    } else {
                        normalize_into(value, *case_sensitive, v);
                    }
                    let test = |want: &String| match op {
                        Op::Equals | Op::In => v.as_str() == want.as_str(),
                        Op::Contains => v.contains(want.as_str()),
                        Op::StartsWith => v.starts_with(want.as_str()),
                        _ => v.ends_with(want.as_str()),
                    };
                    if *all {
                        values.iter().all(test)
                    } else {
                        values.iter().any(test)
                    }
                })
            }
            Predicate::Regex(re) => re.is_match(value),
            Predicate::Cidr(nets) => parse_ip(value).is_some_and(|ip| nets.iter().any(|n| n.contains(&ip))),
            Predicate::Number { op, value: want } => value.trim().parse::<f64>().is_ok_and(|v| match op {
                Op::Gt => v > *want,
                Op::Gte => v >= *want,
                Op::Lt => v < *want,
                _ => v <= *want,
            }),
            Predicate::Exists(_) | Predicate::External => true,
        }
    }
}

impl Condition {
    /// Whether the event satisfies the condition.
    pub fn matches(&self, doc: &EventDoc) -> bool {
        self.eval(doc)
    }

    fn eval(&self, doc: &EventDoc) -> bool {
        match self {
            Condition::All(items) => items.iter().all(|c| c.eval(doc)),
            Condition::Any(items) => items.iter().any(|c| c.eval(doc)),
            Condition::Not(inner) => !inner.eval(doc),
            Condition::Test { field, predicate, .. } => match predicate {
                Predicate::Exists(want) => doc.any_value(field, |v| !v.is_empty()) == *want,
                Predicate::External => doc.any_value(field, |v| doc.has_external_address(v)),
                p => doc.any_value(field, |v| p.holds_for(v)),
            },
        }
    }

    /// The field tests that held for the event, with the value that satisfied each (what the
    /// alert shows as "why it fired").
    pub fn explain(&self, doc: &EventDoc) -> Vec<(String, String)> {
        let mut out = Vec::new();
        self.collect(doc, &mut out);
        out
    }

    fn collect(&self, doc: &EventDoc, out: &mut Vec<(String, String)>) {
        match self {
            Condition::All(items) | Condition::Any(items) => items.iter().for_each(|c| c.collect(doc, out)),
            Condition::Not(inner) => {
                if !inner.matches(doc) {
                    if let Condition::Test { label, .. } = inner.as_ref() {
                        out.push((format!("not {label}"), String::new()));
                    }
                }
            }
            Condition::Test { field, predicate, label } => {
                let mut values = Vec::new();
                doc.values(field, &mut values);
                let hit = match predicate {
                    Predicate::Exists(true) => values.iter().find(|v| !v.is_empty()),
                    Predicate::Exists(false) => None,
                    Predicate::External => values.iter().find(|v| doc.has_external_address(v)),
                    p => values.iter().find(|v| p.holds_for(v)),
                };
                if let Some(v) = hit {
                    out.push((label.clone(), v.chars().take(200).collect()));
                }
            }
        }
    }

    /// The operations (normalized, lower case) one of which the event must have for the
    /// condition to hold, when the condition says so (`operation in [...]`, alone, in an `all`,
    /// or in every branch of an `any`), with the flattened keys its tests also read the
    /// operation from.
    pub fn operation_gate(&self) -> Option<(Vec<String>, Vec<String>)> {
        match self {
            Condition::Test {
                field,
                predicate:
                    Predicate::Text { op: Op::Equals | Op::In, values, all: false, case_sensitive: false, result: false },
                ..
            } if field.column == Some(Column::Operation) && field.prefix.is_none() && field.suffix.is_none() => {
                Some((values.clone(), field.keys.clone()))
            }
            Condition::All(items) => {
                items.iter().filter_map(Condition::operation_gate).min_by_key(|(values, _)| values.len())
            }
            Condition::Any(items) => {
                let mut all = (Vec::new(), Vec::new());
                for item in items {
                    let (values, keys) = item.operation_gate()?;
                    all.0.extend(values);
                    all.1.extend(keys);
                }
                Some(all)
            }
            _ => None,
        }
    }

    /// Adds the flattened keys the condition reads to `set`.
    pub fn note_fields(&self, set: &mut FieldSet) {
        match self {
            Condition::All(items) | Condition::Any(items) => items.iter().for_each(|c| c.note_fields(set)),
            Condition::Not(inner) => inner.note_fields(set),
            Condition::Test { field, .. } => set.add(field),
        }
    }

    /// The field names the condition reads.
    pub fn fields(&self, out: &mut Vec<String>) {
        match self {
            Condition::All(items) | Condition::Any(items) => items.iter().for_each(|c| c.fields(out)),
            Condition::Not(inner) => inner.fields(out),
            Condition::Test { field, .. } => out.push(field.name.clone()),
        }
    }
}

/// Fills in the items of the watchlists a condition names (`"watchlist": "admins"` becomes that
/// list's values); returns the names of watchlists that do not exist (their tests match nothing).
/// `lists` is keyed by lower-case name.
pub fn resolve_watchlists(condition: &mut Value, lists: &HashMap<String, Vec<String>>) -> Vec<String> {
    let mut missing = Vec::new();
    fn walk(v: &mut Value, lists: &HashMap<String, Vec<String>>, missing: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(name) = o.get("watchlist").and_then(Value::as_str).map(str::to_string) {
                    match lists.get(&name.trim().to_lowercase()) {
                        Some(items) => {
                            o.insert("value".into(), Value::Array(items.iter().cloned().map(Value::String).collect()));
                        }
                        None => missing.push(name),
                    }
                }
                for child in o.values_mut() {
                    walk(child, lists, missing);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| walk(i, lists, missing)),
            _ => {}
        }
    }
    walk(condition, lists, &mut missing);
    missing
}

/// The watchlists a condition names.
pub fn watchlists_named(condition: &Value) -> Vec<String> {
    let mut out = resolve_watchlists(&mut condition.clone(), &HashMap::new());
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> EventDoc {
        let mut d = EventDoc {
            tenant_id: "t1".into(),
            source: "directory".into(),
            service: "Core Directory".into(),
            operation: "Add member to role".into(),
            result: "success".into(),
            actor_upn: Some("Admin@Contoso.example".into()),
            actor_ip: Some("203.0.113.9".into()),
            severity: 3,
            ..Default::default()
        };
        d.set_flattened(
            &json!({
                "targetResources.0.modifiedProperties.Role.DisplayName.newValue": "Global Administrator",
                "targetResources.0.type": "User",
                "targetResources.1.type": "ServicePrincipal",
                "ClientIP": "[2001:db8::5]:443",
                "status.errorCode": "50126",
                "Parameters.ForwardTo": "smtp:evil@evil.example"
            })
            .to_string(),
        );
        d
    }

    fn check(condition: Value) -> bool {
        compile(&condition, "condition").unwrap().matches(&doc())
    }

    #[test]
    fn aliases_name_the_operation_case_insensitively_and_ignore_the_trailing_dot() {
        assert!(check(json!({"field": "Operation", "value": "add member to role."})));
        assert!(check(json!({"field": "activityDisplayName", "value": "Add member to role"})));
        assert!(check(json!({"field": "properties.message", "op": "in", "value": ["x", "ADD MEMBER TO ROLE"]})));
        assert!(!check(json!({"field": "OperationName", "value": "Add member to group"})));
    }

    #[test]
    fn array_positions_do_not_count_and_any_element_matches() {
        assert!(check(
            json!({"field": "targetResources.modifiedProperties.Role.DisplayName.newValue", "value": "global administrator"})
        ));
        assert!(check(json!({"field": "TargetResources.Type", "value": "ServicePrincipal"})));
    }

    #[test]
    fn operators_cover_text_numbers_networks_and_presence() {
        assert!(check(json!({"field": "Parameters.ForwardTo", "op": "contains", "value": "@evil."})));
        assert!(check(json!({"field": "Parameters.ForwardTo", "op": "starts_with", "value": "SMTP:"})));
        assert!(check(json!({"field": "Parameters.ForwardTo", "op": "ends_with", "value": ".example"})));
        assert!(check(
            json!({"field": "Parameters.ForwardTo", "op": "contains", "all": true, "value": ["smtp", "evil"]})
        ));
        assert!(!check(
            json!({"field": "Parameters.ForwardTo", "op": "contains", "all": true, "value": ["smtp", "good"]})
        ));
        assert!(check(json!({"field": "ResultType", "op": "gte", "value": 50000})));
        assert!(!check(json!({"field": "ResultType", "op": "lt", "value": 100})));
        assert!(check(json!({"field": "ip", "op": "cidr", "value": ["203.0.113.0/24"]})));
        assert!(check(json!({"field": "ClientIP", "op": "cidr", "value": "2001:db8::/32"})));
        assert!(check(json!({"field": "actor", "op": "regex", "value": "^admin@"})));
        assert!(check(json!({"field": "Parameters.DeleteMessage", "op": "exists", "value": false})));
        assert!(check(json!({"field": "Parameters.ForwardTo", "op": "exists"})));
        assert!(check(json!({"field": "ResultStatus", "value": "Succeeded"})));
    }

    #[test]
    fn suffix_fields_and_external_addresses() {
        assert!(check(json!({"field": "*Role.DisplayName.newValue", "value": "Global Administrator"})));
        assert!(check(json!({"field": "Parameters.ForwardTo", "op": "external"})));
        assert!(check(json!({"field": "targetResources.*", "op": "contains", "value": "global admin"})));
        assert!(!check(json!({"field": "Parameters.*", "op": "contains", "value": "global admin"})));
        let mut d = doc();
        d.fields.insert("parameters.forwardto".into(), vec!["smtp:lee@contoso.example; boss@Contoso.Example".into()]);
        let c = compile(&json!({"field": "Parameters.ForwardTo", "op": "external"}), "c").unwrap();
        assert!(!c.matches(&d));
        d.tenant_domains = std::sync::Arc::new(vec!["fabrikam.example".into()]);
        d.fields.insert("parameters.forwardto".into(), vec!["x@fabrikam.example".into()]);
        assert!(!c.matches(&d));
    }

    #[test]
    fn groups_combine_with_and_or_not() {
        assert!(check(json!({"all": [
            {"field": "operation", "value": "Add member to role"},
            {"any": [{"field": "severity", "op": "gt", "value": 5}, {"field": "actor", "op": "contains", "value": "admin"}]},
            {"not": {"field": "ip", "op": "cidr", "value": "10.0.0.0/8"}}
        ]})));
        assert!(!check(json!({"not": {"field": "operation", "op": "exists"}})));
    }

    #[test]
    fn mistakes_are_reported_with_their_place() {
        let err = compile(&json!({"all": [{"field": "x", "op": "like", "value": "y"}]}), "condition").unwrap_err();
        assert!(err.contains("condition.all[0]") && err.contains("like"), "{err}");
        let err = compile(&json!({"field": "x", "op": "regex", "value": "("}), "condition").unwrap_err();
        assert!(err.contains("regular expression"), "{err}");
        let err = compile(&json!({"field": "ip", "op": "cidr", "value": "nonsense"}), "c").unwrap_err();
        assert!(err.contains("CIDR"), "{err}");
        assert!(compile(&json!({"any": []}), "c").is_err());
    }

    #[test]
    fn explain_lists_the_tests_that_held() {
        let c = compile(
            &json!({"all": [{"field": "operation", "value": "Add member to role"}, {"field": "Role.DisplayName.newValue", "op": "contains", "value": "admin"}]}),
            "c",
        )
        .unwrap();
        let mut d = doc();
        d.set_flattened(&json!({"Role.DisplayName.newValue": "Global Administrator"}).to_string());
        let why = c.explain(&d);
        assert_eq!(why.len(), 2, "{why:?}");
        assert_eq!(why[1].1, "Global Administrator");
    }
}
