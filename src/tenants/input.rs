//! Tenant input from the REST API, checked field by field into validated types. Pure: no IO.
//!
//! The body is read as a JSON object and each field is taken out by hand rather than through a
//! derived `Deserialize`, so every refusal names its field (serde's messages often do not) and no
//! message ever quotes a submitted secret.

use secrecy::SecretString;
use sha1::Digest;

use crate::config::Cloud;
use crate::ingest::connector::{certificate_der, Credential, PemError};
use crate::normalize::Source;

/// The longest display name, in characters.
pub const MAX_DISPLAY_NAME: usize = 100;
/// The longest client secret, in characters (Entra secrets are 40).
const MAX_SECRET: usize = 1024;
/// The largest certificate or private key PEM, in bytes.
const MAX_PEM: usize = 64 * 1024;

const CREATE_FIELDS: &[&str] = &[
    "tenant_id",
    "display_name",
    "client_id",
    "cloud",
    "sources",
    "enabled",
    "client_secret",
    "certificate_pem",
    "private_key_pem",
];

/// A refused field and why, phrased to follow "invalid `field`:".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    pub field: String,
    pub problem: String,
}

impl InputError {
    fn new(field: &str, problem: impl Into<String>) -> Self {
        Self { field: field.to_string(), problem: problem.into() }
    }
}

impl From<InputError> for app::error::AppError {
    fn from(e: InputError) -> Self {
        app::error::AppError::invalid_input(&e.field, e.problem)
    }
}

/// How AOC will prove it is the app, as submitted (not yet sealed).
pub enum CredentialInput {
    /// A client secret's value.
    Secret(SecretString),
    /// A certificate (public, stored as is) and its private key (sealed).
    Certificate { certificate_pem: String, private_key_pem: SecretString, thumbprint: String },
}

impl CredentialInput {
    /// `secret` or `certificate`, as stored in `tenants.auth_kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            CredentialInput::Secret(_) => "secret",
            CredentialInput::Certificate { .. } => "certificate",
        }
    }
}

/// A tenant to add, every field checked.
pub struct NewTenant {
    /// Lower-case GUID.
    pub tenant_id: String,
    pub display_name: String,
    /// Lower-case GUID.
    pub client_id: String,
    pub cloud: Cloud,
    /// At least one, in [`Source::ALL`] order.
    pub sources: Vec<Source>,
    pub enabled: bool,
    pub credential: CredentialInput,
}

/// Changes to a tenant; `None` leaves a field as it is.
#[derive(Default)]
pub struct TenantChanges {
    pub display_name: Option<String>,
    pub client_id: Option<String>,
    pub cloud: Option<Cloud>,
    pub sources: Option<Vec<Source>>,
    pub enabled: Option<bool>,
    /// A new credential (replaces the old one, whatever its kind).
    pub credential: Option<CredentialInput>,
}

/// Reads the body of `POST /api/tenants`.
pub fn parse_new_tenant(body: &[u8]) -> Result<NewTenant, InputError> {
    let fields = Fields::parse(body, CREATE_FIELDS, |_| None)?;
    let tenant_id = parse_guid("tenant_id", fields.required_str("tenant_id")?, "the tenant's id")?;
    let display_name = parse_display_name(fields.required_str("display_name")?)?;
    let client_id =
        parse_guid("client_id", fields.required_str("client_id")?, "the app registration's application (client) id")?;
    let cloud = fields.str("cloud")?.map(parse_cloud).transpose()?.unwrap_or(Cloud::Worldwide);
    let sources = fields.sources()?.unwrap_or_else(|| Source::ALL.to_vec());
    let enabled = fields.bool("enabled")?.unwrap_or(true);
    let credential = parse_credential(&fields)?.ok_or_else(|| {
        InputError::new("client_secret", "is required, unless certificate_pem and private_key_pem are given")
    })?;
    Ok(NewTenant { tenant_id, display_name, client_id, cloud, sources, enabled, credential })
}

/// Reads the body of `PATCH /api/tenants/{tenant_id}`.
pub fn parse_changes(body: &[u8]) -> Result<TenantChanges, InputError> {
    let fields = Fields::parse(body, &CREATE_FIELDS[1..], |name| {
        (name == "tenant_id").then_some("cannot be changed; delete the tenant and add it again")
    })?;
    let changes = TenantChanges {
        display_name: fields.str("display_name")?.map(parse_display_name).transpose()?,
        client_id: fields
            .str("client_id")?
            .map(|v| parse_guid("client_id", v, "the app registration's application (client) id"))
            .transpose()?,
        cloud: fields.str("cloud")?.map(parse_cloud).transpose()?,
        sources: fields.sources()?,
        enabled: fields.bool("enabled")?,
        credential: parse_credential(&fields)?,
    };
    let nothing = changes.display_name.is_none()
        && changes.client_id.is_none()
        && changes.cloud.is_none()
        && changes.sources.is_none()
        && changes.enabled.is_none()
        && changes.credential.is_none();
    if nothing {
        return Err(InputError::new(
            "body",
            format!("names nothing to change; give at least one of {}", CREATE_FIELDS[1..].join(", ")),
        ));
    }
    Ok(changes)
}

