//! Tenants stored through the REST API, on SQLite and PostgreSQL: secrets are sealed at rest and
//! never shown, every bad field is named, changes reach the collector without a restart, stored
//! tenants are loaded at start-up, and a wrong or missing AOC_ENCRYPTION_KEY is a clear state
//! rather than a crash.

mod common;

use aoc::config::EncryptionKey;
use aoc::simulator::identity::{APP_CERT_PEM, APP_KEY_PEM};
use aoc::simulator::{self, RunningSimulator, SimConfig};
use aoc::startup::Application;
use aoc::tenants::crypto::{CryptoError, SecretCipher, SecretKind};
use chrono::Utc;
use common::{spawn_app_with, test_database, test_settings, Backend, TestApp, TestDatabase};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

/// AOC_ENCRYPTION_KEY of these tests (32 bytes, base64).
const KEY: &str = "q1Yb0Xc4Qm6J3o8T2uV9wZ1aB5cD7eF0gH2iJ4kL6mM=";
/// Another valid key, standing for "the wrong one".
const OTHER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

const TENANT: &str = "8f3c2a10-1b2c-4d5e-9f00-112233445566";
const CLIENT: &str = "0f3c2a10-1b2c-4d5e-9f00-112233445566";
const SECRET: &str = "abc~S3cretValue123ghi456JKL789mno012PQR3";

fn cipher(key: &str) -> SecretCipher {
    SecretCipher::new(&EncryptionKey::from_base64(key).unwrap())
}

fn secret_tenant() -> Value {
    json!({
        "tenant_id": TENANT,
        "display_name": "Contoso",
        "client_id": CLIENT,
        "client_secret": SECRET,
    })
}

/// Something that answers AOC's HTTP API.
trait Http {
    fn client(&self) -> &reqwest::Client;
    fn url(&self, path: &str) -> String;
}

impl Http for TestApp {
    fn client(&self) -> &reqwest::Client {
        &self.client
    }
    fn url(&self, path: &str) -> String {
        TestApp::url(self, path)
    }
}

async fn call(app: &impl Http, method: reqwest::Method, path: &str, body: Option<&Value>) -> (u16, Value, String) {
    let mut request = app.client().request(method, app.url(path));
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, json, text)
}

async fn post(app: &impl Http, body: &Value) -> (u16, Value, String) {
    call(app, reqwest::Method::POST, "/api/tenants", Some(body)).await
}

async fn patch(app: &impl Http, tenant: &str, body: &Value) -> (u16, Value, String) {
    call(app, reqwest::Method::PATCH, &format!("/api/tenants/{tenant}"), Some(body)).await
}

async fn get(app: &impl Http, path: &str) -> (u16, Value, String) {
    call(app, reqwest::Method::GET, path, None).await
}

