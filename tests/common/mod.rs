//! Test support: every test gets its own freshly migrated database (an SQLite file in a temporary
//! directory, or a new database on the PostgreSQL server named by TEST_POSTGRES_URL) and a real
//! AOC server on a random loopback port.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;

use aoc::config::{DatabaseUrl, Settings};
use aoc::startup::Application;
use aoc::store::entities::events;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, Database, DatabaseConnection, EntityTrait, Statement};

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database created for one test. When this is dropped, the SQLite directory is removed and
/// the PostgreSQL database dropped.
pub struct TestDatabase {
    pub url: DatabaseUrl,
    _dir: Option<tempfile::TempDir>,
    /// The admin URL and name of a PostgreSQL test database.
    postgres: Option<(String, String)>,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else { return };
        // Drop runs inside the test's runtime, which cannot be blocked on; a thread with its own
        // runtime does the work. FORCE ends the connections the test's pool still holds.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let admin = Database::connect(&admin_url).await.ok()?;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                let result = admin.execute(Statement::from_string(admin.get_database_backend(), sql)).await;
                admin.close().await.ok();
                result.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("could not drop a PostgreSQL test database");
        }
    }
}

/// Creates an empty database on `backend`, or `None` when PostgreSQL tests are explicitly skipped.
pub async fn test_database(backend: Backend) -> Option<TestDatabase> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temporary directory");
            let url = DatabaseUrl::new(format!("sqlite://{}?mode=rwc", dir.path().join("aoc.db").display()));
            Some(TestDatabase { url, _dir: Some(dir), postgres: None })
        }
        Backend::Postgres => {
            let Ok(admin_url) = std::env::var("TEST_POSTGRES_URL") else {
                if std::env::var("AOC_TEST_SKIP_POSTGRES").as_deref() == Ok("1") {
                    eprintln!("PostgreSQL test skipped: AOC_TEST_SKIP_POSTGRES=1");
                    return None;
                }
                panic!(
                    "TEST_POSTGRES_URL is not set: the test command starts a throwaway PostgreSQL server and sets it \
                     (set AOC_TEST_SKIP_POSTGRES=1 to skip PostgreSQL tests on purpose)"
                );
            };
            let name = format!("aoc_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&admin_url).await.expect("connect to TEST_POSTGRES_URL");
            admin
                .execute(Statement::from_string(admin.get_database_backend(), format!("CREATE DATABASE {name}")))
                .await
                .expect("create test database");
            admin.close().await.ok();
            let base = admin_url.rsplit_once('/').map(|(base, _)| base).expect("TEST_POSTGRES_URL has a database path");
            let url = DatabaseUrl::new(format!("{base}/{name}"));
            Some(TestDatabase { url, _dir: None, postgres: Some((admin_url, name)) })
        }
    }
}

/// A running AOC server and a client for it.
pub struct TestApp {
    pub addr: SocketAddr,
    /// Every declared REST, webhook and operations route.
    pub routes: Vec<aoc::api::routes::RouteSpec>,
    pub client: reqwest::Client,
    pub db: DatabaseConnection,
    pub database: TestDatabase,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

/// A normalized Exchange event `n` for write-path tests: record id `{prefix}-{n}`, `at` plus `n`
/// milliseconds.
pub fn event_row(
    prefix: &str,
    n: usize,
    source: aoc::normalize::Source,
    at: DateTime<Utc>,
) -> aoc::store::writer::EventRow {
    aoc::store::writer::EventRow {
        tenant_id: "contoso.example".into(),
        source,
        content_type: None,
        record_id: format!("{prefix}-{n}"),
        dedupe_key: format!("{}:{prefix}-{n}", source.as_str()),
        occurred_at: at + chrono::Duration::milliseconds(n as i64),
        service: "Exchange".into(),
        operation: "Set-Mailbox".into(),
        result: "success".into(),
        actor_display: None,
        actor_upn: Some("adele.vance@contoso.example".into()),
        actor_app_id: None,
        actor_ip: None,
        targets: "[]".into(),
        target_display: None,
        summary: format!("event {n}"),
        severity: 2,
        correlation_id: None,
        flattened: "{}".into(),
        raw: format!(r#"{{"Id":"{prefix}-{n}","n":{n}}}"#),
        normalize_error: None,
        fallback_time: false,
    }
}

impl TestApp {
    /// A JSON request to the API: (status, body or null).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Calls a server function the way a browser form would, returning status and JSON body.
    pub async fn server_fn(&self, name: &str, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
        let response = self.client.post(self.url(&format!("/api/{name}"))).form(form).send().await.expect("request");
        let status = response.status().as_u16();
        let body = response.json().await.expect("JSON body");
        (status, body)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Settings for a test server: loopback, random port, the given database.
pub fn test_settings(database: &DatabaseUrl, extra: &[(&str, &str)]) -> Settings {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("AOC_LISTEN_ADDR".to_string(), "127.0.0.1:0".to_string()),
        ("DATABASE_URL".to_string(), database.expose().to_string()),
    ]);
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Settings::from_lookup(&move |k| vars.get(k).cloned()).expect("test settings are valid")
}

/// Starts AOC on `backend`; `None` only when PostgreSQL tests are explicitly skipped.
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, &[]).await
}

