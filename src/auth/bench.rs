//! `aoc bench auth`: what sign-in costs per request. (1) The same page-less request through the
//! full middleware stack, with an existing session cookie on a server with sign-in on, and on a
//! server with sign-in off; the difference is the session's overhead. (2) Bearer validation
//! (`jwt::validate`) with a warm key cache. An in-process provider serves discovery and the key
//! set (the simulator's test RSA key), so nothing outside the process is needed.

use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Json;
use base64::Engine;

use super::jwt::{self, Expect, Issuer, KeyCache};
use super::session::DbSessionStore;
use crate::config::{DatabaseUrl, Settings};
use crate::startup::Application;

const PUBLIC_KEY_PEM: &str = include_str!("../simulator/fixtures/sim-app-pubkey.pem");

/// Reads one DER TLV at the start of `der`: (tag, contents, rest).
fn tlv(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        let (bytes, r) = rest.split_at_checked(n)?;
        rest = r;
        bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    let (contents, rest) = rest.split_at_checked(len)?;
    Some((tag, contents, rest))
}

/// The RSA modulus and exponent of a SubjectPublicKeyInfo PEM, for a JWK.
fn rsa_components(pem: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).ok()?;
    let (_, spki, _) = tlv(&der)?;
    let (_, _, rest) = tlv(spki)?; // the algorithm identifier
    let (_, bits, _) = tlv(rest)?;
    let (_, key, _) = tlv(bits.get(1..)?)?;
    let (_, n, rest) = tlv(key)?;
    let (_, e, _) = tlv(rest)?;
    let strip = |v: &[u8]| v.iter().skip_while(|b| **b == 0).copied().collect::<Vec<u8>>();
    Some((strip(n), strip(e)))
}

pub(crate) fn percentiles(mut samples: Vec<Duration>) -> (f64, f64, f64) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)].as_secs_f64() * 1000.0;
    (at(0.5), at(0.95), at(0.99))
}

pub(crate) async fn time_requests(
    client: &reqwest::Client,
    url: &str,
    header: Option<(&str, &str)>,
    n: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + n / 10 {
        let mut request = client.get(url);
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        let t = Instant::now();
        let response = request.send().await?;
        let status = response.status();
        response.bytes().await?;
        let elapsed = t.elapsed();
        anyhow::ensure!(status.is_success(), "{url} answered {status}");
        if i >= n / 10 {
            samples.push(elapsed); // the first tenth warms up
        }
    }
    Ok(samples)
}

/// A stop signal and the running task of a whole AOC server started in-process with the
/// environment `vars` over `db` (for the benchmarks that time real HTTP requests).
pub(crate) async fn serve(
    vars: &[(&str, &str)],
    db: &sea_orm::DatabaseConnection,
) -> anyhow::Result<(tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let map: std::collections::HashMap<String, String> =
        vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let settings = Settings::from_lookup(&move |k| map.get(k).cloned())?;
    let app = Application::build_with_db(settings, db.clone()).await?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    Ok((tx, server))
}

