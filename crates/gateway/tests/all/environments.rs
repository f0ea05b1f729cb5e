//! Several environments in one gateway: each has its own connectors (the
//! same ids in two of them are two connectors), connections, members,
//! network and metrics, and nothing of one is reachable through another.

use std::sync::Arc;

use serde_json::json;
use sluice_egress::{Environment, PinnedResolver, Resolver};
use sluice_gateway::access::{AccessError, Caller, Credential, DEFAULT_ENVIRONMENT, Denied, PrincipalKind, Role};

use crate::support::*;

fn caller(principal: &str) -> Caller {
    Caller { id: Arc::from(principal), groups: Vec::new(), credential: Credential::ApiKey { id: "test".into() } }
}

/// A shop in the default environment and another `shop` in `sales`, each
/// with a settings-file connection `c1` holding its own API key; Sam is the
/// admin of `sales` and of nothing else. The folder holds the sealing key
/// and the database.
async fn two_shops(recorder: &Recorder) -> (TestGateway, String, tempfile::TempDir) {
    let backend = start_backend(recorder.app()).await;
    let security = json!({"api_key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}});
    let definition = shop_definition(backend, security);
    let properties = shop_properties(api_key_parameter(), None, json!([]));
    let dir = tempfile::tempdir().unwrap();
    let gateway = TestGatewayBuilder::new()
        .package("shop", definition.clone(), properties.clone())
        .connection("shop", "c1", &[("api_key", "default-key")])
        .environment("sales", Environment::default(), &[("sam", "admin")])
        .package_in("sales", "shop", definition, properties)
        .connection_in("sales", "shop", "c1", &[("api_key", "sales-key")])
        .oauth(sealing(dir.path(), 9))
        .start()
        .await;
    let access = gateway.gateway.access();
    access.add_principal(&caller(ADMIN), "sam", PrincipalKind::User, "Sam").await.unwrap();
    let sam = access.issue_key(&caller(ADMIN), "sam", "tests", None).await.unwrap().key;
    (gateway, sam, dir)
}

async fn get_as(gateway: &TestGateway, key: &str, path: &str) -> Answer {
    let request = http::Request::get(gateway.url(path)).body(http_body_util::Full::default()).unwrap();
    gateway.request(with_bearer(request, key)).await
}

#[tokio::test]
async fn each_environment_calls_its_own_connector_with_its_own_connection() {
    let recorder = Recorder::default();
    let (gateway, sam, _dir) = two_shops(&recorder).await;

    let answer = get_as(&gateway, &sam, "/environments/sales/apim/shop/c1/items").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(recorder.last().headers["x-api-key"], "sales-key");
    let answer = gateway.get("/apim/shop/c1/items").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(recorder.last().headers["x-api-key"], "default-key");

    // Sam is no member of the default environment, nor the gateway's admin
    // of `sales`: to each, the other environment does not exist, worded as
    // one that really does not.
    let calls = recorder.count();
    for (key, path) in [
        (&sam, "/apim/shop/c1/items"),
        (&gateway.admin_key, "/environments/sales/apim/shop/c1/items"),
        (&gateway.admin_key, "/environments/sales/admin/redirect-audit"),
        (&gateway.admin_key, "/environments/nowhere/apim/shop/c1/items"),
    ] {
        let answer = get_as(&gateway, key, path).await;
        assert_eq!((answer.status, answer.problem_type().as_str()), (404, "unknown-environment"), "{path}");
    }
    assert_eq!(recorder.count(), calls, "no refused call reached a backend");
    let hidden = get_as(&gateway, &gateway.admin_key, "/environments/sales/apim/shop/c1/items").await.json();
    let missing = get_as(&gateway, &gateway.admin_key, "/environments/nowhere/apim/shop/c1/items").await.json();
    assert_eq!(
        hidden["detail"].as_str().unwrap().replace("sales", "X"),
        missing["detail"].as_str().unwrap().replace("nowhere", "X")
    );
    // Sam administers his own environment.
    assert_eq!(get_as(&gateway, &sam, "/environments/sales/admin/redirect-audit").await.status, 200);

    // Metrics tell the environments apart, and only the gateway's admins read them.
    let metrics = gateway.get("/metrics").await.text();
    for environment in ["default", "sales"] {
        let series = format!(
            r#"sluice_requests_total{{replica="tests",environment="{environment}",connector="shop",operation="ListItems",status="200"}}"#
        );
        assert!(metrics.contains(&series), "{metrics}");
    }
    assert_eq!(get_as(&gateway, &sam, "/metrics").await.status, 403);
}

#[tokio::test]
async fn connections_and_connectors_of_one_environment_leave_the_other_alone() {
    let recorder = Recorder::default();
    let (gateway, sam, _dir) = two_shops(&recorder).await;
    let access = gateway.gateway.access();
    let (admin, sam_caller) = (caller(ADMIN), caller("sam"));
    let values = |key: &str| [("api_key".to_string(), key.to_string())].into_iter().collect();

    // The same connection id in both environments: two connections.
    access.create_connection(&sam_caller, "sales", "shop", "mine", values("sam-key")).await.unwrap();
    access.create_connection(&admin, DEFAULT_ENVIRONMENT, "shop", "mine", values("admin-key")).await.unwrap();
    get_as(&gateway, &sam, "/environments/sales/apim/shop/mine/items").await;
    assert_eq!(recorder.last().headers["x-api-key"], "sam-key");
    gateway.get("/apim/shop/mine/items").await;
    assert_eq!(recorder.last().headers["x-api-key"], "admin-key");

    // Sam cannot act in the default environment, even through the Rust API.
    let refused = access.create_connection(&sam_caller, DEFAULT_ENVIRONMENT, "shop", "x", values("k")).await;
    assert!(matches!(refused, Err(AccessError::Denied(Denied::NoEnvironment { .. }))), "{refused:?}");
    let refused = access.set_role(&sam_caller, DEFAULT_ENVIRONMENT, "sam", Some(Role::Admin)).await;
    assert!(matches!(refused, Err(AccessError::Denied(Denied::NoEnvironment { .. }))), "{refused:?}");
    // He governs his own: he makes Bob a user there, and only there.
    access.set_role(&sam_caller, "sales", "bob", Some(Role::User)).await.unwrap();
    assert_eq!(access.directory("sales").unwrap().role(&caller("bob")), Some(Role::User));
    assert_eq!(access.directory(DEFAULT_ENVIRONMENT).unwrap().role(&caller("bob")), None);
    // What is the gateway's (its principals, others' keys) is its admins'.
    let refused = access.issue_key(&sam_caller, ADMIN, "stolen", None).await;
    assert!(matches!(refused, Err(AccessError::Denied(Denied::Forbidden { .. }))), "{refused:?}");

    // Deleting `sales`' shop takes its connections with it, and nothing of the default one.
    access.delete_connector(&sam_caller, "sales", "shop").await.unwrap();
    let gone = get_as(&gateway, &sam, "/environments/sales/apim/shop/mine/items").await;
    assert_eq!((gone.status, gone.problem_type().as_str()), (404, "unknown-connector"));
    assert!(gateway.packages_dir().join("shop").is_dir(), "the default environment's package stays");
    assert_eq!(gateway.get("/apim/shop/mine/items").await.status, 200);
    assert_eq!(gateway.get("/apim/shop/c1/items").await.status, 200);
}

#[tokio::test]
async fn each_environment_calls_out_under_its_own_network() {
    // A public backend address: the check needs no network.
    let public: std::net::SocketAddr = "93.184.215.14:443".parse().unwrap();
    let mut definition = shop_definition(public, json!({}));
    definition["schemes"] = json!(["https"]);
    let properties = shop_properties(json!({}), None, json!([]));
    let gateway = TestGatewayBuilder::new()
        .package("shop", definition.clone(), properties.clone())
        .connection("shop", "c1", &[])
        .environment("private", Environment::new(vec!["10.1.0.0/16".parse().unwrap()], false), &[])
        .package_in("private", "shop", definition, properties)
        .connection_in("private", "shop", "c1", &[])
        .start()
        .await;
    let resolver: &dyn Resolver = &PinnedResolver::new();
    let url = "https://93.184.215.14/v1/items";
    let decide = |id: &str| {
        let environment = Arc::clone(gateway.gateway.environment(id).unwrap());
        async move {
            let connector = environment.registry().get("shop").unwrap();
            let connection = connector.connections["c1"].as_ref().unwrap();
            environment.network().policy(&connection.allowlist).check(url, resolver).await
        }
    };
    assert!(decide(DEFAULT_ENVIRONMENT).await.is_allowed());
    let private = decide("private").await;
    assert!(!private.is_allowed(), "no public egress in `private`: {private:?}");

    // A change of one environment's network leaves the other as it was.
    let environment = gateway.gateway.environment("private").unwrap();
    environment.set_network(Environment::default()).unwrap();
    assert!(decide("private").await.is_allowed());
    gateway.gateway.default_environment().set_network(Environment::new(Vec::new(), false)).unwrap();
    assert!(!decide(DEFAULT_ENVIRONMENT).await.is_allowed());
    assert!(decide("private").await.is_allowed());
}

#[tokio::test]
async fn environments_that_do_not_fit_stop_the_start() {
    let bad_id = TestGatewayBuilder::new().environment("Sales Team", Environment::default(), &[]).try_start().await;
    let error = bad_id.err().expect("refused").to_string();
    assert!(error.contains("`Sales Team`"), "{error}");
    let orphan = TestGatewayBuilder::new().connection_in("hr", "shop", "c1", &[]).try_start().await;
    let error = orphan.err().expect("refused").to_string();
    assert!(error.contains("environment `hr`"), "{error}");
    let bad_role =
        TestGatewayBuilder::new().environment("sales", Environment::default(), &[("sam", "boss")]).try_start().await;
    let error = bad_role.err().expect("refused").to_string();
    assert!(error.contains("environment `sales`") && error.contains("`boss`"), "{error}");
}
