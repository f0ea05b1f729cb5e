//! OpenID Connect bearer tokens against a local issuer on loopback: its
//! discovery document and JWKS are served by the test, its tokens signed
//! with a fresh P-256 key. Every way a token can be wrong answers 401.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::Full;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use serde_json::{Value, json};
use sluice_gateway::access::{Caller, Credential, DEFAULT_ENVIRONMENT, Right};
use sluice_gateway::config::{AccessConfig, IssuerConfig, MemberConfig};

use crate::support::*;

const AUDIENCE: &str = "api://sluice";

/// A signing key and its public JWK.
pub(crate) struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    pub(crate) jwk: Value,
}

pub(crate) fn signing_key(kid: &str) -> SigningKey {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    // An uncompressed point: 0x04, then x and y.
    let point = pair.public_key().as_ref();
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    });
    SigningKey { kid: kid.into(), encoding: EncodingKey::from_ec_der(pkcs8.as_ref()), jwk }
}

/// The issuer: its address, the keys its JWKS lists, and how often it was fetched.
struct Issuer {
    base: String,
    published: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<Mutex<usize>>,
    key: SigningKey,
}

async fn issuer() -> Issuer {
    let published = Arc::new(Mutex::new(Vec::new()));
    let fetches = Arc::new(Mutex::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (keys, count, discovery_base) = (Arc::clone(&published), Arc::clone(&fetches), base.clone());
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || {
                let base = discovery_base.clone();
                async move { Json(json!({"issuer": base, "jwks_uri": format!("{base}/keys")})) }
            }),
        )
        .route(
            "/keys",
            get(move || {
                *count.lock().unwrap() += 1;
                // A key of a kind the gateway cannot use sits beside the others.
                let mut listed = vec![json!({"kty": "oct", "kid": "symmetric", "k": "c2VjcmV0"})];
                listed.extend(keys.lock().unwrap().iter().cloned());
                async move { Json(json!({"keys": listed})) }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let key = signing_key("k1");
    published.lock().unwrap().push(key.jwk.clone());
    Issuer { base, published, fetches, key }
}

impl Issuer {
    fn claims(&self, subject: &str) -> Value {
        let now = sluice_gateway::store::now();
        json!({"iss": self.base, "aud": AUDIENCE, "sub": subject, "iat": now, "nbf": now - 5, "exp": now + 600})
    }

    fn sign(&self, claims: &Value) -> String {
        sign_with(&self.key, claims)
    }

    fn fetches(&self) -> usize {
        *self.fetches.lock().unwrap()
    }
}

pub(crate) fn sign_with(key: &SigningKey, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

fn settings(issuer: &Issuer, refetch_after: Duration) -> AccessConfig {
    AccessConfig {
        issuers: vec![IssuerConfig {
            name: "test".into(),
            issuer: issuer.base.clone(),
            audience: vec![AUDIENCE.into()],
            jwks_uri: None,
            algorithms: vec![Algorithm::ES256, Algorithm::RS256],
            subject_claim: "sub".into(),
            groups_claim: Some("groups".into()),
            leeway: Duration::from_secs(60),
            jwks_max_age: Duration::from_secs(3600),
            jwks_refetch_after: refetch_after,
            console: None,
        }],
        members: vec![MemberConfig { principal: "test:ops".into(), role: "admin".into() }],
        owners: Default::default(),
    }
}

async fn gateway(issuer: &Issuer, refetch_after: Duration) -> (TestGateway, Recorder) {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let gateway = TestGatewayBuilder::new()
        .package("shop", shop_definition(backend, json!({})), shop_properties(json!({}), None, json!([])))
        .connection("shop", "main", &[])
        .access(settings(issuer, refetch_after))
        .start()
        .await;
    (gateway, recorder)
}

async fn call(gateway: &TestGateway, token: &str) -> Answer {
    let request = http::Request::get(gateway.url("/apim/shop/main/items")).body(Full::<Bytes>::default()).unwrap();
    gateway.anonymous(with_bearer(request, token)).await
}

#[tokio::test]
async fn a_valid_token_authenticates_its_subject_and_is_verified_once() {
    let issuer = issuer().await;
    let (gateway, _) = gateway(&issuer, Duration::ZERO).await;
    let token = issuer.sign(&issuer.claims("ops"));
    let answer = call(&gateway, &token).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(call(&gateway, &token).await.status, 200);
    assert_eq!(issuer.fetches(), 1, "the JWKS is fetched once and kept");
    // A subject that is not a member is authenticated but sees nothing, not
    // even the environment.
    let stranger = call(&gateway, &issuer.sign(&issuer.claims("stranger"))).await;
    assert_eq!((stranger.status, stranger.problem_type().as_str()), (404, "unknown-environment"));
}

#[tokio::test]
async fn the_groups_claim_makes_a_token_a_member_of_its_groups() {
    let issuer = issuer().await;
    let (gateway, _) = gateway(&issuer, Duration::ZERO).await;
    let access = gateway.gateway.access();
    let ops = Caller { id: "test:ops".into(), groups: vec![], credential: Credential::Oidc { issuer: "test".into() } };
    access.set_role(&ops, DEFAULT_ENVIRONMENT, "test:staff", Some(sluice_gateway::access::Role::User)).await.unwrap();
    access.share_connector(&ops, DEFAULT_ENVIRONMENT, "shop", "test:staff", Some(Right::CanUse)).await.unwrap();
    access.share_connection(&ops, DEFAULT_ENVIRONMENT, "shop", "main", "test:staff", true).await.unwrap();
    let mut claims = issuer.claims("dan");
    claims["groups"] = json!(["staff", "other"]);
    assert_eq!(call(&gateway, &issuer.sign(&claims)).await.status, 200);
    assert_eq!(call(&gateway, &issuer.sign(&issuer.claims("dan"))).await.status, 404, "without the group");
}

#[tokio::test]
async fn every_wrong_token_is_401() {
    let issuer = issuer().await;
    let (gateway, recorder) = gateway(&issuer, Duration::ZERO).await;
    let good = issuer.claims("ops");
    let now = sluice_gateway::store::now();
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut claims = good.clone();
        edit(&mut claims);
        issuer.sign(&claims)
    };
    let header_none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(good.to_string());
    let signed = issuer.sign(&good);
    let (unsigned, signature) = signed.rsplit_once('.').unwrap();
    let mut flipped = URL_SAFE_NO_PAD.decode(signature).unwrap();
    flipped[10] ^= 1;
    // HS256 with the issuer's public key as the HMAC secret.
    let public_as_secret = serde_json::to_vec(&issuer.key.jwk).unwrap();
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some("k1".into());
    let hs256 = jsonwebtoken::encode(&hs_header, &good, &EncodingKey::from_secret(&public_as_secret)).unwrap();
    let cases = [
        ("wrong issuer", with(&|c| c["iss"] = json!("https://login.attacker.example"))),
        ("wrong audience", with(&|c| c["aud"] = json!("api://other"))),
        ("expired past the skew", with(&|c| c["exp"] = json!(now - 120))),
        ("not yet valid", with(&|c| c["nbf"] = json!(now + 600))),
        (
            "no expiry",
            with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
        ),
        ("alg none", format!("{header_none}.{payload}.")),
        ("tampered signature", format!("{unsigned}.{}", URL_SAFE_NO_PAD.encode(&flipped))),
        ("tampered claims", {
            let other = with(&|c| c["sub"] = json!("root"));
            let header = signed.split('.').next().unwrap();
            format!("{header}.{}.{signature}", other.split('.').nth(1).unwrap())
        }),
        ("hs256 with the public key", hs256),
        ("the symmetric key's kid", {
            let mut header = Header::new(Algorithm::ES256);
            header.kid = Some("symmetric".into());
            jsonwebtoken::encode(&header, &good, &issuer.key.encoding).unwrap()
        }),
        ("not a JWT", "opaque-token".to_string()),
    ];
    for (case, token) in cases {
        let answer = call(&gateway, &token).await;
        assert_eq!(
            (answer.status, answer.problem_type().as_str()),
            (401, "unauthenticated"),
            "{case}: {}",
            answer.text()
        );
        assert_eq!(answer.headers["www-authenticate"], "Bearer realm=\"sluice\"", "{case}");
    }
    assert_eq!(recorder.count(), 0);
    assert_eq!(call(&gateway, &signed).await.status, 200, "the good token still works");
}

#[tokio::test]
async fn an_unknown_kid_fetches_the_keys_once_more_then_401_and_a_rotated_key_works() {
    let issuer = issuer().await;
    let (gateway, _) = gateway(&issuer, Duration::ZERO).await;
    assert_eq!(call(&gateway, &issuer.sign(&issuer.claims("ops"))).await.status, 200);
    assert_eq!(issuer.fetches(), 1);

    let unpublished = signing_key("k-unknown");
    let answer = call(&gateway, &sign_with(&unpublished, &issuer.claims("ops"))).await;
    assert_eq!(answer.status, 401);
    assert_eq!(issuer.fetches(), 2, "fetched once more, then refused");

    // The issuer rotates: a token with the new key works at once.
    let rotated = signing_key("k2");
    issuer.published.lock().unwrap().push(rotated.jwk.clone());
    assert_eq!(call(&gateway, &sign_with(&rotated, &issuer.claims("ops"))).await.status, 200);
    assert_eq!(issuer.fetches(), 3);
}

#[tokio::test]
async fn unknown_kids_do_not_fetch_the_keys_more_than_once_per_interval() {
    let issuer = issuer().await;
    let (gateway, _) = gateway(&issuer, Duration::from_secs(3600)).await;
    assert_eq!(call(&gateway, &issuer.sign(&issuer.claims("ops"))).await.status, 200);
    for n in 0..5 {
        let forged = signing_key(&format!("random-{n}"));
        assert_eq!(call(&gateway, &sign_with(&forged, &issuer.claims("ops"))).await.status, 401);
    }
    assert_eq!(issuer.fetches(), 1, "a flood of unknown kids is not a flood of fetches");
}

#[tokio::test]
async fn a_symmetric_algorithm_in_the_settings_stops_the_start() {
    let issuer = issuer().await;
    let mut access = settings(&issuer, Duration::ZERO);
    access.issuers[0].algorithms.push(Algorithm::HS256);
    let Err(error) = TestGatewayBuilder::new().access(access).try_start().await else { panic!("started") };
    assert!(error.to_string().contains("HS256 is not allowed"), "{error}");
}
