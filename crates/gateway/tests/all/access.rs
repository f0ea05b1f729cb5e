//! Who may call: API keys, the 401/403/404 rules, the Host check, metrics
//! for admins, and connectors and connections shared between two users and
//! a group, end to end through a real gateway.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use serde_json::json;
use sluice_gateway::access::{
    AccessError, Caller, Credential, DEFAULT_ENVIRONMENT, Denied, PrincipalKind, Right, Role,
};

use crate::support::*;

/// The caller an API key of `principal` authenticates as.
fn caller(principal: &str) -> Caller {
    Caller { id: Arc::from(principal), groups: Vec::new(), credential: Credential::ApiKey { id: "test".into() } }
}

fn as_key(key: &str, path: &str, gateway: &TestGateway) -> http::Request<Full<Bytes>> {
    with_bearer(bare(path, gateway), key)
}

fn bare(path: &str, gateway: &TestGateway) -> http::Request<Full<Bytes>> {
    http::Request::get(gateway.url(path)).body(Full::default()).unwrap()
}

/// A shop with connections `alice-main` (Alice's), `bob-own` (Bob's) and
/// `admins` (no owner), and keys for Alice, Bob and Carol, all members.
struct Org {
    gateway: TestGateway,
    recorder: Recorder,
    alice: String,
    bob: String,
    carol: String,
}

/// Alice a maker, and the group `sales` with Bob in it, set by the admin.
async fn alice_maker_and_bob_in_sales(gateway: &TestGateway) {
    let access = gateway.gateway.access();
    let admin = caller(ADMIN);
    access.add_principal(&admin, "sales", PrincipalKind::Group, "Sales").await.unwrap();
    access.set_group_member(&admin, "sales", "bob", true).await.unwrap();
    access.set_role(&admin, DEFAULT_ENVIRONMENT, "alice", Some(Role::Maker)).await.unwrap();
}

async fn org() -> Org {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let gateway = TestGatewayBuilder::new()
        .package("shop", shop_definition(backend, json!({})), shop_properties(json!({}), None, json!([])))
        .connection("shop", "alice-main", &[])
        .connection_owner("alice-main", "alice")
        .connection("shop", "bob-own", &[])
        .connection_owner("bob-own", "bob")
        .connection("shop", "admins", &[])
        .start()
        .await;
    let access = gateway.gateway.access();
    let admin = caller(ADMIN);
    alice_maker_and_bob_in_sales(&gateway).await;
    let mut keys = Vec::new();
    for user in ["alice", "bob", "carol"] {
        access.add_principal(&admin, user, PrincipalKind::User, user).await.unwrap();
        if user != "alice" {
            access.set_role(&admin, DEFAULT_ENVIRONMENT, user, Some(Role::User)).await.unwrap();
        }
        keys.push(access.issue_key(&admin, user, "tests", None).await.unwrap().key);
    }
    access.set_connector_owner(&admin, DEFAULT_ENVIRONMENT, "shop", "alice").await.unwrap();
    let [alice, bob, carol] = <[String; 3]>::try_from(keys).unwrap();
    Org { gateway, recorder, alice, bob, carol }
}

#[tokio::test]
async fn a_call_without_a_credential_or_with_a_bad_one_is_401_and_says_nothing_more() {
    let org = org().await;
    let gateway = &org.gateway;
    let key = &org.alice;
    let wrong_secret = format!("{}{}", &key[..key.len() - 1], if key.ends_with('A') { 'B' } else { 'A' });
    let unknown = key.replacen(&key[4..16], "000000000000", 1);
    let cases = [
        bare("/apim/shop/alice-main/items", gateway),
        as_key("not-a-key", "/apim/shop/alice-main/items", gateway),
        as_key(&wrong_secret, "/apim/shop/alice-main/items", gateway),
        as_key(&unknown, "/apim/shop/alice-main/items", gateway),
        bare("/metrics", gateway),
        bare("/admin/redirect-audit", gateway),
        bare("/connections/shop/alice-main/signin", gateway),
    ];
    let mut details = std::collections::HashSet::new();
    for request in cases {
        let path = request.uri().path().to_string();
        let answer = gateway.anonymous(request).await;
        assert_eq!((answer.status, answer.problem_type().as_str()), (401, "unauthenticated"), "{path}");
        assert_eq!(answer.headers["www-authenticate"], "Bearer realm=\"sluice\"", "{path}");
        details.insert(answer.json()["detail"].as_str().unwrap().to_string());
    }
    // The same words whatever was wrong: nothing to guess from.
    assert_eq!(details.len(), 1, "{details:?}");
    assert_eq!(org.recorder.count(), 0, "no call went through");
    // Only the liveness probe is open.
    assert_eq!(gateway.anonymous(bare("/healthz", gateway)).await.status, 200);
    // Counted by the kind of credential, never by its text.
    let metrics = gateway.get("/metrics").await.text();
    for line in [
        r#"sluice_unauthenticated_total{replica="tests",credential="missing"} 4"#,
        r#"sluice_unauthenticated_total{replica="tests",credential="api-key"} 2"#,
        r#"sluice_unauthenticated_total{replica="tests",credential="token"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} in:\n{metrics}");
    }
}

