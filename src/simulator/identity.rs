//! The Microsoft identity platform, app-only: `POST /{tenant}/oauth2/v2.0/token` and the v1
//! `POST /{tenant}/oauth2/token`, with client secrets (form field or HTTP Basic) and certificate
//! assertions (RS256 + x5t, PS256 + x5t#S256). Errors follow the AADSTS catalogue: status,
//! `error`, `error_codes`, and a description that starts with `AADSTS<n>: ` and ends with the
//! trace, correlation and timestamp lines.
//!
//! Access tokens are JWTs signed by the simulator (HS256) with the claims Microsoft puts in
//! app-only tokens (`aud`, `iss`, `tid`, `appid`, `appidacr`, `roles`, ...). Clients must treat
//! them as opaque, as with Microsoft's.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use base64::Engine;
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha1::Digest;

use super::state::{guid_from, stable_hash, SimApp, SimState, SimTenant};

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The certificate registered for every simulated app (a test credential, printed at start-up).
pub const APP_CERT_PEM: &str = include_str!("fixtures/sim-app-cert.pem");
/// Its private key, for clients of the simulator.
pub const APP_KEY_PEM: &str = include_str!("fixtures/sim-app-key.pem");
const APP_PUBLIC_KEY_PEM: &str = include_str!("fixtures/sim-app-pubkey.pem");

/// Which API a token is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Audience {
    Management,
    Graph,
}

impl Audience {
    /// The `aud` claim Microsoft puts in tokens for this API.
    pub fn claim(self) -> &'static str {
        match self {
            Audience::Management => "https://manage.office.com",
            Audience::Graph => "https://graph.microsoft.com",
        }
    }
}

/// The `aud` claim for a requested resource: every cloud's Management and Graph identifiers,
/// and the simulator's own base URL (accepted by both APIs).
fn aud_claim_for(resource: &str, base_url: &str) -> Option<String> {
    let r = resource.trim_end_matches('/').to_ascii_lowercase();
    const MANAGEMENT: &[&str] = &[
        "https://manage.office.com",
        "https://manage-gcc.office.com",
        "https://manage.office365.us",
        "https://manage.protection.apps.mil",
        "https://manage.office365.cn",
    ];
    const GRAPH: &[&str] = &[
        "https://graph.microsoft.com",
        "https://graph.microsoft.us",
        "https://dod-graph.microsoft.us",
        "https://microsoftgraph.chinacloudapi.cn",
        "00000003-0000-0000-c000-000000000000",
    ];
    if MANAGEMENT.contains(&r.as_str()) {
        Some(Audience::Management.claim().to_string())
    } else if GRAPH.contains(&r.as_str()) {
        Some(Audience::Graph.claim().to_string())
    } else if !base_url.is_empty() && r == base_url.trim_end_matches('/').to_ascii_lowercase() {
        Some(r)
    } else {
        None
    }
}

/// Claims of an access token the simulator mints.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub tid: String,
    pub appid: String,
    pub appidacr: String,
    pub oid: String,
    pub sub: String,
    #[serde(default)]
    pub roles: Vec<String>,
    pub ver: String,
    pub idtyp: String,
}

/// A token-endpoint error in Microsoft's shape.
pub struct TokenError {
    status: StatusCode,
    error: &'static str,
    code: u32,
    message: String,
}

impl TokenError {
    fn new(status: u16, error: &'static str, code: u32, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            error,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let now = Utc::now();
        let ts = now.format("%Y-%m-%d %H:%M:%SZ").to_string();
        let h = stable_hash(&[self.message.as_bytes(), &now.timestamp_nanos_opt().unwrap_or(0).to_le_bytes()]);
        let trace = guid_from(h, h.rotate_left(13));
        let correlation = guid_from(h.rotate_left(29), h.rotate_left(41));
        let description = format!(
            "AADSTS{}: {}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {ts}",
            self.code, self.message
        );
        (
            self.status,
            Json(json!({
                "error": self.error,
                "error_description": description,
                "error_codes": [self.code],
                "timestamp": ts,
                "trace_id": trace,
                "correlation_id": correlation,
                "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
            })),
        )
            .into_response()
    }
}

/// Which token endpoint was called.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub async fn token_v2(
    State(state): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    token(&state, &tenant, &headers, &form, Version::V2).await
}