/// A tenant id from a path or a body: a GUID, returned in lower case.
pub fn parse_tenant_id(value: &str) -> Result<String, InputError> {
    parse_guid("tenant_id", value, "the tenant's id")
}

/// The SHA-1 thumbprint of a PEM certificate in upper-case hex, as the Entra admin center shows it.
pub fn certificate_thumbprint(certificate_pem: &str) -> Option<String> {
    let der = certificate_der(certificate_pem).ok()?;
    Some(sha1::Sha1::digest(&der).iter().map(|b| format!("{b:02X}")).collect())
}

/// Whether `value` has the GUID shape xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.
fn is_guid(value: &str) -> bool {
    value.len() == 36
        && value
            .char_indices()
            .all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
}

fn parse_guid(field: &str, value: &str, what: &str) -> Result<String, InputError> {
    let value = value.trim();
    if is_guid(value) {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(InputError::new(field, format!("must be {what}, a GUID such as 8f3c2a10-1b2c-4d5e-9f00-112233445566")))
    }
}

fn parse_display_name(value: &str) -> Result<String, InputError> {
    let value = value.trim();
    let length = value.chars().count();
    if length == 0 {
        Err(InputError::new("display_name", "must not be empty"))
    } else if length > MAX_DISPLAY_NAME {
        Err(InputError::new("display_name", format!("is too long ({length} characters; at most {MAX_DISPLAY_NAME})")))
    } else if value.chars().any(char::is_control) {
        Err(InputError::new("display_name", "must not contain control characters (such as line breaks)"))
    } else {
        Ok(value.to_string())
    }
}

fn parse_cloud(value: &str) -> Result<Cloud, InputError> {
    Cloud::parse(value).ok_or_else(|| InputError::new("cloud", "must be one of worldwide, gcc, gcchigh, dod, china"))
}

fn parse_credential(fields: &Fields) -> Result<Option<CredentialInput>, InputError> {
    let secret = fields.str("client_secret")?;
    let certificate = fields.str("certificate_pem")?;
    let key = fields.str("private_key_pem")?;
    match (secret, certificate, key) {
        (None, None, None) => Ok(None),
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(InputError::new(
            "client_secret",
            "give either client_secret, or certificate_pem with private_key_pem, not both",
        )),
        (Some(secret), None, None) => parse_secret(secret).map(Some),
        (None, Some(_), None) => Err(InputError::new(
            "private_key_pem",
            "is required with certificate_pem (the certificate's RSA private key, PEM)",
        )),
        (None, None, Some(_)) => {
            Err(InputError::new("certificate_pem", "is required with private_key_pem (the certificate, PEM)"))
        }
        (None, Some(certificate), Some(key)) => parse_certificate(certificate, key).map(Some),
    }
}

fn parse_secret(value: &str) -> Result<CredentialInput, InputError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(InputError::new("client_secret", "must not be empty"));
    }
    if value.chars().count() > MAX_SECRET {
        return Err(InputError::new("client_secret", format!("is too long (at most {MAX_SECRET} characters)")));
    }
    if value.chars().any(char::is_control) {
        return Err(InputError::new("client_secret", "must not contain control characters"));
    }
    if is_guid(value) {
        // The mistake behind most AADSTS7000215 failures, caught before it is stored.
        return Err(InputError::new(
            "client_secret",
            "looks like the secret's ID (a GUID); use the secret's Value, shown once when the secret is created",
        ));
    }
    Ok(CredentialInput::Secret(SecretString::from(value.to_string())))
}

fn parse_certificate(certificate: &str, key: &str) -> Result<CredentialInput, InputError> {
    if certificate.len() > MAX_PEM {
        return Err(InputError::new("certificate_pem", format!("is too large (at most {MAX_PEM} bytes)")));
    }
    if key.len() > MAX_PEM {
        return Err(InputError::new("private_key_pem", format!("is too large (at most {MAX_PEM} bytes)")));
    }
    if certificate.contains("PRIVATE KEY") {
        // The certificate is stored unencrypted: a key pasted into it would not be.
        return Err(InputError::new(
            "certificate_pem",
            "contains a private key; send only the certificate here and the key in private_key_pem",
        ));
    }
    match Credential::parse_pem(certificate, key) {
        Ok(_) => {}
        Err(PemError::Certificate) => {
            return Err(InputError::new("certificate_pem", "holds no PEM certificate (-----BEGIN CERTIFICATE-----)"))
        }
        Err(PemError::PrivateKey) => {
            return Err(InputError::new(
                "private_key_pem",
                "holds no RSA private key in PEM form (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)",
            ))
        }
    }
    let thumbprint = certificate_thumbprint(certificate)
        .ok_or_else(|| InputError::new("certificate_pem", "holds no PEM certificate (-----BEGIN CERTIFICATE-----)"))?;
    Ok(CredentialInput::Certificate {
        certificate_pem: certificate.trim().to_string(),
        private_key_pem: SecretString::from(key.trim().to_string()),
        thumbprint,
    })
}

