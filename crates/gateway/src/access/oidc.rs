//! Bearer tokens of OpenID Connect issuers (Entra ID, or any other): the
//! signature against the issuer's JWKS, `iss`, `aud`, `exp` and `nbf` with a
//! small clock skew, and an allowed-algorithms list that never holds `none`
//! or an HMAC algorithm (a public key must not become an HMAC secret).
//!
//! The JWKS is found through the issuer's discovery document unless the
//! settings name it, fetched through the egress client, and kept until it
//! is `jwks_max_age` old; a token whose `kid` it lacks makes it fetched
//! again, at most once per `jwks_refetch_after`. A verified token is
//! remembered (by its SHA-256) until it expires, so that a client that
//! sends the same token on every call pays for one signature check.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sha2::{Digest as _, Sha256};
use sluice_egress::SendOptions;

use super::{Caller, Credential};
use crate::config::{ConsoleToken, IssuerConfig};
use crate::network::Network;

/// How long an issuer may take to answer a discovery or JWKS request.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest discovery document or JWKS read.
const MAX_DOCUMENT_BYTES: usize = 256 << 10;
/// The most verified tokens remembered at once.
const MAX_CACHED_TOKENS: usize = 10_000;
/// The most groups taken from one token.
const MAX_GROUPS: usize = 256;

/// An issuer's settings cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IssuerConfigError {
    /// Two issuers have the same name.
    #[error("two issuers are named `{0}`")]
    DuplicateName(String),
    /// A name is empty or has characters a principal id cannot hold.
    #[error("issuer name `{0}` must be letters, digits, `-`, `_` or `.`")]
    BadName(String),
    /// An algorithm that cannot verify a public-key signature.
    #[error("issuer `{issuer}`: algorithm {algorithm:?} is not allowed; use public-key algorithms (RS256, ES256, ...)")]
    SymmetricAlgorithm {
        /// The issuer.
        issuer: String,
        /// The algorithm.
        algorithm: Algorithm,
    },
    /// No algorithm, or no audience.
    #[error("issuer `{issuer}` has no {what}")]
    Missing {
        /// The issuer.
        issuer: String,
        /// `algorithms` or `audience`.
        what: &'static str,
    },
}

/// Why a bearer token does not authenticate; logged, never told to the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenRejected {
    /// It is not a JWT, or its header is unreadable (`alg: none` included).
    #[error("not a readable JWT: {0}")]
    Malformed(#[source] jsonwebtoken::errors::Error),
    /// No configured issuer has its `iss`.
    #[error("issuer `{0}` is not configured")]
    UnknownIssuer(String),
    /// Its algorithm is not on the issuer's list.
    #[error("algorithm {0:?} is not allowed for this issuer")]
    Algorithm(Algorithm),
    /// No key of the issuer's JWKS has its `kid`, even after fetching it again.
    #[error("no key `{0}` in the issuer's JWKS")]
    UnknownKey(String),
    /// The key found cannot check this algorithm.
    #[error("the issuer's key `{kid}` does not take algorithm {algorithm:?}")]
    KeyMismatch {
        /// The key.
        kid: String,
        /// The token's algorithm.
        algorithm: Algorithm,
    },
    /// The issuer's keys could not be fetched.
    #[error("the issuer's JWKS is unavailable: {0}")]
    Jwks(String),
    /// The signature, issuer, audience or times do not check.
    #[error("the token does not verify: {0}")]
    Invalid(#[source] jsonwebtoken::errors::Error),
    /// It has no subject claim.
    #[error("the token has no `{0}` claim")]
    NoSubject(String),
}

/// The keys of one issuer, and when they were fetched.
#[derive(Debug)]
struct Keys {
    set: JwkSet,
    fetched: Instant,
}

/// One configured issuer.
#[derive(Debug)]
struct Issuer {
    config: IssuerConfig,
    keys: tokio::sync::Mutex<Option<Keys>>,
    /// Its console client once its endpoints are known, or when reading
    /// them last failed.
    console: tokio::sync::Mutex<ConsoleState>,
}

/// What is known of an issuer's console endpoints.
#[derive(Debug, Default)]
enum ConsoleState {
    /// Not read yet.
    #[default]
    Unknown,
    /// Read.
    Known(Box<ConsoleClient>),
    /// The discovery document could not be read then; it is read again
    /// once `jwks_refetch_after` has passed, so that a provider that is
    /// down does not hold every console page for the fetch's timeout.
    Failed(Instant),
}

/// An issuer people may sign in to the console with, as the console reads
/// it from `/console/config.json`: nothing in it is secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConsoleClient {
    /// The issuer's name in the settings.
    pub name: String,
    /// The button's name.
    pub display_name: String,
    /// The public client's id.
    pub client_id: String,
    /// Where the browser is sent to sign in.
    pub authorization_endpoint: url::Url,
    /// Where the browser trades the code for tokens.
    pub token_endpoint: url::Url,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// Which token of the answer is the console's credential.
    pub token: ConsoleToken,
}

