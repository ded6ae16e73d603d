//! Alert notices by e-mail, end to end on both backends: a rule raises an alert from events stored
//! through the write path, the alert is queued in the same transaction for the e-mail
//! destinations, and the worker delivers it with lettre to an SMTP server running in the test.
//!
//! The server is a small, protocol-faithful receiver written here rather than a packaged one: the
//! test must see what went over the wire (STARTTLS before AUTH, the credentials, each recipient)
//! and make the server refuse a recipient (550) or a password (535) on demand, which a real MTA
//! would need a mail-system configuration for. It speaks RFC 5321 (EHLO, STARTTLS per RFC 3207
//! with a certificate from a test CA, AUTH PLAIN per RFC 4954, MAIL, RCPT, DATA with dot-stuffing,
//! RSET, NOOP, QUIT) over plain TCP or implicit TLS.

#[macro_use]
mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aoc::export::worker::{Exporter, Tuning};
use aoc::normalize::Source;
use aoc::store::writer::{store_batch, EventRow, Subscribers};
use base64::Engine;
use chrono::Utc;
use common::{spawn_app_with, test_settings, Backend, TestApp};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

const KEY: &str = "q1Yb0Xc4Qm6J3o8T2uV9wZ1aB5cD7eF0gH2iJ4kL6mM=";
const ENV: &[(&str, &str)] =
    &[("AOC_ENCRYPTION_KEY", KEY), ("AOC_EXPORT_WORKER", "false"), ("ALERTS_ENABLED", "false")];
const PASSWORD: &str = "correct horse battery staple";

/// A message the server accepted.
#[derive(Clone, Debug)]
struct Mail {
    tls: bool,
    user: Option<String>,
    from: String,
    to: Vec<String>,
    data: String,
}

#[derive(Default)]
struct Smtp {
    mails: Mutex<Vec<Mail>>,
    /// AUTH attempts (user, whether the password was right).
    logins: Mutex<Vec<(String, bool)>>,
    /// Commands sent before TLS that must not be (AUTH, MAIL) on a STARTTLS server.
    plaintext_commands: Mutex<Vec<String>>,
}

enum Next<S> {
    Done,
    StartTls(S),
}

/// One SMTP dialogue over `stream`; returns the stream when the client asked for STARTTLS.
async fn dialogue<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    smtp: &Smtp,
    tls: bool,
    offer_starttls: bool,
    greet: bool,
) -> Next<S> {
    let mut stream = BufReader::new(stream);
    if greet && stream.get_mut().write_all(b"220 smtp.test ESMTP ready\r\n").await.is_err() {
        return Next::Done;
    }
    let mut user: Option<String> = None;
    let mut from = String::new();
    let mut to: Vec<String> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
            return Next::Done;
        }
        let command = line.trim_end().to_string();
        let verb = command.split(' ').next().unwrap_or_default().to_ascii_uppercase();
        if offer_starttls && !tls && matches!(verb.as_str(), "AUTH" | "MAIL" | "RCPT" | "DATA") {
            smtp.plaintext_commands.lock().unwrap().push(verb.clone());
        }
        let reply: String = match verb.as_str() {
            "EHLO" | "HELO" => {
                let mut r = "250-smtp.test greets you\r\n".to_string();
                if offer_starttls && !tls {
                    r.push_str("250-STARTTLS\r\n");
                }
                r.push_str("250-AUTH PLAIN\r\n250 8BITMIME\r\n");
                r
            }
            "STARTTLS" if offer_starttls && !tls => {
                if stream.get_mut().write_all(b"220 2.0.0 go ahead with TLS\r\n").await.is_err() {
                    return Next::Done;
                }
                return Next::StartTls(stream.into_inner());
            }
            "AUTH" => {
                let parts: Vec<&str> = command.split(' ').collect();
                let decoded = parts
                    .get(2)
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                    .map(|b| String::from_utf8_lossy(&b).to_string())
                    .unwrap_or_default();
                let fields: Vec<&str> = decoded.split('\0').collect();
                let (name, password) = (fields.get(1).copied().unwrap_or(""), fields.get(2).copied().unwrap_or(""));
                let ok = parts.get(1).is_some_and(|m| m.eq_ignore_ascii_case("PLAIN")) && password == PASSWORD;
                smtp.logins.lock().unwrap().push((name.to_string(), ok));
                if ok {
                    user = Some(name.to_string());
                    "235 2.7.0 Authentication successful\r\n".into()
                } else {
                    "535 5.7.8 Authentication credentials invalid\r\n".into()
                }
            }
            "MAIL" => {
                from = command.split_once(':').map(|(_, a)| a.trim().to_string()).unwrap_or_default();
                to.clear();
                "250 2.1.0 OK\r\n".into()
            }
            "RCPT" => {
                let rcpt = command.split_once(':').map(|(_, a)| a.trim().to_string()).unwrap_or_default();
                if rcpt.contains("nobody@") {
                    "550 5.1.1 <nobody@contoso.example>: no such mailbox\r\n".into()
                } else {
                    to.push(rcpt);
                    "250 2.1.5 OK\r\n".into()
                }
            }
            "DATA" if to.is_empty() => "554 5.5.1 no valid recipients\r\n".into(),
            "DATA" => {
                if stream.get_mut().write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await.is_err() {
                    return Next::Done;
                }
                let mut data = String::new();
                loop {
                    line.clear();
                    if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return Next::Done;
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                let mut mails = smtp.mails.lock().unwrap();
                mails.push(Mail { tls, user: user.clone(), from: from.clone(), to: to.clone(), data });
                format!("250 2.0.0 Ok: queued as Q{}\r\n", mails.len())
            }
            "RSET" => {
                from.clear();
                to.clear();
                "250 2.0.0 OK\r\n".into()
            }
            "NOOP" => "250 2.0.0 OK\r\n".into(),
            "QUIT" => {
                let _ = stream.get_mut().write_all(b"221 2.0.0 Bye\r\n").await;
                return Next::Done;
            }
            _ => "502 5.5.2 Command not recognized\r\n".into(),
        };
        if stream.get_mut().write_all(reply.as_bytes()).await.is_err() {
            return Next::Done;
        }
    }
}

