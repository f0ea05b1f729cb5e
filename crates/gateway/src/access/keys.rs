//! The gateway's API keys: `slk_{id}.{secret}`, where the id (12 hex
//! digits) is visible and identifies the key in lists and logs, and the
//! secret is 32 random bytes in base64url. Only the SHA-256 of the secret is
//! stored: the secret has 256 bits of entropy, so a slow hash would add cost
//! and no safety. A presented key is compared with the stored hash in
//! constant time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::store::ApiKeyRow;

/// What every key starts with, so that secret scanners and people can tell one.
pub const PREFIX: &str = "slk_";

/// A key, freshly made: the text to hand over once, and its parts.
pub struct NewKey {
    /// The whole key, `slk_{id}.{secret}`.
    pub text: String,
    /// The visible id.
    pub id: String,
    /// SHA-256 of the secret.
    pub secret_hash: [u8; 32],
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey").field("id", &self.id).finish_non_exhaustive()
    }
}

/// Makes a new random key.
pub fn generate() -> NewKey {
    let mut id = [0u8; 6];
    let mut secret = [0u8; 32];
    OsRng.fill_bytes(&mut id);
    OsRng.fill_bytes(&mut secret);
    let id = hex::encode(id);
    let secret = URL_SAFE_NO_PAD.encode(secret);
    NewKey { text: format!("{PREFIX}{id}.{secret}"), secret_hash: hash(&secret), id }
}

/// The id and secret of a presented key, if it has the shape of one.
pub fn parse(text: &str) -> Option<(&str, &str)> {
    let (id, secret) = text.strip_prefix(PREFIX)?.split_once('.')?;
    let id_ok = id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    let secret_ok = secret.len() == 43 && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (id_ok && secret_ok).then_some((id, secret))
}

fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// A key as the snapshot holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// The principal it authenticates.
    pub principal: std::sync::Arc<str>,
    /// What it is for, in its holder's words.
    pub label: String,
    /// When it was issued, in seconds since the Unix epoch.
    pub created_at: i64,
    secret_hash: [u8; 32],
    /// When it stops working, in seconds since the Unix epoch.
    pub expires_at: Option<i64>,
    /// Whether it was revoked.
    pub revoked: bool,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("principal", &self.principal)
            .field("expires_at", &self.expires_at)
            .field("revoked", &self.revoked)
            .finish_non_exhaustive()
    }
}

/// Why a presented key does not authenticate; logged, never told to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyRejected {
    /// The text is not a key's shape.
    #[error("not an API key")]
    Malformed,
    /// No key has this id.
    #[error("unknown API key")]
    Unknown,
    /// The secret does not match.
    #[error("wrong API key secret")]
    WrongSecret,
    /// The key was revoked.
    #[error("revoked API key")]
    Revoked,
    /// The key expired.
    #[error("expired API key")]
    Expired,
}

impl StoredKey {
    /// The snapshot's form of a stored row; `None` if its hash is not 32 bytes.
    pub fn from_row(row: &ApiKeyRow) -> Option<Self> {
        Some(Self {
            principal: row.principal.as_str().into(),
            label: row.label.clone(),
            created_at: row.created_at,
            secret_hash: row.secret_hash.as_slice().try_into().ok()?,
            expires_at: row.expires_at,
            revoked: row.revoked_at.is_some(),
        })
    }

    /// Checks a presented secret at time `now` (seconds since the epoch).
    pub fn check(&self, secret: &str, now: i64) -> Result<(), KeyRejected> {
        let matches: bool = hash(secret).ct_eq(&self.secret_hash).into();
        if !matches {
            return Err(KeyRejected::WrongSecret);
        }
        if self.revoked {
            return Err(KeyRejected::Revoked);
        }
        if self.expires_at.is_some_and(|at| now >= at) {
            return Err(KeyRejected::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(key: &NewKey, expires_at: Option<i64>, revoked: bool) -> StoredKey {
        StoredKey {
            principal: "alice".into(),
            label: "t".into(),
            created_at: 0,
            secret_hash: key.secret_hash,
            expires_at,
            revoked,
        }
    }

    #[test]
    fn a_generated_key_parses_and_checks() {
        let key = generate();
        let (id, secret) = parse(&key.text).unwrap();
        assert_eq!(id, key.id);
        assert_eq!(stored(&key, None, false).check(secret, 0), Ok(()));
        assert_ne!(generate().text, key.text);
    }

    #[test]
    fn a_wrong_revoked_or_expired_key_is_refused() {
        let key = generate();
        let (_, secret) = parse(&key.text).unwrap();
        let other = generate();
        let (_, other_secret) = parse(&other.text).unwrap();
        assert_eq!(stored(&key, None, false).check(other_secret, 0), Err(KeyRejected::WrongSecret));
        assert_eq!(stored(&key, None, true).check(secret, 0), Err(KeyRejected::Revoked));
        assert_eq!(stored(&key, Some(100), false).check(secret, 99), Ok(()));
        assert_eq!(stored(&key, Some(100), false).check(secret, 100), Err(KeyRejected::Expired));
    }

    #[test]
    fn text_that_is_not_a_key_does_not_parse() {
        let key = generate();
        for text in [
            "",
            "slk_",
            &key.text[..key.text.len() - 1],
            &key.text.replacen("slk_", "sk_", 1),
            &key.text.replace('.', "_"),
            &key.text.to_uppercase(),
            &format!("{}x", key.text),
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }
}