/// Starts AOC on `backend` with extra environment settings.
pub async fn spawn_app_with(backend: Backend, extra: &[(&str, &str)]) -> Option<TestApp> {
    let database = test_database(backend).await?;
    let settings = test_settings(&database.url, extra);
    spawn_on(database, settings).await
}

/// Starts AOC on `backend` where every request is `caller` (`None`: anonymous).
pub async fn spawn_app_as(backend: Backend, caller: Option<aoc::auth::Caller>) -> Option<TestApp> {
    let database = test_database(backend).await?;
    let mut settings = test_settings(&database.url, &[]);
    settings.fixed_caller = Some(caller);
    spawn_on(database, settings).await
}

async fn spawn_on(database: TestDatabase, settings: Settings) -> Option<TestApp> {
    if let Ok(filter) = std::env::var("AOC_TEST_LOG") {
        // Opt-in, for finding a hang: every app's log lines, on stderr.
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    }
    let app = Application::build(settings).await.expect("application builds");
    let routes = app.routes().to_vec();
    let addr = app.local_addr();
    let db = app.db().clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    Some(TestApp { addr, routes, client, db, database, shutdown: Some(tx) })
}

/// A second server on `app`'s database where every request is `caller`.
pub async fn same_database_as(app: &TestApp, caller: aoc::auth::Caller) -> (String, tokio::sync::oneshot::Sender<()>) {
    let mut settings = test_settings(&app.database.url, &[]);
    settings.fixed_caller = Some(Some(caller));
    let server = aoc::startup::Application::build(settings).await.expect("second server builds");
    let base = format!("http://{}", server.local_addr());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run_until(async move {
        let _ = rx.await;
    }));
    (base, tx)
}

/// Rolls back every migration after the first `keep` (later migrations are undone first).
pub async fn migrate_down_to(db: &DatabaseConnection, keep: usize) {
    use migration::MigratorTrait;
    let applied = migration::Migrator::get_applied_migrations(db).await.expect("applied migrations").len();
    migration::Migrator::down(db, Some((applied - keep) as u32)).await.expect("migrations roll back");
}

/// Stores one minimal event and returns its row id. Like the write path, first makes sure a
/// PostgreSQL partition holds its day: a row sent to the default partition while another task
/// attaches the partition of its day fails PostgreSQL's partition check.
pub async fn insert_event(
    db: &DatabaseConnection,
    record_id: &str,
    occurred_at: DateTime<Utc>,
    operation: &str,
) -> i64 {
    aoc::store::partitions::ensure_days(db, [occurred_at]).await;
    let model = events::ActiveModel {
        tenant_id: Set("contoso.example".into()),
        source: Set("unified".into()),
        content_type: Set(Some("Audit.Exchange".into())),
        record_id: Set(record_id.into()),
        dedupe_key: Set(record_id.into()),
        occurred_at: Set(occurred_at),
        ingested_at: Set(Utc::now()),
        service: Set("Exchange".into()),
        operation: Set(operation.into()),
        result: Set("Succeeded".into()),
        actor_display: Set(Some("adele.vance@contoso.example".into())),
        actor_upn: Set(Some("adele.vance@contoso.example".into())),
        actor_app_id: Set(None),
        actor_ip: Set(Some("203.0.113.7".into())),
        targets: Set("[]".into()),
        target_display: Set(None),
        summary: Set(format!("adele.vance ran {operation}")),
        severity: Set(0),
        correlation_id: Set(None),
        flattened: Set("{}".into()),
        raw: Set(format!(r#"{{"Id":"{record_id}","Operation":"{operation}"}}"#)),
        normalize_error: Set(None),
        ..Default::default()
    };
    events::Entity::insert(model).exec(db).await.expect("insert event").last_insert_id
}

/// Runs a test's body, failing it when it has not finished in [`TEST_LIMIT`]: a hang then fails
/// its own test instead of stopping the whole run until CI's time is up.
pub async fn bounded<F: std::future::Future<Output = ()>>(body: F) -> F::Output {
    match tokio::time::timeout(TEST_LIMIT, body).await {
        Ok(()) => (),
        Err(_) => panic!("the test did not finish in {} s: something it waits for never came", TEST_LIMIT.as_secs()),
    }
}

/// How long one backend's run of a test may take (the slowest take under a minute).
pub const TEST_LIMIT: std::time::Duration = std::time::Duration::from_secs(300);

/// Generates one test per backend for each named `async fn(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { $crate::common::bounded(super::$test($crate::common::Backend::Sqlite)).await })+
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { $crate::common::bounded(super::$test($crate::common::Backend::Postgres)).await })+
        }
    };
}
pub mod oidc;
