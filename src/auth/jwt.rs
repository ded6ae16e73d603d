//! Signed tokens from the OpenID provider: its key set (cached by `kid`, refetched at most once
//! per [`REFETCH_INTERVAL`] when a token names a key AOC has not seen, so key rollover just works
//! and unknown keys cannot make AOC hammer the provider), and the checks every ID token and
//! bearer token passes: signature with the algorithm pinned to the key's (never `none` or HMAC),
//! issuer, audience, `exp` and `nbf`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::RwLock;

/// How soon after a fetch an unknown `kid` may fetch the key set again (Microsoft's guidance).
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// How long a key set is trusted before it is fetched again in the normal course.
const MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);
/// Clock skew allowed on `exp` and `nbf` (Entra backdates `nbf` by about five minutes).
const LEEWAY_SECONDS: u64 = 300;

/// Why a token was refused; the text goes to the log, never the token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a well-formed JWT, or its algorithm is not one AOC accepts: {0}")]
    Malformed(String),
    #[error("the token names no key id (kid)")]
    NoKeyId,
    #[error("the token was signed with a key the provider does not publish (kid {0})")]
    UnknownKey(String),
    #[error("the token's algorithm {0:?} is not its key's")]
    WrongAlgorithm(Algorithm),
    #[error("the token failed validation: {0}")]
    Invalid(String),
    #[error("the token was issued by {0:?}, not by the configured authority")]
    WrongIssuer(String),
    #[error("the token's nonce does not match this sign-in")]
    WrongNonce,
    #[error("an ID token cannot be used as an access token")]
    IdTokenAsBearer,
    #[error("the provider's key set could not be fetched: {0}")]
    KeySetUnavailable(String),
}

/// The claims AOC reads. Entra leaves empty `roles`/`groups` out, so every list has a default.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Claims {
    pub iss: String,
    #[serde(default)]
    pub sub: Option<String>,
    /// The user's (or service principal's) immutable object id in the tenant (Entra).
    #[serde(default)]
    pub oid: Option<String>,
    #[serde(default)]
    pub tid: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub preferred_username: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    /// Group overage: `{"groups": "src1"}` instead of the list.
    #[serde(default, rename = "_claim_names")]
    pub claim_names: Option<serde_json::Value>,
    #[serde(default)]
    pub hasgroups: Option<bool>,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub scp: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub azp: Option<String>,
    #[serde(default)]
    pub appid: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
}

impl Claims {
    /// Whether the token says the groups did not fit (overage) rather than listing them.
    pub fn has_group_overage(&self) -> bool {
        self.hasgroups == Some(true) || self.claim_names.as_ref().is_some_and(|names| names.get("groups").is_some())
    }

    /// The stable subject: the object id when the provider sends one, else `sub`.
    pub fn subject(&self) -> String {
        self.oid.clone().or_else(|| self.sub.clone()).unwrap_or_default()
    }

    /// A name to show and to record in the audit trail.
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .or_else(|| self.preferred_username.clone())
            .or_else(|| self.appid.clone().or_else(|| self.azp.clone()).or_else(|| self.client_id.clone()))
            .unwrap_or_else(|| self.subject())
    }
}

/// Which issuers a token may name. Entra's multi-tenant metadata (`organizations`, `common`)
/// publishes the template `https://login.microsoftonline.com/{tenantid}/v2.0`: the token's own
/// `tid` fills it in and the result must match exactly.
#[derive(Debug, Clone)]
pub struct Issuer {
    pub metadata_issuer: String,
}

impl Issuer {
    fn accepts(&self, claims: &Claims) -> bool {
        let expected = match (&claims.tid, self.metadata_issuer.contains("{tenantid}")) {
            (Some(tid), true) => self.metadata_issuer.replace("{tenantid}", tid),
            (None, true) => return false,
            (_, false) => self.metadata_issuer.clone(),
        };
        if claims.iss == expected {
            return true;
        }
        // Entra v1 access tokens (the portal's default for an API) are issued by sts.windows.net
        // with the same tenant id.
        let tenant_issuer =
            ["login.microsoftonline.com", "login.microsoftonline.us", "login.partner.microsoftonline.cn"]
                .iter()
                .any(|host| expected.starts_with(&format!("https://{host}/")));
        match &claims.tid {
            Some(tid) if tenant_issuer && expected.contains(tid.as_str()) => {
                claims.iss == format!("https://sts.windows.net/{tid}/")
            }
            _ => false,
        }
    }
}

struct KeySet {
    keys: HashMap<String, (DecodingKey, Algorithm)>,
    fetched_at: Instant,
    /// When an unknown `kid` last caused a fetch.
    refetched_at: Option<Instant>,
}

/// The provider's signing keys, cached by `kid`.
pub struct KeyCache {
    jwks_uri: String,
    http: reqwest::Client,
    state: RwLock<Option<KeySet>>,
}