/// `POST /{tenant}/oauth2/token` (v1, `resource=` instead of `scope=`).
pub async fn token_v1(
    State(state): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    token(&state, &tenant, &headers, &form, Version::V1).await
}

async fn token(
    state: &SimState,
    tenant: &str,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    version: Version,
) -> Response {
    let outage = {
        let mut rt = state.runtime();
        rt.stats.token_requests += 1;
        let outage = super::state::Runtime::take(&mut rt.faults.token_outage);
        if outage {
            rt.stats.faults_injected += 1;
        }
        outage
    };
    if outage {
        return TokenError::new(
            503,
            "temporarily_unavailable",
            50_000,
            "There was an error issuing a token or an issue with our sign-in service. Please try again later.",
        )
        .into_response();
    }
    match issue(state, tenant, headers, form, version) {
        Ok(body) => {
            state.runtime().stats.tokens_issued += 1;
            (StatusCode::OK, Json(body)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

fn issue(
    state: &SimState,
    tenant_ref: &str,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    version: Version,
) -> Result<serde_json::Value, TokenError> {
    let lower = tenant_ref.to_ascii_lowercase();
    if ["common", "consumers", "organizations"].contains(&lower.as_str()) {
        return Err(TokenError::new(
            400,
            "invalid_request",
            9_001_023,
            "The grant type isn't supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.",
        ));
    }
    let valid_shape = lower.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') && !lower.is_empty();
    if !valid_shape {
        return Err(TokenError::new(
            400,
            "invalid_request",
            900_023,
            format!(
                "Specified tenant identifier '{tenant_ref}' is neither a valid DNS name, nor a valid external domain."
            ),
        ));
    }
    let Some(tenant) = state.tenant(tenant_ref) else {
        return Err(TokenError::new(
            400,
            "invalid_request",
            90_002,
            format!("Tenant '{tenant_ref}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."),
        ));
    };

    // Client authentication: HTTP Basic, form secret, or assertion.
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")))
        .and_then(|b| B64.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|pair| pair.split_once(':').map(|(id, secret)| (url_decode(id), url_decode(secret))));

    let grant_type = form.get("grant_type").map(String::as_str);
    let Some(grant_type) = grant_type else {
        return Err(missing("grant_type"));
    };
    if grant_type != "client_credentials" {
        return Err(TokenError::new(
            400,
            "unsupported_grant_type",
            70_003,
            format!("The app requested an unsupported grant type '{grant_type}'."),
        ));
    }
    let client_id = form.get("client_id").cloned().or_else(|| basic.as_ref().map(|(id, _)| id.clone()));
    let Some(client_id) = client_id else {
        return Err(missing("client_id"));
    };

    // The resource: v2 `scope` ({resource}/.default, exactly one), v1 `resource`.
    let base_url = state.base_url();
    let audience = match version {
        Version::V2 => {
            let Some(scope) = form.get("scope") else { return Err(missing("scope")) };
            let scopes: Vec<&str> = scope.split_whitespace().collect();
            if scopes.len() > 1 {
                return Err(TokenError::new(
                    400,
                    "invalid_scope",
                    700_022,
                    "The provided value for the input parameter scope is not valid because it contains more than one resource.",
                ));
            }
            let scope = scopes.first().copied().unwrap_or("");
            let Some(resource) = scope.strip_suffix("/.default") else {
                return Err(TokenError::new(
                    400,
                    "invalid_scope",
                    1_002_012,
                    format!("The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."),
                ));
            };
            aud_claim_for(resource, &base_url).ok_or_else(|| unknown_resource(resource, tenant))?
        }
        Version::V1 => {
            let Some(resource) = form.get("resource") else { return Err(missing("resource")) };
            aud_claim_for(resource, &base_url).ok_or_else(|| unknown_resource(resource, tenant))?
        }
    };

    let Some(app) = tenant.app(&client_id) else {
        return Err(TokenError::new(
            400,
            "unauthorized_client",
            700_016,
            format!("Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", tenant.model.domain),
        ));
    };

    let assertion_type = form.get("client_assertion_type");
    let secret = form.get("client_secret").cloned().or_else(|| basic.map(|(_, s)| s));
    let appidacr = if let Some(assertion) = form.get("client_assertion") {
        if assertion_type.map(String::as_str) != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") {
            return Err(missing("client_assertion_type"));
        }
        verify_assertion(state, tenant, app, assertion, version)?;
        "2"
    } else if let Some(secret) = secret {
        if secret != app.secret {
            return Err(TokenError::new(
                401,
                "invalid_client",
                7_000_215,
                format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.", app.client_id),
            ));
        }
        "1"
    } else {
        return Err(TokenError::new(
            401,
            "invalid_client",
            7_000_218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    };

    if app.roles.is_empty() {
        // An app nobody consented to still gets a token, with no roles: resource calls fail.
        tracing::debug!(client_id = %app.client_id, "issuing a token without roles");
    }
    let now = state.clock.now().timestamp();
    let lifetime = state.config.token_lifetime_secs;
    let sp_object =
        guid_from(stable_hash(&[app.client_id.as_bytes(), b"sp"]), stable_hash(&[app.client_id.as_bytes(), b"sp2"]));
    let claims = AccessClaims {
        aud: audience.clone(),
        iss: format!("https://sts.windows.net/{}/", tenant.model.tenant_id),
        iat: now,
        nbf: now,
        exp: now + lifetime,
        tid: tenant.model.tenant_id.clone(),
        appid: app.client_id.clone(),
        appidacr: appidacr.to_string(),
        oid: sp_object.clone(),
        sub: sp_object,
        roles: app.roles.clone(),
        ver: "1.0".into(),
        idtyp: "app".into(),
    };
    let token =
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(&state.token_key))
            .map_err(|e| TokenError::new(500, "server_error", 50_000, format!("could not sign the token: {e}")))?;
    Ok(match version {
        Version::V2 => json!({
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }),
        // v1 sends numbers as strings and a few more fields.
        Version::V1 => json!({
            "token_type": "Bearer",
            "expires_in": lifetime.to_string(),
            "ext_expires_in": lifetime.to_string(),
            "expires_on": (now + lifetime).to_string(),
            "not_before": now.to_string(),
            "resource": audience,
            "access_token": token,
        }),
    })
}

fn missing(name: &str) -> TokenError {
    TokenError::new(
        400,
        "invalid_request",
        900_144,
        format!("The request body must contain the following parameter: '{name}'."),
    )
}

fn unknown_resource(resource: &str, tenant: &SimTenant) -> TokenError {
    TokenError::new(
        400,
        "invalid_resource",
        500_011,
        format!("The resource principal named {resource} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", tenant.model.domain),
    )
}

fn url_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

#[derive(Deserialize)]
struct AssertionClaims {
    aud: serde_json::Value,
    iss: String,
    sub: String,
    exp: i64,
    nbf: Option<i64>,
    jti: Option<String>,
}

/// The DER bytes of the registered certificate.
fn certificate_der() -> Vec<u8> {
    let body: String = APP_CERT_PEM.lines().filter(|l| !l.starts_with("-----")).collect();
    B64.decode(body).expect("the bundled certificate is valid base64")
}

/// Checks a client assertion as Entra does: algorithm, thumbprint, signature, audience, issuer
/// and subject, validity window, and that its `jti` was not used before.
fn verify_assertion(
    state: &SimState,
    tenant: &SimTenant,
    app: &SimApp,
    assertion: &str,
    version: Version,
) -> Result<(), TokenError> {
    let invalid_sig = |reason: &str| {
        TokenError::new(
            401,
            "invalid_client",
            700_027,
            format!("Client assertion contains an invalid signature. [Reason - {reason}, Thumbprint of key used by client: 'unknown', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{}'.]", app.client_id),
        )
    };
    let header =
        jsonwebtoken::decode_header(assertion).map_err(|_| invalid_sig("The assertion is not a well-formed JWT"))?;
    let der = certificate_der();
    let sha1_thumb = B64URL.encode(sha1::Sha1::digest(&der));
    let sha256_thumb = B64URL.encode(sha2::Sha256::digest(&der));
    match header.alg {
        Algorithm::RS256 | Algorithm::PS256 => {}
        _ => {
            return Err(TokenError::new(
                401,
                "invalid_client",
                700_027,
                "Client assertion failed signature validation. Unsupported asymmetric signing algorithm.",
            ))
        }
    }
    let thumb_ok =
        header.x5t.as_deref() == Some(sha1_thumb.as_str()) || header.x5t_s256.as_deref() == Some(sha256_thumb.as_str());
    if !thumb_ok {
        return Err(invalid_sig("The key was not found."));
    }
    let key = DecodingKey::from_rsa_pem(APP_PUBLIC_KEY_PEM.as_bytes()).expect("the bundled public key is valid");
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation)
        .map_err(|_| invalid_sig("The signature does not match the key"))?;
    let claims = data.claims;

    let endpoint_suffix = match version {
        Version::V2 => "/oauth2/v2.0/token",
        Version::V1 => "/oauth2/token",
    };
    let aud_ok = |aud: &str| {
        let aud = aud.trim_end_matches('/').to_ascii_lowercase();
        let tenant_paths = [tenant.model.tenant_id.to_ascii_lowercase(), tenant.model.domain.to_ascii_lowercase()];
        tenant_paths
            .iter()
            .any(|t| aud.ends_with(&format!("/{t}{endpoint_suffix}")) || aud.ends_with(&format!("/{t}/v2.0")))
    };
    let aud_matches = match &claims.aud {
        serde_json::Value::String(a) => aud_ok(a),
        serde_json::Value::Array(list) => list.iter().filter_map(|v| v.as_str()).any(aud_ok),
        _ => false,
    };
    if !aud_matches {
        return Err(TokenError::new(
            401,
            "invalid_client",
            700_021,
            "Client assertion audience claim does not match Realm issuer. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
        ));
    }
    if claims.iss != app.client_id || claims.sub != app.client_id {
        return Err(TokenError::new(
            401,
            "invalid_client",
            700_023,
            "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
        ));
    }
    let now = state.clock.now().timestamp();
    let nbf = claims.nbf.unwrap_or(now);
    // Entra allows a few minutes of clock skew.
    if claims.exp < now - 300 || nbf > now + 300 {
        return Err(TokenError::new(
            401,
            "invalid_client",
            700_024,
            format!("Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}.", fmt_ts(now), fmt_ts(nbf), fmt_ts(claims.exp)),
        ));
    }
    let Some(jti) = claims.jti else {
        return Err(TokenError::new(401, "invalid_client", 700_025, "Client assertion must contain a 'jti' claim."));
    };
    let mut rt = state.runtime();
    rt.seen_jti.retain(|_, exp| *exp >= now - 300);
    if rt.seen_jti.insert(jti, claims.exp).is_some() {
        return Err(TokenError::new(
            401,
            "invalid_client",
            700_025,
            "Client assertion contains a jti that has already been used (replay). Create a new assertion for every request.",
        ));
    }
    Ok(())
}

fn fmt_ts(epoch: i64) -> String {
    chrono::DateTime::<Utc>::from_timestamp(epoch, 0)
        .map(|t| t.format("%m/%d/%Y %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// Why a bearer token was refused by an API.
pub enum BearerProblem {
    Missing,
    Invalid,
    Expired,
    WrongAudience,
}

/// Validates a bearer token for `audience`; returns its claims.
pub fn check_bearer(state: &SimState, headers: &HeaderMap, audience: Audience) -> Result<AccessClaims, BearerProblem> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .ok_or(BearerProblem::Missing)?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_aud = false;
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let claims =
        jsonwebtoken::decode::<AccessClaims>(token.trim(), &DecodingKey::from_secret(&state.token_key), &validation)
            .map_err(|_| BearerProblem::Invalid)?
            .claims;
    if claims.exp <= state.clock.now().timestamp() {
        return Err(BearerProblem::Expired);
    }
    let own = state.base_url();
    if claims.aud != audience.claim() && claims.aud != own.trim_end_matches('/').to_ascii_lowercase() {
        return Err(BearerProblem::WrongAudience);
    }
    Ok(claims)
}

/// Builds a client assertion for the registered certificate (used by tests and the demo).
pub fn sign_assertion(audience_url: &str, client_id: &str, sha256: bool) -> String {
    let der = certificate_der();
    let mut header = Header::new(if sha256 { Algorithm::PS256 } else { Algorithm::RS256 });
    header.typ = Some("JWT".into());
    if sha256 {
        header.x5t_s256 = Some(B64URL.encode(sha2::Sha256::digest(&der)));
    } else {
        header.x5t = Some(B64URL.encode(sha1::Sha1::digest(&der)));
    }
    let now = Utc::now().timestamp();
    let claims = json!({
        "aud": audience_url, "iss": client_id, "sub": client_id, "jti": uuid::Uuid::new_v4().to_string(),
        "nbf": now, "iat": now, "exp": now + 600,
    });
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(APP_KEY_PEM.as_bytes()).expect("bundled key"))
        .expect("signing with the bundled key works")
}
