//! Syslog export into a real syslog server: Debian's rsyslog, started by the test with a generated
//! configuration on free ports, one instance receiving plain TCP and one TLS (RFC 5425, the gtls
//! driver, a certificate issued in the test by a test CA). Events stored through the write path
//! are delivered by the worker; rsyslog's files must hold each event's message, parsed by rsyslog
//! as RFC 5424 with AOC's structured data. A TLS destination that does not trust the server's CA
//! delivers nothing and says why.
//!
//! Needs `rsyslogd` and `rsyslog-gnutls` (.ci/lib.sh installs them); without rsyslogd the test says
//! so and passes.

#[macro_use]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use aoc::export::worker::{Exporter, Tuning};
use aoc::normalize::Source;
use aoc::store::writer::{store_batch, EventRow, Subscribers};
use chrono::Utc;
use common::{spawn_app_with, test_settings, Backend, TestApp};
use serde_json::{json, Value};

const RSYSLOGD: &str = "/usr/sbin/rsyslogd";
const KEY: &str = "q1Yb0Xc4Qm6J3o8T2uV9wZ1aB5cD7eF0gH2iJ4kL6mM=";
const ENV: &[(&str, &str)] =
    &[("AOC_ENCRYPTION_KEY", KEY), ("AOC_EXPORT_WORKER", "false"), ("ALERTS_ENABLED", "false")];

