//! Flattening: every scalar of a record under a dotted path, with Microsoft's name/value lists
//! keyed by their names (`Parameters.ForwardTo`, `ModifiedProperties.Role.DisplayName.NewValue`,
//! `ExtendedProperties.resultType`, `additionalDetails.User-Agent`, ...) and JSON found inside
//! strings decoded and flattened too, so rules and searches can reach any value.
//!
//! Arrays of scalars are joined with ", "; other arrays are indexed (`targetResources.0.id`).
//! Bounded: at most [`MAX_KEYS`] keys, values longer than [`MAX_VALUE`] bytes are cut, nesting
//! deeper than [`MAX_DEPTH`] is skipped — a hostile record cannot blow up storage.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Most keys kept per record.
pub const MAX_KEYS: usize = 500;
/// Longest value kept, bytes.
pub const MAX_VALUE: usize = 4096;
/// Deepest nesting followed.
pub const MAX_DEPTH: usize = 8;

/// Flattens a record.
pub fn flatten_record(record: &Map<String, Value>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in record {
        walk(k, v, 0, &mut out);
    }
    out
}

fn put(out: &mut BTreeMap<String, String>, key: String, value: String) {
    if out.len() >= MAX_KEYS {
        return;
    }
    let value = if value.len() > MAX_VALUE {
        let mut cut = MAX_VALUE;
        while !value.is_char_boundary(cut) {
            cut -= 1;
        }
        value[..cut].to_string()
    } else {
        value
    };
    out.insert(key, value);
}

/// The name of a name/value pair element (`Name`, `Key`, `key`, `displayName`), if it is one.
fn pair_name(obj: &Map<String, Value>) -> Option<&str> {
    ["Name", "Key", "key", "displayName", "name"].iter().find_map(|k| obj.get(*k)?.as_str())
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => None,
        _ => None,
    }
}

fn walk(path: &str, v: &Value, depth: usize, out: &mut BTreeMap<String, String>) {
    if depth > MAX_DEPTH || out.len() >= MAX_KEYS {
        return;
    }
    match v {
        Value::Null => {}
        Value::String(s) => {
            let trimmed = s.trim();
            // JSON inside a string: decode and flatten it too, keeping the text itself.
            if (trimmed.starts_with('{') || trimmed.starts_with('[') || trimmed.starts_with('"'))
                && trimmed.len() <= 64 * 1024
            {
                if let Ok(inner) = serde_json::from_str::<Value>(trimmed) {
                    match &inner {
                        Value::String(unquoted) => return put(out, path.to_string(), unquoted.clone()),
                        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
                            let joined: Vec<String> = items.iter().filter_map(scalar).collect();
                            return put(out, path.to_string(), joined.join(", "));
                        }
                        _ => {
                            put(out, path.to_string(), s.clone());
                            walk(path, &inner, depth + 1, out);
                            return;
                        }
                    }
                }
            }
            put(out, path.to_string(), s.clone());
        }
        Value::Number(_) | Value::Bool(_) => put(out, path.to_string(), scalar(v).unwrap_or_default()),
        Value::Array(items) => {
            if items.iter().all(|i| !i.is_object() && !i.is_array()) {
                let joined: Vec<String> = items.iter().filter_map(scalar).collect();
                if !joined.is_empty() {
                    put(out, path.to_string(), joined.join(", "));
                }
                return;
            }
            for (i, item) in items.iter().enumerate() {
                match item.as_object().and_then(|o| pair_name(o).map(|n| (o, n))) {
                    // A name/value pair: key it by its name.
                    Some((obj, name)) if !name.is_empty() => {
                        let base = format!("{path}.{name}");
                        let values: Vec<(&String, &Value)> = obj
                            .iter()
                            .filter(|(k, _)| !["Name", "Key", "key", "displayName", "name"].contains(&k.as_str()))
                            .collect();
                        if let [(k, value)] = values[..] {
                            if k == "Value" || k == "value" {
                                walk(&base, value, depth + 1, out);
                                continue;
                            }
                        }
                        for (k, value) in values {
                            walk(&format!("{base}.{k}"), value, depth + 1, out);
                        }
                    }
                    _ => walk(&format!("{path}.{i}"), item, depth + 1, out),
                }
            }
        }
        Value::Object(obj) => {
            for (k, value) in obj {
                walk(&format!("{path}.{k}"), value, depth + 1, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flat(v: Value) -> BTreeMap<String, String> {
        flatten_record(v.as_object().unwrap())
    }

    #[test]
    fn name_value_lists_are_keyed_by_name() {
        let f = flat(
            json!({"Parameters": [{"Name": "ForwardTo", "Value": "x@evil.example"}, {"Name": "DeleteMessage", "Value": "True"}]}),
        );
        assert_eq!(f["Parameters.ForwardTo"], "x@evil.example");
        assert_eq!(f["Parameters.DeleteMessage"], "True");
    }

    #[test]
    fn modified_properties_keep_old_and_new_values_and_decode_json_strings() {
        let f = flat(
            json!({"ModifiedProperties": [{"Name": "Role.DisplayName", "NewValue": "\"Global Administrator\"", "OldValue": ""}],
            "targetResources": [{"id": "u1", "modifiedProperties": [{"displayName": "Email", "oldValue": "[]", "newValue": "[\"a@b.example\"]"}]}]}),
        );
        assert_eq!(f["ModifiedProperties.Role.DisplayName.NewValue"], "Global Administrator");
        assert_eq!(f["targetResources.0.modifiedProperties.Email.newValue"], "a@b.example");
        assert_eq!(f["targetResources.0.id"], "u1");
    }

    #[test]
    fn parameters_delivered_as_a_json_string_are_flattened_like_an_array() {
        let f = flat(json!({"Parameters": "[{\"Name\":\"ForwardTo\",\"Value\":\"x@evil.example\"}]"}));
        assert_eq!(f["Parameters.ForwardTo"], "x@evil.example");
    }

    #[test]
    fn a_hostile_record_is_bounded() {
        let mut big = Map::new();
        for i in 0..5_000 {
            big.insert(format!("k{i}"), json!("x".repeat(10_000)));
        }
        let f = flatten_record(&big);
        assert!(f.len() <= MAX_KEYS);
        assert!(f.values().all(|v| v.len() <= MAX_VALUE));
    }
}