/// The algorithm a published key signs with: its `alg` when given, else RS256 for RSA keys
/// (Entra's keys carry no `alg`) and the curve's ECDSA algorithm. Symmetric keys never count.
fn key_algorithm(jwk: &jsonwebtoken::jwk::Jwk) -> Option<Algorithm> {
    let declared = jwk.common.key_algorithm.and_then(|a| match a {
        KeyAlgorithm::RS256 => Some(Algorithm::RS256),
        KeyAlgorithm::RS384 => Some(Algorithm::RS384),
        KeyAlgorithm::RS512 => Some(Algorithm::RS512),
        KeyAlgorithm::PS256 => Some(Algorithm::PS256),
        KeyAlgorithm::PS384 => Some(Algorithm::PS384),
        KeyAlgorithm::PS512 => Some(Algorithm::PS512),
        KeyAlgorithm::ES256 => Some(Algorithm::ES256),
        KeyAlgorithm::ES384 => Some(Algorithm::ES384),
        _ => None,
    });
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => declared
            .filter(|a| {
                matches!(
                    a,
                    Algorithm::RS256
                        | Algorithm::RS384
                        | Algorithm::RS512
                        | Algorithm::PS256
                        | Algorithm::PS384
                        | Algorithm::PS512
                )
            })
            .or(if jwk.common.key_algorithm.is_none() { Some(Algorithm::RS256) } else { None }),
        AlgorithmParameters::EllipticCurve(ec) => {
            declared.filter(|a| matches!(a, Algorithm::ES256 | Algorithm::ES384)).or(match ec.curve {
                jsonwebtoken::jwk::EllipticCurve::P256 => Some(Algorithm::ES256),
                jsonwebtoken::jwk::EllipticCurve::P384 => Some(Algorithm::ES384),
                _ => None,
            })
        }
        _ => None,
    }
}

impl KeyCache {
    /// An empty cache for the key set at `jwks_uri`.
    pub fn new(jwks_uri: String, http: reqwest::Client) -> Self {
        Self { jwks_uri, http, state: RwLock::new(None) }
    }

    async fn fetch(&self) -> Result<KeySet, TokenError> {
        let response = self
            .http
            .get(&self.jwks_uri)
            .send()
            .await
            .map_err(|e| TokenError::KeySetUnavailable(crate::ingest::token::without_url(&e)))?;
        if !response.status().is_success() {
            return Err(TokenError::KeySetUnavailable(format!("HTTP {}", response.status())));
        }
        let set: JwkSet =
            response.json().await.map_err(|_| TokenError::KeySetUnavailable("unreadable key set".into()))?;
        let keys = set
            .keys
            .iter()
            .filter(|k| !matches!(k.common.public_key_use, Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)))
            .filter_map(|k| {
                let kid = k.common.key_id.clone()?;
                let alg = key_algorithm(k)?;
                let key = DecodingKey::from_jwk(k).ok()?;
                Some((kid, (key, alg)))
            })
            .collect();
        Ok(KeySet { keys, fetched_at: Instant::now(), refetched_at: None })
    }

    /// The key for `kid`, fetching the set when it is missing or stale, and once per
    /// [`REFETCH_INTERVAL`] when a token names a `kid` the cached set lacks (key rollover).
    async fn key(&self, kid: &str) -> Result<(DecodingKey, Algorithm), TokenError> {
        let may_refetch = |set: &KeySet| set.refetched_at.is_none_or(|at| at.elapsed() >= REFETCH_INTERVAL);
        {
            let state = self.state.read().await;
            if let Some(set) = state.as_ref() {
                match set.keys.get(kid) {
                    Some(found) if set.fetched_at.elapsed() < MAX_AGE => return Ok(found.clone()),
                    None if !may_refetch(set) => return Err(TokenError::UnknownKey(kid.to_string())),
                    _ => {}
                }
            }
        }
        let mut state = self.state.write().await;
        // Another request may have fetched while this one waited.
        let mut refetched_at = None;
        if let Some(set) = state.as_ref() {
            match set.keys.get(kid) {
                Some(found) if set.fetched_at.elapsed() < MAX_AGE => return Ok(found.clone()),
                None if !may_refetch(set) => return Err(TokenError::UnknownKey(kid.to_string())),
                None => refetched_at = Some(Instant::now()),
                Some(_) => refetched_at = set.refetched_at,
            }
        }
        match self.fetch().await {
            Ok(mut set) => {
                tracing::info!(keys = set.keys.len(), "fetched the sign-in provider's signing keys");
                set.refetched_at = refetched_at;
                let found = set.keys.get(kid).cloned();
                *state = Some(set);
                found.ok_or_else(|| TokenError::UnknownKey(kid.to_string()))
            }
            // Keep the last good set on errors, and do not retry at once.
            Err(e) => match state.as_mut() {
                Some(set) => {
                    set.refetched_at = refetched_at.or(set.refetched_at);
                    set.keys.get(kid).cloned().ok_or(e)
                }
                None => Err(e),
            },
        }
    }

    /// Fetches the key set now (start-up warms the cache).
    pub async fn warm(&self) -> Result<(), TokenError> {
        let set = self.fetch().await?;
        *self.state.write().await = Some(set);
        Ok(())
    }
}

