//! Sealing tenant secrets at rest: AES-256-GCM under AOC_ENCRYPTION_KEY, a fresh random 96-bit
//! nonce per value, stored as `v1:` + base64(nonce || ciphertext || tag).
//!
//! The tenant id and the column are bound in as associated data, so a sealed value only opens
//! where it was written: copying one tenant's ciphertext onto another row, or a client secret into
//! the private key column, fails like a wrong key does. The `v1:` prefix leaves room for another
//! scheme (or key rotation) later without guessing what a stored value is.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use secrecy::SecretString;

use crate::config::EncryptionKey;

/// The prefix of values sealed by this version.
const V1: &str = "v1:";
/// AES-GCM's standard nonce length in bytes.
const NONCE_LEN: usize = 12;
/// The authentication tag's length in bytes.
const TAG_LEN: usize = 16;

/// Which stored secret a value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretKind {
    /// `tenants.secret_ciphertext`: an app registration's client secret.
    ClientSecret,
    /// `tenants.private_key_ciphertext`: a certificate credential's private key (PEM).
    PrivateKey,
    /// `destinations.secret_ciphertext`: an export destination's credential (webhook secret,
    /// token); the "tenant id" it is bound to is the destination's id.
    DestinationSecret,
}

impl SecretKind {
    /// The column the value lives in.
    pub fn column(self) -> &'static str {
        match self {
            SecretKind::ClientSecret => "secret_ciphertext",
            SecretKind::PrivateKey => "private_key_ciphertext",
            SecretKind::DestinationSecret => "secret_ciphertext",
        }
    }

    /// What the value is, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            SecretKind::ClientSecret => "client secret",
            SecretKind::PrivateKey => "certificate private key",
            SecretKind::DestinationSecret => "destination credential",
        }
    }

    fn associated_data(self, tenant_id: &str) -> String {
        let table = if self == SecretKind::DestinationSecret { "destinations" } else { "tenants" };
        format!("aoc/{table}/{}/{}", self.column(), tenant_id)
    }
}

/// Why a stored value could not be opened (or sealed). Messages never include the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// Not written by this scheme (no `v1:` prefix).
    #[error("the stored value is not in a format AOC knows (expected the `v1:` prefix)")]
    UnknownFormat,
    /// The prefix is right but the rest is not base64 of a nonce and a ciphertext.
    #[error("the stored value is damaged (not base64 of a nonce and a ciphertext)")]
    Malformed,
    /// Authentication failed: another key, another row or column, or altered bytes.
    #[error(
        "the stored value cannot be decrypted with AOC_ENCRYPTION_KEY: the key is not the one it was stored \
         with, or the value was altered"
    )]
    Rejected,
    /// The plaintext is not UTF-8 (cannot happen for values AOC sealed).
    #[error("the decrypted value is not text")]
    NotText,
    /// Encryption failed (only for absurdly large values).
    #[error("the value could not be encrypted")]
    Seal,
}

/// Seals and opens tenant secrets with one key.
pub struct SecretCipher {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretCipher([REDACTED])")
    }
}

impl SecretCipher {
    /// A cipher over AOC_ENCRYPTION_KEY.
    pub fn new(key: &EncryptionKey) -> Self {
        Self { cipher: Aes256Gcm::new(aes_gcm::Key::<Aes256Gcm>::from_slice(key.expose())) }
    }