#[tokio::test]
async fn a_revoked_or_expired_key_is_401_on_the_next_call() {
    let org = org().await;
    let gateway = &org.gateway;
    let access = gateway.gateway.access();
    assert_eq!(gateway.anonymous(as_key(&org.alice, "/apim/shop/alice-main/items", gateway)).await.status, 200);
    let id = org.alice[4..16].to_string();
    // Bob may not revoke Alice's key, nor learn that it exists.
    let refused = access.revoke_key(&caller("bob"), &id).await.unwrap_err();
    assert!(matches!(refused, AccessError::Denied(Denied::NotFound { .. })), "{refused:?}");
    access.revoke_key(&caller("alice"), &id).await.unwrap();
    let answer = gateway.anonymous(as_key(&org.alice, "/apim/shop/alice-main/items", gateway)).await;
    assert_eq!(answer.status, 401);
    assert!(access.revoke_key(&caller(ADMIN), &id).await.is_err(), "a key is revoked once");

    let past = sluice_gateway::store::now() as i64 - 1;
    let expired = access.issue_key(&caller("alice"), "alice", "short", Some(past)).await.unwrap();
    assert_eq!(gateway.anonymous(as_key(&expired.key, "/apim/shop/alice-main/items", gateway)).await.status, 401);
    let lines = log_lines("caller not authenticated");
    assert!(lines.iter().any(|l| l.contains("revoked API key")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("expired API key")), "{lines:?}");
    // Only Bob's own keys, or an admin, may be issued to Bob.
    assert!(access.issue_key(&caller("alice"), "bob", "x", None).await.is_err());
}

#[tokio::test]
async fn the_gateway_credential_never_reaches_the_backend() {
    let org = org().await;
    let answer = org.gateway.anonymous(as_key(&org.alice, "/apim/shop/alice-main/items/1", &org.gateway)).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(!org.recorder.last().headers.contains_key("authorization"));
}