/// What kind of token is being checked.
#[derive(Debug, Clone, Copy)]
pub enum Expect<'a> {
    /// An ID token from this sign-in, with its nonce.
    IdToken { nonce: &'a str },
    /// An access token presented to the REST API.
    Bearer,
}

/// Checks `token` and returns its claims.
pub async fn validate(
    token: &str,
    keys: &KeyCache,
    issuer: &Issuer,
    audiences: &[String],
    expect: Expect<'_>,
) -> Result<Claims, TokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| TokenError::Malformed(e.to_string()))?;
    let kid = header.kid.as_deref().ok_or(TokenError::NoKeyId)?;
    let (key, alg) = keys.key(kid).await?;
    if header.alg != alg {
        return Err(TokenError::WrongAlgorithm(header.alg));
    }
    let mut validation = Validation::new(alg);
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_nbf = true;
    validation.set_audience(audiences);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|e| TokenError::Invalid(e.kind().to_owned_string()))?;
    let claims = data.claims;
    if !issuer.accepts(&claims) {
        return Err(TokenError::WrongIssuer(claims.iss));
    }
    match expect {
        Expect::IdToken { nonce } => {
            if claims.nonce.as_deref() != Some(nonce) {
                return Err(TokenError::WrongNonce);
            }
        }
        Expect::Bearer => {
            // ID tokens share the audience and issuer; access tokens name the client they were
            // issued to (azp, appid, client_id) or their scopes (ASVS 9.2.2).
            let access = claims.scp.is_some()
                || claims.scope.is_some()
                || claims.azp.is_some()
                || claims.appid.is_some()
                || claims.client_id.is_some();
            if claims.nonce.is_some() || !access {
                return Err(TokenError::IdTokenAsBearer);
            }
        }
    }
    Ok(claims)
}

/// Error kinds as short text (the kind only: jsonwebtoken's messages never hold the token).
trait KindText {
    fn to_owned_string(&self) -> String;
}

impl KindText for jsonwebtoken::errors::ErrorKind {
    fn to_owned_string(&self) -> String {
        use jsonwebtoken::errors::ErrorKind as K;
        match self {
            K::ExpiredSignature => "expired".into(),
            K::ImmatureSignature => "not yet valid (nbf)".into(),
            K::InvalidAudience => "wrong audience".into(),
            K::InvalidSignature => "bad signature".into(),
            K::InvalidAlgorithm => "algorithm not allowed".into(),
            K::MissingRequiredClaim(c) => format!("missing claim {c}"),
            other => format!("{other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(iss: &str, tid: Option<&str>) -> Claims {
        Claims { iss: iss.into(), tid: tid.map(str::to_string), ..Default::default() }
    }

    #[test]
    fn the_organizations_template_is_filled_with_the_tokens_own_tenant() {
        let issuer = Issuer { metadata_issuer: "https://login.microsoftonline.com/{tenantid}/v2.0".into() };
        assert!(issuer.accepts(&claims("https://login.microsoftonline.com/t1/v2.0", Some("t1"))));
        assert!(!issuer.accepts(&claims("https://login.microsoftonline.com/t2/v2.0", Some("t1"))));
        assert!(!issuer.accepts(&claims("https://login.microsoftonline.com/t1/v2.0", None)));
    }

    #[test]
    fn a_single_tenant_issuer_must_match_exactly_or_be_its_v1_twin() {
        let issuer = Issuer { metadata_issuer: "https://login.microsoftonline.com/t1/v2.0".into() };
        assert!(issuer.accepts(&claims("https://login.microsoftonline.com/t1/v2.0", Some("t1"))));
        assert!(issuer.accepts(&claims("https://sts.windows.net/t1/", Some("t1"))));
        assert!(!issuer.accepts(&claims("https://sts.windows.net/t2/", Some("t2"))));
        assert!(!issuer.accepts(&claims("https://evil.example/t1/v2.0", Some("t1"))));
        let other = Issuer { metadata_issuer: "http://127.0.0.1:4000".into() };
        assert!(!other.accepts(&claims("https://sts.windows.net/t1/", Some("t1"))));
    }

    #[test]
    fn overage_is_told_apart_from_having_no_groups() {
        let mut c = Claims::default();
        assert!(!c.has_group_overage());
        c.claim_names = Some(serde_json::json!({"groups": "src1"}));
        assert!(c.has_group_overage());
        let parsed: Claims = serde_json::from_value(serde_json::json!({"iss": "x", "hasgroups": true})).unwrap();
        assert!(parsed.has_group_overage() && parsed.roles.is_empty() && parsed.groups.is_empty());
    }
}