/// The OpenID Connect verifier of every configured issuer.
#[derive(Debug)]
pub struct Verifier {
    issuers: Vec<Issuer>,
    network: Arc<Network>,
    /// Verified tokens by SHA-256: the caller, and `exp`.
    verified: Mutex<HashMap<[u8; 32], (Caller, u64)>>,
}

impl Verifier {
    /// A verifier of `issuers`, fetching their keys through `network`.
    pub fn new(issuers: Vec<IssuerConfig>, network: Arc<Network>) -> Result<Self, IssuerConfigError> {
        let mut names = std::collections::HashSet::new();
        for issuer in &issuers {
            let name_ok = !issuer.name.is_empty()
                && issuer.name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if !name_ok {
                return Err(IssuerConfigError::BadName(issuer.name.clone()));
            }
            if !names.insert(issuer.name.clone()) {
                return Err(IssuerConfigError::DuplicateName(issuer.name.clone()));
            }
            let missing = |what| IssuerConfigError::Missing { issuer: issuer.name.clone(), what };
            if issuer.algorithms.is_empty() {
                return Err(missing("algorithms"));
            }
            if issuer.audience.is_empty() {
                return Err(missing("audience"));
            }
            let symmetric = |a: &&Algorithm| matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512);
            if let Some(algorithm) = issuer.algorithms.iter().find(symmetric) {
                return Err(IssuerConfigError::SymmetricAlgorithm {
                    issuer: issuer.name.clone(),
                    algorithm: *algorithm,
                });
            }
        }
        let issuers = issuers
            .into_iter()
            .map(|config| Issuer { config, keys: Default::default(), console: Default::default() })
            .collect();
        Ok(Self { issuers, network, verified: Mutex::new(HashMap::new()) })
    }

    /// Whether any issuer is configured.
    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }

    /// The issuers people may sign in to the console with. Endpoints the
    /// settings do not name come from the issuer's discovery document,
    /// read once; an issuer whose document cannot be read is left out (and
    /// logged), and read again after `jwks_refetch_after`.
    pub async fn console_clients(&self) -> Vec<ConsoleClient> {
        let mut clients = Vec::new();
        for issuer in &self.issuers {
            let Some(config) = &issuer.config.console else { continue };
            let mut known = issuer.console.lock().await;
            let retry = match &*known {
                ConsoleState::Unknown => true,
                ConsoleState::Known(_) => false,
                ConsoleState::Failed(at) => at.elapsed() >= issuer.config.jwks_refetch_after,
            };
            if retry {
                match issuer.console_endpoints(&self.network).await {
                    Ok((authorization_endpoint, token_endpoint)) => {
                        *known = ConsoleState::Known(Box::new(ConsoleClient {
                            name: issuer.config.name.clone(),
                            display_name: config.display_name.clone().unwrap_or_else(|| issuer.config.name.clone()),
                            client_id: config.client_id.clone(),
                            authorization_endpoint,
                            token_endpoint,
                            scopes: config.scopes.clone(),
                            token: config.token,
                        }))
                    }
                    Err(reason) => {
                        tracing::warn!(issuer = %issuer.config.name, %reason, "console sign-in unavailable");
                        *known = ConsoleState::Failed(Instant::now());
                    }
                }
            }
            if let ConsoleState::Known(client) = &*known {
                clients.push(ConsoleClient::clone(client));
            }
        }
        clients
    }

    /// The caller a bearer token authenticates, or why it does not.
    pub async fn verify(&self, token: &str, now: u64) -> Result<Caller, TokenRejected> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(caller) = self.remembered(&digest, now) {
            return Ok(caller);
        }
        let header = jsonwebtoken::decode_header(token).map_err(TokenRejected::Malformed)?;
        let issuer = self.issuer_of(token)?;
        let config = &issuer.config;
        if !config.algorithms.contains(&header.alg) {
            return Err(TokenRejected::Algorithm(header.alg));
        }
        let kid = header.kid.clone().unwrap_or_default();
        let (key, keys_changed) = issuer.key(&self.network, &kid, header.alg).await?;
        if keys_changed {
            // A key the issuer withdrew must stop working at once.
            self.forget_verified();
        }
        let mut validation = Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.leeway = config.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&config.audience);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, &key, &validation)
            .map_err(TokenRejected::Invalid)?;
        let claims = data.claims;
        let subject = claims
            .get(&config.subject_claim)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty() && super::valid_principal_id(s))
            .ok_or_else(|| TokenRejected::NoSubject(config.subject_claim.clone()))?;
        let groups = config
            .groups_claim
            .as_ref()
            .and_then(|claim| claims.get(claim))
            .and_then(|v| v.as_array())
            .map(|groups| {
                groups
                    .iter()
                    .filter_map(|g| g.as_str())
                    .filter(|g| super::valid_principal_id(g))
                    .take(MAX_GROUPS)
                    .map(|g| Arc::from(format!("{}:{g}", config.name)))
                    .collect()
            })
            .unwrap_or_default();
        let caller = Caller {
            id: format!("{}:{subject}", config.name).into(),
            groups,
            credential: Credential::Oidc { issuer: config.name.clone() },
        };
        let exp = claims.get("exp").and_then(|v| v.as_u64()).unwrap_or(0);
        self.remember(digest, &caller, exp, now);
        Ok(caller)
    }

    fn remembered(&self, digest: &[u8; 32], now: u64) -> Option<Caller> {
        let verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        let (caller, exp) = verified.get(digest)?;
        (now < *exp).then(|| caller.clone())
    }

    fn remember(&self, digest: [u8; 32], caller: &Caller, exp: u64, now: u64) {
        let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if verified.len() >= MAX_CACHED_TOKENS {
            verified.retain(|_, (_, exp)| now < *exp);
            if verified.len() >= MAX_CACHED_TOKENS {
                verified.clear();
            }
        }
        verified.insert(digest, (caller.clone(), exp));
    }

    /// Forgets every verified token: the keys changed.
    fn forget_verified(&self) {
        self.verified.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// The issuer whose `iss` the token names. The claim is read before the
    /// signature is checked only to pick the issuer whose keys check it.
    fn issuer_of(&self, token: &str) -> Result<&Issuer, TokenRejected> {
        if let [only] = self.issuers.as_slice() {
            return Ok(only);
        }
        let mut peek = Validation::default();
        peek.insecure_disable_signature_validation();
        peek.validate_exp = false;
        peek.validate_aud = false;
        peek.required_spec_claims.clear();
        #[derive(serde::Deserialize)]
        struct Iss {
            iss: Option<String>,
        }
        let iss = jsonwebtoken::decode::<Iss>(token, &DecodingKey::from_secret(&[]), &peek)
            .map_err(TokenRejected::Malformed)?
            .claims
            .iss
            .unwrap_or_default();
        self.issuers.iter().find(|i| i.config.issuer == iss).ok_or(TokenRejected::UnknownIssuer(iss))
    }
}

