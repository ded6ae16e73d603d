//! Alert notices by e-mail over SMTP (lettre): one plain-text message per alert to the
//! destination's recipients. The endpoint is `smtp://host:port`; option `tls` is `starttls`
//! (the default: the connection must upgrade, or nothing is sent), `tls` (implicit TLS, port 465)
//! or `none` (a relay on a trusted network); `username` with the destination's secret as the
//! password authenticates; `ca_file` (PEM) replaces the public roots for the server's certificate.
//! Alert text comes from tenant data; it is sent as `text/plain` and headers are encoded by
//! lettre, so it cannot add headers or recipients.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Mailboxes};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::Value;

use super::notify::AlertNotice;
use super::Delivery;

/// `smtp://host[:port]` → (host, port).
pub fn server(endpoint: &str) -> Option<(String, Option<u16>)> {
    let url = url::Url::parse(endpoint).ok()?;
    (url.scheme() == "smtp").then_some(())?;
    Some((url.host_str()?.to_string(), url.port()))
}

/// The subject and body of a notice.
pub fn message_text(notice: &AlertNotice) -> (String, String) {
    let severity = app::dto::Severity::from_level(notice.severity).as_str();
    let clean = |s: &str| s.chars().filter(|c| !c.is_control()).collect::<String>();
    let subject = format!("[AOC] {} alert: {}", severity.to_uppercase(), clean(&notice.rule_title));
    let body = format!(
        "AOC raised an alert.\n\nSeverity: {severity}\nRule: {} ({})\nTenant: {}\nEntities: {}\nEvents: {} from {} to {}\n\nOpen it in AOC: {}\n",
        clean(&notice.rule_title),
        clean(&notice.rule_id),
        clean(&notice.tenant),
        clean(&notice.entities.join(", ")),
        notice.event_count,
        notice.first_seen.to_rfc3339(),
        notice.last_seen.to_rfc3339(),
        notice.link,
    );
    (subject, body)
}

fn refused(answer: impl Into<String>) -> Delivery {
    Delivery::Refused { status: 0, answer: answer.into() }
}

fn retry(answer: impl Into<String>) -> Delivery {
    Delivery::Retry { status: None, retry_after: None, answer: answer.into() }
}

fn tls_parameters(host: &str, options: &Value) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(host.to_string());
    if let Some(path) = options["ca_file"].as_str() {
        let pem = std::fs::read(path).map_err(|e| format!("cannot read the CA file {path}: {e}"))?;
        let certificate = Certificate::from_pem(&pem).map_err(|e| format!("the CA file {path} is not PEM: {e}"))?;
        builder = builder.add_root_certificate(certificate);
    }
    builder.build_rustls().map_err(|e| format!("TLS settings: {e}"))
}

/// Sends one alert notice (an alert document) to the destination's recipients.
pub async fn send(endpoint: &str, password: Option<&str>, options: &Value, doc: &Value, timeout: Duration) -> Delivery {
    let Some(notice) = AlertNotice::from_document(doc) else { return refused("the record is not an alert") };
    let Some((host, port)) = server(endpoint) else { return retry("the endpoint is not smtp://host:port") };
    let from: Mailbox = match options["from"].as_str().map(str::parse) {
        Some(Ok(from)) => from,
        _ => return retry("option `from` is not a mail address"),
    };
    let to: Mailboxes = match options["to"].as_str().map(str::parse) {
        Some(Ok(to)) => to,
        _ => return retry("option `to` is not a list of mail addresses"),
    };
    let (subject, body) = message_text(&notice);
    let mut builder = Message::builder().from(from).subject(subject).header(ContentType::TEXT_PLAIN);
    for mailbox in to {
        builder = builder.to(mailbox);
    }
    let message = match builder.body(body) {
        Ok(message) => message,
        Err(e) => return retry(format!("the message cannot be built: {e}")),
    };
    let mode = options["tls"].as_str().unwrap_or("starttls");
    let tls = match mode {
        "none" => Tls::None,
        _ => match tls_parameters(&host, options) {
            Ok(parameters) if mode == "tls" => Tls::Wrapper(parameters),
            Ok(parameters) => Tls::Required(parameters),
            Err(problem) => return retry(problem),
        },
    };
    let default_port = match mode {
        "tls" => 465,
        "none" => 25,
        _ => 587,
    };
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port.unwrap_or(default_port))
        .tls(tls)
        .timeout(Some(timeout));
    if let (Some(user), Some(password)) = (options["username"].as_str(), password) {
        transport = transport.credentials(Credentials::new(user.to_string(), password.to_string()));
    }
    match transport.build().send(message).await {
        Ok(response) => Delivery::Delivered {
            status: response.code().to_string().parse().unwrap_or(250),
            answer: response.message().collect::<Vec<_>>().join(" "),
        },
        Err(e) => {
            let status = e.status().and_then(|c| c.to_string().parse::<u16>().ok());
            // A 5xx answer (a refused recipient or sender) will not succeed on its own; an
            // authentication failure (535) is a configuration problem, retried until fixed.
            match status {
                Some(code) if e.is_permanent() && code != 530 && code != 535 => {
                    Delivery::Refused { status: code, answer: e.to_string() }
                }
                _ => Delivery::Retry { status, retry_after: None, answer: format!("SMTP: {e}") },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_text_cannot_break_out_of_the_subject() {
        let notice = AlertNotice {
            alert_id: 1,
            rule_id: "r".into(),
            rule_title: "Bad\r\nBcc: victim@example.com".into(),
            severity: 3,
            tenant: "t".into(),
            entities: vec!["a".into()],
            event_count: 1,
            first_seen: chrono::Utc::now(),
            last_seen: chrono::Utc::now(),
            link: "https://aoc.example/alerts/1".into(),
        };
        let (subject, body) = message_text(&notice);
        assert_eq!(subject, "[AOC] HIGH alert: BadBcc: victim@example.com");
        assert!(body.contains("https://aoc.example/alerts/1"));
        assert_eq!(server("smtp://mail.example:2525"), Some(("mail.example".into(), Some(2525))));
        assert_eq!(server("https://mail.example"), None);
    }
}