/// A test CA's PEM and a TLS acceptor for `localhost` with a certificate it issued.
fn tls_material(dir: &std::path::Path) -> (std::path::PathBuf, tokio_rustls::TlsAcceptor) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&key, &ca, &ca_key).unwrap();
    let ca_path = dir.join("smtp-ca.pem");
    std::fs::write(&ca_path, ca.pem()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        )
        .unwrap();
    (ca_path, tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Starts an SMTP server: STARTTLS offered (`implicit` false) or TLS from the first byte.
async fn spawn_smtp(acceptor: tokio_rustls::TlsAcceptor, implicit: bool) -> (Arc<Smtp>, u16) {
    let smtp = Arc::new(Smtp::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = smtp.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (smtp, acceptor) = (server.clone(), acceptor.clone());
            tokio::spawn(async move {
                if implicit {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        dialogue(tls, &smtp, true, false, true).await;
                    }
                } else if let Next::StartTls(tcp) = dialogue(tcp, &smtp, false, true, true).await {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        // After STARTTLS the client starts over with EHLO, without a new greeting.
                        dialogue(tls, &smtp, true, true, false).await;
                    }
                }
            });
        }
    });
    (smtp, port)
}

async fn call(app: &TestApp, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    app.call(method, path, body).await
}

fn row(n: usize) -> EventRow {
    common::event_row("mail", n, Source::Unified, Utc::now())
}

