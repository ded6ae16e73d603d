//! Syslog: RFC 5424 messages over TCP with octet-counting framing (RFC 6587: `<length> <message>`),
//! one connection per batch. The message body is the AOC document as JSON (`format: json`) or a
//! CEF record (`format: cef`); the structured data `[aoc@32473 id="…" tenant="…"]` carries the
//! event id. TCP acknowledges bytes, not messages: a batch whose connection fails is sent again
//! whole, so a receiver may see its first messages twice.

use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::Delivery;

/// The private enterprise number in AOC's structured-data id (an example number: RFC 5612).
const SD_ID: &str = "aoc@32473";

/// Syslog severity for an AOC severity name.
fn severity(name: &str) -> u8 {
    match name {
        "critical" => 2,
        "high" => 3,
        "medium" => 4,
        "low" => 5,
        _ => 6,
    }
}

/// A structured-data parameter value with `"`, `\` and `]` escaped (RFC 5424 §6.3.3).
fn sd_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A header field: printable US-ASCII without spaces, at most `max` characters, `-` when empty.
fn header_field(value: &str, max: usize) -> String {
    let field: String = value.chars().filter(|c| c.is_ascii_graphic()).take(max).collect();
    if field.is_empty() {
        "-".into()
    } else {
        field
    }
}

fn cef_header(value: &str) -> String {
    value.replace('\\', "\\\\").replace('|', "\\|").replace(['\r', '\n'], " ")
}

fn cef_value(value: &str) -> String {
    value.replace('\\', "\\\\").replace('=', "\\=").replace('\r', "\\r").replace('\n', "\\n")
}

/// A CEF record for a document.
pub fn cef(doc: &Value) -> String {
    let text = |key: &str| doc[key].as_str().unwrap_or_default().to_string();
    let cef_severity = match doc["severity"].as_str().unwrap_or("info") {
        "critical" => 10,
        "high" => 8,
        "medium" => 5,
        "low" => 3,
        _ => 1,
    };
    let time = doc["timestamp"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    let mut ext = vec![format!("externalId={}", doc["aoc_id"])];
    if let Some(time) = time {
        ext.push(format!("rt={}", time.timestamp_millis()));
    }
    for (key, value) in [
        ("suser", doc["actor"]["upn"].as_str().or(doc["actor_display"].as_str())),
        ("src", doc["actor"]["ip"].as_str()),
        ("outcome", doc["result"].as_str()),
        ("cs1Label", Some("tenant")),
        ("cs1", doc["tenant"].as_str()),
        ("cs2Label", Some("source")),
        ("cs2", doc["source"].as_str()),
        ("cs3Label", Some("recordId")),
        ("cs3", doc["record_id"].as_str()),
        ("msg", doc["display_summary"].as_str()),
    ] {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            ext.push(format!("{key}={}", cef_value(value)));
        }
    }
    format!(
        "CEF:0|AOC|Admin Operations Center|{}|{}|{}|{cef_severity}|{}",
        env!("CARGO_PKG_VERSION"),
        cef_header(&text("operation")),
        cef_header(&text("display_summary")),
        ext.join(" ")
    )
}

/// The RFC 5424 message of a document.
pub fn message(doc: &Value, host: &str, cef_body: bool) -> String {
    let pri = 13 * 8 + severity(doc["severity"].as_str().unwrap_or("info")); // facility 13: log audit
    let timestamp = doc["timestamp"].as_str().unwrap_or("-");
    let body = if cef_body { cef(doc) } else { doc.to_string() };
    format!(
        "<{pri}>1 {timestamp} {} aoc - {} [{SD_ID} id=\"{}\" tenant=\"{}\"] {body}",
        header_field(host, 255),
        header_field(doc["source"].as_str().unwrap_or(""), 32),
        doc["aoc_id"],
        sd_escape(doc["tenant"].as_str().unwrap_or("")),
    )
}

/// The octet-counted frames of a batch.
pub fn frames(documents: &[Value], host: &str, cef_body: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(documents.len() * 2_048);
    for doc in documents {
        let message = message(doc, host, cef_body);
        out.extend_from_slice(format!("{} ", message.len()).as_bytes());
        out.extend_from_slice(message.as_bytes());
    }
    out
}

/// `tcp://host:port` → `host:port`.
pub fn address(endpoint: &str) -> Option<String> {
    let url = url::Url::parse(endpoint).ok()?;
    (url.scheme() == "tcp").then_some(())?;
    Some(format!("{}:{}", url.host_str()?, url.port()?))
}

/// Sends a batch over one TCP connection.
pub async fn send(endpoint: &str, options: &Value, cef_body: bool, documents: &[Value], timeout: Duration) -> Delivery {
    let Some(address) = address(endpoint) else {
        return Delivery::Refused { status: 0, answer: "the endpoint is not tcp://host:port".into() };
    };
    let bytes = frames(documents, options["host"].as_str().unwrap_or("aoc"), cef_body);
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(&address).await?;
        stream.write_all(&bytes).await?;
        stream.flush().await?;
        stream.shutdown().await?;
        Ok::<_, std::io::Error>(())
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(())) => Delivery::Delivered { status: 0, answer: format!("{} messages written", documents.len()) },
        Ok(Err(e)) => {
            Delivery::Retry { status: None, retry_after: None, answer: format!("syslog over TCP failed: {e}") }
        }
        Err(_) => Delivery::Retry { status: None, retry_after: None, answer: "syslog over TCP timed out".into() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_are_rfc5424_with_escaped_structured_data_and_octet_counts() {
        let doc = json!({ "aoc_id": 7, "tenant": "a\"b]c", "source": "signin", "severity": "high",
            "timestamp": "2026-12-01T10:00:00.25Z", "operation": "Sign-in|x", "display_summary": "a=b" });
        let m = message(&doc, "aoc host", false);
        assert!(
            m.starts_with(
                "<107>1 2026-12-01T10:00:00.25Z aochost aoc - signin [aoc@32473 id=\"7\" tenant=\"a\\\"b\\]c\"] {"
            ),
            "{m}"
        );
        let framed = String::from_utf8(frames(std::slice::from_ref(&doc), "aoc", true)).unwrap();
        let (len, rest) = framed.split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), rest.len());
        assert!(
            rest.contains("CEF:0|AOC|Admin Operations Center|") && rest.contains("|Sign-in\\|x|a=b|8|externalId=7"),
            "{rest}"
        );
        assert!(rest.contains("msg=a\\=b"), "{rest}");
        assert_eq!(address("tcp://127.0.0.1:6514").as_deref(), Some("127.0.0.1:6514"));
        assert_eq!(address("https://x:1"), None);
    }
}