/// One text column of one stored tenant, read straight from the table.
async fn column(db: &DatabaseConnection, tenant: &str, name: &str) -> Option<String> {
    let sql = format!("SELECT {name} FROM tenants WHERE tenant_id = '{tenant}'");
    let row = db.query_one(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get::<Option<String>>("", name).unwrap()
}

/// The audit trail as (actor, action, target_id, details).
async fn audit_trail(db: &DatabaseConnection) -> Vec<(String, String, String, String)> {
    let sql = "SELECT actor, action, target_id, details FROM audit_trail ORDER BY id";
    let rows = db.query_all(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    rows.iter()
        .map(|r| {
            (
                r.try_get("", "actor").unwrap(),
                r.try_get("", "action").unwrap(),
                r.try_get("", "target_id").unwrap(),
                r.try_get("", "details").unwrap(),
            )
        })
        .collect()
}

async fn a_secret_is_stored_sealed_and_never_shown(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("AOC_ENCRYPTION_KEY", KEY)]).await else { return };

    let (status, created, text) = post(&app, &secret_tenant()).await;
    assert_eq!(status, 201, "{text}");
    assert!(!text.contains(SECRET), "the create answer shows the secret: {text}");
    assert_eq!(created["tenant_id"], TENANT);
    assert_eq!(created["credential_kind"], "secret");
    assert_eq!(created["has_secret"], true);
    assert_eq!(created["has_private_key"], false);
    assert_eq!(created["cloud"], "worldwide");
    assert_eq!(created["sources"], json!(["unified", "directory", "signin", "intune"]));
    assert_eq!(created["status"], "active", "{created}");

    for path in ["/api/tenants".to_string(), format!("/api/tenants/{TENANT}")] {
        let (status, _, text) = get(&app, &path).await;
        assert_eq!(status, 200, "{path}: {text}");
        assert!(!text.contains(SECRET), "{path} shows the secret: {text}");
        assert!(!text.contains("v1:"), "{path} shows the ciphertext: {text}");
    }
    let (_, list, _) = get(&app, "/api/tenants").await;
    assert_eq!(list["tenants"].as_array().unwrap().len(), 1);
    assert_eq!(list["tenants"][0]["display_name"], "Contoso");

    // The column holds ciphertext; the key opens it, another key cannot.
    let stored = column(&app.db, TENANT, "secret_ciphertext").await.unwrap();
    assert!(stored.starts_with("v1:"), "{stored}");
    assert!(!stored.contains(SECRET));
    let opened = cipher(KEY).open(SecretKind::ClientSecret, TENANT, &stored).unwrap();
    assert_eq!(opened.expose_secret(), SECRET);
    let err = cipher(OTHER_KEY).open(SecretKind::ClientSecret, TENANT, &stored).unwrap_err();
    assert_eq!(err, CryptoError::Rejected);
    assert!(err.to_string().contains("AOC_ENCRYPTION_KEY"), "{err}");
    assert_eq!(column(&app.db, TENANT, "private_key_ciphertext").await, None);

    // Adding it twice is a conflict, not a second row.
    let (status, body, _) = post(&app, &secret_tenant()).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "conflict");

    let trail = audit_trail(&app.db).await;
    assert_eq!(trail.len(), 1, "{trail:?}");
    let (actor, action, target, details) = &trail[0];
    assert_eq!((actor.as_str(), action.as_str(), target.as_str()), ("Local administrator", "tenant.created", TENANT));
    assert!(details.contains("\"credential_kind\":\"secret\""), "{details}");
    assert!(!details.contains(SECRET) && !details.contains("v1:"), "the audit trail holds the secret: {details}");
}

async fn a_certificate_credential_shows_only_its_thumbprint(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("AOC_ENCRYPTION_KEY", KEY)]).await else { return };
    let body = json!({
        "tenant_id": TENANT,
        "display_name": "Fabrikam (GCC High)",
        "client_id": CLIENT,
        "cloud": "gcchigh",
        "sources": ["directory", "unified"],
        "certificate_pem": APP_CERT_PEM,
        "private_key_pem": APP_KEY_PEM,
    });
    let (status, created, text) = post(&app, &body).await;
    assert_eq!(status, 201, "{text}");
    assert!(!text.contains("PRIVATE KEY"), "the answer shows the private key: {text}");
    assert_eq!(created["credential_kind"], "certificate");
    assert_eq!((created["has_secret"].clone(), created["has_private_key"].clone()), (json!(false), json!(true)));
    assert_eq!(created["cloud"], "gcchigh");
    assert_eq!(created["sources"], json!(["unified", "directory"]));
    let thumbprint = created["certificate_thumbprint"].as_str().unwrap();
    assert_eq!(thumbprint.len(), 40, "{thumbprint}");
    assert!(thumbprint.chars().all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)), "{thumbprint}");

    let (_, _, text) = get(&app, &format!("/api/tenants/{TENANT}")).await;
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    let sealed = column(&app.db, TENANT, "private_key_ciphertext").await.unwrap();
    assert!(sealed.starts_with("v1:") && !sealed.contains("PRIVATE KEY"), "{sealed}");
    let opened = cipher(KEY).open(SecretKind::PrivateKey, TENANT, &sealed).unwrap();
    assert_eq!(opened.expose_secret(), APP_KEY_PEM.trim());
    assert_eq!(column(&app.db, TENANT, "secret_ciphertext").await, None);
    // The certificate is public and kept as it was sent.
    assert_eq!(column(&app.db, TENANT, "certificate_pem").await.as_deref(), Some(APP_CERT_PEM.trim()));
}

