//! The gateway's secret key, and sealing secrets with it
//! (XChaCha20-Poly1305: a random 24-byte nonce per value, so the same token
//! never encrypts the same way twice; associated data names what the value
//! belongs to, so it opens only there).

use std::path::PathBuf;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};

/// Nonce length of XChaCha20-Poly1305.
const NONCE_BYTES: usize = 24;

/// Where the key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// An environment variable holding the key in base64.
    Env(String),
    /// A file holding the key in base64.
    File(PathBuf),
}

/// The key is missing, malformed, or does not open a value.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The environment variable is not set.
    #[error(
        "the secret key variable `{0}` is not set; set it to 32 random bytes in base64 (e.g. `openssl rand -base64 32`)"
    )]
    MissingEnv(String),
    /// The key file cannot be read.
    #[error("cannot read the secret key file {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key is not 32 bytes of base64.
    #[error("the secret key must be 32 bytes in base64 ({0})")]
    Malformed(String),
    /// A sealed value did not open: wrong key or tampered data.
    #[error(
        "a stored secret does not decrypt with this key (wrong key, a value moved to another row, or the database was altered)"
    )]
    Open,
}

/// The key secrets at rest are sealed with. Its `Debug` shows nothing.
#[derive(Clone)]
pub struct SecretKey {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

impl SecretKey {
    /// Reads the key from its source.
    pub fn load(source: &KeySource) -> Result<Self, KeyError> {
        let text = match source {
            KeySource::Env(variable) => std::env::var(variable).map_err(|_| KeyError::MissingEnv(variable.clone()))?,
            KeySource::File(path) => {
                std::fs::read_to_string(path).map_err(|source| KeyError::File { path: path.clone(), source })?
            }
        };
        Self::from_base64(text.trim())
    }

    /// A new random key, in base64 (the form [`SecretKey::from_base64`] reads).
    pub fn generate_base64() -> String {
        base64::engine::general_purpose::STANDARD.encode(XChaCha20Poly1305::generate_key(&mut OsRng))
    }

    /// A key from 32 bytes in base64.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bytes =
            base64::engine::general_purpose::STANDARD.decode(text).map_err(|e| KeyError::Malformed(e.to_string()))?;
        if bytes.len() != 32 {
            return Err(KeyError::Malformed(format!("it is {} bytes", bytes.len())));
        }
        Ok(Self { cipher: XChaCha20Poly1305::new(Key::from_slice(&bytes)) })
    }

    /// Encrypts `plaintext` bound to `aad` (what it belongs to): nonce
    /// followed by ciphertext and tag.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        // Encryption into a Vec cannot fail for inputs under 2^38 bytes.
        let ciphertext = self.cipher.encrypt(&nonce, Payload { msg: plaintext, aad }).unwrap_or_default();
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// Decrypts what [`seal`](Self::seal) produced with the same `aad`.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, KeyError> {
        if sealed.len() < NONCE_BYTES {
            return Err(KeyError::Open);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        self.cipher.decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad }).map_err(|_| KeyError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([byte; 32])).unwrap()
    }

    #[test]
    fn sealed_value_opens_with_the_same_key_only() {
        let sealed = key(1).seal(b"token-abc", b"row");
        assert!(!sealed.windows(9).any(|w| w == b"token-abc"));
        assert_eq!(key(1).open(&sealed, b"row").unwrap(), b"token-abc");
        assert!(matches!(key(2).open(&sealed, b"row"), Err(KeyError::Open)));
    }

    #[test]
    fn sealed_value_opens_only_for_its_row() {
        let sealed = key(1).seal(b"token-abc", b"tokens:a:main");
        assert!(matches!(key(1).open(&sealed, b"tokens:b:main"), Err(KeyError::Open)));
    }

    #[test]
    fn same_value_seals_differently_each_time() {
        assert_ne!(key(1).seal(b"x", b""), key(1).seal(b"x", b""));
    }

    #[test]
    fn short_or_non_base64_key_is_refused() {
        assert!(matches!(SecretKey::from_base64("c2hvcnQ="), Err(KeyError::Malformed(_))));
        assert!(matches!(SecretKey::from_base64("***"), Err(KeyError::Malformed(_))));
    }
}