/// The fields of a JSON object body. `null` counts as absent.
struct Fields {
    map: serde_json::Map<String, serde_json::Value>,
}

impl Fields {
    /// Parses `body`, refusing fields outside `known` (`refuse` may explain a particular one).
    fn parse(body: &[u8], known: &[&str], refuse: impl Fn(&str) -> Option<&'static str>) -> Result<Self, InputError> {
        let map = match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => return Err(InputError::new("body", "must be a JSON object")),
        };
        if let Some(name) = map.keys().find(|k| !known.contains(&k.as_str())) {
            let problem = refuse(name)
                .map(str::to_string)
                .unwrap_or_else(|| format!("is not a field of a tenant; expected {}", known.join(", ")));
            return Err(InputError::new(name, problem));
        }
        Ok(Self { map })
    }

    fn value(&self, name: &str) -> Option<&serde_json::Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn str(&self, name: &str) -> Result<Option<&str>, InputError> {
        match self.value(name) {
            None => Ok(None),
            Some(v) => v.as_str().map(Some).ok_or_else(|| InputError::new(name, "must be a string")),
        }
    }

    fn required_str(&self, name: &str) -> Result<&str, InputError> {
        self.str(name)?.ok_or_else(|| InputError::new(name, "is required"))
    }

    fn bool(&self, name: &str) -> Result<Option<bool>, InputError> {
        match self.value(name) {
            None => Ok(None),
            Some(v) => v.as_bool().map(Some).ok_or_else(|| InputError::new(name, "must be true or false")),
        }
    }

    fn sources(&self) -> Result<Option<Vec<Source>>, InputError> {
        const EXPECTED: &str = "must be a non-empty list drawn from unified, directory, signin, intune";
        let Some(value) = self.value("sources") else { return Ok(None) };
        let items = value.as_array().filter(|a| !a.is_empty()).ok_or_else(|| InputError::new("sources", EXPECTED))?;
        let mut chosen = Vec::new();
        for item in items {
            let name = item.as_str().ok_or_else(|| InputError::new("sources", EXPECTED))?;
            let source = Source::parse(name).ok_or_else(|| {
                InputError::new(
                    "sources",
                    format!("{name:?} is not a source; expected unified, directory, signin or intune"),
                )
            })?;
            chosen.push(source);
        }
        Ok(Some(Source::ALL.into_iter().filter(|s| chosen.contains(s)).collect()))
    }
}

/// The stored form of a source list (`tenants.sources`).
pub fn sources_column(sources: &[Source]) -> String {
    sources.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
}

