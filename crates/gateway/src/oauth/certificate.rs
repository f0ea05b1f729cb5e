//! `aadcertificate`: Entra ID where the connector's app proves who it is
//! with a certificate rather than a client secret. The platform keeps that
//! certificate in a store of its own; here the operator gives the
//! certificate and its private key in the settings file
//! (`[oauth.clients.<connector>]`, `certificate` and `private_key`), read
//! and checked once when the gateway starts. Every token request (code
//! exchange and refresh) then carries a client assertion (RFC 7523, Entra
//! ID's certificate credentials): a JWT signed PS256 whose header names the
//! certificate by its SHA-1 (`x5t`) and SHA-256 (`x5t#S256`) thumbprints,
//! for the token endpoint (`aud`), issued by and about the client id
//! (`iss`, `sub`), with a fresh `jti` and a few minutes to live.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PSS_SHA256, RsaKeyPair};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sluice_package::Secret;

use crate::config::{MissingEnv, OAuthClientConfig};

/// `client_assertion_type` of a JWT client assertion (RFC 7523, 2.2).
pub(super) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long an assertion may be used, in seconds: Entra ID asks for ten
/// minutes at most, and each one is made for a single request.
const ASSERTION_LIFETIME: u64 = 600;

/// What an `aadcertificate` connector without a certificate lacks, as
/// [`super::OAuthError::NotConfigured`] says it.
pub(super) const NOT_CONFIGURED: &str = "client certificate: set `certificate` and `private_key` under its [oauth.clients] entry in the settings file (its identity provider, aadcertificate, signs in with the app's certificate, not a client secret)";

/// A connector's client certificate and private key, checked to belong
/// together. Its `Debug` shows the thumbprint, never the key.
pub struct ClientCertificate {
    key: RsaKeyPair,
    /// Base64url SHA-1 thumbprint of the certificate's DER (`x5t`).
    x5t: String,
    /// Base64url SHA-256 thumbprint of the certificate's DER (`x5t#S256`).
    x5t_s256: String,
    /// Hex SHA-1 thumbprint, as Entra ID's app registration shows it.
    thumbprint: String,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate").field("thumbprint", &self.thumbprint).finish_non_exhaustive()
    }
}

/// A client certificate or its key cannot be used. No variant carries any
/// of the key's text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// `certificate` without `private_key`.
    #[error("`certificate` is set without `private_key`")]
    NoKey,
    /// `private_key` without `certificate`.
    #[error("`private_key` is set without `certificate`")]
    NoCertificate,
    /// A setting reads a variable that is not set.
    #[error("`{setting}` reads environment variable `{}`, which is not set", source.variable)]
    MissingEnv {
        /// `certificate` or `private_key`.
        setting: &'static str,
        /// The variable.
        #[source]
        source: MissingEnv,
    },
    /// `certificate` holds no PEM certificate.
    #[error("`certificate` holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NotPem,
    /// The certificate does not parse as X.509.
    #[error("`certificate` is not a usable X.509 certificate: {0}")]
    BadCertificate(String),
    /// The key is encrypted, and there is no passphrase to open it with.
    #[error("`private_key` is encrypted; give it unencrypted (e.g. `openssl pkey -in key.pem -out plain.pem`)")]
    EncryptedKey,
    /// `private_key` holds no PEM private key.
    #[error("`private_key` holds no PEM private key (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)")]
    NoPrivateKey,
    /// The key is not RSA.
    #[error("`private_key` is not an RSA key: Entra ID's certificate credentials are signed PS256, with RSA")]
    NotRsa,
    /// The RSA key does not load (ring's reason: e.g. `TooSmall`, `InvalidEncoding`).
    #[error("`private_key` is not a usable RSA key ({0}); it needs 2048 to 8192 bits")]
    BadKey(String),
    /// The key is not the certificate's.
    #[error("`private_key` is not the key of `certificate` (thumbprint {thumbprint})")]
    Mismatch {
        /// The certificate's hex SHA-1 thumbprint.
        thumbprint: String,
    },
    /// Signing an assertion failed (the system's random source failed).
    #[error("signing the client assertion failed")]
    Signing,
}

