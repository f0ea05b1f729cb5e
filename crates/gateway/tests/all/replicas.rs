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
    let revoked_at = Instant::now();
    // Each other gateway learns of it on its own, each within the bound
    // counted from the revoke.
    for (name, gateway) in [("three", three), ("two", two)] {
        let left = PROPAGATION.saturating_sub(revoked_at.elapsed());
        within(left, "the revoked share is refused", async || {
            call(gateway, bob, "/apim/shop/bobs/items").await.status != 200
        })
        .await;
        println!("revoke reached gateway {name} in {:?}", revoked_at.elapsed());
        let refused = call(gateway, bob, "/apim/shop/bobs/items").await;
        assert_eq!((refused.status, refused.problem_type().as_str()), (404, "unknown-connector"), "{}", refused.text());
    }
}

#[tokio::test]
async fn with_the_database_stopped_calls_go_on_changes_are_refused_and_all_recovers_when_it_is_back() {
    let cluster = std::sync::Arc::new(sluice_test_postgres::Cluster::new().expect("a PostgreSQL server of its own"));
    let url = cluster.create_database();
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut gateways = Vec::new();
    for _ in 0..3 {
        let builder = TestGatewayBuilder::new().store_url(&url).oauth(sealing(dir.path(), 5));
        // A change waits 1 s for the database before it is refused.
        let builder = builder.store(|store| {
            store.resync_interval = Duration::from_secs(1);
            store.acquire_timeout = Duration::from_secs(1);
        });
        gateways.push(builder.start().await);
    }
    let gateways = std::sync::Arc::new(gateways);
    let (one, two) = (&gateways[0], &gateways[1]);
    let admin = one.admin_key.clone();
    let v1 = zip_files(&shop_files(backend, "/v1"), "");
    assert_eq!(send_zip(one, &admin, "POST", "/api/v1/connectors?id=shop", v1, &[]).await.status, 201);
    let connection = json!({"connector": "shop", "id": "main", "parameters": {"api_key": "k"}});
    assert_eq!(api(one, &admin, "POST", "/api/v1/connections", Some(connection)).await.status, 201);
    for gateway in &gateways[1..] {
        within(PROPAGATION, "the connection is served by the others", async || {
            call(gateway, &admin, "/apim/shop/main/items").await.status == 200
        })
        .await;
    }

    // Calls run on both gateways while the database stops and starts again.
    let running = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let load: Vec<_> = (0..gateways.len())
        .map(|index| {
            let (gateways, admin, running) = (gateways.clone(), admin.clone(), running.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                while running.load(std::sync::atomic::Ordering::Relaxed) {
                    let answer = call(&gateways[index], &admin, "/apim/shop/main/items").await;
                    answers.push((answer.status, answer.body));
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                answers
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pg = cluster.clone();
    tokio::task::spawn_blocking(move || pg.stop()).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A change is refused with a 503 that says why, on any gateway.
    let share = json!({"right": "can-use"});
    for gateway in gateways.iter() {
        let refused = api(gateway, &admin, "PUT", "/api/v1/connectors/shop/shares/bob", Some(share.clone())).await;
        assert_eq!((refused.status, refused.problem_type().as_str()), (503, "store-unavailable"), "{}", refused.text());
        assert!(
            refused.json()["detail"].as_str().unwrap().contains("database cannot be reached"),
            "{}",
            refused.text()
        );
        assert!(!refused.text().contains(&url), "the database's URL is not shown");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let pg = cluster.clone();
    tokio::task::spawn_blocking(move || pg.start()).await.unwrap().unwrap();
    // Changes work again without a restart, and reach the other gateway.
    let took = within(Duration::from_secs(10), "a change works again", async || {
        api(one, &admin, "PUT", "/api/v1/connectors/shop/shares/bob", Some(share.clone())).await.status == 200
    })
    .await;
    println!("changes worked again {took:?} after the database started");
    let took = within(Duration::from_secs(5), "the change reaches the other gateway", async || {
        let shares = api(two, &admin, "GET", "/api/v1/connectors/shop/shares", None).await;
        shares.status == 200 && shares.text().contains("bob")
    })
    .await;
    println!("and reached the other gateway in {took:?}");
    running.store(false, std::sync::atomic::Ordering::Relaxed);
    let expected = call(one, &admin, "/apim/shop/main/items").await.body;
    for answers in load {
        let answers = answers.await.unwrap();
        assert!(answers.len() > 20, "calls ran throughout: {}", answers.len());
        for (status, body) in answers {
            assert_eq!(status, 200, "no call failed while the database was away: {}", String::from_utf8_lossy(&body));
            assert_eq!(body, expected, "and none answered wrong");
        }
    }
}