/// The Sources page's form takes a certificate and its key (pasted PEM) instead of a secret;
/// both, or a key without its certificate, are refused naming the field.
async fn the_page_form_adds_a_tenant_with_a_certificate(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("AOC_ENCRYPTION_KEY", KEY)]).await else { return };
    let base = [("tenant_id", TENANT), ("display_name", "Fabrikam"), ("client_id", CLIENT), ("cloud", "worldwide")];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut form: Vec<(&str, &str)> = base.to_vec();
        form.extend_from_slice(extra);
        form
    };
    for (extra, field) in [
        (
            vec![("client_secret", SECRET), ("certificate_pem", APP_CERT_PEM), ("private_key_pem", APP_KEY_PEM)],
            "client_secret",
        ),
        (vec![("client_secret", ""), ("private_key_pem", APP_KEY_PEM)], "certificate_pem"),
        (vec![("certificate_pem", "not a certificate"), ("private_key_pem", APP_KEY_PEM)], "certificate_pem"),
    ] {
        let (status, body) = app.server_fn("add_tenant", &with(&extra)).await;
        assert_eq!(status, 400, "{extra:?}: {body}");
        assert!(body["message"].as_str().unwrap().contains(&format!("`{field}`")), "{extra:?}: {body}");
    }
    let (status, body) = app
        .server_fn(
            "add_tenant",
            &with(&[("client_secret", ""), ("certificate_pem", APP_CERT_PEM), ("private_key_pem", APP_KEY_PEM)]),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, created, text) = get(&app, &format!("/api/tenants/{TENANT}")).await;
    assert_eq!(created["credential_kind"], "certificate", "{text}");
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    let sealed = column(&app.db, TENANT, "private_key_ciphertext").await.unwrap();
    assert_eq!(cipher(KEY).open(SecretKind::PrivateKey, TENANT, &sealed).unwrap().expose_secret(), APP_KEY_PEM.trim());
    let html = app.client.get(app.url("/sources")).send().await.unwrap().text().await.unwrap();
    let key_line = APP_KEY_PEM.lines().nth(1).unwrap();
    assert!(html.contains("id=\"tenant-certificate\"") && !html.contains(key_line), "the key is write-only");
}

async fn every_bad_field_is_refused_with_400_naming_it(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("AOC_ENCRYPTION_KEY", KEY)]).await else { return };
    let with = |field: &str, value: Value| {
        let mut body = secret_tenant();
        body[field] = value;
        body
    };
    let without = |field: &str| {
        let mut body = secret_tenant();
        body.as_object_mut().unwrap().remove(field);
        body
    };
    let certificate = |cert: &str, key: &str| {
        let mut body = without("client_secret");
        body["certificate_pem"] = json!(cert);
        body["private_key_pem"] = json!(key);
        body
    };
    let cases = [
        ("tenant_id", with("tenant_id", json!("contoso.onmicrosoft.com"))),
        ("tenant_id", without("tenant_id")),
        ("client_id", with("client_id", json!("my-app"))),
        ("client_id", with("client_id", json!(12345))),
        ("cloud", with("cloud", json!("mars"))),
        ("sources", with("sources", json!(["unified", "mailbox"]))),
        ("sources", with("sources", json!([]))),
        ("display_name", with("display_name", json!(""))),
        ("display_name", with("display_name", json!("x".repeat(101)))),
        ("display_name", without("display_name")),
        ("enabled", with("enabled", json!("yes"))),
        ("client_secret", without("client_secret")),
        ("client_secret", with("client_secret", json!("5c1f0a52-1b2c-4d5e-9f00-112233445566"))),
        ("client_secret", with("certificate_pem", json!(APP_CERT_PEM))),
        (
            "certificate_pem",
            certificate("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----", APP_KEY_PEM),
        ),
        ("certificate_pem", certificate(&format!("{APP_CERT_PEM}\n{APP_KEY_PEM}"), APP_KEY_PEM)),
        ("private_key_pem", certificate(APP_CERT_PEM, "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----")),
        ("clientSecret", with("clientSecret", json!(SECRET))),
    ];
    for (field, body) in cases {
        let (status, answer, text) = post(&app, &body).await;
        assert_eq!(status, 400, "{field}: {text}");
        assert_eq!(answer["error"]["code"], "invalid_input", "{text}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("`{field}`")), "{field}: {message}");
        assert!(!text.contains(SECRET) && !text.contains("PRIVATE KEY-----\nnope"), "an error echoes a secret: {text}");
    }
    let response = app
        .client
        .post(app.url("/api/tenants"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let answer: Value = response.json().await.unwrap();
    assert!(answer["error"]["message"].as_str().unwrap().contains("`body`"), "{answer}");

    let (status, _, _) = get(&app, "/api/tenants/not-a-guid").await;
    assert_eq!(status, 400);
    let (status, answer, _) = get(&app, &format!("/api/tenants/{TENANT}")).await;
    assert_eq!(status, 404);
    assert_eq!(answer["error"]["code"], "not_found");
    let (_, list, _) = get(&app, "/api/tenants").await;
    assert_eq!(list["tenants"], json!([]), "nothing was stored");
    assert!(audit_trail(&app.db).await.is_empty());
}

async fn without_an_encryption_key_no_credential_is_stored(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[]).await else { return };
    let (status, answer, text) = post(&app, &secret_tenant()).await;
    assert_eq!(status, 409, "{text}");
    assert_eq!(answer["error"]["code"], "conflict");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("AOC_ENCRYPTION_KEY") && message.contains("openssl rand -base64 32"), "{message}");
    let (_, list, _) = get(&app, "/api/tenants").await;
    assert_eq!(list["tenants"], json!([]));
}