async fn wait_until(limit: Duration, what: &str, done: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn alert_notices_are_mailed_over_starttls_and_implicit_tls_with_auth(backend: Backend) {
    let Some(app) = spawn_app_with(backend, ENV).await else { return };
    let dir = tempfile::tempdir().unwrap();
    let (ca, acceptor) = tls_material(dir.path());
    let (starttls, starttls_port) = spawn_smtp(acceptor.clone(), false).await;
    let (implicit, implicit_port) = spawn_smtp(acceptor, true).await;
    let (status, rule) = call(
        &app,
        reqwest::Method::POST,
        "/api/rules",
        Some(json!({ "name": "Mailbox changed", "severity": "high", "sources": ["unified"],
            "condition": {"field": "operation", "value": "Set-Mailbox"}, "group_by": "actor" })),
    )
    .await;
    assert_eq!(status, 201, "{rule}");
    let options = |tls: &str, to: &str| {
        json!({ "from": "AOC <aoc@contoso.example>", "to": to, "tls": tls, "username": "aoc-notify",
                "ca_file": ca.display().to_string() })
    };
    let mut ids = Vec::new();
    for (name, port, tls, to, secret) in [
        ("mail-starttls", starttls_port, "starttls", "soc@contoso.example, lead@contoso.example", PASSWORD),
        ("mail-implicit", implicit_port, "tls", "soc@contoso.example", PASSWORD),
        ("mail-refused", implicit_port, "tls", "nobody@contoso.example", PASSWORD),
        ("mail-bad-password", implicit_port, "tls", "soc@contoso.example", "wrong"),
    ] {
        let (status, view) = call(
            &app,
            reqwest::Method::POST,
            "/api/destinations",
            Some(json!({ "name": name, "kind": "email", "endpoint": format!("smtp://localhost:{port}"),
                         "secret": secret, "options": options(tls, to), "min_severity": "medium" })),
        )
        .await;
        assert_eq!(status, 201, "{view}");
        assert_eq!(view["receives"], "alerts");
        assert!(!view.to_string().contains(PASSWORD) && !view.to_string().contains("wrong"), "{view}");
        ids.push(view["id"].as_i64().unwrap());
    }
    // E-mail needs its sender and recipients, and receives alerts only.
    let (status, answer) = call(&app, reqwest::Method::POST, "/api/destinations", Some(json!({ "name": "m2", "kind": "email", "endpoint": "smtp://localhost:25", "options": { "from": "not an address", "to": "a@b.example" } }))).await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = call(&app, reqwest::Method::POST, "/api/destinations", Some(json!({ "name": "m3", "kind": "email", "endpoint": "smtp://localhost:25", "receives": "all", "options": { "from": "a@b.example", "to": "a@b.example" } }))).await;
    assert_eq!(status, 400, "{answer}");

    let rows: Vec<EventRow> = (0..3).map(row).collect();
    store_batch(&app.db, rows, &[], &Subscribers::default()).await.unwrap();
    let outcome = aoc::services::detection::catch_up(&app.db).await.unwrap();
    assert!(outcome.alerts_created >= 1, "{outcome:?}");
    let settings = test_settings(&app.database.url, ENV);
    let tuning = Tuning {
        poll: Duration::from_millis(50),
        lease: Duration::from_secs(2),
        base_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(400),
        timeout: Duration::from_secs(5),
    };
    let worker = Arc::new(Exporter::new(app.db.clone(), &settings, tuning)).spawn();
    wait_until(Duration::from_secs(30), "the STARTTLS server got the notice", || {
        starttls.mails.lock().unwrap().iter().any(|m| m.data.contains("Mailbox changed"))
    })
    .await;
    wait_until(Duration::from_secs(30), "the implicit-TLS server got the notice", || {
        implicit.mails.lock().unwrap().iter().any(|m| m.data.contains("Mailbox changed"))
    })
    .await;
    let mail = starttls.mails.lock().unwrap().iter().find(|m| m.data.contains("Mailbox changed")).cloned().unwrap();
    assert!(mail.tls, "sent after STARTTLS");
    assert!(starttls.plaintext_commands.lock().unwrap().is_empty(), "nothing but EHLO before TLS");
    assert_eq!(mail.user.as_deref(), Some("aoc-notify"));
    assert_eq!(mail.from, "<aoc@contoso.example>");
    assert_eq!(mail.to, vec!["<soc@contoso.example>".to_string(), "<lead@contoso.example>".to_string()]);
    assert!(mail.data.contains("Subject: [AOC] HIGH alert: Mailbox changed"), "{}", mail.data);
    assert!(mail.data.contains("Content-Type: text/plain"), "{}", mail.data);
    assert!(mail.data.contains("adele.vance@contoso.example"), "{}", mail.data);
    assert!(mail.data.contains("/alerts/"), "{}", mail.data);

    // A refused recipient parks the notice with the server's answer; a wrong password is a
    // configuration problem: the notice waits (and is retried) until it is fixed.
    let (refused, bad_password) = (ids[2], ids[3]);
    let started = std::time::Instant::now();
    loop {
        let (_, view) = call(&app, reqwest::Method::GET, &format!("/api/destinations/{refused}"), None).await;
        if view["queue"]["parked"] == 1 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the refused notice is parked: {view}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, parked) = call(&app, reqwest::Method::GET, &format!("/api/destinations/{refused}/parked"), None).await;
    let reason = parked["items"][0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("550") && reason.contains("no such mailbox"), "{parked}");
    let (_, view) = call(&app, reqwest::Method::GET, &format!("/api/destinations/{bad_password}"), None).await;
    assert_eq!(view["queue"]["parked"], 0, "{view}");
    assert!(view["queue"]["pending"].as_i64().unwrap() >= 1, "{view}");
    assert!(implicit.logins.lock().unwrap().iter().any(|(u, ok)| u == "aoc-notify" && !ok));
    assert!(view["last_error"].as_str().unwrap_or_default().contains("535"), "{view}");
    assert!(!view.to_string().contains("wrong"), "{view}");

    // Send test mails a synthetic notice and shows the server's answer.
    let (status, outcome) =
        call(&app, reqwest::Method::POST, &format!("/api/destinations/{}/test", ids[1]), None).await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["delivered"], true, "{outcome}");
    assert_eq!(outcome["status"], 250, "{outcome}");
    assert!(outcome["answer"].as_str().unwrap().contains("queued as"), "{outcome}");
    worker.abort();
}

on_both_backends!(alert_notices_are_mailed_over_starttls_and_implicit_tls_with_auth);