#[tokio::test]
async fn alice_shares_with_a_group_and_bob_calls_through_his_own_connection() {
    let org = org().await;
    let gateway = &org.gateway;
    let access = gateway.gateway.access();
    let call = |key: &str, connection: &str| {
        gateway.anonymous(as_key(key, &format!("/apim/shop/{connection}/items"), gateway))
    };

    // Before the share Bob sees no connector, in the words of a missing one.
    let hidden = call(&org.bob, "bob-own").await;
    let missing = gateway.anonymous(as_key(&org.bob, "/apim/nosuch/bob-own/items", gateway)).await;
    assert_eq!((hidden.status, hidden.problem_type().as_str()), (404, "unknown-connector"));
    assert_eq!(hidden.json()["detail"].as_str().unwrap().replace("shop", "nosuch"), missing.json()["detail"]);

    access.share_connector(&caller("alice"), DEFAULT_ENVIRONMENT, "shop", "sales", Some(Right::CanUse)).await.unwrap();
    assert_eq!(call(&org.bob, "bob-own").await.status, 200);
    assert_eq!(call(&org.alice, "alice-main").await.status, 200);

    // Alice's connection is hers: 404 for Bob, worded as a missing one.
    let theirs = call(&org.bob, "alice-main").await;
    assert_eq!((theirs.status, theirs.problem_type().as_str()), (404, "unknown-connection"));
    let nonexistent = call(&org.bob, "no-such-connection").await;
    assert_eq!(
        theirs.json()["detail"].as_str().unwrap().replace("alice-main", "x"),
        nonexistent.json()["detail"].as_str().unwrap().replace("no-such-connection", "x")
    );
    // A connection nobody owns is the admins'.
    assert_eq!(call(&org.bob, "admins").await.status, 404);
    assert_eq!(call(&gateway.admin_key, "admins").await.status, 200);

    // Using is not editing: 403, naming the right.
    let refused = access
        .share_connector(&caller("bob"), DEFAULT_ENVIRONMENT, "shop", "carol", Some(Right::CanUse))
        .await
        .unwrap_err();
    assert!(matches!(refused, AccessError::Denied(Denied::Forbidden { needed: "can-edit", .. })), "{refused:?}");
    // Carol, a member nobody shared with, still sees nothing.
    assert_eq!(call(&org.carol, "bob-own").await.status, 404);

    // Alice shares her connection with Bob explicitly.
    access.share_connection(&caller("alice"), DEFAULT_ENVIRONMENT, "shop", "alice-main", "bob", true).await.unwrap();
    assert_eq!(call(&org.bob, "alice-main").await.status, 200);
    let not_owner = access
        .share_connection(&caller("bob"), DEFAULT_ENVIRONMENT, "shop", "alice-main", "carol", true)
        .await
        .unwrap_err();
    assert!(matches!(not_owner, AccessError::Denied(Denied::Forbidden { .. })), "{not_owner:?}");

    // The share goes: Bob loses the connector on his very next call.
    access.share_connector(&caller("alice"), DEFAULT_ENVIRONMENT, "shop", "sales", None).await.unwrap();
    assert_eq!(call(&org.bob, "bob-own").await.status, 404);
    assert_eq!(call(&org.bob, "alice-main").await.status, 404);
    // Leaving the group does the same to a share with the group.
    access.share_connector(&caller("alice"), DEFAULT_ENVIRONMENT, "shop", "sales", Some(Right::CanEdit)).await.unwrap();
    assert_eq!(call(&org.bob, "bob-own").await.status, 200);
    access.set_group_member(&caller(ADMIN), "sales", "bob", false).await.unwrap();
    assert_eq!(call(&org.bob, "bob-own").await.status, 404);
}

#[tokio::test]
async fn only_admins_read_metrics_and_the_redirect_audit_and_change_roles() {
    let org = org().await;
    let gateway = &org.gateway;
    for path in ["/metrics", "/admin/redirect-audit", "/admin/redirect-audit.html"] {
        let answer = gateway.anonymous(as_key(&org.alice, path, gateway)).await;
        assert_eq!((answer.status, answer.problem_type().as_str()), (403, "forbidden"), "{path}");
        assert!(answer.json()["detail"].as_str().unwrap().contains("needs admin"), "{}", answer.text());
        assert_eq!(gateway.get(path).await.status, 200, "{path} as the admin");
    }
    let access = gateway.gateway.access();
    assert!(access.set_role(&caller("alice"), DEFAULT_ENVIRONMENT, "alice", Some(Role::Admin)).await.is_err());
    assert!(access.add_principal(&caller("bob"), "eve", PrincipalKind::User, "Eve").await.is_err());
    let bad = access.set_role(&caller(ADMIN), DEFAULT_ENVIRONMENT, "has space", Some(Role::User)).await.unwrap_err();
    assert!(matches!(bad, AccessError::BadPrincipal(_)), "{bad:?}");
}

#[tokio::test]
async fn metrics_on_their_own_address_need_no_credential() {
    let org = org().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let serving = org.gateway.gateway.clone();
    tokio::spawn(sluice_gateway::server::serve_metrics(listener, serving, std::future::pending()));
    let answer = org
        .gateway
        .anonymous(http::Request::get(format!("http://{address}/metrics")).body(Full::default()).unwrap())
        .await;
    assert_eq!(answer.status, 200);
    assert!(answer.text().contains("# EOF"), "{}", answer.text());
    // Nothing else is served there.
    let other = org
        .gateway
        .anonymous(
            http::Request::get(format!("http://{address}/apim/shop/admins/items")).body(Full::default()).unwrap(),
        )
        .await;
    assert_eq!(other.status, 404);
}

