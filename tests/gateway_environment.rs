//! The environment's network settings apply to the next call without
//! reloading or re-saving any connector.

mod support;

use serde_json::json;
use sluice::config::EnvironmentConfig;
use sluice::gateway::Lookup;
use sluice_egress::{PinnedResolver, Resolver};
use support::*;

#[tokio::test]
async fn environment_change_applies_without_reloading_connectors() {
    // The connector's host is a public address; the check needs no network.
    let public: std::net::SocketAddr = "93.184.215.14:443".parse().unwrap();
    let mut definition = shop_definition(public, json!({}));
    definition["schemes"] = json!(["https"]);
    definition["host"] = json!("93.184.215.14");
    let gateway = TestGatewayBuilder::new()
        .package("shop", definition, shop_properties(json!({}), None, json!([])))
        .connection("shop", "c1", &[])
        .start()
        .await;
    let connector = match gateway.gateway.connector("shop") {
        Lookup::Ready(connector) => connector,
        other => panic!("{other:?}"),
    };
    let connection = connector.connections["c1"].as_ref().unwrap();
    let resolver: &dyn Resolver = &PinnedResolver::new();
    let url = "https://93.184.215.14/v1/items";

    let before = gateway.gateway.egress_policy(connection).check(url, resolver).await;
    assert!(before.is_allowed(), "{before:?}");

    gateway.gateway.set_environment(&EnvironmentConfig { subnets: vec!["10.1.0.0/16".into()], public: false }).unwrap();
    let after = gateway.gateway.egress_policy(connection).check(url, resolver).await;
    assert!(!after.is_allowed(), "public egress is off now: {after:?}");

    let same = match gateway.gateway.connector("shop") {
        Lookup::Ready(connector) => connector,
        other => panic!("{other:?}"),
    };
    assert!(std::sync::Arc::ptr_eq(&connector, &same), "the connector was not reloaded");
}

#[tokio::test]
async fn invalid_subnet_is_refused_and_settings_kept() {
    let gateway = TestGatewayBuilder::new().start().await;
    let error = gateway.gateway.set_environment(&EnvironmentConfig { subnets: vec!["10.1.0.0/33".into()], public: true });
    assert!(error.unwrap_err().to_string().contains("10.1.0.0/33"));
}