/// The client certificate a connector's settings give, read and checked:
/// `None` when they give none.
pub(super) fn configured(client: &OAuthClientConfig) -> Result<Option<ClientCertificate>, CertificateError> {
    let (certificate, key) = match (&client.certificate, &client.private_key) {
        (None, None) => return Ok(None),
        (Some(_), None) => return Err(CertificateError::NoKey),
        (None, Some(_)) => return Err(CertificateError::NoCertificate),
        (Some(certificate), Some(key)) => (certificate, key),
    };
    let certificate =
        certificate.resolve().map_err(|source| CertificateError::MissingEnv { setting: "certificate", source })?;
    let key = key.resolve().map_err(|source| CertificateError::MissingEnv { setting: "private_key", source })?;
    ClientCertificate::from_pem(certificate.expose(), &key).map(Some)
}

impl ClientCertificate {
    /// Reads a PEM certificate (the first of the text, the leaf of a chain)
    /// and its PEM private key, and checks that the key signs what the
    /// certificate's public key verifies.
    pub fn from_pem(certificate: &str, private_key: &Secret) -> Result<Self, CertificateError> {
        let der = CertificateDer::pem_slice_iter(certificate.as_bytes())
            .next()
            .and_then(Result::ok)
            .ok_or(CertificateError::NotPem)?;
        let parsed = webpki::EndEntityCert::try_from(&der)
            .map_err(|error| CertificateError::BadCertificate(error.to_string()))?;
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der.as_ref());
        let sha256 = ring::digest::digest(&ring::digest::SHA256, der.as_ref());
        let thumbprint = hex::encode_upper(sha1.as_ref());

        let text = private_key.expose();
        if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") || text.contains("Proc-Type: 4,ENCRYPTED") {
            return Err(CertificateError::EncryptedKey);
        }
        // The PEM reader's own errors are not passed on: they may quote
        // what they could not read, which is the key.
        let key = PrivateKeyDer::from_pem_slice(text.as_bytes()).map_err(|_| CertificateError::NoPrivateKey)?;
        let key = match &key {
            PrivateKeyDer::Pkcs8(key) => RsaKeyPair::from_pkcs8(key.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(key) => RsaKeyPair::from_der(key.secret_pkcs1_der()),
            _ => return Err(CertificateError::NotRsa),
        }
        .map_err(|rejected| match rejected.to_string().as_str() {
            "WrongAlgorithm" => CertificateError::NotRsa,
            reason => CertificateError::BadKey(reason.to_string()),
        })?;

        let this = Self {
            key,
            x5t: URL_SAFE_NO_PAD.encode(sha1.as_ref()),
            x5t_s256: URL_SAFE_NO_PAD.encode(sha256.as_ref()),
            thumbprint,
        };
        // A key that is not the certificate's would be refused by Entra ID
        // at every sign-in; it is refused here, once, instead.
        let probe = b"sluice: does this key belong to this certificate";
        let signature = this.sign(probe)?;
        parsed
            .verify_signature(webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY, probe, &signature)
            .map_err(|_| CertificateError::Mismatch { thumbprint: this.thumbprint.clone() })?;
        Ok(this)
    }

    /// The certificate's hex SHA-1 thumbprint, as Entra ID's app
    /// registration lists it.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// A fresh client assertion for `client_id` at the token endpoint
    /// `token_url`, good for [`ASSERTION_LIFETIME`] seconds.
    pub(super) fn assertion(&self, client_id: &str, token_url: &str) -> Result<String, CertificateError> {
        let now = crate::store::now();
        let header = serde_json::json!({"alg": "PS256", "typ": "JWT", "x5t": self.x5t, "x5t#S256": self.x5t_s256});
        let claims = serde_json::json!({
            "aud": token_url,
            "iss": client_id,
            "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
        });
        let signing_input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = self.sign(signing_input.as_bytes())?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    /// RSASSA-PSS with SHA-256 (JWS `PS256`).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CertificateError> {
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(&RSA_PSS_SHA256, &SystemRandom::new(), message, &mut signature)
            .map_err(|_| CertificateError::Signing)?;
        Ok(signature)
    }
}

impl super::Provider {
    /// What a token request carries besides the oauth2 crate's own
    /// parameters: for a connector that signs in with a certificate, a
    /// fresh client assertion (and no secret); else nothing.
    pub(super) fn client_authentication(
        &self,
        connector: &str,
    ) -> Result<Vec<(&'static str, String)>, super::OAuthError> {
        let Some(certificate) = &self.client_certificate else { return Ok(Vec::new()) };
        let assertion = certificate
            .assertion(&self.client_id, &self.token_url)
            .map_err(|source| super::OAuthError::ClientAssertion { connector: connector.to_string(), source })?;
        Ok(vec![("client_assertion_type", ASSERTION_TYPE.to_string()), ("client_assertion", assertion)])
    }
}