impl Issuer {
    /// The decoding key of `kid` for `algorithm`, fetching the JWKS when it
    /// is missing, old, or lacks the key (then at most once per
    /// `jwks_refetch_after`). Also says whether the keys changed.
    async fn key(
        &self,
        network: &Network,
        kid: &str,
        algorithm: Algorithm,
    ) -> Result<(DecodingKey, bool), TokenRejected> {
        let mut keys = self.keys.lock().await;
        let stale = keys.as_ref().is_none_or(|k| k.fetched.elapsed() >= self.config.jwks_max_age);
        let lacks = keys.as_ref().is_some_and(|k| find(&k.set, kid).is_none());
        let may_refetch = keys.as_ref().is_none_or(|k| k.fetched.elapsed() >= self.config.jwks_refetch_after);
        let mut changed = false;
        if stale || (lacks && may_refetch) {
            match self.fetch(network).await {
                Ok(set) => {
                    tracing::info!(issuer = %self.config.name, keys = set.keys.len(), "issuer keys fetched");
                    changed = keys.as_ref().is_some_and(|old| old.set != set);
                    *keys = Some(Keys { set, fetched: Instant::now() });
                }
                // Old keys beat none while the issuer is unreachable.
                Err(reason) if keys.is_some() => {
                    tracing::warn!(issuer = %self.config.name, %reason, "issuer keys not refreshed; keeping the old ones");
                }
                Err(reason) => return Err(TokenRejected::Jwks(reason)),
            }
        }
        let set = &keys.as_ref().ok_or_else(|| TokenRejected::Jwks("never fetched".into()))?.set;
        let jwk = find(set, kid).ok_or_else(|| TokenRejected::UnknownKey(kid.to_string()))?;
        let mismatch = || TokenRejected::KeyMismatch { kid: kid.to_string(), algorithm };
        if let Some(declared) = jwk.common.key_algorithm
            && declared.to_string() != format!("{algorithm:?}")
        {
            return Err(mismatch());
        }
        if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
            return Err(mismatch());
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|_| mismatch())?;
        Ok((key, changed))
    }

    /// The console client's authorization and token endpoints: from the
    /// settings, else from the discovery document.
    async fn console_endpoints(&self, network: &Network) -> Result<(url::Url, url::Url), String> {
        let Some(config) = &self.config.console else { return Err("no console client".into()) };
        if let (Some(authorize), Some(token)) = (&config.authorization_endpoint, &config.token_endpoint) {
            return Ok((authorize.clone(), token.clone()));
        }
        let document: serde_json::Value = fetch_json(network, &self.discovery_url()).await?;
        let endpoint = |given: &Option<url::Url>, key: &str| match given {
            Some(url) => Ok(url.clone()),
            None => {
                let text = document
                    .get(key)
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| format!("the discovery document has no {key}"))?;
                url::Url::parse(text).map_err(|e| format!("{key} `{text}`: {e}"))
            }
        };
        Ok((
            endpoint(&config.authorization_endpoint, "authorization_endpoint")?,
            endpoint(&config.token_endpoint, "token_endpoint")?,
        ))
    }

    fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.config.issuer.trim_end_matches('/'))
    }

    /// Fetches the JWKS: from `jwks_uri`, or the one the discovery document names.
    async fn fetch(&self, network: &Network) -> Result<JwkSet, String> {
        let jwks_uri = match &self.config.jwks_uri {
            Some(uri) => uri.clone(),
            None => {
                let document: serde_json::Value = fetch_json(network, &self.discovery_url()).await?;
                let uri = document
                    .get("jwks_uri")
                    .and_then(|v| v.as_str())
                    .ok_or("the discovery document has no jwks_uri")?;
                url::Url::parse(uri).map_err(|e| format!("jwks_uri `{uri}`: {e}"))?
            }
        };
        // Each key on its own: one of a kind this verifier cannot read (an
        // encryption key, an unknown curve) must not hide the others.
        #[derive(serde::Deserialize)]
        struct RawSet {
            keys: Vec<serde_json::Value>,
        }
        let raw: RawSet = fetch_json(network, jwks_uri.as_str()).await?;
        let keys = raw.keys.into_iter().filter_map(|key| serde_json::from_value(key).ok()).collect();
        Ok(JwkSet { keys })
    }
}

/// The key with this `kid`; a token without one takes the only key there is.
fn find<'s>(set: &'s JwkSet, kid: &str) -> Option<&'s jsonwebtoken::jwk::Jwk> {
    if kid.is_empty() {
        return match set.keys.as_slice() {
            [only] => Some(only),
            _ => None,
        };
    }
    set.find(kid)
}

/// GETs a JSON document through the egress client, under a policy that
/// allows only its origin.
async fn fetch_json<T: serde::de::DeserializeOwned>(network: &Network, url: &str) -> Result<T, String> {
    let policy = network.policy_for_origin(url).map_err(|e| format!("`{url}`: {e}"))?;
    let request = http::Request::get(url)
        .header(http::header::ACCEPT, "application/json")
        .body(Bytes::new())
        .map_err(|e| format!("`{url}`: {e}"))?;
    let options = SendOptions { timeout: Some(FETCH_TIMEOUT), max_response_bytes: MAX_DOCUMENT_BYTES };
    let response = network.client().send(&policy, request, options).await.map_err(|e| format!("`{url}`: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("`{url}` answered {}", response.status()));
    }
    serde_json::from_slice(response.body()).map_err(|e| format!("`{url}`: not the expected JSON: {e}"))
}
