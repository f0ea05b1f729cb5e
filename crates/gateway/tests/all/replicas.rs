//! Three gateways on one real PostgreSQL database: what is changed through
//! one reaches the others' snapshots within a second, from the database's
//! change notifications.

use std::time::{Duration, Instant};

use serde_json::json;
use sluice_gateway::access::{DEFAULT_ENVIRONMENT, PrincipalKind, Role};

use crate::api::{api, caller, send_zip, shop_files, zip_files};
use crate::support::*;

/// How long a change may take to reach another gateway.
const PROPAGATION: Duration = Duration::from_secs(1);

struct Replicas {
    gateways: Vec<TestGateway>,
    recorder: Recorder,
    backend: std::net::SocketAddr,
    alice: String,
    bob: String,
    _dir: tempfile::TempDir,
}

/// Three gateways on a fresh database, sharing the sealing key; Alice (a
/// maker) and Bob (a user) are made through the first, and every gateway
/// knows their keys before this returns.
async fn replicas() -> Replicas {
    let url = sluice_test_postgres::database();
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut gateways = Vec::new();
    for _ in 0..3 {
        gateways.push(TestGatewayBuilder::new().store_url(&url).oauth(sealing(dir.path(), 5)).start().await);
    }
    let access = gateways[0].gateway.access();
    let admin = caller(ADMIN);
    let mut keys = Vec::new();
    for (user, role) in [("alice", Role::Maker), ("bob", Role::User)] {
        access.add_principal(&admin, user, PrincipalKind::User, user).await.unwrap();
        access.set_role(&admin, DEFAULT_ENVIRONMENT, user, Some(role)).await.unwrap();
        keys.push(access.issue_key(&admin, user, "tests", None).await.unwrap().key);
    }
    for gateway in &gateways {
        for key in &keys {
            within(PROPAGATION, "a new key works on every gateway", async || {
                api(gateway, key, "GET", "/api/v1/connectors", None).await.status == 200
            })
            .await;
        }
    }
    let [alice, bob] = <[String; 2]>::try_from(keys).unwrap();
    Replicas { gateways, recorder, backend, alice, bob, _dir: dir }
}

/// Waits until `condition` holds, for at most `limit`; returns how long it took.
async fn within(limit: Duration, what: &str, condition: impl AsyncFn() -> bool) -> Duration {
    let started = Instant::now();
    loop {
        if condition().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn call(gateway: &TestGateway, key: &str, path: &str) -> Answer {
    api(gateway, key, "GET", path, None).await
}

#[tokio::test]
async fn a_connector_published_updated_and_deleted_through_one_gateway_changes_on_the_others_within_a_second() {
    let replicas = replicas().await;
    let [one, two, three] = &replicas.gateways[..] else { unreachable!() };
    let alice = &replicas.alice;

    let v1 = zip_files(&shop_files(replicas.backend, "/v1"), "");
    let published = send_zip(one, alice, "POST", "/api/v1/connectors?id=shop", v1, &[]).await;
    assert_eq!(published.status, 201, "{}", published.text());
    let connection = json!({"connector": "shop", "id": "main", "parameters": {"api_key": "k-alice"}});
    assert_eq!(api(one, alice, "POST", "/api/v1/connections", Some(connection)).await.status, 201);
    for gateway in [two, three] {
        let took = within(PROPAGATION, "the published connector is called", async || {
            call(gateway, alice, "/apim/shop/main/items").await.status == 200
        })
        .await;
        println!("publish reached another gateway in {took:?}");
        let seen = replicas.recorder.last();
        assert_eq!(seen.path_and_query, "/v1/items");
        assert_eq!(seen.headers["x-api-key"], "k-alice", "the connection's sealed key opens on every gateway");
    }

    let v2 = zip_files(&shop_files(replicas.backend, "/v2"), "");
    let updated = send_zip(two, alice, "PUT", "/api/v1/connectors/shop", v2, &[]).await;
    assert_eq!(updated.status, 200, "{}", updated.text());
    for gateway in [one, three] {
        within(PROPAGATION, "the update is served", async || {
            call(gateway, alice, "/apim/shop/main/items").await.status == 200
                && replicas.recorder.last().path_and_query == "/v2/items"
        })
        .await;
    }
    let shown = api(one, alice, "GET", "/api/v1/connectors/shop", None).await.json();
    assert_eq!(shown["validation"]["version"], 2, "the stored version is the same everywhere");

    assert_eq!(api(three, alice, "DELETE", "/api/v1/connectors/shop", None).await.status, 204);
    for gateway in [one, two] {
        within(PROPAGATION, "the deleted connector is gone", async || {
            call(gateway, alice, "/apim/shop/main/items").await.status == 404
        })
        .await;
        assert!(!gateway.packages_dir().join("shop").exists(), "its folder is removed too");
    }
}

#[tokio::test]
async fn a_share_revoked_through_one_gateway_is_refused_by_another_within_a_second() {
    let replicas = replicas().await;
    let [one, two, three] = &replicas.gateways[..] else { unreachable!() };
    let (alice, bob) = (&replicas.alice, &replicas.bob);

    let v1 = zip_files(&shop_files(replicas.backend, "/v1"), "");
    assert_eq!(send_zip(one, alice, "POST", "/api/v1/connectors?id=shop", v1, &[]).await.status, 201);
    let share = json!({"right": "can-use"});
    assert_eq!(api(one, alice, "PUT", "/api/v1/connectors/shop/shares/bob", Some(share)).await.status, 200);
    let connection = json!({"connector": "shop", "id": "bobs", "parameters": {"api_key": "k-bob"}});
    within(PROPAGATION, "Bob connects through another gateway", async || {
        api(two, bob, "POST", "/api/v1/connections", Some(connection.clone())).await.status == 201
    })
    .await;
    within(PROPAGATION, "Bob calls through a third", async || {
        call(three, bob, "/apim/shop/bobs/items").await.status == 200
    })
    .await;

    let revoked = api(one, alice, "DELETE", "/api/v1/connectors/shop/shares/bob", None).await;
    assert!(revoked.status < 300, "{}", revoked.text());
    let took = within(PROPAGATION, "the revoked share is refused", async || {
        call(three, bob, "/apim/shop/bobs/items").await.status != 200
    })
    .await;
    println!("revoke reached another gateway in {took:?}");
    for gateway in [two, three] {
        let refused = call(gateway, bob, "/apim/shop/bobs/items").await;
        assert_eq!((refused.status, refused.problem_type().as_str()), (404, "unknown-connector"), "{}", refused.text());
    }
}
