//! Flattening: every scalar of a record under a dotted path, so rules and searches can reach any
//! value without knowing the record's shape.
//!
//! - Objects nest with dots: `AppAccessContext.ClientAppId`, `status.errorCode`.
//! - Microsoft's name/value lists are keyed by their names instead of their positions:
//!   `Parameters.ForwardTo`, `ExtendedProperties.resultType`, `OperationProperties.RuleActions`,
//!   `DeviceProperties.OS`, Teams `ExtraProperties.<Key>`, Graph `additionalDetails.User-Agent`.
//!   A pair with a single `Value`/`value` is stored under the name itself; a pair with old and
//!   new values keeps their own key names: `ModifiedProperties.Role.DisplayName.NewValue` (UAL)
//!   and `targetResources.0.modifiedProperties.Role.DisplayName.newValue` (Graph).
//!   An element is a pair only when its keys are a name (`Name`, `Key`, `key`, `name`,
//!   `displayName`) and values (`Value`, `value`, `NewValue`, `OldValue`, `newValue`,
//!   `oldValue`) and nothing else, so `targetResources[]` elements (which have a `displayName`)
//!   stay indexed.
//! - Other arrays: an array of scalars is one value joined with ", " (`Actions` →
//!   `NotifyUser, BlockAccess`); an array holding objects or arrays is indexed (`Members.0.UPN`).
//!   Empty arrays and nulls produce no key.
//! - JSON inside strings (text starting with `{`, `[` or `"` that parses) is decoded: a JSON
//!   string is stored unquoted (`"\"Global Administrator\""` → `Global Administrator`); a
//!   non-empty array of scalars is stored joined (`["a@b.example"]` → `a@b.example`); an object,
//!   an empty array or an array with objects keeps the original text under the key *and* has
//!   its decoded leaves flattened beneath it (`ModifiedProperties.X.NewValue.0.State`), so both
//!   `contains` on the text and exact matches on leaves work.
//! - Bounded, so a hostile record cannot blow up storage: at most [`MAX_KEYS`] keys; values
//!   longer than [`MAX_VALUE`] bytes and keys longer than [`MAX_KEY`] bytes are skipped; nesting
//!   deeper than [`MAX_DEPTH`] is not followed. The identifying and name/value fields are
//!   flattened first so padding cannot push them past the key cap. When a key repeats (two
//!   parameters with the same name), the first value wins.
//! - Keys keep their case.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::{Map, Value};

/// Most keys kept per record.
pub const MAX_KEYS: usize = 500;
/// Longest value kept, in bytes; longer values are skipped (the raw record keeps them).
pub const MAX_VALUE: usize = 4096;
/// Longest key kept, in bytes.
pub const MAX_KEY: usize = 256;
/// Deepest nesting followed, counting decoded JSON-in-strings.
pub const MAX_DEPTH: usize = 16;
/// Longest string decoded as JSON; a bigger one is treated as plain text (and so, being larger
/// than [`MAX_VALUE`], skipped).
const MAX_JSON_TEXT: usize = 256 * 1024;

/// Top-level fields flattened before the rest.
const FIRST: &[&str] = &[
    "Id",
    "id",
    "Operation",
    "Workload",
    "RecordType",
    "ResultStatus",
    "UserId",
    "Parameters",
    "ModifiedProperties",
    "ExtendedProperties",
    "OperationProperties",
    "DeviceProperties",
    "ExtraProperties",
    "PolicyDetails",
    "ExchangeMetaData",
    "activityDisplayName",
    "activityType",
    "targetResources",
    "additionalDetails",
    "initiatedBy",
    "status",
    "actor",
    "resources",
];

const NAME_KEYS: &[&str] = &["Name", "Key", "key", "name", "displayName"];
const VALUE_KEYS: &[&str] = &["Value", "value", "NewValue", "OldValue", "newValue", "oldValue"];

/// Flattens a record (see the module documentation for the rules).
pub fn flatten_record(record: &Map<String, Value>) -> BTreeMap<String, String> {
    let mut f = Flattener { out: BTreeMap::new(), path: String::with_capacity(128) };
    for key in FIRST {
        if let Some(v) = record.get(*key) {
            f.field(key, v, 0);
        }
    }
    for (k, v) in record {
        if !FIRST.contains(&k.as_str()) {
            f.field(k, v, 0);
        }
    }
    f.out
}