async fn updating_a_tenant_rotates_its_secret_and_changes_its_settings(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("AOC_ENCRYPTION_KEY", KEY)]).await else { return };
    assert_eq!(post(&app, &secret_tenant()).await.0, 201);
    let before = column(&app.db, TENANT, "secret_ciphertext").await.unwrap();

    let rotated = "xyz~N3wSecretValue987zyx654WVU321tsr098QP";
    let (status, view, text) = patch(&app, TENANT, &json!({ "client_secret": rotated })).await;
    assert_eq!(status, 200, "{text}");
    assert!(!text.contains(rotated));
    assert_eq!(view["has_secret"], true);
    let after = column(&app.db, TENANT, "secret_ciphertext").await.unwrap();
    assert_ne!(before, after);
    assert_eq!(cipher(KEY).open(SecretKind::ClientSecret, TENANT, &after).unwrap().expose_secret(), rotated);

    let changes = json!({
        "display_name": "Contoso EU",
        "cloud": "gcc",
        "sources": ["signin"],
        "enabled": false,
    });
    let (status, view, text) = patch(&app, TENANT, &changes).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(view["display_name"], "Contoso EU");
    assert_eq!(view["cloud"], "gcc");
    assert_eq!(view["sources"], json!(["signin"]));
    assert_eq!(view["enabled"], false);
    assert_eq!(view["status"], "disabled");
    let (_, fetched, _) = get(&app, &format!("/api/tenants/{TENANT}")).await;
    assert_eq!(fetched["display_name"], "Contoso EU");

    // Switching to a certificate drops the secret.
    let certificate = json!({ "certificate_pem": APP_CERT_PEM, "private_key_pem": APP_KEY_PEM, "enabled": true });
    let (status, view, text) = patch(&app, TENANT, &certificate).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(view["credential_kind"], "certificate");
    assert_eq!((view["has_secret"].clone(), view["status"].clone()), (json!(false), json!("active")));
    assert_eq!(column(&app.db, TENANT, "secret_ciphertext").await, None);

    for (body, field) in [
        (json!({ "tenant_id": "0f3c2a10-1b2c-4d5e-9f00-112233445566" }), "tenant_id"),
        (json!({}), "body"),
        (json!({ "cloud": "moon" }), "cloud"),
        (json!({ "client_secret": "" }), "client_secret"),
    ] {
        let (status, answer, text) = patch(&app, TENANT, &body).await;
        assert_eq!(status, 400, "{body}: {text}");
        assert!(answer["error"]["message"].as_str().unwrap().contains(&format!("`{field}`")), "{text}");
    }
    let (status, _, _) = patch(&app, CLIENT, &json!({ "enabled": true })).await;
    assert_eq!(status, 404, "an unknown tenant");

    let trail = audit_trail(&app.db).await;
    let actions: Vec<&str> = trail.iter().map(|t| t.1.as_str()).collect();
    assert_eq!(actions, ["tenant.created", "tenant.updated", "tenant.updated", "tenant.updated"]);
    assert!(trail[1].3.contains("client_secret"), "the rotation is recorded: {}", trail[1].3);
    assert!(trail.iter().all(|t| !t.3.contains(rotated) && !t.3.contains(SECRET) && !t.3.contains("PRIVATE KEY")));
}

