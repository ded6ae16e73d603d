//! Small helpers shared by the normalizers: tolerant field access, IP cleaning, outcomes and the
//! summary line.

use serde_json::{Map, Value};

use super::Outcome;

/// A field as text: strings as they are, numbers and booleans printed, null/missing as None.
pub fn text(o: &Map<String, Value>, key: &str) -> Option<String> {
    match o.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A field as a number, whether Microsoft sent `15` or `"15"`.
pub fn int(o: &Map<String, Value>, key: &str) -> Option<i64> {
    match o.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An IP address without port or brackets: `203.0.113.7:51544`, `[2001:db8::5]:443`,
/// `2001:db8::5` (kept whole), `::ffff:1.2.3.4`.
pub fn clean_ip(raw: &str) -> Option<String> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next().filter(|ip| !ip.is_empty()).map(str::to_string);
    }
    let colons = s.matches(':').count();
    if colons == 1 {
        let (host, port) = s.split_once(':')?;
        if port.chars().all(|c| c.is_ascii_digit()) && host.contains('.') {
            return Some(host.to_string());
        }
    }
    s.parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string()).or_else(|| Some(s.to_string()))
}

/// ResultStatus / result / activityResult → outcome.
pub fn outcome_of(value: Option<&str>) -> Outcome {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        Some("succeeded" | "success" | "true" | "successful") => Outcome::Success,
        Some("failed" | "failure" | "false" | "timeout") => Outcome::Failure,
        Some("partiallysucceeded" | "partial_success" | "partialsuccess") => Outcome::PartialSuccess,
        _ => Outcome::Unknown,
    }
}

/// "actor operation target (detail)", one line, at most 300 characters.
pub fn summary_line(actor: Option<&str>, operation: &str, target: Option<&str>, detail: Option<&str>) -> String {
    let mut s = String::new();
    s.push_str(actor.unwrap_or("someone"));
    s.push(' ');
    s.push_str(operation);
    if let Some(t) = target.filter(|t| !t.is_empty()) {
        s.push_str(" → ");
        s.push_str(t);
    }
    if let Some(d) = detail.filter(|d| !d.is_empty()) {
        s.push_str(" (");
        s.push_str(d);
        s.push(')');
    }
    let s: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if s.chars().count() > 300 {
        let mut cut: String = s.chars().take(299).collect();
        cut.push('…');
        cut
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ips_lose_ports_and_brackets_but_ipv6_stays_whole() {
        for (raw, want) in [
            ("203.0.113.7:51544", Some("203.0.113.7")),
            ("[2001:db8::5]:443", Some("2001:db8::5")),
            ("2001:db8::5", Some("2001:db8::5")),
            ("::ffff:192.0.2.1", Some("::ffff:192.0.2.1")),
            ("198.51.100.23", Some("198.51.100.23")),
            ("", None),
        ] {
            assert_eq!(clean_ip(raw).as_deref(), want, "{raw}");
        }
    }

    #[test]
    fn outcomes_cover_every_spelling() {
        assert_eq!(outcome_of(Some("True")), Outcome::Success);
        assert_eq!(outcome_of(Some("Succeeded")), Outcome::Success);
        assert_eq!(outcome_of(Some("False")), Outcome::Failure);
        assert_eq!(outcome_of(Some("PartiallySucceeded")), Outcome::PartialSuccess);
        assert_eq!(outcome_of(None), Outcome::Unknown);
    }

    #[test]
    fn summaries_are_single_bounded_lines() {
        let s = summary_line(Some("a@b"), "Op", Some(&"x\ny".repeat(200)), None);
        assert!(!s.contains('\n'));
        assert!(s.chars().count() <= 300);
    }
}
