//! The token provider: app-only tokens per (tenant, API), cached and refreshed five minutes
//! before they expire or when an API answers 401. Failures carry the AADSTS code and what to fix.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;

use super::connector::{Api, Connector, Credential};
use super::error::IngestError;
use super::retry::{Attempts, Backoff};
use super::wire::{TokenErrorBody, TokenResponse};

struct Cached {
    token: String,
    refresh_at: Instant,
}

/// Caches and refreshes tokens.
pub struct TokenProvider {
    http: reqwest::Client,
    cache: Mutex<HashMap<(String, String, Api), Cached>>,
}

/// What an operator should do about an AADSTS code.
pub fn hint_for(code: Option<u32>) -> &'static str {
    match code {
        Some(7_000_215) => "CLIENT_SECRET is wrong: use the secret's Value (not its Secret ID) and check it has not expired",
        Some(7_000_222) => "the client secret has expired: create a new one in the app registration",
        Some(700_016) => "the app is not in this tenant: check CLIENT_ID and TENANT_ID, and that an administrator consented to the app in this tenant",
        Some(90_002) | Some(900_023) => "the tenant was not found: check TENANT_ID and CLOUD (GCC High and DoD use login.microsoftonline.us)",
        Some(500_011) => "the API's service principal is missing in the tenant: an administrator must consent to the app's Office 365 Management APIs / Microsoft Graph permissions, or CLOUD is wrong",
        Some(700_027) => "the certificate is not registered on the app (upload the certificate to the app registration) or the key does not match it",
        Some(700_024) => "the certificate assertion is outside its validity window: check this machine's clock",
        Some(700_021) | Some(700_023) => "the certificate assertion was rejected: check TENANT_ID, CLIENT_ID and LOGIN_BASE_URL",
        Some(7_000_112) => "the application is disabled in the tenant",
        Some(53_003) => "a Conditional Access policy blocks the app",
        Some(1_002_012) | Some(700_022) | Some(70_011) => "the requested scope was refused; check CLOUD",
        _ => "check TENANT_ID, CLIENT_ID, the credential and CLOUD",
    }
}

impl TokenProvider {
    pub fn new(http: reqwest::Client) -> Self {
        Self { http, cache: Mutex::new(HashMap::new()) }
    }

    fn key(c: &Connector, api: Api) -> (String, String, Api) {
        (c.tenant_id.clone(), c.client_id.clone(), api)
    }

    /// Forgets the cached token (after a 401).
    pub fn invalidate(&self, c: &Connector, api: Api) {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).remove(&Self::key(c, api));
    }

    /// A valid access token for `api`.
    pub async fn token(&self, c: &Connector, api: Api) -> Result<String, IngestError> {
        if let Some(hit) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&Self::key(c, api)) {
            if Instant::now() < hit.refresh_at {
                return Ok(hit.token.clone());
            }
        }
        let (token, expires_in) = self.request(c, api).await?;
        // Refresh five minutes early (or halfway for short-lived tokens).
        let lifetime = Duration::from_secs(expires_in.max(1) as u64);
        let early = Duration::from_secs(300).min(lifetime / 2);
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(Self::key(c, api), Cached { token: token.clone(), refresh_at: Instant::now() + lifetime - early });
        Ok(token)
    }

    async fn request(&self, c: &Connector, api: Api) -> Result<(String, i64), IngestError> {
        let endpoint = format!("{}/{}/oauth2/v2.0/token", c.login_url, c.tenant_id);
        let scope = format!("{}/.default", c.resource(api));
        let mut form: Vec<(&str, String)> =
            vec![("grant_type", "client_credentials".into()), ("client_id", c.client_id.clone()), ("scope", scope)];
        match &c.credential {
            Credential::Secret(secret) => form.push(("client_secret", secret.expose_secret().to_string())),
            Credential::Certificate { x5t_s256, key, .. } => {
                let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
                header.typ = Some("JWT".into());
                header.x5t_s256 = Some(x5t_s256.clone());
                let now = chrono::Utc::now().timestamp();
                let claims = serde_json::json!({
                    "aud": endpoint, "iss": c.client_id, "sub": c.client_id,
                    "jti": uuid::Uuid::new_v4().to_string(), "nbf": now, "iat": now, "exp": now + 600,
                });
                let assertion = jsonwebtoken::encode(&header, &claims, key).map_err(|e| {
                    IngestError::fatal_with(
                        "could not sign the certificate assertion; check the private key",
                        e.to_string(),
                    )
                })?;
                form.push(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into()));
                form.push(("client_assertion", assertion));
            }
        }
        let mut retries = Attempts::new(Backoff::BODY);
        loop {
            let response = match self.http.post(&endpoint).form(&form).send().await {
                Ok(r) => r,
                Err(e) => {
                    let failure =
                        format!("the token endpoint {} could not be reached: {}", c.login_url, without_url(&e));
                    if retries.wait(None).await {
                        continue;
                    }
                    return Err(IngestError::transient(format!("{failure}; check the network and LOGIN_BASE_URL")));
                }
            };
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await.unwrap_or_default();
            if status.is_success() {
                let parsed: TokenResponse = serde_json::from_slice(&body)
                    .map_err(|_| IngestError::transient("the token endpoint answered with an unreadable body"))?;
                return Ok((parsed.access_token, parsed.expires_in));
            }
            if status.is_server_error() || status.as_u16() == 429 {
                if retries.wait(super::retry::retry_after(&headers)).await {
                    continue;
                }
                return Err(IngestError::transient(format!(
                    "the token endpoint kept failing (HTTP {}); the next run tries again",
                    status.as_u16()
                )));
            }
            let error: TokenErrorBody = serde_json::from_slice(&body).unwrap_or_default();
            let code = error.error_codes.first().copied();
            let message = error.error_description.lines().next().unwrap_or(&error.error).trim().to_string();
            return Err(IngestError::Auth {
                code,
                detail: if message.is_empty() { format!("HTTP {status}") } else { message },
                hint: hint_for(code).to_string(),
            });
        }
    }
}

/// A reqwest error's text without the URL (URLs can carry tokens in query strings).
pub fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "the response body failed"
    } else {
        "request failed"
    };
    kind.to_string()
}