#[tokio::test]
async fn a_request_for_another_host_is_421() {
    let org = org().await;
    let gateway = &org.gateway;
    let mut request = as_key(&gateway.admin_key, "/apim/shop/admins/items", gateway);
    request.headers_mut().insert("host", "attacker.example:80".parse().unwrap());
    let answer = gateway.anonymous(request).await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (421, "misdirected-host"));
    assert_eq!(org.recorder.count(), 0);
    // The public host in another case is the same host.
    let mut request = as_key(&gateway.admin_key, "/apim/shop/admins/items", gateway);
    request.headers_mut().insert("host", gateway.address.to_string().to_uppercase().parse().unwrap());
    assert_eq!(gateway.anonymous(request).await.status, 200);
    // Probes reach /healthz by address, whatever the host.
    let mut probe = bare("/healthz", gateway);
    probe.headers_mut().insert("host", "10.0.0.7:8080".parse().unwrap());
    assert_eq!(gateway.anonymous(probe).await.status, 200);
}

#[tokio::test]
async fn settings_file_members_and_bad_owners_are_checked_at_start() {
    let builder = TestGatewayBuilder::new()
        .package(
            "shop",
            shop_definition("127.0.0.1:9".parse().unwrap(), json!({})),
            shop_properties(json!({}), None, json!([])),
        )
        .connection("shop", "main", &[])
        .connection_owner("main", "bad owner");
    let Err(error) = builder.try_start().await else { panic!("started") };
    assert!(error.to_string().contains("`bad owner` is not a principal id"), "{error}");

    let access = sluice_gateway::config::AccessConfig {
        members: vec![sluice_gateway::config::MemberConfig { principal: "ops".into(), role: "root".into() }],
        ..Default::default()
    };
    let Err(error) = TestGatewayBuilder::new().access(access).try_start().await else { panic!("started") };
    assert!(error.to_string().contains("role `root` is not admin, maker or user"), "{error}");

    let access = sluice_gateway::config::AccessConfig {
        members: vec![sluice_gateway::config::MemberConfig { principal: "ops".into(), role: "admin".into() }],
        ..Default::default()
    };
    let gateway = TestGatewayBuilder::new().access(access).start().await;
    assert_eq!(
        gateway.gateway.access().directory(DEFAULT_ENVIRONMENT).unwrap().role(&caller("ops")),
        Some(Role::Admin)
    );
}