    /// Encrypts `plaintext` as the `kind` of `tenant_id`, under a fresh random nonce.
    pub fn seal(&self, kind: SecretKind, tenant_id: &str, plaintext: &str) -> Result<String, CryptoError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = kind.associated_data(tenant_id);
        let ciphertext = self
            .cipher
            .encrypt(&nonce, Payload { msg: plaintext.as_bytes(), aad: aad.as_bytes() })
            .map_err(|_| CryptoError::Seal)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(format!("{V1}{}", base64::engine::general_purpose::STANDARD.encode(sealed)))
    }

    /// Decrypts a value written by [`SecretCipher::seal`] for the same `kind` and `tenant_id`.
    pub fn open(&self, kind: SecretKind, tenant_id: &str, stored: &str) -> Result<SecretString, CryptoError> {
        let encoded = stored.strip_prefix(V1).ok_or(CryptoError::UnknownFormat)?;
        let sealed = base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|_| CryptoError::Malformed)?;
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Malformed);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let aad = kind.associated_data(tenant_id);
        let plaintext = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: aad.as_bytes() })
            .map_err(|_| CryptoError::Rejected)?;
        String::from_utf8(plaintext).map(SecretString::from).map_err(|_| CryptoError::NotText)
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    const TENANT: &str = "8f3c2a10-1b2c-4d5e-9f00-112233445566";

    fn cipher(byte: u8) -> SecretCipher {
        SecretCipher::new(&EncryptionKey::new([byte; 32]))
    }

    fn decode(stored: &str) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD.decode(stored.strip_prefix("v1:").unwrap()).unwrap()
    }

    #[test]
    fn a_sealed_secret_opens_to_the_same_text() {
        let c = cipher(7);
        for plaintext in ["sim~0123456789abcdef", "", "ünïcødé ~ secret with spaces", &"x".repeat(10_000)] {
            let sealed = c.seal(SecretKind::ClientSecret, TENANT, plaintext).unwrap();
            assert!(sealed.starts_with("v1:"), "{sealed}");
            assert!(!sealed.contains(plaintext) || plaintext.is_empty());
            assert_eq!(decode(&sealed).len(), 12 + plaintext.len() + 16, "nonce, ciphertext and tag");
            assert_eq!(c.open(SecretKind::ClientSecret, TENANT, &sealed).unwrap().expose_secret(), plaintext);
        }
    }

    #[test]
    fn every_encryption_uses_a_new_nonce() {
        let c = cipher(7);
        let sealed: Vec<String> = (0..50).map(|_| c.seal(SecretKind::ClientSecret, TENANT, "same").unwrap()).collect();
        let nonces: std::collections::BTreeSet<Vec<u8>> = sealed.iter().map(|s| decode(s)[..12].to_vec()).collect();
        assert_eq!(nonces.len(), sealed.len(), "a nonce was reused");
        let distinct: std::collections::BTreeSet<&String> = sealed.iter().collect();
        assert_eq!(distinct.len(), sealed.len(), "the same plaintext must not seal to the same value");
    }

    #[test]
    fn a_tampered_value_is_rejected_not_decrypted() {
        let c = cipher(7);
        let sealed = c.seal(SecretKind::PrivateKey, TENANT, "-----BEGIN PRIVATE KEY-----").unwrap();
        let bytes = decode(&sealed);
        for i in [0, 11, 12, bytes.len() / 2, bytes.len() - 1] {
            let mut altered = bytes.clone();
            altered[i] ^= 0x01;
            let altered = format!("v1:{}", base64::engine::general_purpose::STANDARD.encode(&altered));
            assert_eq!(
                c.open(SecretKind::PrivateKey, TENANT, &altered).unwrap_err(),
                CryptoError::Rejected,
                "byte {i}"
            );
        }
        let truncated = format!("v1:{}", base64::engine::general_purpose::STANDARD.encode(&bytes[..bytes.len() - 1]));
        assert_eq!(c.open(SecretKind::PrivateKey, TENANT, &truncated).unwrap_err(), CryptoError::Rejected);
    }

    #[test]
    fn another_key_row_or_column_cannot_open_a_value() {
        let sealed = cipher(7).seal(SecretKind::ClientSecret, TENANT, "s3cret").unwrap();
        let err = cipher(8).open(SecretKind::ClientSecret, TENANT, &sealed).unwrap_err();
        assert_eq!(err, CryptoError::Rejected);
        assert!(err.to_string().contains("AOC_ENCRYPTION_KEY"), "{err}");
        let other_tenant = "0f3c2a10-1b2c-4d5e-9f00-112233445566";
        assert_eq!(cipher(7).open(SecretKind::ClientSecret, other_tenant, &sealed).unwrap_err(), CryptoError::Rejected);
        assert_eq!(cipher(7).open(SecretKind::PrivateKey, TENANT, &sealed).unwrap_err(), CryptoError::Rejected);
    }

    #[test]
    fn values_in_an_unknown_format_are_reported_as_such() {
        let c = cipher(7);
        assert_eq!(c.open(SecretKind::ClientSecret, TENANT, "s3cret").unwrap_err(), CryptoError::UnknownFormat);
        assert_eq!(c.open(SecretKind::ClientSecret, TENANT, "v2:AAAA").unwrap_err(), CryptoError::UnknownFormat);
        assert_eq!(c.open(SecretKind::ClientSecret, TENANT, "v1:not base64!").unwrap_err(), CryptoError::Malformed);
        assert_eq!(c.open(SecretKind::ClientSecret, TENANT, "v1:AAAA").unwrap_err(), CryptoError::Malformed);
    }

    #[test]
    fn the_cipher_never_shows_its_key() {
        assert_eq!(format!("{:?}", cipher(0x41)), "SecretCipher([REDACTED])");
    }
}
