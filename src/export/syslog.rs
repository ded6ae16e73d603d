//! Syslog: RFC 5424 messages over TCP with octet-counting framing (RFC 6587: `<length> <message>`),
//! one connection per batch; `tls://host:port` sends the same frames over TLS (RFC 5425), checking
//! the server's certificate against option `ca_file` (a PEM bundle) or the Mozilla roots. The message body is the AOC document as JSON (`format: json`) or a
//! CEF record (`format: cef`); the structured data `[aoc@32473 id="…" tenant="…"]` carries the
//! event id. TCP acknowledges bytes, not messages: a batch whose connection fails is sent again
//! whole, so a receiver may see its first messages twice.

use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
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
    let mut ext = vec![format!("externalId={}", cef_value(&super::document_id(doc)))];
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
        sd_escape(&super::document_id(doc)),
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

/// `tcp://host:port` → `host:port`; `tls://host:port` (RFC 5425) too.
pub fn address(endpoint: &str) -> Option<String> {
    let url = url::Url::parse(endpoint).ok()?;
    matches!(url.scheme(), "tcp" | "tls").then_some(())?;
    Some(format!("{}:{}", url.host_str()?, url.port()?))
}

/// The TLS settings of a `tls://` endpoint: the server's name and the roots it must chain to
/// (the PEM file of option `ca_file`, else the Mozilla roots AOC carries).
fn tls_connector(endpoint: &str, options: &Value) -> Result<(tokio_rustls::TlsConnector, ServerName<'static>), String> {
    let url = url::Url::parse(endpoint).map_err(|_| "the endpoint is not tls://host:port".to_string())?;
    let host = url.host_str().ok_or("the endpoint has no host")?.trim_matches(['[', ']']).to_string();
    let name =
        ServerName::try_from(host).map_err(|_| "the endpoint's host is not a valid TLS server name".to_string())?;
    let mut roots = rustls::RootCertStore::empty();
    match options["ca_file"].as_str() {
        Some(path) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("cannot read the CA file {path}: {e}"))?
                .collect::<Result<_, _>>()
                .map_err(|e| format!("the CA file {path} is not PEM: {e}"))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!("the CA file {path} holds no usable certificate"));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let config =
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok((tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)), name))
}

async fn write_all<S: tokio::io::AsyncWrite + Unpin>(mut stream: S, bytes: &[u8]) -> std::io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await?;
    stream.shutdown().await
}

/// Sends a batch over one TCP (or TLS) connection.
pub async fn send(endpoint: &str, options: &Value, cef_body: bool, documents: &[Value], timeout: Duration) -> Delivery {
    let Some(address) = address(endpoint) else {
        return Delivery::Refused {
            status: 0,
            answer: "the endpoint is not tcp://host:port or tls://host:port".into(),
        };
    };
    let tls = endpoint.starts_with("tls://");
    let transport = if tls { "TLS" } else { "TCP" };
    let connector = if tls {
        match tls_connector(endpoint, options) {
            Ok(c) => Some(c),
            // A configuration problem: retried until the destination is fixed.
            Err(answer) => return Delivery::Retry { status: None, retry_after: None, answer },
        }
    } else {
        None
    };
    let bytes = frames(documents, options["host"].as_str().unwrap_or("aoc"), cef_body);
    let attempt = async {
        let stream = tokio::net::TcpStream::connect(&address).await?;
        match connector {
            Some((connector, name)) => write_all(connector.connect(name, stream).await?, &bytes).await,
            None => write_all(stream, &bytes).await,
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(())) => Delivery::Delivered { status: 0, answer: format!("{} messages written", documents.len()) },
        Ok(Err(e)) => {
            Delivery::Retry { status: None, retry_after: None, answer: format!("syslog over {transport} failed: {e}") }
        }
        Err(_) => {
            Delivery::Retry { status: None, retry_after: None, answer: format!("syslog over {transport} timed out") }
        }
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