/// An rsyslogd the test started; killed when dropped.
struct Rsyslog {
    child: Child,
    port: u16,
    output: PathBuf,
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts rsyslogd writing every message it receives on a free port to a file, one line per
/// message: `structured-data|msg`. `tls`: (CA, certificate, key) files for the gtls driver.
async fn start_rsyslog(dir: &Path, name: &str, tls: Option<(&Path, &Path, &Path)>) -> Rsyslog {
    let port = free_port();
    let work = dir.join(name);
    std::fs::create_dir_all(&work).unwrap();
    let output = work.join("messages.log");
    let (global, module) = match tls {
        Some((ca, cert, key)) => (
            format!(
                "global(workDirectory=\"{w}\" DefaultNetstreamDriverCAFile=\"{ca}\" DefaultNetstreamDriverCertFile=\"{cert}\" DefaultNetstreamDriverKeyFile=\"{key}\")",
                w = work.display(),
                ca = ca.display(),
                cert = cert.display(),
                key = key.display()
            ),
            "module(load=\"imtcp\" StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"anon\")".to_string(),
        ),
        None => (format!("global(workDirectory=\"{}\")", work.display()), "module(load=\"imtcp\")".to_string()),
    };
    let config = format!(
        "{global}\n{module}\n\
         template(name=\"aoc\" type=\"string\" string=\"%app-name%|%procid%|%msgid%|%structured-data%|%msg%\\n\")\n\
         input(type=\"imtcp\" port=\"{port}\" address=\"127.0.0.1\" ruleset=\"aoc\")\n\
         ruleset(name=\"aoc\") {{ action(type=\"omfile\" file=\"{out}\" template=\"aoc\") }}\n",
        out = output.display()
    );
    let conf = work.join("rsyslog.conf");
    std::fs::write(&conf, config).unwrap();
    let child = Command::new(RSYSLOGD)
        .arg("-n")
        .arg("-f")
        .arg(&conf)
        .arg("-i")
        .arg(work.join("rsyslogd.pid"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("rsyslogd starts");
    let started = std::time::Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "rsyslogd did not listen on {port}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Rsyslog { child, port, output }
}

/// A test CA and a certificate for `localhost` / 127.0.0.1 issued by it, as PEM files.
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "AOC test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.subject_alt_names.push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    params.distinguished_name.push(rcgen::DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    // Another CA, which did not issue the server's certificate.
    let other_key = KeyPair::generate().unwrap();
    let mut other_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    other_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let other = other_params.self_signed(&other_key).unwrap();
    let paths = (dir.join("ca.pem"), dir.join("server.pem"), dir.join("server.key"), dir.join("other-ca.pem"));
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    std::fs::write(&paths.3, other.pem()).unwrap();
    (paths.0, paths.1, paths.2, paths.3)
}

fn row(n: usize) -> EventRow {
    EventRow {
        summary: format!("event {n} with \"quotes\" and ] brackets"),
        severity: 3,
        ..common::event_row("rec", n, Source::Unified, Utc::now())
    }
}

async fn add(app: &TestApp, body: Value) -> i64 {
    let response = app.client.post(app.url("/api/destinations")).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    let view: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{view}");
    view["id"].as_i64().unwrap()
}

/// The ids in rsyslog's file (from AOC's structured data), in order.
fn received_ids(rsyslog: &Rsyslog) -> Vec<i64> {
    let text = std::fs::read_to_string(&rsyslog.output).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let (_, rest) = line.split_once("[aoc@32473 id=\"")?;
            rest.split('"').next()?.parse().ok()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_reaches_rsyslog_over_tcp_and_tls_each_event_once() {
    if !Path::new(RSYSLOGD).exists() {
        eprintln!("SKIPPED: {RSYSLOGD} is not installed (apt-get install rsyslog rsyslog-gnutls; CI installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key, other_ca) = certificates(dir.path());
    let tcp = start_rsyslog(dir.path(), "tcp", None).await;
    let tls = start_rsyslog(dir.path(), "tls", Some((&ca, &cert, &key))).await;
    let app = spawn_app_with(Backend::Sqlite, ENV).await.expect("SQLite always runs");
    add(&app, json!({ "name": "rsyslog-tcp", "kind": "syslog", "endpoint": format!("tcp://127.0.0.1:{}", tcp.port), "batch_size": 40 })).await;
    add(
        &app,
        json!({ "name": "rsyslog-tls", "kind": "syslog", "endpoint": format!("tls://localhost:{}", tls.port), "format": "cef",
                "options": { "ca_file": ca.display().to_string(), "host": "aoc-test" }, "batch_size": 40 }),
    )
    .await;
    let untrusted = add(
        &app,
        json!({ "name": "rsyslog-untrusted", "kind": "syslog", "endpoint": format!("tls://localhost:{}", tls.port),
                "options": { "ca_file": other_ca.display().to_string() } }),
    )
    .await;
    let rows: Vec<EventRow> = (0..150).map(row).collect();
    let stored = store_batch(&app.db, rows, &[], &Subscribers::default()).await.unwrap();
    let ids: Vec<i64> = stored.inserted.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), 150);

    let settings = test_settings(&app.database.url, ENV);
    let tuning = Tuning {
        poll: Duration::from_millis(50),
        lease: Duration::from_secs(2),
        base_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(400),
        timeout: Duration::from_secs(5),
    };
    let worker = Arc::new(Exporter::new(app.db.clone(), &settings, tuning)).spawn();
    let started = std::time::Instant::now();
    loop {
        let (a, b) = (received_ids(&tcp), received_ids(&tls));
        if a.len() >= ids.len() && b.len() >= ids.len() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "tcp {} / tls {} of {} arrived",
            a.len(),
            b.len(),
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (label, rsyslog) in [("tcp", &tcp), ("tls", &tls)] {
        let got = received_ids(rsyslog);
        assert_eq!(got, ids, "{label}: each event once, in order");
    }
    // rsyslog parsed the RFC 5424 header and the escaped structured data.
    let tcp_text = std::fs::read_to_string(&tcp.output).unwrap();
    let first = tcp_text.lines().next().unwrap();
    assert!(first.starts_with("aoc|-|unified|[aoc@32473 id=\""), "{first}");
    assert!(first.contains("tenant=\"contoso.example\"]"), "{first}");
    let body: Value = serde_json::from_str(first.rsplit_once("]|").unwrap().1.trim()).expect("the JSON document");
    assert_eq!(body["raw"]["Id"], "rec-0");
    let tls_text = std::fs::read_to_string(&tls.output).unwrap();
    assert!(tls_text.lines().all(|l| l.contains("CEF:0|AOC|Admin Operations Center|")), "{tls_text}");

    // The destination that does not trust the server's CA delivered nothing and says why.
    let view: Value =
        app.client.get(app.url(&format!("/api/destinations/{untrusted}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(view["delivered_total"], 0, "{view}");
    assert_eq!(view["queue"]["pending"], 150, "{view}");
    let error = view["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("syslog over TLS failed") && error.to_lowercase().contains("certificate"), "{error}");
    worker.abort();
}
