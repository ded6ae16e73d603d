//! Sigma rules, natively: a Sigma YAML rule is parsed and translated into AOC's condition
//! language (so it runs in the same engine, with the same field aliases and value
//! normalizations), keeping its id, author, references, level and tags.
//!
//! - Logsources: `product: m365` (any service) → the Unified Audit Log; `azure/auditlogs` →
//!   Graph directory audits and the UAL's directory records; `azure/signinlogs` → Graph sign-ins.
//!   Other logsources are refused with the reason (AOC does not collect them).
//! - Field names are renamed per logsource where Sigma's spelling means something else in
//!   Microsoft's records (`eventSource` → `Workload`, sign-in `ResultType` → `status.errorCode`,
//!   `TargetResources` with `contains` → any field under `targetResources`, ...); everything else
//!   goes through the engine's case-insensitive alias table.
//! - Modifiers: `contains`, `startswith`, `endswith`, `all`, `re` (with `i`, `m`, `s`), `cidr`,
//!   `exists`, `gt`/`gte`/`lt`/`lte`, `cased`, `windash`, `base64`, `base64offset`, `utf16le`/
//!   `utf16be`/`utf16`/`wide` (with base64), `neq`; wildcards `*` and `?` in values. Refused with the
//!   reason: `fieldref`, keyword (unbound) searches and deprecated/unsupported rules. `expand`
//!   `%placeholders%` name watchlists (the rule loads when they exist).
//! - Correlation rules, loaded with the rules they name (one file of several YAML documents):
//!   `event_count` and `value_count` become threshold rules, `temporal_ordered` of two rules a
//!   sequence rule, `temporal` of two rules a sequence rule in either order; several group-by
//!   fields group by each combination of their values.
//! - Conditions: `and`, `or`, `not`, parentheses, `1 of x*`, `all of x*`, `1 of them`, `all of them`.

use base64::Engine as _;
use serde_json::{json, Value};
use yaml_rust2::{Yaml, YamlLoader};

use super::{Definition, RuleDraft};

/// Why a Sigma rule could not be loaded; YAML syntax errors carry their line and column
/// (1-based).
#[derive(Clone, Debug, PartialEq)]
pub struct SigmaError {
    pub message: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl std::fmt::Display for SigmaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "line {l}, column {c}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

fn refuse(message: impl Into<String>) -> SigmaError {
    SigmaError { message: message.into(), line: None, column: None }
}

/// A loaded Sigma rule.
#[derive(Clone, Debug)]
pub struct SigmaRule {
    pub draft: RuleDraft,
    pub author: Option<String>,
    pub references: Vec<String>,
    pub status: Option<String>,
}

fn text(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn strings(y: &Yaml) -> Vec<String> {
    match y {
        Yaml::Array(items) => items.iter().filter_map(text).collect(),
        other => text(other).into_iter().collect(),
    }
}

/// Field renames of a logsource: (Sigma name in lower case, AOC field).
type Renames = &'static [(&'static str, &'static str)];

/// The sources a logsource maps to, and the field renames of that logsource.
fn logsource(product: &str, service: &str) -> Result<(Vec<&'static str>, Renames), SigmaError> {
    const M365: &[(&str, &str)] = &[
        ("eventsource", "Workload"),
        ("eventname", "Operation"),
        ("status", "ResultStatus"),
        ("payload", "Parameters.*"),
        ("requesttype", "ExtendedProperties.RequestType"),
    ];
    const M365_ALERTS: &[(&str, &str)] =
        &[("eventsource", "Workload"), ("eventname", "Name"), ("status", "ResultStatus"), ("payload", "Parameters.*")];
    const AUDIT: &[(&str, &str)] = &[
        ("status", "result"),
        ("targetresources", "targetResources.*"),
        ("properties.targetresources", "targetResources.*"),
        ("targetresources.modifiedproperties", "targetResources.*"),
        ("targetresources.modifiedproperties.newvalue", "*newValue"),
        ("targetresources.type", "targetResources.type"),
        ("consentcontext.isadminconsent", "*ConsentContext.IsAdminConsent.newValue"),
        ("additionaldetails.additionalinfo", "additionalDetails.AdditionalInfo"),
        ("failure_status_reason", "resultReason"),
        ("loggedbyservice", "loggedByService"),
    ];
    const SIGNIN: &[(&str, &str)] = &[
        ("status", "result"),
        ("resulttype", "status.errorCode"),
        ("resultdescription", "status.failureReason"),
        ("username", "userPrincipalName"),
        ("clientapp", "clientAppUsed"),
        ("location", "location.countryOrRegion"),
        ("networklocationdetails", "networkLocationDetails"),
    ];
    match (product, service) {
        ("m365", "threat_management" | "threat_detection") => Ok((vec!["unified"], M365_ALERTS)),
        ("m365", _) => Ok((vec!["unified"], M365)),
        ("azure", "auditlogs") => Ok((vec!["directory", "unified"], AUDIT)),
        ("azure", "signinlogs") => Ok((vec!["signin"], SIGNIN)),
        ("azure", other) => Err(refuse(format!(
            "logsource azure/{other} is not collected by AOC (it collects azure/auditlogs, azure/signinlogs and m365/*)"
        ))),
        (other, service) => Err(refuse(format!(
            "logsource {other}/{service} is not collected by AOC (azure/auditlogs, azure/signinlogs, m365/*)"
        ))),
    }
}

/// Turns a Sigma value with `*`/`?` wildcards into an anchored regular expression, or `None`
/// when it has none.
fn wildcard_regex(value: &str, prefix_any: bool, suffix_any: bool) -> Option<String> {
    let mut has = false;
    let mut out = String::from(if prefix_any { "" } else { "^" });
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('*' | '?' | '\\')) => {
                let next = chars.next().unwrap_or('\\');
                out.push_str(&regex::escape(&next.to_string()));
            }
            '*' => {
                has = true;
                out.push_str(".*");
            }
            '?' => {
                has = true;
                out.push('.');
            }
            other => out.push_str(&regex::escape(&other.to_string())),
        }
    }
    if !suffix_any {
        out.push('$');
    }
    has.then_some(out)
}

