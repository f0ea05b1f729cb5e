//! The environment's network settings apply to the next call without
//! reloading or re-saving any connector.

use crate::support::*;
use serde_json::json;
use sluice_egress::{Environment, PinnedResolver, Resolver};

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
    let connector = gateway.gateway.registry().get("shop").unwrap();
    let connection = connector.connections["c1"].as_ref().unwrap();
    let resolver: &dyn Resolver = &PinnedResolver::new();
    let url = "https://93.184.215.14/v1/items";

    let before = gateway.gateway.network().policy(&connection.allowlist).check(url, resolver).await;
    assert!(before.is_allowed(), "{before:?}");

    gateway.gateway.set_environment(Environment::new(vec!["10.1.0.0/16".parse().unwrap()], false));
    let after = gateway.gateway.network().policy(&connection.allowlist).check(url, resolver).await;
    assert!(!after.is_allowed(), "public egress is off now: {after:?}");

    let same = gateway.gateway.registry().get("shop").unwrap();
    assert!(std::sync::Arc::ptr_eq(&connector, &same), "the connector was not reloaded");
}

#[tokio::test]
async fn invalid_subnet_is_refused_when_the_settings_file_is_read() {
    // SIGHUP re-reads the file; a bad subnet fails there, before any call sees it.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sluice.toml");
    std::fs::write(&file, "packages = \"p\"\n[environment]\nsubnets = [\"10.1.0.0/33\"]\npublic = true\n").unwrap();
    let error = sluice_gateway::config::GatewayConfig::load(&file).unwrap_err();
    assert!(error.to_string().contains("10.1.0.0/33"), "{error}");
}
