//! A connector: one tenant to collect from, with its credentials and endpoints.

use std::path::Path;

use base64::Engine;
use secrecy::SecretString;
use sha2::Digest;

use crate::config::{Cloud, CollectionSettings};
use crate::normalize::Source;

/// How AOC proves it is the app.
#[derive(Clone)]
pub enum Credential {
    /// A client secret's value.
    Secret(SecretString),
    /// A certificate: the SHA-256 and SHA-1 thumbprints of its DER (base64url) and the private key.
    Certificate { x5t_s256: String, x5t: String, key: std::sync::Arc<jsonwebtoken::EncodingKey> },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Secret(_) => f.write_str("Secret([REDACTED])"),
            Credential::Certificate { x5t_s256, .. } => write!(f, "Certificate(x5t#S256={x5t_s256})"),
        }
    }
}

impl Credential {
    /// Loads a certificate credential from PEM files; the error names the file and the problem.
    pub fn from_pem_files(certificate: &Path, private_key: &Path) -> Result<Self, String> {
        let cert = std::fs::read_to_string(certificate)
            .map_err(|e| format!("CLIENT_CERTIFICATE_PATH {}: cannot read it: {e}", certificate.display()))?;
        let key = std::fs::read_to_string(private_key)
            .map_err(|e| format!("CLIENT_PRIVATE_KEY_PATH {}: cannot read it: {e}", private_key.display()))?;
        Self::from_pem(&cert, &key).map_err(|e| format!("{e} ({} / {})", certificate.display(), private_key.display()))
    }

    /// A certificate credential from PEM text.
    pub fn from_pem(certificate_pem: &str, private_key_pem: &str) -> Result<Self, String> {
        Self::parse_pem(certificate_pem, private_key_pem).map_err(|e| match e {
            PemError::Certificate => "the certificate file holds no PEM certificate".to_string(),
            PemError::PrivateKey => "the private key file holds no RSA private key in PEM form".to_string(),
        })
    }

    /// A certificate credential from PEM text; the error says which half is unusable.
    pub fn parse_pem(certificate_pem: &str, private_key_pem: &str) -> Result<Self, PemError> {
        let der = certificate_der(certificate_pem)?;
        let key =
            jsonwebtoken::EncodingKey::from_rsa_pem(private_key_pem.as_bytes()).map_err(|_| PemError::PrivateKey)?;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        Ok(Credential::Certificate {
            x5t_s256: b64.encode(sha2::Sha256::digest(&der)),
            x5t: b64.encode(sha1::Sha1::digest(&der)),
            key: std::sync::Arc::new(key),
        })
    }
}

/// Which half of a certificate credential is unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    #[error("no PEM certificate (-----BEGIN CERTIFICATE-----) found")]
    Certificate,
    #[error("no RSA private key in PEM form found")]
    PrivateKey,
}

/// The DER bytes of the first certificate in PEM text.
pub fn certificate_der(certificate_pem: &str) -> Result<Vec<u8>, PemError> {
    let body: String = certificate_pem
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    match base64::engine::general_purpose::STANDARD.decode(body.trim()) {
        Ok(der) if !der.is_empty() => Ok(der),
        _ => Err(PemError::Certificate),
    }
}

/// One tenant to collect from.
#[derive(Clone, Debug)]
pub struct Connector {
    pub tenant_id: String,
    pub client_id: String,
    pub credential: Credential,
    pub cloud: Cloud,
    /// Token authority, e.g. https://login.microsoftonline.com.
    pub login_url: String,
    /// Graph root (requests), e.g. https://graph.microsoft.com.
    pub graph_url: String,
    /// Management Activity API root (requests), e.g. https://manage.office.com.
    pub management_url: String,
    /// Sent as PublisherIdentifier on every Management call.
    pub publisher_id: String,
    pub sources: Vec<Source>,
    /// AOC's own Management API budget for this tenant, requests per minute.
    pub management_rpm: u32,
    /// Collected from the built-in simulator (shown as demo data).
    pub demo: bool,
    /// The tenant's own mail domains as configured (TENANT_DOMAINS); Graph adds the verified
    /// ones it lists (`ingest::domains`).
    pub domains: Vec<String>,
}

impl Connector {
    /// The connector configured in the environment, if any.
    pub fn from_settings(c: &CollectionSettings) -> Result<Option<Connector>, String> {
        let (Some(tenant_id), Some(client_id)) = (&c.tenant_id, &c.client_id) else { return Ok(None) };
        let credential = match (&c.certificate, &c.client_secret) {
            (Some(paths), _) => Credential::from_pem_files(&paths.certificate, &paths.private_key)?,
            (None, Some(secret)) => Credential::Secret(secret.clone()),
            (None, None) => return Err("CLIENT_SECRET or CLIENT_CERTIFICATE_PATH is required".into()),
        };
        let sources = c.sources.iter().filter_map(|s| Source::parse(s)).collect();
        let mut connector = Connector::configured(c, tenant_id, client_id, credential, c.cloud, sources);
        connector.domains = c.tenant_domains.clone();
        Ok(Some(connector))
    }

    /// A connector whose endpoints, publisher id and request budget follow the settings: the
    /// cloud's endpoints unless LOGIN_BASE_URL, GRAPH_BASE_URL or MANAGEMENT_BASE_URL override
    /// them, PUBLISHER_IDENTIFIER (default: the tenant id), MANAGEMENT_REQUESTS_PER_MINUTE. Used
    /// for the environment's tenant and for tenants stored in the database alike.
    pub fn configured(
        c: &CollectionSettings,
        tenant_id: &str,
        client_id: &str,
        credential: Credential,
        cloud: Cloud,
        sources: Vec<Source>,
    ) -> Connector {
        Connector {
            tenant_id: tenant_id.to_string(),
            client_id: client_id.to_string(),
            credential,
            cloud,
            login_url: c.login_base_url.clone().unwrap_or_else(|| cloud.login_url().to_string()),
            graph_url: c.graph_base_url.clone().unwrap_or_else(|| cloud.graph_url().to_string()),
            management_url: c.management_base_url.clone().unwrap_or_else(|| cloud.management_url().to_string()),
            publisher_id: c.publisher_identifier.clone().unwrap_or_else(|| tenant_id.to_string()),
            sources,
            management_rpm: c.management_requests_per_minute,
            demo: false,
            domains: Vec::new(),
        }
    }

    /// The token resource (scope without `/.default`) for an API: always the cloud's identifier,
    /// even when the request URL is overridden.
    pub fn resource(&self, api: Api) -> &'static str {
        match api {
            Api::Management => self.cloud.management_url(),
            Api::Graph => self.cloud.graph_url(),
        }
    }
}

/// Which Microsoft API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Api {
    Management,
    Graph,
}