/// `[oauth]` with a key file and a database in `dir`: what sealing
/// connection values needs.
/// A shop whose connections hold an API key, shared with the group
/// `sales` (Bob), and Bob's key.
async fn shared_shop(dir: &std::path::Path, key_byte: u8, backend: std::net::SocketAddr) -> (TestGateway, String) {
    let security = json!({"api_key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}});
    let gateway = TestGatewayBuilder::new()
        .package("shop", shop_definition(backend, security), shop_properties(api_key_parameter(), None, json!([])))
        .oauth(sealing(dir, key_byte))
        .start()
        .await;
    let access = gateway.gateway.access();
    let admin = caller(ADMIN);
    alice_maker_and_bob_in_sales(&gateway).await;
    access.set_role(&admin, DEFAULT_ENVIRONMENT, "bob", Some(Role::User)).await.unwrap();
    access.set_connector_owner(&admin, DEFAULT_ENVIRONMENT, "shop", "alice").await.unwrap();
    access.share_connector(&caller("alice"), DEFAULT_ENVIRONMENT, "shop", "sales", Some(Right::CanUse)).await.unwrap();
    let bob = access.issue_key(&admin, "bob", "tests", None).await.unwrap().key;
    (gateway, bob)
}

fn values(pairs: &[(&str, &str)]) -> indexmap::IndexMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn bob_makes_his_own_connection_calls_through_it_and_deletes_it() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let (gateway, bob) = shared_shop(dir.path(), 1, backend).await;
    let access = gateway.gateway.access();
    access
        .create_connection(&caller("bob"), DEFAULT_ENVIRONMENT, "shop", "bobs", values(&[("api_key", "k-bob")]))
        .await
        .unwrap();
    let answer = gateway.anonymous(as_key(&bob, "/apim/shop/bobs/items", &gateway)).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(recorder.last().headers["x-api-key"], "k-bob");

    // Bob's connection is his: Alice, the connector's owner, may not call it.
    let alice = access.issue_key(&caller(ADMIN), "alice", "tests", None).await.unwrap().key;
    let refused = gateway.anonymous(as_key(&alice, "/apim/shop/bobs/items", &gateway)).await;
    assert_eq!((refused.status, refused.problem_type().as_str()), (404, "unknown-connection"));

    let bad = |result: Result<(), AccessError>| result.unwrap_err();
    let again = bad(access
        .create_connection(&caller("bob"), DEFAULT_ENVIRONMENT, "shop", "bobs", values(&[("api_key", "x")]))
        .await);
    assert!(matches!(again, AccessError::ConnectionExists { .. }), "{again:?}");
    let unknown = bad(access
        .create_connection(&caller("bob"), DEFAULT_ENVIRONMENT, "shop", "b2", values(&[("colour", "red")]))
        .await);
    assert!(
        matches!(unknown, AccessError::ConnectionRefused(_)) && unknown.to_string().contains("colour"),
        "{unknown}"
    );
    let missing = bad(access.create_connection(&caller("bob"), DEFAULT_ENVIRONMENT, "shop", "b3", values(&[])).await);
    assert!(matches!(missing, AccessError::ConnectionRefused(_)), "{missing}");
    let id = bad(access
        .create_connection(&caller("bob"), DEFAULT_ENVIRONMENT, "shop", "../x", values(&[("api_key", "x")]))
        .await);
    assert!(matches!(id, AccessError::BadConnectionId(_)), "{id:?}");
    // Carol, not a member of the environment, cannot make one: she sees no environment.
    let carol = bad(access
        .create_connection(&caller("carol"), DEFAULT_ENVIRONMENT, "shop", "c", values(&[("api_key", "x")]))
        .await);
    assert!(matches!(carol, AccessError::Denied(Denied::NoEnvironment { .. })), "{carol:?}");

    // Only its owner deletes it; then it is gone on the next call.
    let not_hers = bad(access.delete_connection(&caller("alice"), DEFAULT_ENVIRONMENT, "shop", "bobs").await);
    assert!(matches!(not_hers, AccessError::Denied(Denied::NoConnection { .. })), "{not_hers:?}");
    access.delete_connection(&caller("bob"), DEFAULT_ENVIRONMENT, "shop", "bobs").await.unwrap();
    assert_eq!(gateway.anonymous(as_key(&bob, "/apim/shop/bobs/items", &gateway)).await.status, 404);
}

#[tokio::test]
async fn connection_values_are_sealed_at_rest_and_open_only_with_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let secret = "k-bob-secret-8a7f";
    {
        let (gateway, _) = shared_shop(dir.path(), 1, backend).await;
        let access = gateway.gateway.access();
        access
            .create_connection(&caller("bob"), DEFAULT_ENVIRONMENT, "shop", "bobs", values(&[("api_key", secret)]))
            .await
            .unwrap();
    }
    for file in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "the value is stored in clear");
    }
    // The same key opens it after a restart.
    let (gateway, bob) = shared_shop(dir.path(), 1, backend).await;
    assert_eq!(gateway.anonymous(as_key(&bob, "/apim/shop/bobs/items", &gateway)).await.status, 200);
    assert_eq!(recorder.last().headers["x-api-key"], secret);
    drop(gateway);
    // Another key does not: the connection is refused, and says why.
    let (gateway, bob) = shared_shop(dir.path(), 2, backend).await;
    let answer = gateway.anonymous(as_key(&bob, "/apim/shop/bobs/items", &gateway)).await;
    assert_eq!((answer.status, answer.problem_type().as_str()), (404, "unknown-connection"));
    assert!(answer.json()["detail"].as_str().unwrap().contains("cannot be read"), "{}", answer.text());
    assert!(!answer.text().contains(secret));
}

#[tokio::test]
async fn without_a_secret_key_no_connection_is_made() {
    let org = org().await;
    let refused = org
        .gateway
        .gateway
        .access()
        .create_connection(&caller(ADMIN), DEFAULT_ENVIRONMENT, "shop", "new", values(&[]))
        .await
        .unwrap_err();
    assert!(matches!(refused, AccessError::NoSecretKey), "{refused:?}");
    // The settings file's connections are not the gateway's to delete.
    let read_only = org
        .gateway
        .gateway
        .access()
        .delete_connection(&caller(ADMIN), DEFAULT_ENVIRONMENT, "shop", "admins")
        .await
        .unwrap_err();
    assert!(matches!(read_only, AccessError::ReadOnly(_)), "{read_only:?}");
}