fn windash_variants(value: &str) -> Vec<String> {
    let mut out = vec![value.to_string()];
    for dash in ['/', '\u{2013}', '\u{2014}', '\u{2015}'] {
        let v: String = value
            .char_indices()
            .map(|(i, c)| if c == '-' && (i == 0 || value[..i].ends_with(' ')) { dash } else { c })
            .collect();
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

fn encode_utf16(value: &str, big_endian: bool) -> Vec<u8> {
    value.encode_utf16().flat_map(|u| if big_endian { u.to_be_bytes() } else { u.to_le_bytes() }).collect()
}

fn base64_offsets(bytes: &[u8]) -> Vec<String> {
    let engine = base64::engine::general_purpose::STANDARD;
    let starts = [0usize, 2, 3];
    (0..3)
        .map(|i| {
            let mut padded = vec![0u8; i];
            padded.extend_from_slice(bytes);
            let encoded = engine.encode(&padded);
            let start = starts[i];
            let end_trim = match (bytes.len() + i) % 3 {
                0 => 0,
                1 => 3,
                _ => 2,
            };
            encoded[start..encoded.len() - end_trim].to_string()
        })
        .collect()
}

/// One `field|modifiers: values` entry as an AOC condition.
fn field_condition(key: &str, value: &Yaml, renames: &[(&str, &str)]) -> Result<Value, SigmaError> {
    let mut parts = key.split('|');
    let raw_field = parts.next().unwrap_or_default().trim();
    let modifiers: Vec<String> = parts.map(|m| m.trim().to_ascii_lowercase()).collect();
    if raw_field.is_empty() {
        return Err(refuse("keyword (unbound) searches are not supported; name a field"));
    }
    let lower = raw_field.to_ascii_lowercase();
    let field =
        renames.iter().find(|(from, _)| *from == lower).map(|(_, to)| to.to_string()).unwrap_or(raw_field.to_string());
    let mut op = "equals";
    let mut all = false;
    let mut cased = false;
    let mut negate = false;
    let mut regex_flags = String::new();
    let mut windash = false;
    let mut b64: Option<&str> = None;
    let mut utf16: Option<bool> = None;
    let mut expand = false;
    for m in &modifiers {
        match m.as_str() {
            "contains" => op = "contains",
            "startswith" => op = "starts_with",
            "endswith" => op = "ends_with",
            "all" => all = true,
            "re" => op = "regex",
            "i" | "m" | "s" if op == "regex" => regex_flags.push_str(m),
            "cidr" => op = "cidr",
            "exists" => op = "exists",
            "gt" | "gte" | "lt" | "lte" => {
                op = if m == "gt" {
                    "gt"
                } else if m == "gte" {
                    "gte"
                } else if m == "lt" {
                    "lt"
                } else {
                    "lte"
                }
            }
            "cased" => cased = true,
            "neq" => negate = true,
            "windash" => windash = true,
            "base64" => b64 = Some("base64"),
            "base64offset" => b64 = Some("base64offset"),
            "utf16le" | "wide" | "utf16" => utf16 = Some(false),
            "utf16be" => utf16 = Some(true),
            "expand" => expand = true,
            "fieldref" => {
                return Err(refuse(format!("field `{raw_field}` uses `fieldref`, which AOC does not support")))
            }
            other => return Err(refuse(format!("field `{raw_field}` uses the unknown modifier `{other}`"))),
        }
    }
    if utf16.is_some() && b64.is_none() {
        return Err(refuse(format!(
            "field `{raw_field}`: utf16/wide is only supported together with base64 or base64offset"
        )));
    }
    let values: Vec<Option<String>> = match value {
        Yaml::Array(items) => items.iter().map(text).collect(),
        Yaml::Null => vec![None],
        other => vec![text(other)],
    };
    if expand {
        // `%name%` placeholders: the watchlist of that name supplies the values.
        if all
            || b64.is_some()
            || windash
            || cased
            || !matches!(op, "equals" | "contains" | "starts_with" | "ends_with" | "cidr")
        {
            return Err(refuse(format!(
                "field `{raw_field}`: `expand` is supported alone or with contains, startswith, endswith or cidr"
            )));
        }
        let mut tests = Vec::new();
        for v in values.iter().flatten() {
            let name = v.trim().strip_prefix('%').and_then(|n| n.strip_suffix('%')).filter(|n| !n.is_empty());
            let name = name.ok_or_else(|| {
                refuse(format!("field `{raw_field}` uses `expand` with `{v}`, which is not a %placeholder%"))
            })?;
            tests.push(json!({"field": field, "op": op, "watchlist": name}));
        }
        let combined = match tests.len() {
            0 => return Err(refuse(format!("field `{raw_field}` has no value"))),
            1 => tests.remove(0),
            _ => json!({"any": tests}),
        };
        return Ok(if negate { json!({"not": combined}) } else { combined });
    }
    if op == "exists" {
        let want = values.first().cloned().flatten().map(|v| v.eq_ignore_ascii_case("true")).unwrap_or(true);
        return Ok(json!({"field": field, "op": "exists", "value": want}));
    }
    let mut tests = Vec::new();
    for v in values {
        let Some(v) = v else {
            // `field: null`: the field is absent (or empty).
            tests.push(
                json!({"any": [{"field": field, "op": "exists", "value": false}, {"field": field, "value": ""}]}),
            );
            continue;
        };
        let variants: Vec<String> = match (b64, utf16) {
            (Some(kind), encoding) => {
                let bytes = match encoding {
                    Some(be) => encode_utf16(&v, be),
                    None => v.clone().into_bytes(),
                };
                op = if op == "equals" && kind == "base64" { "equals" } else { "contains" };
                if kind == "base64" {
                    vec![base64::engine::general_purpose::STANDARD.encode(&bytes)]
                } else {
                    base64_offsets(&bytes)
                }
            }
            (None, _) if windash => windash_variants(&v),
            _ => vec![v.clone()],
        };
        let mut alternatives = Vec::new();
        for variant in variants {
            let test = match op {
                "equals" | "contains" | "starts_with" | "ends_with" => {
                    match wildcard_regex(
                        &variant,
                        matches!(op, "contains" | "ends_with"),
                        matches!(op, "contains" | "starts_with"),
                    ) {
                        Some(re) => json!({"field": field, "op": "regex", "value": re, "case_sensitive": cased}),
                        None => {
                            let plain = variant.replace("\\*", "*").replace("\\?", "?");
                            json!({"field": field, "op": op, "value": plain, "case_sensitive": cased})
                        }
                    }
                }
                "regex" => {
                    let flags = if regex_flags.is_empty() { String::new() } else { format!("(?{regex_flags})") };
                    json!({"field": field, "op": "regex", "value": format!("{flags}{variant}"), "case_sensitive": true})
                }
                other => json!({"field": field, "op": other, "value": variant}),
            };
            alternatives.push(test);
        }
        tests.push(if alternatives.len() == 1 { alternatives.remove(0) } else { json!({"any": alternatives}) });
    }
    let combined = match tests.len() {
        0 => return Err(refuse(format!("field `{raw_field}` has no value"))),
        1 => tests.remove(0),
        _ if all => json!({"all": tests}),
        _ => json!({"any": tests}),
    };
    Ok(if negate { json!({"not": combined}) } else { combined })
}

/// A search identifier (a map: AND; a list of maps: OR) as an AOC condition.
fn search(name: &str, y: &Yaml, renames: &[(&str, &str)]) -> Result<Value, SigmaError> {
    match y {
        Yaml::Hash(map) => {
            let mut tests = Vec::new();
            for (k, v) in map {
                let key = text(k).ok_or_else(|| refuse(format!("detection `{name}` has a key that is not text")))?;
                tests.push(
                    field_condition(&key, v, renames)
                        .map_err(|e| refuse(format!("detection `{name}`: {}", e.message)))?,
                );
            }
            match tests.len() {
                0 => Err(refuse(format!("detection `{name}` is empty"))),
                1 => Ok(tests.remove(0)),
                _ => Ok(json!({"all": tests})),
            }
        }
        Yaml::Array(items) if items.iter().all(|i| matches!(i, Yaml::Hash(_))) && !items.is_empty() => {
            let alternatives = items.iter().map(|i| search(name, i, renames)).collect::<Result<Vec<_>, _>>()?;
            Ok(if alternatives.len() == 1 {
                alternatives.into_iter().next().unwrap_or(Value::Null)
            } else {
                json!({"any": alternatives})
            })
        }
        Yaml::Array(_) => Err(refuse(format!(
            "detection `{name}` is a keyword (unbound) search, which AOC does not support; name the fields"
        ))),
        _ => Err(refuse(format!("detection `{name}` must be a map of fields or a list of maps"))),
    }
}

/// The condition expression's tokens.
fn tokenize(condition: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    for c in condition.chars() {
        match c {
            '(' | ')' => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
                tokens.push(c.to_string());
            }
            c if c.is_whitespace() => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

struct ConditionParser<'a> {
    tokens: Vec<String>,
    pos: usize,
    searches: &'a [(String, Value)],
}

fn glob_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

impl ConditionParser<'_> {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.pos).map(String::as_str)
    }

    fn next(&mut self) -> Option<String> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or(&mut self) -> Result<Value, SigmaError> {
        let mut items = vec![self.and()?];
        while self.peek().is_some_and(|t| t.eq_ignore_ascii_case("or")) {
            self.pos += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { json!({"any": items}) })
    }

    fn and(&mut self) -> Result<Value, SigmaError> {
        let mut items = vec![self.unary()?];
        while self.peek().is_some_and(|t| t.eq_ignore_ascii_case("and")) {
            self.pos += 1;
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { json!({"all": items}) })
    }

    fn unary(&mut self) -> Result<Value, SigmaError> {
        let Some(token) = self.next() else { return Err(refuse("the condition ends too early")) };
        let lower = token.to_ascii_lowercase();
        match lower.as_str() {
            "not" => Ok(json!({"not": self.unary()?})),
            "(" => {
                let inner = self.or()?;
                match self.next().as_deref() {
                    Some(")") => Ok(inner),
                    _ => Err(refuse("the condition has an unclosed parenthesis")),
                }
            }
            "1" | "all" | "any" => {
                if !self.peek().is_some_and(|t| t.eq_ignore_ascii_case("of")) {
                    return Err(refuse(format!("`{token}` in the condition must be followed by `of`")));
                }
                self.pos += 1;
                let Some(target) = self.next() else { return Err(refuse("`of` needs a name pattern or `them`")) };
                let chosen: Vec<Value> = self
                    .searches
                    .iter()
                    .filter(|(name, _)| {
                        if target.eq_ignore_ascii_case("them") {
                            !name.starts_with('_')
                        } else {
                            glob_matches(&target, name)
                        }
                    })
                    .map(|(_, v)| v.clone())
                    .collect();
                if chosen.is_empty() {
                    return Err(refuse(format!("`{lower} of {target}` names no detection")));
                }
                Ok(if lower == "all" { json!({"all": chosen}) } else { json!({"any": chosen}) })
            }
            "|" => {
                Err(refuse("aggregations in the condition (`| count() ...`) are not supported; use a correlation rule"))
            }
            _ => {
                self.searches.iter().find(|(name, _)| *name == token).map(|(_, v)| v.clone()).ok_or_else(|| {
                    refuse(format!("the condition names `{token}`, which the detection does not define"))
                })
            }
        }
    }
}

/// A Sigma rule's detection, translated: the condition, the sources and field renames of its
/// logsource.
struct Translated {
    condition: Value,
    sources: Vec<&'static str>,
    renames: Renames,
}

/// Translates the logsource and detection of one Sigma rule document.
fn translate(doc: &Yaml) -> Result<Translated, SigmaError> {
    let product = text(&doc["logsource"]["product"]).unwrap_or_default().to_ascii_lowercase();
    let service = text(&doc["logsource"]["service"]).unwrap_or_default().to_ascii_lowercase();
    let (sources, renames) = logsource(&product, &service)?;
    let Yaml::Hash(detection) = &doc["detection"] else { return Err(refuse("the rule has no `detection` map")) };
    let mut searches = Vec::new();
    let mut condition_text = None;
    for (k, v) in detection {
        let name = text(k).unwrap_or_default();
        match name.as_str() {
            "condition" => condition_text = Some(strings(v)),
            "timeframe" => {}
            _ => searches.push((name.clone(), search(&name, v, renames)?)),
        }
    }
    let conditions =
        condition_text.filter(|c| !c.is_empty()).ok_or_else(|| refuse("the detection has no `condition`"))?;
    let mut parsed = Vec::new();
    for c in &conditions {
        let mut p = ConditionParser { tokens: tokenize(c), pos: 0, searches: &searches };
        let value = p.or()?;
        if let Some(extra) = p.peek() {
            return Err(refuse(format!("the condition has `{extra}` where it should end")));
        }
        parsed.push(value);
    }
    let condition = if parsed.len() == 1 { parsed.remove(0) } else { json!({"any": parsed}) };
    Ok(Translated { condition, sources, renames })
}

/// A Sigma correlation rule over the rules of its collection, as a stateful rule: `event_count`
/// and `value_count` become threshold rules, `temporal_ordered` of two rules a sequence rule,
/// `temporal` of two rules a sequence rule in either order.
fn correlation(doc: &Yaml, docs: &[Yaml]) -> Result<(&'static str, Definition, Vec<&'static str>), SigmaError> {
    let c = &doc["correlation"];
    let kind = text(&c["type"]).unwrap_or_default();
    let names = strings(&c["rules"]);
    if names.is_empty() {
        return Err(refuse("the correlation names no `rules`"));
    }
    let mut bases = Vec::new();
    for name in &names {
        let base = docs
            .iter()
            .filter(|d| d["correlation"].is_badvalue())
            .find(|d| {
                text(&d["name"]).as_deref() == Some(name.as_str()) || text(&d["id"]).as_deref() == Some(name.as_str())
            })
            .ok_or_else(|| {
                refuse(format!(
                    "the correlation refers to `{name}`, which is not a rule of this file (load a correlation together \
                     with its rules, as one YAML file of several documents)"
                ))
            })?;
        bases.push(translate(base)?);
    }
    let renames = bases[0].renames;
    let rename = |field: &str| {
        let lower = field.to_ascii_lowercase();
        renames.iter().find(|(from, _)| *from == lower).map(|(_, to)| to.to_string()).unwrap_or(field.to_string())
    };
    let group_by = match strings(&c["group-by"]).as_slice() {
        [] => "tenant".to_string(),
        fields if fields.len() > 5 => return Err(refuse("a correlation grouped by more than five fields")),
        fields => fields.iter().map(|f| format!("field:{}", rename(f))).collect::<Vec<_>>().join(", "),
    };
    let span = text(&c["timespan"])
        .or_else(|| text(&c["timeframe"]))
        .ok_or_else(|| refuse("the correlation has no `timespan`"))?;
    let window = super::parse_span(&span)
        .ok_or_else(|| refuse(format!("timespan `{span}` is not a span such as 30m, 2h or 1d")))?
        .num_minutes();
    let number = |key: &str| match &c["condition"][key] {
        Yaml::Integer(n) => Some(*n),
        other => text(other).and_then(|t| t.parse::<i64>().ok()),
    };
    let count = number("gte").or_else(|| number("gt").map(|n| n + 1));
    let mut sources: Vec<&'static str> = Vec::new();
    for b in &bases {
        for s in &b.sources {
            if !sources.contains(s) {
                sources.push(s);
            }
        }
    }
    let conditions: Vec<Value> = bases.iter().map(|b| b.condition.clone()).collect();
    let any = if conditions.len() == 1 { conditions[0].clone() } else { json!({"any": conditions}) };
    let base = Definition { group_by, window_minutes: window, ..Default::default() };
    match kind.as_str() {
        "event_count" | "value_count" => {
            let count = count.ok_or_else(|| {
                refuse("only `gte` and `gt` correlation conditions are supported (at least N events or values)")
            })?;
            let distinct = if kind == "value_count" {
                let field = text(&c["condition"]["field"])
                    .ok_or_else(|| refuse("a value_count correlation needs `condition.field`"))?;
                Some(rename(&field))
            } else {
                None
            };
            let threshold = Some(super::ThresholdSpec { count, distinct });
            Ok(("threshold", Definition { condition: any, threshold, ..base }, sources))
        }
        "temporal_ordered" => {
            if bases.len() != 2 {
                return Err(refuse("temporal_ordered correlations of exactly two rules are supported"));
            }
            let then = Some(bases[1].condition.clone());
            Ok(("sequence", Definition { condition: bases[0].condition.clone(), then, ..base }, sources))
        }
        "temporal" => {
            if bases.len() != 2 {
                return Err(refuse("temporal correlations of exactly two rules are supported"));
            }
            let then = Some(bases[1].condition.clone());
            let definition = Definition { condition: bases[0].condition.clone(), then, any_order: true, ..base };
            Ok(("sequence", definition, sources))
        }
        other => Err(refuse(format!("unknown correlation type `{other}`"))),
    }
}

/// Parses a Sigma rule, or a correlation rule with the rules it names (several YAML documents);
/// `hunting` marks it a hunting rule (also when its tags say `detection.threat-hunting`).
pub fn parse(yaml: &str, hunting: bool) -> Result<SigmaRule, SigmaError> {
    let docs = YamlLoader::load_from_str(yaml).map_err(|e| SigmaError {
        message: e.info().to_string(),
        line: Some(e.marker().line()),
        column: Some(e.marker().col() + 1),
    })?;
    let Some(first) = docs.first() else { return Err(refuse("the file holds no YAML document")) };
    if docs.iter().any(|d| !matches!(d, Yaml::Hash(_))) {
        return Err(refuse("a Sigma rule is a YAML map"));
    }
    let correlations: Vec<&Yaml> = docs.iter().filter(|d| !d["correlation"].is_badvalue()).collect();
    let (doc, kind, definition, sources) =
        match correlations.as_slice() {
            [] if docs.len() > 1 => return Err(refuse(
                "rule collections (several YAML documents) are loaded only with a correlation rule; one rule per file",
            )),
            [] => {
                let t = translate(first)?;
                (first, "match", Definition { condition: t.condition, ..Default::default() }, t.sources)
            }
            [doc] => {
                let (kind, definition, sources) = correlation(doc, &docs)?;
                (*doc, kind, definition, sources)
            }
            _ => return Err(refuse("a file may hold one correlation rule")),
        };
    let title =
        text(&doc["title"]).filter(|t| !t.trim().is_empty()).ok_or_else(|| refuse("the rule has no `title`"))?;
    let status = text(&doc["status"]);
    if matches!(status.as_deref(), Some("deprecated" | "unsupported")) {
        return Err(refuse(format!("the rule's status is `{}`", status.unwrap_or_default())));
    }
    let level = text(&doc["level"]).unwrap_or_else(|| "medium".into());
    let severity = super::parse_severity(&level).ok_or_else(|| refuse(format!("unknown level `{level}`")))?;
    let tags = strings(&doc["tags"]);
    let hunting = hunting || tags.iter().any(|t| t.eq_ignore_ascii_case("detection.threat-hunting"));
    let id = text(&doc["id"]);
    let author = text(&doc["author"]);
    let references = strings(&doc["references"]);
    let mut description = text(&doc["description"]).unwrap_or_default();
    if let Some(author) = &author {
        description.push_str(&format!("\n\nSigma rule by {author}."));
    }
    if !references.is_empty() {
        description.push_str(&format!("\nReferences: {}", references.join(", ")));
    }
    let draft = RuleDraft {
        uid: id.clone().map(|i| format!("sigma:{i}")).unwrap_or_else(|| format!("sigma:{}", uuid::Uuid::new_v4())),
        name: title.chars().take(200).collect(),
        description,
        kind: kind.into(),
        severity,
        enabled: true,
        hunting,
        owner: author.clone().unwrap_or_default().chars().take(200).collect(),
        sources: sources.into_iter().map(str::to_string).collect(),
        tags: tags.into_iter().filter(|t| !t.trim().is_empty() && t.len() <= 100).take(50).collect(),
        definition,
        sigma_id: id,
        sigma_yaml: Some(yaml.to_string()),
    };
    let draft = draft.validate().map_err(|e| refuse(format!("the translated rule is invalid: {e}")))?;
    Ok(SigmaRule { draft, author, references, status })
}

/// The watchlists (Sigma `%placeholders%`) a rule's conditions name.
pub fn placeholders(draft: &RuleDraft) -> Vec<String> {
    let mut names = super::engine::watchlists_named(&draft.definition.condition);
    if let Some(then) = &draft.definition.then {
        names.extend(super::engine::watchlists_named(then));
    }
    names.sort();
    names.dedup();
    names
}

/// Why a rule whose watchlists do not exist cannot load.
pub fn placeholders_unset(names: &[String]) -> String {
    let list: Vec<String> = names.iter().map(|n| format!("%{n}%")).collect();
    format!(
        "placeholder {} not set: create a watchlist named {} (Watchlists page or POST /api/watchlists)",
        list.join(", "),
        names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
    )
}

/// A rule as Sigma YAML: a Sigma rule's own text; a native rule translated (every field test
/// becomes a selection, groups become the condition expression). `None` when the condition
/// uses what Sigma cannot say (the `external` operator).
pub fn export(draft: &RuleDraft, author: &str) -> Option<String> {
    if let Some(yaml) = &draft.sigma_yaml {
        return Some(yaml.clone());
    }
    if draft.kind != "match" {
        return None;
    }
    fn quote(text: &str) -> String {
        serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
    }
    fn walk(c: &Value, selections: &mut Vec<String>) -> Option<String> {
        if let Some(items) =
            c.get("all").or_else(|| c.get("any")).and_then(Value::as_array).filter(|_| c.get("field").is_none())
        {
            let joiner = if c.get("all").is_some() { " and " } else { " or " };
            let parts = items.iter().map(|i| walk(i, selections)).collect::<Option<Vec<_>>>()?;
            return Some(format!("({})", parts.join(joiner)));
        }
        if let Some(inner) = c.get("not").filter(|_| c.get("field").is_none()) {
            return Some(format!("not {}", walk(inner, selections)?));
        }
        let field = c.get("field")?.as_str()?;
        let op = c.get("op").and_then(Value::as_str).unwrap_or("equals");
        let modifier = match op {
            "equals" | "in" | "eq" => "",
            "contains" => "|contains",
            "starts_with" => "|startswith",
            "ends_with" => "|endswith",
            "regex" if c.get("case_sensitive").and_then(Value::as_bool) == Some(true) => "|re",
            "regex" => "|re|i",
            "cidr" => "|cidr",
            "gt" => "|gt",
            "gte" => "|gte",
            "lt" => "|lt",
            "lte" => "|lte",
            "exists" => "|exists",
            _ => return None,
        };
        let all = if c.get("all").and_then(Value::as_bool) == Some(true) { "|all" } else { "" };
        let cased =
            if c.get("case_sensitive").and_then(Value::as_bool) == Some(true) && op != "regex" { "|cased" } else { "" };
        let values: Vec<String> = match c.get("value") {
            None | Some(Value::Null) if op == "exists" => vec!["true".into()],
            Some(Value::Array(items)) => {
                items.iter().map(|v| v.as_str().map(quote).unwrap_or_else(|| v.to_string())).collect()
            }
            Some(Value::String(text)) => vec![quote(text)],
            Some(other) => vec![other.to_string()],
            None => return None,
        };
        let name = format!("selection_{}", selections.len() + 1);
        let key = format!("{field}{modifier}{all}{cased}");
        let body = if values.len() == 1 {
            format!("    {name}:\n        {}: {}\n", quote(&key), values[0])
        } else {
            let list: String = values.iter().map(|v| format!("            - {v}\n")).collect();
            format!("    {name}:\n        {}:\n{list}", quote(&key))
        };
        selections.push(body);
        Some(name)
    }
    let mut selections = Vec::new();
    let condition = walk(&draft.definition.condition, &mut selections)?;
    let condition = condition
        .strip_prefix('(')
        .and_then(|c| c.strip_suffix(')'))
        .filter(|c| !c.contains('('))
        .unwrap_or(&condition)
        .to_string();
    let level = ["informational", "low", "medium", "high", "critical"][draft.severity.clamp(0, 4) as usize];
    let tags: String = draft.tags.iter().map(|t| format!("    - {}\n", quote(t))).collect();
    let (product, service) = match draft.sources.as_slice() {
        [one] if one == "signin" => ("azure", "signinlogs"),
        [one] if one == "directory" => ("azure", "auditlogs"),
        _ => ("m365", "audit"),
    };
    Some(format!(
        "title: {}\nid: {}\nstatus: experimental\ndescription: {}\nauthor: {}\n{}logsource:\n    product: {product}\n    service: {service}\ndetection:\n{}    condition: {}\nlevel: {level}\n",
        quote(&draft.name),
        draft.sigma_id.clone().unwrap_or_else(|| {
            use sha2::Digest;
            let hash = sha2::Sha256::digest(draft.uid.as_bytes());
            uuid::Builder::from_random_bytes(hash[..16].try_into().unwrap_or_default()).into_uuid().to_string()
        }),
        quote(&draft.description),
        quote(author),
        if tags.is_empty() { String::new() } else { format!("tags:\n{tags}") },
        selections.concat(),
        quote(&condition),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{CompiledRule, EventDoc};

    fn compiled(rule: &SigmaRule) -> CompiledRule {
        let d = &rule.draft;
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

    const MFA: &str = r#"
title: Disabling Multi Factor Authentication
id: 60de9b57-dae0-4ce4-a4ff-4a4bb3a0e2d1
status: test
description: Detects disabling of Multi Factor Authentication.
references:
    - https://example.invalid/mfa
author: Splunk Threat Research Team (original rule), Harjot Singh @cyb3rjy0t (sigma rule)
date: 2023-09-18
tags:
    - attack.persistence
    - attack.t1556
logsource:
    service: audit
    product: m365
detection:
    selection:
        Operation|contains: 'Disable Strong Authentication.'
    condition: selection
level: high
"#;

    #[test]
    fn a_sigma_rule_keeps_its_id_author_and_references_and_fires_on_the_ual_record() {
        let rule = parse(MFA, false).unwrap();
        assert_eq!(rule.draft.sigma_id.as_deref(), Some("60de9b57-dae0-4ce4-a4ff-4a4bb3a0e2d1"));
        assert_eq!(rule.draft.severity, 3);
        assert!(rule.author.unwrap().contains("Harjot"));
        assert_eq!(rule.references, vec!["https://example.invalid/mfa"]);
        assert_eq!(rule.draft.sources, vec!["unified"]);
        let c = compiled(&parse(MFA, false).unwrap());
        let raw = json!({"CreationTime": "2026-11-16T10:00:00", "Id": "x1", "Operation": "Disable Strong Authentication.",
            "OrganizationId": "t", "RecordType": 8, "ResultStatus": "Success", "UserKey": "a", "UserType": 0,
            "Workload": "AzureActiveDirectory", "UserId": "admin@contoso.example", "ObjectId": "lee@contoso.example"});
        let doc = EventDoc::from_raw("t", "unified", Some("Audit.AzureActiveDirectory"), &raw.to_string()).unwrap();
        // The UAL operation's trailing "." is normalized away on both sides.
        assert!(c.fires_on(&doc));
    }

    #[test]
    fn conditions_with_of_patterns_not_and_parentheses_translate() {
        let yaml = r#"
title: T
logsource: {product: azure, service: signinlogs}
detection:
    selection_a:
        ResultType: 50074
    selection_b:
        ResultDescription|contains: 'MFA denied'
    filter_main:
        IpAddress|cidr: '10.0.0.0/8'
    condition: (1 of selection_*) and not filter_main
level: medium
"#;
        let rule = parse(yaml, false).unwrap();
        let c = compiled(&rule);
        let raw = |code: i64, ip: &str| {
            json!({"id": format!("s{code}{ip}"), "createdDateTime": "2026-11-16T10:00:00Z", "userPrincipalName": "a@b.example",
                   "ipAddress": ip, "status": {"errorCode": code, "failureReason": "x"}})
            .to_string()
        };
        let doc = |code, ip| EventDoc::from_raw("t", "signin", None, &raw(code, ip)).unwrap();
        assert!(c.fires_on(&doc(50074, "203.0.113.1")));
        assert!(!c.fires_on(&doc(50074, "10.1.2.3")));
        assert!(!c.fires_on(&doc(0, "203.0.113.1")));
    }

    #[test]
    fn correlation_rules_load_with_their_rules_as_threshold_and_sequence_rules() {
        let failed = "title: Failed sign-in\nname: failed_signin\nlogsource: {product: azure, service: signinlogs}\n\
                      detection:\n    selection:\n        ResultType: 50126\n    condition: selection\n";
        let success = "title: Sign-in\nname: signin_ok\nlogsource: {product: azure, service: signinlogs}\n\
                       detection:\n    selection:\n        ResultType: 0\n    condition: selection\n";
        let spray = format!(
            "title: Password spray\nid: 0e95725d-7320-415d-80f7-004da920fc11\nauthor: Someone\nlevel: high\n\
             correlation:\n    type: value_count\n    rules:\n        - failed_signin\n    group-by:\n        - IpAddress\n\
             \x20   timespan: 30m\n    condition:\n        gte: 10\n        field: Username\n---\n{failed}"
        );
        let rule = parse(&spray, false).unwrap_or_else(|e| panic!("{e}"));
        let d = &rule.draft;
        assert_eq!((d.kind.as_str(), d.severity, d.definition.window_minutes), ("threshold", 3, 30));
        assert_eq!(d.definition.group_by, "field:IpAddress");
        assert_eq!(
            d.definition.threshold,
            Some(crate::rules::ThresholdSpec { count: 10, distinct: Some("userPrincipalName".into()) })
        );
        assert_eq!(d.sources, ["signin"]);
        assert_eq!(d.sigma_id.as_deref(), Some("0e95725d-7320-415d-80f7-004da920fc11"));
        assert_eq!(rule.author.as_deref(), Some("Someone"));

        let count = format!(
            "title: Many failures\ncorrelation:\n    type: event_count\n    rules: failed_signin\n    timespan: 1h\n\
             \x20   condition:\n        gt: 19\n---\n{failed}"
        );
        let d = parse(&count, false).unwrap_or_else(|e| panic!("{e}")).draft;
        assert_eq!(d.definition.threshold, Some(crate::rules::ThresholdSpec { count: 20, distinct: None }));
        assert_eq!(d.definition.group_by, "tenant");

        let ordered = format!(
            "title: Spray then success\ncorrelation:\n    type: temporal_ordered\n    rules:\n        - failed_signin\n\
             \x20       - signin_ok\n    group-by: [IpAddress]\n    timespan: 1h\n---\n{failed}---\n{success}"
        );
        let d = parse(&ordered, false).unwrap_or_else(|e| panic!("{e}")).draft;
        assert_eq!(d.kind, "sequence");
        assert!(d.definition.then.is_some());
        assert!(!d.definition.any_order);
        let any =
            parse(&ordered.replace("temporal_ordered", "temporal"), false).unwrap_or_else(|e| panic!("{e}")).draft;
        assert_eq!((any.kind.as_str(), any.definition.any_order), ("sequence", true));
        assert_eq!(any.definition.then, d.definition.then);
        let several = parse(&ordered.replace("group-by: [IpAddress]", "group-by: [IpAddress, Username]"), false)
            .unwrap_or_else(|e| panic!("{e}"))
            .draft;
        assert_eq!(several.definition.group_by, "field:IpAddress, field:userPrincipalName");
        assert!(crate::rules::GroupBy::parse(&several.definition.group_by).is_ok());

        let reason = |yaml: &str| parse(yaml, false).unwrap_err().message;
        assert!(reason(&count.replace("type: event_count", "type: temporal")).contains("exactly two rules"));
        assert!(reason(&count.replace("rules: failed_signin", "rules: other"))
            .contains("`other`, which is not a rule of this file"));
        assert!(reason(&count.replace("gt: 19", "lte: 3")).contains("`gte` and `gt`"));
        assert!(reason(&format!("{failed}---\n{success}")).contains("only with a correlation rule"));
    }

    #[test]
    fn unsupported_rules_are_refused_with_the_exact_reason() {
        let reason = |yaml: &str| parse(yaml, false).unwrap_err().message;
        let base = "title: T\nlogsource: {product: azure, service: auditlogs}\ndetection:\n";
        assert!(reason(&format!(
            "{base}    sel:\n        Initiatedby|expand|base64: '%approved%'\n    condition: sel\n"
        ))
        .contains("expand"));
        assert!(reason(&format!("{base}    sel:\n        Initiatedby|expand: 'approved'\n    condition: sel\n"))
            .contains("not a %placeholder%"));
        assert!(reason(&format!("{base}    keywords:\n        - evil\n    condition: keywords\n")).contains("keyword"));
        assert!(reason(&format!("{base}    sel:\n        a: b\n    condition: sel and other\n")).contains("`other`"));
        assert!(reason("title: T\nlogsource: {product: azure, service: activitylogs}\ndetection:\n    sel:\n        a: b\n    condition: sel\n")
            .contains("activitylogs"));
        assert!(reason("title: T\ncorrelation:\n    type: event_count\n").contains("no `rules`"));
        let syntax = parse("title: T\ndetection:\n  sel: [a\n", false).unwrap_err();
        assert!(syntax.line.is_some() && syntax.column.is_some(), "{syntax:?}");
    }

    #[test]
    fn a_native_rule_exports_to_sigma_that_loads_back_to_the_same_decisions() {
        for builtin in crate::rules::builtin::pack() {
            let draft = builtin.draft.clone();
            let Some(yaml) = export(&draft, "AOC") else { continue };
            let back = parse(&yaml, false).unwrap_or_else(|e| panic!("{}: {e}\n{yaml}", draft.uid));
            let original = CompiledRule::new(
                1,
                "a",
                1,
                false,
                draft.sources.clone(),
                &serde_json::to_string(&draft.definition).unwrap(),
            )
            .unwrap();
            let again = CompiledRule::new(
                1,
                "a",
                1,
                false,
                draft.sources.clone(),
                &serde_json::to_string(&back.draft.definition).unwrap(),
            )
            .unwrap();
            for example in &builtin.examples {
                let doc =
                    EventDoc::from_raw("t", example.source, example.content_type, &example.record.to_string()).unwrap();
                assert_eq!(original.condition.matches(&doc), again.condition.matches(&doc), "{}\n{yaml}", draft.uid);
            }
        }
    }

    /// SigmaHQ's Microsoft 365 and Entra ID rules (tests/fixtures/sigmahq): each loads or is
    /// refused with its reason; the ones for sources AOC collects all load, except placeholder
    /// rules (their `expand` values are not set).
    #[test]
    fn sigmahq_rules_load_or_name_their_reason() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sigmahq");
        let files = crate::services::detection::sigma_files(std::slice::from_ref(&root));
        assert!(files.len() >= 110, "{}", files.len());
        let mut loaded = 0;
        let mut refused = Vec::new();
        for (path, text) in files {
            let relative = path.strip_prefix(root.to_str().unwrap()).unwrap_or(&path).to_string();
            match parse(&text.unwrap(), relative.contains("rules-threat-hunting")) {
                // With no watchlists, a placeholder rule names its unset placeholders.
                Ok(rule) if !placeholders(&rule.draft).is_empty() => {
                    refused.push(format!("{relative}: {}", placeholders_unset(&placeholders(&rule.draft))));
                }
                Ok(rule) => {
                    loaded += 1;
                    assert!(rule.draft.sigma_id.is_some(), "{relative}");
                    assert_eq!(rule.draft.hunting, relative.contains("rules-threat-hunting"), "{relative}");
                }
                Err(e) => {
                    assert!(!e.message.is_empty());
                    refused.push(format!("{relative}: {}", e.message));
                }
            }
        }
        let unexpected: Vec<&String> = refused
            .iter()
            .filter(|r| {
                let expected = (r.contains("identity_protection/") && r.contains("azure/riskdetection"))
                    || (r.contains("privileged_identity_management/") && r.contains("azure/pim"))
                    || (r.contains("rules-placeholder/") && r.contains("placeholder"));
                !expected
            })
            .collect();
        eprintln!("SigmaHQ: {loaded} loaded, {} refused:\n{}", refused.len(), refused.join("\n"));
        assert!(unexpected.is_empty(), "refused for another reason: {unexpected:#?}");
        assert_eq!(loaded, 84, "loaded");
    }

    #[test]
    fn modifiers_translate_to_engine_operators() {
        let cond = |line: &str| {
            let yaml = format!("title: T\nlogsource: {{product: m365, service: audit}}\ndetection:\n    sel:\n        {line}\n    condition: sel\n");
            parse(&yaml, false).unwrap().draft.definition.condition
        };
        assert_eq!(cond("Operation|startswith: 'New-'")["op"], "starts_with");
        assert_eq!(cond("Operation: 'New-*Rule'")["op"], "regex");
        assert_eq!(cond("Operation|contains|all: ['a', 'b']")["all"].as_array().unwrap().len(), 2);
        assert_eq!(cond("ClientIP|cidr: '10.0.0.0/8'")["op"], "cidr");
        assert_eq!(cond("RecordType|gte: 8")["op"], "gte");
        assert_eq!(cond("Parameters|exists: true")["op"], "exists");
        assert!(cond("CommandLine|windash|contains: '-enc'")["any"].as_array().unwrap().len() >= 2);
        assert_eq!(cond("Data|base64offset|contains: 'evil'")["any"].as_array().unwrap().len(), 3);
    }
}

/// Gives an error without a place (a semantic one) the line and column of what it names: of the
/// names it quotes in backticks (a detection, a field, a modifier, a level), the one written
/// latest in the text (`detection \`sel\`: field \`X\` …` is about the line of `X` inside
/// `sel`), each at its first whole-word occurrence; else the key it is about (`logsource`,
/// `level`, `status`). A syntax error keeps its own place; an error naming nothing in the text
/// keeps none.
pub fn locate(yaml: &str, error: SigmaError) -> SigmaError {
    if error.line.is_some() {
        return error;
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let find = |name: &str| {
        yaml.lines().enumerate().find_map(|(i, line)| {
            line.match_indices(name).find_map(|(at, _)| {
                let before = line[..at].chars().next_back();
                let after = line[at + name.len()..].chars().next();
                (!before.is_some_and(is_word) && !after.is_some_and(is_word))
                    .then(|| (i + 1, line[..at].chars().count() + 1))
            })
        })
    };
    let quoted = error.message.split('`').skip(1).step_by(2).filter(|n| !n.trim().is_empty());
    let keys = ["logsource", "level", "status", "detection", "condition"]
        .into_iter()
        .filter(|k| error.message.split(|c: char| !is_word(c)).any(|w| w == *k));
    let place = quoted
        .flat_map(|q| {
            // `Field|modifier` is written so in the text; its field alone also finds the line.
            let field = q.split('|').next().unwrap_or(q);
            [q, field]
        })
        .filter_map(find)
        .max_by_key(|&(line, column)| (line, std::cmp::Reverse(column)))
        .or_else(|| keys.into_iter().find_map(find));
    match place {
        Some((line, column)) => SigmaError { line: Some(line), column: Some(column), ..error },
        None => error,
    }
}

#[cfg(test)]
mod locate_tests {
    use super::*;

    #[test]
    fn semantic_errors_are_placed_at_what_they_name() {
        let yaml = "title: T\nlogsource: {product: azure, service: auditlogs}\ndetection:\n    sel:\n        \
                    Initiatedby|expand|base64: '%approved%'\n    condition: sel and other\n";
        let placed = locate(yaml, parse(yaml, false).unwrap_err());
        assert_eq!((placed.line, placed.column), (Some(5), Some(9)), "{placed:?}");
        let undefined =
            "title: T\nlogsource: {product: azure, service: auditlogs}\ndetection:\n    sel:\n        a: b\n    \
                         condition: sel and other\n";
        let placed = locate(undefined, parse(undefined, false).unwrap_err());
        assert_eq!((placed.line, placed.column), (Some(6), Some(24)), "{placed:?}");
        let logsource =
            "title: T\nlogsource: {product: azure, service: activitylogs}\ndetection:\n    sel:\n        a: b\n    \
                         condition: sel\n";
        let placed = locate(logsource, parse(logsource, false).unwrap_err());
        assert_eq!(placed.line, Some(2), "{placed:?}");
        assert!(placed.to_string().starts_with("line 2, column"), "{placed}");
        let syntax = parse("title: T\ndetection:\n  sel: [a\n", false).unwrap_err();
        assert_eq!(locate("title: T\ndetection:\n  sel: [a\n", syntax.clone()), syntax);
    }
}