/// Runs the benchmark with `requests` timed requests per case.
pub async fn run(database_url: Option<String>, requests: usize) -> anyhow::Result<()> {
    // The in-process provider.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let issuer = format!("http://{}", listener.local_addr()?);
    let (n, e) = rsa_components(PUBLIC_KEY_PEM).ok_or_else(|| anyhow::anyhow!("unreadable bench key"))?;
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let jwks = serde_json::json!({ "keys": [
        { "kty": "RSA", "use": "sig", "kid": "bench-1", "n": b64(&n), "e": b64(&e) },
        { "kty": "RSA", "use": "sig", "kid": "bench-2", "n": b64(&n), "e": b64(&e) },
    ]});
    let discovery = serde_json::json!({
        "issuer": issuer, "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"), "jwks_uri": format!("{issuer}/jwks"),
    });
    let router = axum::Router::new()
        .route("/.well-known/openid-configuration", get(move || async move { Json(discovery) }))
        .route("/jwks", get(move || async move { Json(jwks) }));
    let provider = tokio::spawn(async move { axum::serve(listener, router).await });

    // (2) Bearer validation with a warm cache.
    let http = reqwest::Client::new();
    let keys = KeyCache::new(format!("{issuer}/jwks"), http.clone());
    keys.warm().await?;
    let now = chrono::Utc::now().timestamp();
    let claims = serde_json::json!({
        "iss": issuer, "aud": "api://aoc-bench", "sub": "daemon", "azp": "daemon", "roles": ["AOC.Admin"],
        "iat": now, "nbf": now, "exp": now + 3600,
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("bench-1".into());
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(crate::simulator::identity::APP_KEY_PEM.as_bytes())?;
    let token = jsonwebtoken::encode(&header, &claims, &key)?;
    let issuer_check = Issuer { metadata_issuer: issuer.clone() };
    let audiences = ["aoc-bench".to_string(), "api://aoc-bench".to_string()];
    let runs = requests.max(100) * 10;
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        jwt::validate(&token, &keys, &issuer_check, &audiences, Expect::Bearer).await?;
        samples.push(t.elapsed());
    }
    let (p50, p95, p99) = percentiles(samples);
    println!("bearer validation, warm key cache ({runs} tokens): p50 {p50:.3} ms, p95 {p95:.3} ms, p99 {p99:.3} ms");

    // (1) A request through the whole stack with an existing session, against sign-in off.
    let dir = std::env::temp_dir().join(format!("aoc-bench-auth-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let url = database_url.unwrap_or_else(|| format!("sqlite://{}/bench.db?mode=rwc", dir.display()));
    let db = crate::store::connect(&DatabaseUrl::new(url.clone())).await?;
    crate::store::migrate(&db).await?;
    println!("sessions on {}", crate::store::backend_name(&db));
    let mut results = Vec::new();
    for signed_in in [false, true] {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let listen = format!("127.0.0.1:{port}");
        let public = format!("http://{listen}");
        let mut vars = vec![("AOC_LISTEN_ADDR", listen.as_str()), ("DATABASE_URL", url.as_str())];
        if signed_in {
            vars.extend([
                ("AUTH_ENABLED", "true"),
                ("AUTH_AUTHORITY", issuer.as_str()),
                ("AUTH_CLIENT_ID", "aoc-bench"),
                ("AUTH_CLIENT_SECRET", "bench"),
                ("AOC_PUBLIC_URL", public.as_str()),
            ]);
        }
        let (tx, server) = serve(&vars, &db).await?;
        let cookie = if signed_in {
            let store = DbSessionStore::open(&db).await?;
            let caller = app::auth::Caller {
                subject: "bench-user".into(),
                display_name: "Bench User".into(),
                role: app::auth::Role::Reader,
                method: app::auth::AuthMethod::Session,
            };
            Some(format!("aoc_session={}", super::oidc::create_session(&store, &caller, 60).await?))
        } else {
            None
        };
        let client = reqwest::Client::new();
        // Source health: a small JSON answer that needs a reader, so the caller is resolved.
        let url_health = format!("{public}/api/source-health");
        let samples = time_requests(&client, &url_health, cookie.as_deref().map(|c| ("cookie", c)), requests).await?;
        let (p50, p95, p99) = percentiles(samples);
        let label = if signed_in { "with a session (sign-in on)" } else { "sign-in off" };
        println!(
            "GET /api/source-health {label} ({requests} requests): p50 {p50:.3} ms, p95 {p95:.3} ms, p99 {p99:.3} ms"
        );
        results.push((p50, p95));
        if signed_in {
            // A personal API token: one indexed lookup of its hash per request.
            let minted = super::tokens::mint();
            let now = chrono::Utc::now();
            crate::store::tokens::insert(
                &db,
                crate::store::tokens::NewToken {
                    name: "bench",
                    token_hash: &minted.hash,
                    prefix: &minted.prefix,
                    owner_subject: "bench-user",
                    owner_name: "Bench User",
                    role: "reader",
                    created_at: now,
                    expires_at: now + chrono::Duration::days(1),
                },
            )
            .await?;
            let bearer = format!("Bearer {}", minted.token);
            let samples = time_requests(&client, &url_health, Some(("authorization", &bearer)), requests).await?;
            let (p50, p95, p99) = percentiles(samples);
            println!(
                "GET /api/source-health with a personal API token ({requests} requests): p50 {p50:.3} ms, p95 {p95:.3} ms, p99 {p99:.3} ms"
            );
        }
        let _ = tx.send(());
        let _ = server.await;
    }
    println!(
        "session overhead per request: p50 {:+.3} ms, p95 {:+.3} ms (target: at most 5 ms at p95)",
        results[1].0 - results[0].0,
        results[1].1 - results[0].1
    );
    provider.abort();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