/// Reads `tenants.sources`, skipping names this version does not know.
pub fn sources_from_column(column: &str) -> Vec<Source> {
    column.split(',').filter_map(Source::parse).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::simulator::identity::{APP_CERT_PEM, APP_KEY_PEM};

    fn valid() -> Value {
        json!({
            "tenant_id": "8F3C2A10-1B2C-4D5E-9F00-112233445566",
            "display_name": "  Contoso  ",
            "client_id": "0f3c2a10-1b2c-4d5e-9f00-112233445566",
            "client_secret": "abc~DEF123ghi456JKL789mno012PQR345stu678",
        })
    }

    fn refused(body: Value) -> InputError {
        match parse_new_tenant(body.to_string().as_bytes()) {
            Ok(_) => panic!("accepted {body}"),
            Err(e) => e,
        }
    }

    fn with(mut body: Value, field: &str, value: Value) -> Value {
        body[field] = value;
        body
    }

    #[test]
    fn a_minimal_tenant_gets_the_defaults_and_normalized_ids() {
        let t = parse_new_tenant(valid().to_string().as_bytes()).unwrap();
        assert_eq!(t.tenant_id, "8f3c2a10-1b2c-4d5e-9f00-112233445566");
        assert_eq!(t.display_name, "Contoso");
        assert_eq!(t.cloud, Cloud::Worldwide);
        assert_eq!(t.sources, Source::ALL.to_vec());
        assert!(t.enabled);
        assert_eq!(t.credential.kind(), "secret");
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            ("tenant_id", with(valid(), "tenant_id", json!("contoso.onmicrosoft.com"))),
            ("tenant_id", with(valid(), "tenant_id", json!(42))),
            ("client_id", with(valid(), "client_id", json!("not-a-guid"))),
            ("display_name", with(valid(), "display_name", json!("   "))),
            ("display_name", with(valid(), "display_name", json!("x".repeat(MAX_DISPLAY_NAME + 1)))),
            ("display_name", with(valid(), "display_name", json!("two\nlines"))),
            ("cloud", with(valid(), "cloud", json!("mars"))),
            ("sources", with(valid(), "sources", json!([]))),
            ("sources", with(valid(), "sources", json!(["unified", "mail"]))),
            ("sources", with(valid(), "sources", json!("unified"))),
            ("enabled", with(valid(), "enabled", json!("yes"))),
            ("client_secret", with(valid(), "client_secret", json!(""))),
            ("client_secret", with(valid(), "client_secret", json!("5c1f0a52-1b2c-4d5e-9f00-112233445566"))),
            ("client_secret", with(valid(), "certificate_pem", json!(APP_CERT_PEM))),
            ("clientSecret", with(valid(), "clientSecret", json!("x"))),
        ];
        for (field, body) in cases {
            assert_eq!(refused(body.clone()).field, field, "{body}");
        }
        let mut missing = valid();
        missing.as_object_mut().unwrap().remove("client_secret");
        assert_eq!(refused(missing.clone()).field, "client_secret");
        missing.as_object_mut().unwrap().remove("tenant_id");
        assert_eq!(refused(missing).field, "tenant_id");
        assert_eq!(parse_new_tenant(b"not json").err().unwrap().field, "body");
        assert_eq!(parse_new_tenant(b"[1,2]").err().unwrap().field, "body");
    }

    #[test]
    fn sources_are_deduplicated_in_a_fixed_order() {
        let t =
            parse_new_tenant(with(valid(), "sources", json!(["signin", "unified", "signin"])).to_string().as_bytes())
                .unwrap();
        assert_eq!(t.sources, vec![Source::Unified, Source::Signin]);
        assert_eq!(sources_column(&t.sources), "unified,signin");
        assert_eq!(sources_from_column("unified,mail,signin"), vec![Source::Unified, Source::Signin]);
    }

    #[test]
    fn a_certificate_credential_needs_both_halves_in_pem() {
        let mut body = valid();
        body.as_object_mut().unwrap().remove("client_secret");
        let cert =
            |c: &str, k: &str| with(with(body.clone(), "certificate_pem", json!(c)), "private_key_pem", json!(k));
        let t = parse_new_tenant(cert(APP_CERT_PEM, APP_KEY_PEM).to_string().as_bytes()).unwrap();
        let CredentialInput::Certificate { thumbprint, .. } = &t.credential else { panic!("not a certificate") };
        assert_eq!(thumbprint.len(), 40);
        assert!(thumbprint.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
        assert_eq!(refused(cert("garbage", APP_KEY_PEM)).field, "certificate_pem");
        assert_eq!(refused(cert(APP_CERT_PEM, "garbage")).field, "private_key_pem");
        let combined = format!("{APP_CERT_PEM}\n{APP_KEY_PEM}");
        let err = refused(cert(&combined, APP_KEY_PEM));
        assert_eq!(err.field, "certificate_pem");
        assert!(err.problem.contains("private key"), "{err:?}");
        assert_eq!(refused(with(body.clone(), "certificate_pem", json!(APP_CERT_PEM))).field, "private_key_pem");
        assert_eq!(refused(with(body, "private_key_pem", json!(APP_KEY_PEM))).field, "certificate_pem");
    }

    #[test]
    fn no_refusal_quotes_a_secret() {
        let secret = "5c1f0a52-1b2c-4d5e-9f00-112233445566";
        let err = refused(with(valid(), "client_secret", json!(secret)));
        assert!(!err.problem.contains(secret));
        let err = refused(with(valid(), "client_secret", json!(["s3cret-in-a-list"])));
        assert!(!err.problem.contains("s3cret"));
    }

    #[test]
    fn changes_name_something_and_never_the_tenant_id() {
        assert_eq!(parse_changes(b"{}").err().unwrap().field, "body");
        let err = parse_changes(br#"{"tenant_id": "8f3c2a10-1b2c-4d5e-9f00-112233445566"}"#).err().unwrap();
        assert_eq!(err.field, "tenant_id");
        assert!(err.problem.contains("cannot be changed"));
        let c = parse_changes(br#"{"enabled": false, "cloud": "GCC-High", "display_name": null}"#).unwrap();
        assert_eq!(c.enabled, Some(false));
        assert_eq!(c.cloud, Some(Cloud::GccHigh));
        assert!(c.display_name.is_none() && c.credential.is_none());
        let c = parse_changes(br#"{"client_secret": "new~secret"}"#).unwrap();
        assert_eq!(c.credential.map(|c| c.kind()), Some("secret"));
    }
}