struct Flattener {
    out: BTreeMap<String, String>,
    /// The current key; grown and truncated as the walk goes down and up.
    path: String,
}

impl Flattener {
    fn full(&self) -> bool {
        self.out.len() >= MAX_KEYS
    }

    /// Walks `v` under `<path>.<name>`.
    fn field(&mut self, name: &str, v: &Value, depth: usize) {
        if self.full() || depth > MAX_DEPTH {
            return;
        }
        let len = self.path.len();
        if len > 0 {
            self.path.push('.');
        }
        self.path.push_str(name);
        if self.path.len() <= MAX_KEY {
            self.value(v, depth);
        }
        self.path.truncate(len);
    }

    /// Walks `v` under `<path>.<index>`.
    fn index(&mut self, i: usize, v: &Value, depth: usize) {
        if self.full() || depth > MAX_DEPTH {
            return;
        }
        let len = self.path.len();
        // Writing to a String cannot fail.
        let _ = write!(self.path, ".{i}");
        if self.path.len() <= MAX_KEY {
            self.value(v, depth);
        }
        self.path.truncate(len);
    }

    fn put(&mut self, value: Cow<'_, str>) {
        if value.len() > MAX_VALUE || self.full() || self.path.is_empty() || self.out.contains_key(self.path.as_str()) {
            return;
        }
        self.out.insert(self.path.clone(), value.into_owned());
    }

    fn value(&mut self, v: &Value, depth: usize) {
        match v {
            Value::Null => {}
            Value::Bool(b) => self.put(Cow::Borrowed(if *b { "true" } else { "false" })),
            Value::Number(n) => self.put(Cow::Owned(n.to_string())),
            Value::String(s) => self.string(s, depth),
            Value::Array(items) => self.array(items, depth),
            Value::Object(o) => {
                for (k, x) in o {
                    self.field(k, x, depth + 1);
                }
            }
        }
    }

    fn string(&mut self, s: &str, depth: usize) {
        if depth < MAX_DEPTH {
            if let Some(inner) = embedded_json(s) {
                match inner {
                    Value::String(unquoted) => return self.string(&unquoted, depth + 1),
                    Value::Array(items) if !items.is_empty() && items.iter().all(is_scalar) => {
                        if let Some(joined) = join(&items) {
                            self.put(Cow::Owned(joined));
                        }
                        return;
                    }
                    inner => {
                        self.put(Cow::Borrowed(s));
                        self.value(&inner, depth + 1);
                        return;
                    }
                }
            }
        }
        self.put(Cow::Borrowed(s));
    }

    fn array(&mut self, items: &[Value], depth: usize) {
        if items.iter().all(is_scalar) {
            if let Some(joined) = join(items) {
                self.put(Cow::Owned(joined));
            }
            return;
        }
        for (i, item) in items.iter().enumerate() {
            if self.full() {
                return;
            }
            match item.as_object().and_then(|o| pair_name(o).map(|n| (o, n))) {
                Some((pair, name)) => self.pair(pair, name, depth + 1),
                None => self.index(i, item, depth + 1),
            }
        }
    }

