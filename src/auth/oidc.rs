//! Sign-in with OpenID Connect (Entra ID or any OpenID provider): the authorization code flow
//! with PKCE (S256), `state` and `nonce` through the `openidconnect` crate; the ID token checked
//! against the provider's cached key set (`jwt`); roles from `roles`, groups from `groups` or,
//! on group overage, from Microsoft Graph's `getMemberObjects` called with AOC's own app-only
//! token (failing closed with the reason); the session id rotated at sign-in; sign-out that ends
//! the server session and offers the provider's end-session address. Bearer tokens on the REST
//! API are checked against the same keys and mapped to roles the same way.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient};
use openidconnect::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, JsonWebKeySet, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use sea_orm::DatabaseConnection;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use app::auth::{AuthMethod, Caller, Role};

use super::jwt::{self, Claims, Expect, Issuer, KeyCache};
use super::pages;
use super::AuthGate;
use crate::config::{AuthSettings, Settings};
use crate::ingest::Credential;

/// Session keys.
const PENDING: &str = "aoc.pending_sign_in";
const USER: &str = "aoc.user";
/// How stale the session's last-seen time may get before a request refreshes it (and with it
/// the store's idle expiry): one write a minute per session instead of one per request.
const TOUCH_AFTER_SECONDS: i64 = 60;

/// An unfinished sign-in, bound to this browser's session.
#[derive(Serialize, Deserialize)]
struct PendingSignIn {
    state: String,
    nonce: String,
    verifier: String,
    return_to: String,
}

/// The signed-in person, as the session holds them.
#[derive(Clone, Serialize, Deserialize)]
struct SignedIn {
    subject: String,
    tenant: Option<String>,
    display_name: String,
    role: Role,
    authenticated_at: i64,
    seen_at: i64,
}

/// What discovery told AOC about the provider.
pub struct Provider {
    issuer: Issuer,
    authorization_endpoint: String,
    token_endpoint: String,
    end_session_endpoint: Option<String>,
    /// The provider's signing keys.
    pub keys: KeyCache,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    end_session_endpoint: Option<String>,
}

/// Why a person who authenticated is not let in; shown on the denied page and audited.
#[derive(Debug, Clone)]
pub struct Denial {
    pub reason: String,
}

/// An `openidconnect` client with its authorization and token endpoints set.
type AuthCodeClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
>;

/// Sign-in and token checks for one configured provider.
pub struct Oidc {
    auth: AuthSettings,
    client_id: String,
    redirect_uri: String,
    public_origin: String,
    secret: Option<SecretString>,
    certificate: Option<Credential>,
    http: reqwest::Client,
    provider: tokio::sync::OnceCell<Arc<Provider>>,
    /// Sessions administrators ended, by subject, as last read (and when).
    revoked: std::sync::Mutex<Option<(std::time::Instant, Revocations)>>,
}

/// When each person's sessions were last ended, by subject.
type Revocations = Arc<HashMap<String, DateTime<Utc>>>;

/// How long the list of ended sessions is trusted before it is read again: an administrator's
/// "end sessions" takes effect on every replica within this time.
const REVOCATIONS_TTL: std::time::Duration = std::time::Duration::from_secs(5);

fn is_guid(text: &str) -> bool {
    text.len() == 36
        && text
            .chars()
            .enumerate()
            .all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
}

/// Whether the discovered issuer belongs to the configured authority: equal, Entra's
/// `{tenantid}` template for `organizations`/`common`, or the tenant GUID behind a domain name.
fn issuer_matches(authority: &str, issuer: &str) -> bool {
    let (authority, issuer) = (authority.trim_end_matches('/'), issuer.trim_end_matches('/'));
    if authority == issuer {
        return true;
    }
    let split = |url: &str| -> Option<(String, String)> {
        let rest = url.strip_suffix("/v2.0")?;
        let (base, tenant) = rest.rsplit_once('/')?;
        Some((base.to_string(), tenant.to_string()))
    };
    match (split(authority), split(issuer)) {
        (Some((_, tenant)), Some((_, template)))
            if ["organizations", "common"].contains(&tenant.as_str()) && template == "{tenantid}" =>
        {
            true
        }
        (Some((_, tenant)), Some((_, guid))) => !is_guid(&tenant) && is_guid(&guid) && tenant.contains('.'),
        _ => false,
    }
}