async fn deleting_a_tenant_keeps_its_events(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("AOC_ENCRYPTION_KEY", KEY)]).await else { return };
    assert_eq!(post(&app, &secret_tenant()).await.0, 201);
    common::insert_event(&app.db, "record-1", Utc::now(), "FileAccessed").await;
    let backend_kind = app.db.get_database_backend();
    let sql = format!("UPDATE events SET tenant_id = '{TENANT}' WHERE record_id = 'record-1'");
    app.db.execute(Statement::from_string(backend_kind, sql)).await.unwrap();

    let (status, _, text) = call(&app, reqwest::Method::DELETE, &format!("/api/tenants/{TENANT}"), None).await;
    assert_eq!(status, 204, "{text}");
    assert_eq!(get(&app, &format!("/api/tenants/{TENANT}")).await.0, 404);
    assert_eq!(call(&app, reqwest::Method::DELETE, &format!("/api/tenants/{TENANT}"), None).await.0, 404);
    let (_, list, _) = get(&app, "/api/tenants").await;
    assert_eq!(list["tenants"], json!([]));

    let sql = format!("SELECT COUNT(*) AS n FROM events WHERE tenant_id = '{TENANT}'");
    let row = app.db.query_one(Statement::from_string(backend_kind, sql)).await.unwrap().unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 1, "the tenant's events stay");
    let trail = audit_trail(&app.db).await;
    assert_eq!(trail.last().map(|t| t.1.as_str()), Some("tenant.deleted"));
}

