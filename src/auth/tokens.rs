//! Personal API tokens: `aoc_pat_` and 43 characters of base64url (256 random bits). AOC keeps
//! the SHA-256 of a token, never the token: with 256 random bits a fast hash cannot be reversed
//! or guessed, and a lookup by hash costs one indexed read. A token acts for the person who
//! created it, with the role chosen at creation (never above the creator's role then), until it
//! expires or is revoked; every audit-trail entry it causes names its owner and the token's id.

use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};

use app::auth::{AuthMethod, Caller, Role};

use crate::store;

/// What every personal API token starts with (so secret scanners and people recognise it).
pub const TOKEN_PREFIX: &str = "aoc_pat_";
/// Characters of a token shown in lists.
const SHOWN: usize = TOKEN_PREFIX.len() + 4;
/// How stale a token's last-used time may get before a use records it again.
const TOUCH_AFTER_SECONDS: i64 = 60;

/// A new token: the secret, its hash and the prefix shown in lists.
pub struct Minted {
    pub token: String,
    pub hash: String,
    pub prefix: String,
}

/// Makes a new random token.
pub fn mint() -> Minted {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    Minted { hash: hash(&token), prefix: token[..SHOWN].to_string(), token }
}

/// The stored form of a token.
pub fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a bearer credential is one of AOC's personal API tokens (rather than a JWT).
pub fn is_personal_token(token: &str) -> bool {
    token.starts_with(TOKEN_PREFIX)
}

/// Parses a stored role name.
pub fn parse_role(text: &str) -> Option<Role> {
    match text {
        "reader" => Some(Role::Reader),
        "analyst" => Some(Role::Analyst),
        "admin" => Some(Role::Admin),
        _ => None,
    }
}

/// The caller a personal API token acts as, or why it is refused.
pub async fn caller(db: &DatabaseConnection, token: &str, now: DateTime<Utc>) -> Result<Caller, String> {
    let row = store::tokens::find_by_hash(db, &hash(token))
        .await
        .map_err(|e| format!("the token store failed: {e}"))?
        .ok_or_else(|| "unknown personal API token".to_string())?;
    if row.revoked_at.is_some() {
        return Err(format!("personal API token {} was revoked", row.id));
    }
    if row.expires_at <= now {
        return Err(format!("personal API token {} expired", row.id));
    }
    let role = parse_role(&row.role).ok_or_else(|| format!("personal API token {} has an unknown role", row.id))?;
    if row.last_used_at.is_none_or(|t| (now - t).num_seconds() > TOUCH_AFTER_SECONDS) {
        if let Err(e) = store::tokens::touch(db, row.id, now).await {
            tracing::warn!(token_id = row.id, error = %e, "could not record a personal API token's use");
        }
    }
    Ok(Caller {
        subject: row.owner_subject,
        display_name: row.owner_name,
        role,
        method: AuthMethod::ApiToken { token_id: row.id },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hashed() {
        let a = mint();
        let b = mint();
        assert_ne!(a.token, b.token);
        assert!(a.token.starts_with(TOKEN_PREFIX));
        assert_eq!(a.token.len(), TOKEN_PREFIX.len() + 43);
        assert_eq!(a.hash, hash(&a.token));
        assert_eq!(a.hash.len(), 64);
        assert!(!a.hash.contains(&a.token[TOKEN_PREFIX.len()..]));
        assert!(a.token.starts_with(&a.prefix) && a.prefix.len() == SHOWN);
        assert!(is_personal_token(&a.token));
        assert!(!is_personal_token("eyJhbGciOiJSUzI1NiJ9.e30.sig"));
    }
}