/// The role a person gets from their roles and groups, or why they do not get in.
pub fn decide_role(auth: &AuthSettings, roles: &[String], groups: &[String]) -> Result<Role, Denial> {
    let holds =
        |names: &[String], held: &[String]| names.iter().any(|n| held.iter().any(|h| h.eq_ignore_ascii_case(n)));
    if holds(&auth.admin_roles, roles) || holds(&auth.admin_groups, groups) {
        return Ok(Role::Admin);
    }
    if holds(&auth.analyst_roles, roles) || holds(&auth.analyst_groups, groups) {
        return Ok(Role::Analyst);
    }
    let open = auth.allowed_roles.is_empty() && auth.allowed_groups.is_empty();
    if open || holds(&auth.allowed_roles, roles) || holds(&auth.allowed_groups, groups) {
        return Ok(Role::Reader);
    }
    let mut needs = Vec::new();
    let roles_needed: Vec<&String> =
        auth.allowed_roles.iter().chain(&auth.analyst_roles).chain(&auth.admin_roles).collect();
    let groups_needed: Vec<&String> =
        auth.allowed_groups.iter().chain(&auth.analyst_groups).chain(&auth.admin_groups).collect();
    if !roles_needed.is_empty() {
        needs.push(format!(
            "one of the app roles {}",
            roles_needed.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    if !groups_needed.is_empty() {
        needs.push(format!(
            "membership of one of the groups {}",
            groups_needed.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    Err(Denial { reason: format!("An administrator must grant you {}.", needs.join(", or ")) })
}

impl Oidc {
    /// Sign-in for these settings (which `config` has checked are complete).
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        let auth = settings.auth.clone();
        let client_id = auth.client_id.clone().ok_or_else(|| anyhow::anyhow!("AUTH_CLIENT_ID is not set"))?;
        let public = settings.public_url.as_ref().ok_or_else(|| anyhow::anyhow!("AOC_PUBLIC_URL is not set"))?;
        let public_origin = public.origin();
        let certificate = match &auth.certificate {
            Some(paths) if auth.client_secret.is_none() => Some(
                Credential::from_pem_files(&paths.certificate, &paths.private_key)
                    .map_err(|e| anyhow::anyhow!("AUTH_CLIENT_CERTIFICATE_PATH / AUTH_PRIVATE_KEY_PATH: {e}"))?,
            ),
            _ => None,
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(15))
            .build()?;
        Ok(Self {
            secret: auth.client_secret.clone(),
            redirect_uri: format!("{public_origin}/auth/callback"),
            public_origin,
            client_id,
            certificate,
            auth,
            http,
            provider: tokio::sync::OnceCell::new(),
            revoked: std::sync::Mutex::new(None),
        })
    }

    /// The provider's metadata and keys, discovered on first use (and retried after a failure).
    pub async fn provider(&self) -> Result<Arc<Provider>, String> {
        self.provider
            .get_or_try_init(|| async {
                let authority = self.auth.authority.clone().unwrap_or_default();
                let url = format!("{authority}/.well-known/openid-configuration");
                let response = self
                    .http
                    .get(&url)
                    .send()
                    .await
                    .map_err(|e| format!("discovery at {url} failed: {}", crate::ingest::token::without_url(&e)))?;
                if !response.status().is_success() {
                    return Err(format!("discovery at {url} answered HTTP {}", response.status()));
                }
                let d: Discovery =
                    response.json().await.map_err(|_| format!("discovery at {url} answered an unreadable document"))?;
                if !issuer_matches(&authority, &d.issuer) {
                    return Err(format!(
                        "the provider at {authority} calls itself {:?}; set AUTH_AUTHORITY to its issuer",
                        d.issuer
                    ));
                }
                let keys = KeyCache::new(d.jwks_uri, self.http.clone());
                if let Err(e) = keys.warm().await {
                    tracing::warn!(error = %e, "could not fetch the sign-in provider's keys yet");
                }
                tracing::info!(issuer = %d.issuer, "discovered the sign-in provider");
                Ok(Arc::new(Provider {
                    issuer: Issuer { metadata_issuer: d.issuer },
                    authorization_endpoint: d.authorization_endpoint,
                    token_endpoint: d.token_endpoint,
                    end_session_endpoint: d.end_session_endpoint,
                    keys,
                }))
            })
            .await
            .cloned()
    }

    /// A signed client assertion for `audience` when AOC authenticates with a certificate.
    fn client_assertion(&self, audience: &str) -> Result<Option<String>, String> {
        let Some(Credential::Certificate { x5t_s256, key, .. }) = &self.certificate else { return Ok(None) };
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
        header.typ = Some("JWT".into());
        header.x5t_s256 = Some(x5t_s256.clone());
        let now = Utc::now().timestamp();
        let claims = serde_json::json!({
            "aud": audience, "iss": self.client_id, "sub": self.client_id,
            "jti": uuid::Uuid::new_v4().to_string(), "nbf": now, "iat": now, "exp": now + 600,
        });
        jsonwebtoken::encode(&header, &claims, key).map(Some).map_err(|e| format!("could not sign the assertion: {e}"))
    }

    /// The person's transitive group ids from Microsoft Graph (group overage), asked with AOC's
    /// own app-only token. Every failure is a refusal that says what to fix.
    async fn member_objects(&self, provider: &Provider, oid: &str) -> Result<Vec<String>, String> {
        let graph = &self.auth.graph_base_url;
        let mut form = vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", self.client_id.clone()),
            ("scope", format!("{graph}/.default")),
        ];
        if let Some(secret) = &self.secret {
            form.push(("client_secret", secret.expose_secret().to_string()));
        }
        if let Some(assertion) = self.client_assertion(&provider.token_endpoint)? {
            form.push(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into()));
            form.push(("client_assertion", assertion));
        }
        let response = self.http.post(&provider.token_endpoint).form(&form).send().await.map_err(|e| {
            format!("the token endpoint could not be reached: {}", crate::ingest::token::without_url(&e))
        })?;
        if !response.status().is_success() {
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            return Err(format!(
                "AOC could not get a Microsoft Graph token with its own credentials (HTTP {status}, {}); check \
                 AUTH_CLIENT_SECRET or the certificate",
                body["error"].as_str().unwrap_or("no error code")
            ));
        }
        #[derive(Deserialize)]
        struct Token {
            access_token: String,
        }
        let token: Token = response.json().await.map_err(|_| "the token endpoint answered an unreadable body")?;
        let mut url = format!("{graph}/v1.0/users/{}/getMemberObjects", urlencode(oid));
        let mut ids = Vec::new();
        for _ in 0..50 {
            let response = self
                .http
                .post(&url)
                .bearer_auth(&token.access_token)
                .json(&serde_json::json!({ "securityEnabledOnly": false }))
                .send()
                .await
                .map_err(|e| {
                    format!("Microsoft Graph could not be reached: {}", crate::ingest::token::without_url(&e))
                })?;
            let status = response.status();
            if status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED {
                return Err(format!(
                    "Microsoft Graph refused to list your groups (HTTP {}): AOC's app registration needs the Microsoft \
                     Graph application permission GroupMember.Read.All with admin consent",
                    status.as_u16()
                ));
            }
            if !status.is_success() {
                return Err(format!(
                    "Microsoft Graph answered HTTP {} when AOC asked for your groups",
                    status.as_u16()
                ));
            }
            #[derive(Deserialize)]
            struct Page {
                #[serde(default)]
                value: Vec<String>,
                #[serde(default, rename = "@odata.nextLink")]
                next: Option<String>,
            }
            let page: Page = response.json().await.map_err(|_| "Microsoft Graph answered an unreadable body")?;
            ids.extend(page.value);
            match page.next {
                // Only follow links on the configured Graph host: the token must go nowhere else.
                Some(next) if next.starts_with(graph.as_str()) => url = next,
                _ => return Ok(ids),
            }
        }
        Err("Microsoft Graph kept paging the group list".into())
    }

    /// Whether groups decide anything (so overage needs resolving).
    fn groups_matter(&self) -> bool {
        !(self.auth.allowed_groups.is_empty()
            && self.auth.admin_groups.is_empty()
            && self.auth.analyst_groups.is_empty())
    }

    /// The caller behind a bearer token, or why not.
    pub async fn bearer_caller(&self, token: &str) -> Result<Caller, String> {
        let provider = self.provider().await?;
        let audiences = [self.client_id.clone(), format!("api://{}", self.client_id)];
        let claims = jwt::validate(token, &provider.keys, &provider.issuer, &audiences, Expect::Bearer)
            .await
            .map_err(|e| e.to_string())?;
        if claims.has_group_overage() && self.groups_matter() {
            tracing::info!("a bearer token carries group overage; only its roles and listed groups are used");
        }
        let role = decide_role(&self.auth, &claims.roles, &claims.groups).map_err(|d| d.reason)?;
        Ok(Caller {
            subject: claims.subject(),
            display_name: claims.display_name(),
            role,
            method: AuthMethod::BearerToken,
        })
    }

    /// The caller of a signed-in session, refreshing its last-seen time now and then; expired
    /// sessions (idle or past their absolute lifetime) are ended.
    pub async fn session_caller(&self, session: &Session, db: &DatabaseConnection) -> Option<Caller> {
        let user: SignedIn = session.get(USER).await.ok().flatten()?;
        let now = Utc::now().timestamp();
        let idle = i64::from(self.auth.session_idle_minutes) * 60;
        let max = i64::from(self.auth.session_max_hours) * 3600;
        if now - user.authenticated_at > max || now - user.seen_at > idle {
            tracing::info!(user.subject = %user.subject, "a session reached its time limit and was ended");
            let _ = session.flush().await;
            return None;
        }
        if self.revocations(db).await.get(&user.subject).is_some_and(|at| user.authenticated_at <= at.timestamp()) {
            tracing::info!(user.subject = %user.subject, "a session an administrator ended was refused");
            let _ = session.flush().await;
            return None;
        }
        if now - user.seen_at > TOUCH_AFTER_SECONDS {
            let _ = session.insert(USER, SignedIn { seen_at: now, ..user.clone() }).await;
        }
        Some(Caller {
            subject: user.subject,
            display_name: user.display_name,
            role: user.role,
            method: AuthMethod::Session,
        })
    }

    /// The sessions administrators ended (read again after [`REVOCATIONS_TTL`]; on a database
    /// failure the last list read is used).
    async fn revocations(&self, db: &DatabaseConnection) -> Revocations {
        let cached = self.revoked.lock().ok().and_then(|c| c.clone());
        if let Some((read_at, list)) = &cached {
            if read_at.elapsed() < REVOCATIONS_TTL {
                return list.clone();
            }
        }
        match crate::store::sessions::revocations(db).await {
            Ok(list) => {
                let list = Arc::new(list);
                if let Ok(mut c) = self.revoked.lock() {
                    *c = Some((std::time::Instant::now(), list.clone()));
                }
                list
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read the ended sessions");
                cached.map(|(_, list)| list).unwrap_or_default()
            }
        }
    }

    /// How long a session may live at most.
    pub fn session_max_hours(&self) -> u32 {
        self.auth.session_max_hours
    }

    /// Forgets the cached list of ended sessions (after this process ended some).
    pub fn forget_revocations(&self) {
        if let Ok(mut c) = self.revoked.lock() {
            *c = None;
        }
    }

    /// The discovered provider and an authorization-code client for it.
    async fn provider_and_client(&self) -> Result<(Arc<Provider>, AuthCodeClient), String> {
        let provider = self.provider().await?;
        let client = self.client(&provider)?;
        Ok((provider, client))
    }

    fn client(&self, provider: &Provider) -> Result<AuthCodeClient, String> {
        let bad = |what: &str| format!("the provider's {what} is not a valid URL");
        let issuer = IssuerUrl::new(provider.issuer.metadata_issuer.clone()).map_err(|_| bad("issuer"))?;
        let client = CoreClient::new(ClientId::new(self.client_id.clone()), issuer, JsonWebKeySet::default())
            .set_auth_uri(
                AuthUrl::new(provider.authorization_endpoint.clone()).map_err(|_| bad("authorization endpoint"))?,
            )
            .set_token_uri(TokenUrl::new(provider.token_endpoint.clone()).map_err(|_| bad("token endpoint"))?)
            .set_redirect_uri(RedirectUrl::new(self.redirect_uri.clone()).map_err(|_| bad("redirect URI"))?);
        Ok(match &self.secret {
            Some(secret) => client.set_client_secret(ClientSecret::new(secret.expose_secret().to_string())),
            None => client.set_auth_type(AuthType::RequestBody),
        })
    }
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A path inside AOC to return to after sign-in (never another site).
fn safe_return_to(value: Option<&str>) -> String {
    match value {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.starts_with("/\\") && !p.starts_with("/auth/") => {
            p.to_string()
        }
        _ => "/".to_string(),
    }
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn gate_parts(gate: &AuthGate, parts: &Parts) -> Option<(Arc<Oidc>, Session)> {
    match gate {
        AuthGate::Oidc(oidc, _) => Some((oidc.clone(), parts.extensions.get::<Session>()?.clone())),
        _ => None,
    }
}

fn not_enabled() -> Response {
    pages::page(
        StatusCode::NOT_FOUND,
        "Sign-in is not enabled",
        "<p>This AOC runs without sign-in (AUTH_ENABLED is not set).</p>",
    )
}

fn unavailable(reason: &str) -> Response {
    tracing::error!(reason, "sign-in is unavailable");
    pages::page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Sign-in is unavailable",
        "<p>AOC cannot reach its sign-in provider right now. Try again in a minute; if it persists, the administrator \
         will find the reason in AOC's log.</p>",
    )
}

async fn audit(
    db: &DatabaseConnection,
    caller: &Caller,
    action: &str,
    details: serde_json::Value,
    headers: &HeaderMap,
) {
    let request_id = request_id(headers);
    if let Err(e) = crate::services::annotations::audit(
        db,
        caller,
        action,
        "session",
        Some(caller.subject.clone()),
        details,
        request_id.as_deref(),
    )
    .await
    {
        tracing::error!(error = %e, action, "could not write the audit-trail entry");
    }
}

/// Query of `GET /auth/login`.
#[derive(Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
}

/// `GET /auth/login`: starts the authorization code flow.
pub async fn login(State(gate): State<AuthGate>, Query(query): Query<LoginQuery>, parts: Parts) -> Response {
    let Some((oidc, session)) = gate_parts(&gate, &parts) else { return not_enabled() };
    let (_, client) = match oidc.provider_and_client().await {
        Ok(pair) => pair,
        Err(e) => return unavailable(&e),
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let pending = PendingSignIn {
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        verifier: verifier.secret().clone(),
        return_to: safe_return_to(query.return_to.as_deref()),
    };
    if let Err(e) = session.insert(PENDING, pending).await {
        return unavailable(&format!("the session store failed: {e}"));
    }
    Redirect::to(url.as_str()).into_response()
}

/// Query of `GET /auth/callback`.
#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /auth/callback`: finishes the flow, decides the role, and starts the session.
pub async fn callback(
    State(gate): State<AuthGate>,
    State(db): State<DatabaseConnection>,
    Query(query): Query<CallbackQuery>,
    parts: Parts,
) -> Response {
    let Some((oidc, session)) = gate_parts(&gate, &parts) else { return not_enabled() };
    let again = "<p><a href=\"/auth/login\">Sign in again</a></p>";
    let pending: Option<PendingSignIn> = session.remove(PENDING).await.ok().flatten();
    if let Some(error) = &query.error {
        let description = query.error_description.clone().unwrap_or_default();
        // The provider's own words (an AADSTS code, for Entra) for the log and the page.
        tracing::warn!(error, description = %description.lines().next().unwrap_or(""), "the provider refused the sign-in");
        return pages::page(
            StatusCode::UNAUTHORIZED,
            "Sign-in failed",
            &format!(
                "<p>The sign-in provider refused the sign-in: <code>{}</code></p><p>{}</p>{again}",
                pages::escape(error),
                pages::escape(description.lines().next().unwrap_or(""))
            ),
        );
    }
    let (Some(pending), Some(code), Some(state)) = (pending, &query.code, &query.state) else {
        tracing::warn!("a sign-in callback arrived without a sign-in in progress in this browser");
        return pages::page(
            StatusCode::BAD_REQUEST,
            "Sign-in expired",
            &format!("<p>This sign-in was already finished or was started in another browser.</p>{again}"),
        );
    };
    if state != &pending.state {
        tracing::warn!("a sign-in callback's state does not match this browser's sign-in");
        return pages::page(
            StatusCode::BAD_REQUEST,
            "Sign-in expired",
            &format!("<p>This sign-in does not belong to this browser.</p>{again}"),
        );
    }
    let (provider, client) = match oidc.provider_and_client().await {
        Ok(pair) => pair,
        Err(e) => return unavailable(&e),
    };
    let mut request = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier));
    match oidc.client_assertion(&provider.token_endpoint) {
        Ok(Some(assertion)) => {
            request = request
                .add_extra_param("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                .add_extra_param("client_assertion", assertion);
        }
        Ok(None) => {}
        Err(e) => return unavailable(&e),
    }
    let response = match request.request_async(&oidc.http).await {
        Ok(r) => r,
        Err(e) => {
            let reason = match &e {
                openidconnect::RequestTokenError::ServerResponse(r) => format!(
                    "{}: {}",
                    r.error(),
                    r.error_description().map(|d| d.lines().next().unwrap_or("")).unwrap_or("")
                ),
                other => format!("{}", other),
            };
            tracing::warn!(reason, "the provider did not exchange the sign-in code");
            return pages::page(
                StatusCode::UNAUTHORIZED,
                "Sign-in failed",
                &format!("<p>The sign-in provider did not accept the sign-in: {}</p>{again}", pages::escape(&reason)),
            );
        }
    };
    let _ = response.access_token();
    let Some(id_token) = response.id_token() else {
        return unavailable("the provider answered without an ID token");
    };
    let audiences = [oidc.client_id.clone()];
    let claims = match jwt::validate(
        &id_token.to_string(),
        &provider.keys,
        &provider.issuer,
        &audiences,
        Expect::IdToken { nonce: &pending.nonce },
    )
    .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(reason = %e, "refused an ID token");
            return pages::page(
                StatusCode::UNAUTHORIZED,
                "Sign-in failed",
                &format!("<p>AOC could not verify the sign-in.</p>{again}"),
            );
        }
    };
    finish(&oidc, &provider, &db, &session, claims, &pending.return_to, &parts.headers).await
}

async fn finish(
    oidc: &Oidc,
    provider: &Provider,
    db: &DatabaseConnection,
    session: &Session,
    claims: Claims,
    return_to: &str,
    headers: &HeaderMap,
) -> Response {
    let subject = claims.subject();
    let name = claims.display_name();
    let who = Caller {
        subject: subject.clone(),
        display_name: name.clone(),
        role: Role::Reader,
        method: AuthMethod::Session,
    };
    let mut groups = claims.groups.clone();
    let mut group_source = "token";
    let verdict = if claims.has_group_overage() && oidc.groups_matter() {
        group_source = "graph";
        match oidc.member_objects(provider, &subject).await {
            Ok(ids) => {
                groups = ids;
                decide_role(&oidc.auth, &claims.roles, &groups)
            }
            Err(reason) => {
                tracing::warn!(user.oid = %subject, reason, "could not resolve a user's group overage");
                decide_role(&oidc.auth, &claims.roles, &[]).map_err(|_| Denial {
                    reason: format!(
                        "You are in more groups than fit in a token, and AOC could not look them up: {reason}."
                    ),
                })
            }
        }
    } else {
        decide_role(&oidc.auth, &claims.roles, &groups)
    };
    match verdict {
        Err(denial) => {
            tracing::info!(user.oid = %subject, reason = %denial.reason, "refused a sign-in");
            audit(
                db,
                &who,
                "sign_in_denied",
                serde_json::json!({ "tenant": claims.tid, "username": claims.preferred_username, "reason": denial.reason }),
                headers,
            )
            .await;
            pages::denied(&name, claims.preferred_username.as_deref(), &subject, &denial.reason)
        }
        Ok(role) => {
            if let Err(e) = session.cycle_id().await {
                return unavailable(&format!("the session store failed: {e}"));
            }
            let now = Utc::now().timestamp();
            let user = SignedIn {
                subject: subject.clone(),
                tenant: claims.tid.clone(),
                display_name: name.clone(),
                role,
                authenticated_at: now,
                seen_at: now,
            };
            if let Err(e) = session.insert(USER, user).await {
                return unavailable(&format!("the session store failed: {e}"));
            }
            let caller = Caller { role, ..who };
            tracing::info!(user.oid = %subject, role = role.as_str(), group_source, "signed in");
            audit(
                db,
                &caller,
                "sign_in",
                serde_json::json!({ "tenant": claims.tid, "username": claims.preferred_username, "role": role.as_str(), "groups_from": group_source }),
                headers,
            )
            .await;
            Redirect::to(return_to).into_response()
        }
    }
}

/// `POST /auth/logout`: ends the server session and offers the provider's sign-out.
pub async fn logout(State(gate): State<AuthGate>, State(db): State<DatabaseConnection>, parts: Parts) -> Response {
    let Some((oidc, session)) = gate_parts(&gate, &parts) else { return not_enabled() };
    let user: Option<SignedIn> = session.get(USER).await.ok().flatten();
    if let Err(e) = session.flush().await {
        return unavailable(&format!("the session store failed: {e}"));
    }
    if let Some(user) = user {
        let caller = Caller {
            subject: user.subject.clone(),
            display_name: user.display_name,
            role: user.role,
            method: AuthMethod::Session,
        };
        tracing::info!(user.oid = %user.subject, "signed out");
        audit(&db, &caller, "sign_out", serde_json::json!({ "tenant": user.tenant }), &parts.headers).await;
    }
    let end_session = match oidc.provider().await {
        Ok(p) => p.end_session_endpoint.clone().map(|e| {
            format!(
                "{e}{}client_id={}&post_logout_redirect_uri={}",
                if e.contains('?') { '&' } else { '?' },
                urlencode(&oidc.client_id),
                urlencode(&format!("{}/", oidc.public_origin))
            )
        }),
        Err(_) => None,
    };
    pages::signed_out(end_session.as_deref())
}

/// Stores a signed-in session for `caller` directly (benchmarks and tools) and returns the
/// cookie value that names it.
pub async fn create_session(
    store: &super::session::DbSessionStore,
    caller: &Caller,
    idle_minutes: i64,
) -> anyhow::Result<String> {
    use tower_sessions::session_store::SessionStore;
    let now = Utc::now().timestamp();
    let user = SignedIn {
        subject: caller.subject.clone(),
        tenant: None,
        display_name: caller.display_name.clone(),
        role: caller.role,
        authenticated_at: now,
        seen_at: now,
    };
    let mut record = tower_sessions::session::Record {
        id: tower_sessions::session::Id::default(),
        data: [(USER.to_string(), serde_json::to_value(user)?)].into_iter().collect(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::minutes(idle_minutes),
    };
    store.create(&mut record).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(record.id.to_string())
}

/// The token of a `Bearer` authorization header.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    (value.len() > 7 && value[..7].eq_ignore_ascii_case("bearer ")).then(|| value[7..].trim())
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("authority", &self.auth.authority)
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(vars: &[(&str, &str)]) -> AuthSettings {
        let map: std::collections::HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(&move |k| map.get(k).cloned()).expect("valid settings").auth
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn admin_and_analyst_roles_win_and_allowed_lists_let_readers_in() {
        let a = auth(&[("AUTH_ALLOWED_GROUPS", "grp-soc"), ("AUTH_ANALYST_GROUPS", "grp-analysts")]);
        assert_eq!(decide_role(&a, &strings(&["AOC.Admin"]), &[]).unwrap(), Role::Admin);
        assert_eq!(decide_role(&a, &strings(&["aoc.analyst"]), &[]).unwrap(), Role::Analyst);
        assert_eq!(decide_role(&a, &[], &strings(&["grp-analysts"])).unwrap(), Role::Analyst);
        assert_eq!(decide_role(&a, &[], &strings(&["grp-soc"])).unwrap(), Role::Reader);
        let denial = decide_role(&a, &[], &strings(&["grp-other"])).unwrap_err();
        assert!(denial.reason.contains("AOC.Admin") && denial.reason.contains("grp-soc"), "{}", denial.reason);
        let open = auth(&[]);
        assert_eq!(decide_role(&open, &[], &[]).unwrap(), Role::Reader);
    }

    #[test]
    fn the_discovered_issuer_must_belong_to_the_authority() {
        assert!(issuer_matches("http://127.0.0.1:4000", "http://127.0.0.1:4000"));
        assert!(issuer_matches(
            "https://login.microsoftonline.com/organizations/v2.0",
            "https://login.microsoftonline.com/{tenantid}/v2.0"
        ));
        assert!(issuer_matches(
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0",
            "https://login.microsoftonline.com/8f3c2a10-1b2c-4d5e-9f00-112233445566/v2.0"
        ));
        assert!(!issuer_matches("http://127.0.0.1:4000", "http://127.0.0.1:4001"));
    }

    #[test]
    fn sign_in_returns_only_to_paths_inside_aoc() {
        assert_eq!(safe_return_to(Some("/events?q=x")), "/events?q=x");
        for bad in ["//evil.example", "https://evil.example", "/\\evil.example", "/auth/logout"] {
            assert_eq!(safe_return_to(Some(bad)), "/", "{bad}");
        }
    }
}
