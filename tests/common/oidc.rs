//! A real OpenID provider for sign-in tests: the npm `oidc-provider` package run by `node`
//! (tests/oidc/provider.mjs) on a free port, with a stand-in for Microsoft Graph's
//! getMemberObjects, plus a cookie-jar "browser" that signs in through its login form.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use super::{spawn_app_with, Backend, TestApp};

/// The client AOC is registered as at the test provider.
pub const CLIENT_ID: &str = "aoc";
pub const CLIENT_SECRET: &str = "aoc-test-secret";

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
}

fn oidc_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// The PEM file of a test signing key (`signing-1`, `signing-2`).
pub fn key_path(kid: &str) -> PathBuf {
    oidc_dir().join("keys").join(format!("{kid}.pem"))
}

/// A running test provider; stopped when dropped.
pub struct TestProvider {
    pub port: u16,
    child: Option<tokio::process::Child>,
}

impl TestProvider {
    /// Starts the provider signing with `signing-1`.
    pub async fn start() -> Self {
        Self::start_on(free_port(), &["signing-1"]).await
    }

    /// Starts the provider on `port`, publishing `kids` (the first signs).
    pub async fn start_on(port: u16, kids: &[&str]) -> Self {
        let dir = oidc_dir();
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "the test OpenID provider is not installed: run `npm ci` in tests/oidc (the test command does)"
        );
        let keys: Vec<String> = kids.iter().map(|k| key_path(k).display().to_string()).collect();
        let child = tokio::process::Command::new("node")
            .arg(dir.join("provider.mjs"))
            .env("PORT", port.to_string())
            .env("KEYS", keys.join(","))
            .env("CLIENT_ID", CLIENT_ID)
            .env("CLIENT_SECRET", CLIENT_SECRET)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs (Node.js 20 or later is required for the sign-in tests)");
        let provider = Self { port, child: Some(child) };
        let client = reqwest::Client::new();
        for _ in 0..150 {
            if let Ok(r) = client.get(format!("{}/.well-known/openid-configuration", provider.issuer())).send().await {
                if r.status().is_success() {
                    return provider;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the test OpenID provider did not start on port {port}");
    }

    /// The provider's issuer (also AOC's AUTH_AUTHORITY).
    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops the provider and starts it again on the same port with other keys (key rollover).
    pub async fn restart_with(&mut self, kids: &[&str]) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
        let port = self.port;
        *self = Self::start_on(port, kids).await;
    }

    /// How often the key set was fetched since the provider started.
    pub async fn jwks_fetches(&self) -> u64 {
        let body: serde_json::Value = reqwest::get(format!("{}/test/jwks-count", self.issuer()))
            .await
            .expect("provider answers")
            .json()
            .await
            .expect("JSON");
        body["count"].as_u64().unwrap_or_default()
    }

    /// An app-only access token for AOC's API from the provider (client credentials).
    pub async fn daemon_token(&self, client_id: &str) -> String {
        let response = reqwest::Client::new()
            .post(format!("{}/token", self.issuer()))
            .basic_auth(client_id, Some("daemon-secret"))
            .form(&[("grant_type", "client_credentials"), ("resource", "api://aoc"), ("scope", "AOC.Read")])
            .send()
            .await
            .expect("token request");
        let status = response.status();
        let body: serde_json::Value = response.json().await.expect("JSON");
        assert!(status.is_success(), "token request failed: {body}");
        body["access_token"].as_str().expect("access token").to_string()
    }
}

impl Drop for TestProvider {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}

/// Starts AOC with sign-in against `provider` on `backend`, plus `extra` settings.
pub async fn spawn_signin_app(backend: Backend, provider: &TestProvider, extra: &[(&str, &str)]) -> Option<TestApp> {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let public = format!("http://127.0.0.1:{port}");
    let graph = format!("{}/graph", provider.issuer());
    let issuer = provider.issuer();
    let mut vars: Vec<(&str, &str)> = vec![
        ("AUTH_ENABLED", "true"),
        ("AUTH_AUTHORITY", &issuer),
        ("AUTH_CLIENT_ID", CLIENT_ID),
        ("AUTH_CLIENT_SECRET", CLIENT_SECRET),
        ("AUTH_ALLOWED_GROUPS", "grp-soc"),
        ("AUTH_ANALYST_GROUPS", "grp-analysts"),
        ("AUTH_GRAPH_BASE_URL", &graph),
        ("AOC_PUBLIC_URL", &public),
        ("AOC_LISTEN_ADDR", &listen),
    ];
    vars.extend_from_slice(extra);
    spawn_app_with(backend, &vars).await
}

/// A browser with its own cookie jar that does not follow redirects by itself.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// What a sign-in through the provider ended with.
pub struct SignIn {
    /// AOC's last answer (the redirect after the callback, or the denied page).
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
    /// The session cookie AOC set when the sign-in started, and the one it set at the callback.
    pub cookie_before: Option<String>,
    pub cookie_after: Option<String>,
}

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("aoc_session="))
        .map(|v| v.split(';').next().unwrap_or_default().trim_start_matches("aoc_session=").to_string())
}

/// Signs `user` in to `app` through the provider's login form with `browser`.
pub async fn sign_in(app: &TestApp, browser: &reqwest::Client, user: &str) -> SignIn {
    let mut url = app.url("/auth/login?return_to=%2Fevents");
    let mut cookie_before = None;
    for _ in 0..20 {
        let response = browser.get(&url).send().await.expect("request");
        let status = response.status().as_u16();
        let aoc = url.starts_with(&app.url("/"));
        if aoc && url.contains("/auth/login") {
            cookie_before = session_cookie(&response);
        }
        if aoc && url.contains("/auth/callback") {
            let cookie_after = session_cookie(&response);
            let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
            let body = response.text().await.unwrap_or_default();
            return SignIn { status, location, body, cookie_before, cookie_after };
        }
        if (300..400).contains(&status) {
            let location = response.headers().get("location").and_then(|v| v.to_str().ok()).expect("location");
            url = reqwest::Url::parse(&url).expect("url").join(location).expect("location URL").to_string();
            continue;
        }
        // The provider's development login form: any password works.
        let body = response.text().await.unwrap_or_default();
        let action = body
            .split("action=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no login form at {url} ({status}): {body}"))
            .to_string();
        let target = reqwest::Url::parse(&url).expect("url").join(&action).expect("form URL").to_string();
        let response = browser
            .post(&target)
            .form(&[("prompt", "login"), ("login", user), ("password", "any")])
            .send()
            .await
            .expect("login form");
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("the login form answered {} without a redirect", response.status()));
        url = reqwest::Url::parse(&target).expect("url").join(location).expect("location URL").to_string();
    }
    panic!("sign-in did not finish");
}