    /// A name/value pair, keyed by its name.
    fn pair(&mut self, pair: &Map<String, Value>, name: &str, depth: usize) {
        let len = self.path.len();
        self.path.push('.');
        self.path.push_str(name.trim());
        if self.path.len() <= MAX_KEY {
            let values = pair.keys().filter(|k| VALUE_KEYS.contains(&k.as_str())).count();
            let single = pair.get("Value").or_else(|| pair.get("value"));
            match single {
                Some(v) if values == 1 => self.value(v, depth),
                _ => {
                    for (k, v) in pair.iter().filter(|(k, _)| VALUE_KEYS.contains(&k.as_str())) {
                        self.field(k, v, depth + 1);
                    }
                }
            }
        }
        self.path.truncate(len);
    }
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

/// Scalars joined with ", " (nulls dropped); None when nothing is left or the result would be
/// longer than [`MAX_VALUE`] anyway.
fn join(items: &[Value]) -> Option<String> {
    let mut out = String::new();
    for item in items {
        let text: Cow<'_, str> = match item {
            Value::String(s) => Cow::Borrowed(s.as_str()),
            Value::Number(n) => Cow::Owned(n.to_string()),
            Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            _ => continue,
        };
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(&text);
        if out.len() > MAX_VALUE {
            return None;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The name of a name/value pair element, if the element is one.
fn pair_name(o: &Map<String, Value>) -> Option<&str> {
    let mut name = None;
    let mut has_value = false;
    for (k, v) in o {
        let k = k.as_str();
        if NAME_KEYS.contains(&k) {
            if name.is_some() {
                return None;
            }
            name = Some(v.as_str()?);
        } else if VALUE_KEYS.contains(&k) {
            has_value = true;
        } else if !k.starts_with('@') {
            // "@odata.type" annotations aside, any other key means this is an entity.
            return None;
        }
    }
    name.filter(|n| has_value && !n.trim().is_empty())
}

/// The JSON a string holds, when it plainly holds some.
fn embedded_json(s: &str) -> Option<Value> {
    let t = s.trim();
    if t.len() < 2 || t.len() > MAX_JSON_TEXT {
        return None;
    }
    let (first, last) = (t.as_bytes()[0], t.as_bytes()[t.len() - 1]);
    let plausible = matches!((first, last), (b'{', b'}') | (b'[', b']') | (b'"', b'"'));
    if !plausible {
        return None;
    }
    serde_json::from_str(t).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flat(v: Value) -> BTreeMap<String, String> {
        flatten_record(v.as_object().unwrap())
    }

    #[test]
    fn scalars_and_nested_objects_get_dotted_keys() {
        let f = flat(
            json!({"Operation": "MailItemsAccessed", "RecordType": 50, "ExternalAccess": false, "Workload": "Exchange",
                            "AppAccessContext": {"ClientAppId": "a1", "IssuedAtTime": null}, "Nothing": null}),
        );
        assert_eq!(f["Operation"], "MailItemsAccessed");
        assert_eq!(f["RecordType"], "50");
        assert_eq!(f["ExternalAccess"], "false");
        assert_eq!(f["AppAccessContext.ClientAppId"], "a1");
        assert!(!f.contains_key("AppAccessContext.IssuedAtTime") && !f.contains_key("Nothing"));
    }

    #[test]
    fn name_value_lists_are_keyed_by_name() {
        let f = flat(json!({
            "Parameters": [{"Name": "ForwardTo", "Value": "x@evil.example"}, {"Name": "DeleteMessage", "Value": "True"}],
            "ExtendedProperties": [{"Name": "resultType", "Value": "Success"}],
            "OperationProperties": [{"Name": "RuleActions", "Value": "ForwardToRecipientsAction"}],
            "DeviceProperties": [{"Name": "OS", "Value": "Windows 10"}],
            "ExtraProperties": [{"Key": "TimeZone", "Value": "UTC"}],
            "additionalDetails": [{"key": "User-Agent", "value": "ExampleAgent/2.0"}]
        }));
        assert_eq!(f["Parameters.ForwardTo"], "x@evil.example");
        assert_eq!(f["Parameters.DeleteMessage"], "True");
        assert_eq!(f["ExtendedProperties.resultType"], "Success");
        assert_eq!(f["OperationProperties.RuleActions"], "ForwardToRecipientsAction");
        assert_eq!(f["DeviceProperties.OS"], "Windows 10");
        assert_eq!(f["ExtraProperties.TimeZone"], "UTC");
        assert_eq!(f["additionalDetails.User-Agent"], "ExampleAgent/2.0");
    }

    #[test]
    fn modified_properties_keep_old_and_new_values_and_decode_json_strings() {
        let f = flat(json!({
            "ModifiedProperties": [{"Name": "Role.DisplayName", "NewValue": "\"Global Administrator\"", "OldValue": ""}],
            "targetResources": [{"id": "u1", "displayName": "Jane Doe", "type": "User",
                "modifiedProperties": [{"displayName": "Email", "oldValue": "[]", "newValue": "[\"a@b.example\"]"}]}]
        }));
        assert_eq!(f["ModifiedProperties.Role.DisplayName.NewValue"], "Global Administrator");
        assert_eq!(f["ModifiedProperties.Role.DisplayName.OldValue"], "");
        assert_eq!(f["targetResources.0.modifiedProperties.Email.newValue"], "a@b.example");
        assert_eq!(f["targetResources.0.modifiedProperties.Email.oldValue"], "[]");
        assert_eq!(f["targetResources.0.id"], "u1");
        assert_eq!(f["targetResources.0.displayName"], "Jane Doe", "an entity with a displayName stays indexed");
    }

    #[test]
    fn json_objects_in_strings_keep_their_text_and_add_their_leaves() {
        let f = flat(json!({
            "ModifiedProperties": [{"Name": "StrongAuthenticationRequirement", "NewValue": "[]",
                                    "OldValue": "[{\"RelyingParty\":\"*\",\"State\":1}]"}],
            "ExtendedProperties": [{"Name": "additionalDetails", "Value": "{\"UserType\":\"Member\"}"}],
            "Data": "{\"an\":\"Suspicious email forwarding activity\",\"sev\":\"High\"}",
            "NotJson": "[Type: Password]",
            "Quoted": "\"\\\"twice\\\"\""
        }));
        assert_eq!(
            f["ModifiedProperties.StrongAuthenticationRequirement.OldValue"],
            "[{\"RelyingParty\":\"*\",\"State\":1}]"
        );
        assert_eq!(f["ModifiedProperties.StrongAuthenticationRequirement.OldValue.0.State"], "1");
        assert_eq!(f["ModifiedProperties.StrongAuthenticationRequirement.NewValue"], "[]");
        assert_eq!(f["ExtendedProperties.additionalDetails.UserType"], "Member");
        assert_eq!(f["Data.sev"], "High");
        assert!(f["Data"].starts_with('{'));
        assert_eq!(f["NotJson"], "[Type: Password]");
        assert_eq!(f["Quoted"], "twice");
    }

    #[test]
    fn parameters_delivered_as_a_json_string_are_flattened_like_an_array() {
        let f = flat(json!({"Parameters": "[{\"Name\":\"ForwardTo\",\"Value\":\"x@evil.example\"}]"}));
        assert_eq!(f["Parameters.ForwardTo"], "x@evil.example");
        assert!(f["Parameters"].starts_with('['), "the text itself is kept too");
    }

    #[test]
    fn arrays_of_scalars_are_joined_and_arrays_of_objects_indexed() {
        let f = flat(json!({"To": ["a@x.example", "b@y.example"], "Empty": [], "Mixed": [1, null, true],
                            "Members": [{"UPN": "a@x.example", "Role": 0}, {"UPN": "b@x.example", "Role": 1}],
                            "Nested": [[1, 2], {"a": 1}, "s"]}));
        assert_eq!(f["To"], "a@x.example, b@y.example");
        assert_eq!(f["Mixed"], "1, true");
        assert!(!f.contains_key("Empty"));
        assert_eq!(f["Members.1.UPN"], "b@x.example");
        assert_eq!(f["Nested.0"], "1, 2");
        assert_eq!(f["Nested.1.a"], "1");
        assert_eq!(f["Nested.2"], "s");
    }

    #[test]
    fn a_repeated_name_keeps_its_first_value() {
        let f = flat(json!({"Parameters": [{"Name": "X", "Value": "first"}, {"Name": "X", "Value": "second"}]}));
        assert_eq!(f["Parameters.X"], "first");
    }

    #[test]
    fn a_hostile_record_is_bounded() {
        let mut big = Map::new();
        for i in 0..5_000 {
            big.insert(format!("k{i:05}"), json!("x".repeat(if i % 2 == 0 { 10_000 } else { 10 })));
        }
        big.insert("Operation".into(), json!("Set-Mailbox"));
        big.insert("Parameters".into(), json!([{"Name": "ForwardingSmtpAddress", "Value": "x@evil.example"}]));
        big.insert("k".repeat(1000), json!("long key"));
        let f = flatten_record(&big);
        assert_eq!(f.len(), MAX_KEYS);
        assert!(f.values().all(|v| v.len() <= MAX_VALUE));
        assert!(f.keys().all(|k| k.len() <= MAX_KEY));
        assert_eq!(f["Parameters.ForwardingSmtpAddress"], "x@evil.example", "important fields come first");
    }

    #[test]
    fn deep_nesting_stops_at_the_depth_cap() {
        let mut v = json!("leaf");
        for _ in 0..100 {
            v = json!({"a": v});
        }
        let f = flat(json!({"deep": v}));
        assert!(f.is_empty());
        let mut inner = json!({"leaf": 1});
        for _ in 0..40 {
            inner = json!({"a": inner});
        }
        let f = flat(json!({"encoded": inner.to_string()}));
        assert_eq!(f.len(), 1, "only the text itself: {f:?}");
        assert!(f["encoded"].starts_with("{\"a\""));
    }
}