/// A simulator with one tenant and a small history.
async fn sim() -> RunningSimulator {
    let config = SimConfig {
        seed: 11,
        tenants: 1,
        history_days: 2,
        events_per_day: 300,
        management_budget_per_minute: 60_000,
        ..SimConfig::default()
    };
    simulator::spawn(config, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

/// Settings that point every tenant (stored ones too) at the simulator.
fn sim_env<'a>(sim: &'a RunningSimulator, key: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![
        ("LOGIN_BASE_URL", sim.base_url.as_str()),
        ("GRAPH_BASE_URL", sim.base_url.as_str()),
        ("MANAGEMENT_BASE_URL", sim.base_url.as_str()),
        ("MANAGEMENT_REQUESTS_PER_MINUTE", "60000"),
    ];
    if let Some(key) = key {
        env.push(("AOC_ENCRYPTION_KEY", key));
    }
    env
}

/// The simulator's tenant, to add through the API (unified and directory only, to keep it quick).
fn sim_tenant(sim: &RunningSimulator) -> Value {
    let t = &sim.state.tenants[0];
    json!({
        "tenant_id": t.model.tenant_id,
        "display_name": t.model.display_name,
        "client_id": t.apps[0].client_id,
        "client_secret": t.apps[0].secret,
        "sources": ["unified", "directory"],
    })
}

/// Collects now; the per-source summaries of `tenant`.
async fn fetch(app: &impl Http, tenant: &str) -> Vec<Value> {
    let (status, body, text) = get(app, "/api/fetch-audit-logs?hours=48").await;
    assert_eq!(status, 200, "{text}");
    body["sources"].as_array().unwrap().iter().filter(|s| s["tenant_id"] == tenant).cloned().collect()
}

fn state_of(sources: &[Value], source: &str) -> Value {
    sources.iter().find(|s| s["source"] == source).cloned().unwrap_or(Value::Null)
}

async fn a_tenant_added_through_the_api_is_collected_without_a_restart(backend: Backend) {
    let sim = sim().await;
    let Some(app) = spawn_app_with(backend, &sim_env(&sim, Some(KEY))).await else { return };
    let tenant = sim.state.tenants[0].model.tenant_id.clone();
    let (status, _, _) = get(&app, "/api/fetch-audit-logs?hours=48").await;
    assert_eq!(status, 409, "no tenant yet");

    let (status, _, text) = post(&app, &sim_tenant(&sim)).await;
    assert_eq!(status, 201, "{text}");
    let sources = fetch(&app, &tenant).await;
    for source in ["unified", "directory"] {
        let s = state_of(&sources, source);
        assert_eq!(s["state"], "ok", "{s}");
        assert!(s["inserted"].as_u64().unwrap() > 0, "{s}");
    }
    assert_eq!(state_of(&sources, "signin")["state"], "disabled", "not among the tenant's sources");

    // A certificate works as well: the stored private key is opened and signs the assertion.
    let certificate = json!({ "certificate_pem": APP_CERT_PEM, "private_key_pem": APP_KEY_PEM });
    assert_eq!(patch(&app, &tenant, &certificate).await.0, 200);
    let sources = fetch(&app, &tenant).await;
    assert_eq!(state_of(&sources, "directory")["state"], "ok", "{sources:?}");

    // Disabled: no longer collected.
    assert_eq!(patch(&app, &tenant, &json!({ "enabled": false })).await.0, 200);
    let (status, _, _) = get(&app, "/api/fetch-audit-logs?hours=48").await;
    assert_eq!(status, 409, "the only tenant is disabled");
    let (_, health, _) = get(&app, "/api/source-health").await;
    assert_eq!(health["sources"], json!([]), "{health}");
}

async fn a_tenant_added_through_the_api_is_collected_periodically_until_removed(backend: Backend) {
    let sim = sim().await;
    let mut env = sim_env(&sim, Some(KEY));
    env.extend([("ENABLE_PERIODIC_FETCH", "true"), ("FETCH_INTERVAL_MINUTES", "1")]);
    let Some(app) = spawn_app_with(backend, &env).await else { return };
    let tenant = sim.state.tenants[0].model.tenant_id.clone();
    assert_eq!(post(&app, &sim_tenant(&sim)).await.0, 201);

    let mut states = Value::Null;
    for _ in 0..120 {
        let (_, health, _) = get(&app, "/api/source-health").await;
        states = health["sources"].clone();
        let ok = states.as_array().unwrap().iter().filter(|s| s["tenant_id"] == tenant.as_str() && s["state"] == "ok");
        if ok.count() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let by = |source: &str| states.as_array().unwrap().iter().find(|s| s["source"] == source).cloned().unwrap();
    assert_eq!(by("unified")["state"], "ok", "{states}");
    assert_eq!(by("directory")["state"], "ok", "{states}");
    assert!(by("directory")["records_last_hour"].as_u64().unwrap() > 0, "{states}");

    let (status, _, _) = call(&app, reqwest::Method::DELETE, &format!("/api/tenants/{tenant}"), None).await;
    assert_eq!(status, 204);
    let (_, health, _) = get(&app, "/api/source-health").await;
    assert_eq!(health["sources"], json!([]), "a removed tenant is no longer collected: {health}");
}

/// An AOC server over a database that outlives it, so a test can restart AOC.
struct Server {
    addr: std::net::SocketAddr,
    client: reqwest::Client,
    collector: std::sync::Arc<aoc::ingest::Collector>,
    shutdown: tokio::sync::oneshot::Sender<()>,
    running: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn stop(self) {
        let _ = self.shutdown.send(());
        self.running.await.unwrap().unwrap();
    }
}

async fn serve(database: &TestDatabase, extra: &[(&str, &str)]) -> Server {
    let app = Application::build(test_settings(&database.url, extra)).await.expect("application builds");
    let addr = app.local_addr();
    let collector = app.collector();
    let (shutdown, rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Server { addr, client, collector, shutdown, running }
}

impl Http for Server {
    fn client(&self) -> &reqwest::Client {
        &self.client
    }
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

async fn a_stored_tenant_is_loaded_at_start_up_and_a_wrong_key_is_a_clear_state(backend: Backend) {
    let sim = sim().await;
    let Some(database) = test_database(backend).await else { return };
    let tenant = sim.state.tenants[0].model.tenant_id.clone();
    let path = format!("/api/tenants/{tenant}");

    // Stored by one server ...
    let server = serve(&database, &sim_env(&sim, Some(KEY))).await;
    assert_eq!(post(&server, &sim_tenant(&sim)).await.0, 201);
    server.stop().await;

    // ... loaded and collected by the next.
    let server = serve(&database, &sim_env(&sim, Some(KEY))).await;
    assert_eq!(get(&server, &path).await.1["status"], "active");
    let sources = fetch(&server, &tenant).await;
    let unified = state_of(&sources, "unified");
    assert_eq!(unified["state"], "ok", "{unified}");
    assert!(unified["inserted"].as_u64().unwrap() > 0, "{unified}");
    server.stop().await;

    // Another key: the tenant is listed as unusable and its sources fail with the reason.
    let server = serve(&database, &sim_env(&sim, Some(OTHER_KEY))).await;
    let (_, view, _) = get(&server, &path).await;
    assert_eq!(view["status"], "unusable", "{view}");
    assert!(view["status_reason"].as_str().unwrap().contains("AOC_ENCRYPTION_KEY"), "{view}");
    let (_, health, _) = get(&server, "/api/source-health").await;
    let directory = health["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["tenant_id"] == tenant.as_str() && s["source"] == "directory")
        .cloned()
        .unwrap();
    assert_eq!(directory["state"], "failing", "{directory}");
    assert!(directory["reason"].as_str().unwrap().contains("AOC_ENCRYPTION_KEY"), "{directory}");
    let sources = fetch(&server, &tenant).await;
    for source in ["unified", "directory"] {
        let s = state_of(&sources, source);
        assert_eq!(s["state"], "failing", "{s}");
        assert!(s["error"].as_str().unwrap().contains("AOC_ENCRYPTION_KEY"), "{s}");
        assert_eq!(s["fetched"], 0, "nothing was asked of Microsoft");
    }
    // Entering the credential again under this key repairs it.
    let secret = json!({ "client_secret": sim.state.tenants[0].apps[0].secret });
    let (status, view, text) = patch(&server, &tenant, &secret).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(view["status"], "active", "{view}");
    assert_eq!(state_of(&fetch(&server, &tenant).await, "directory")["state"], "ok");
    server.stop().await;

    // No key at all: still listed and editable, but no credential can be read or stored.
    let server = serve(&database, &sim_env(&sim, None)).await;
    let (_, view, _) = get(&server, &path).await;
    assert_eq!(view["status"], "unusable", "{view}");
    assert!(view["status_reason"].as_str().unwrap().contains("AOC_ENCRYPTION_KEY is not set"), "{view}");
    assert_eq!(patch(&server, &tenant, &json!({ "display_name": "Renamed" })).await.0, 200);
    assert_eq!(patch(&server, &tenant, &secret).await.0, 409);
    server.stop().await;
}

async fn the_environment_tenant_takes_precedence_over_a_stored_one(backend: Backend) {
    let Some(database) = test_database(backend).await else { return };
    let server = serve(&database, &[("AOC_ENCRYPTION_KEY", KEY)]).await;
    assert_eq!(post(&server, &secret_tenant()).await.0, 201);
    server.stop().await;

    let env = [
        ("AOC_ENCRYPTION_KEY", KEY),
        ("TENANT_ID", TENANT),
        ("CLIENT_ID", CLIENT),
        ("CLIENT_SECRET", "env~secret-from-the-environment"),
    ];
    let server = serve(&database, &env).await;
    let (_, view, _) = get(&server, &format!("/api/tenants/{TENANT}")).await;
    assert_eq!(view["status"], "overridden", "{view}");
    assert!(view["status_reason"].as_str().unwrap().contains("TENANT_ID"), "{view}");
    let connector = server.collector.connector(TENANT).unwrap();
    let aoc::ingest::Credential::Secret(secret) = &connector.credential else { panic!("not a secret") };
    assert_eq!(secret.expose_secret(), "env~secret-from-the-environment", "the environment's credential is used");
    // Editing the stored copy does not displace the environment's tenant either.
    assert_eq!(patch(&server, TENANT, &json!({ "sources": ["unified"] })).await.0, 200);
    assert_eq!(server.collector.connector(TENANT).unwrap().sources.len(), 4);
    server.stop().await;

    let fresh = test_database(backend).await.unwrap();
    let server = serve(&fresh, &env).await;
    let (status, answer, text) = post(&server, &secret_tenant()).await;
    assert_eq!(status, 409, "{text}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("TENANT_ID"), "{text}");
    server.stop().await;
}

on_both_backends!(
    a_secret_is_stored_sealed_and_never_shown,
    a_certificate_credential_shows_only_its_thumbprint,
    the_page_form_adds_a_tenant_with_a_certificate,
    every_bad_field_is_refused_with_400_naming_it,
    without_an_encryption_key_no_credential_is_stored,
    updating_a_tenant_rotates_its_secret_and_changes_its_settings,
    deleting_a_tenant_keeps_its_events,
    a_tenant_added_through_the_api_is_collected_without_a_restart,
    a_tenant_added_through_the_api_is_collected_periodically_until_removed,
    a_stored_tenant_is_loaded_at_start_up_and_a_wrong_key_is_a_clear_state,
    the_environment_tenant_takes_precedence_over_a_stored_one,
);
