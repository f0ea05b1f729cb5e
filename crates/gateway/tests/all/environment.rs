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
    let connector = gateway.gateway.default_environment().registry().get("shop").unwrap();
    let connection = connector.connections["c1"].as_ref().unwrap();
    let resolver: &dyn Resolver = &PinnedResolver::new();
    let url = "https://93.184.215.14/v1/items";

    let before =
        gateway.gateway.default_environment().network().policy(&connection.allowlist).check(url, resolver).await;
    assert!(before.is_allowed(), "{before:?}");

    gateway
        .gateway
        .default_environment()
        .set_network(Environment::new(vec!["10.1.0.0/16".parse().unwrap()], false))
        .unwrap();
    let after =
        gateway.gateway.default_environment().network().policy(&connection.allowlist).check(url, resolver).await;
    assert!(!after.is_allowed(), "public egress is off now: {after:?}");

    let same = gateway.gateway.default_environment().registry().get("shop").unwrap();
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

/// A settings file naming private roots that do not load: the gateway does
/// not start, and says which file and why; the roots of a good file load
/// from beside the settings file.
#[tokio::test]
async fn private_roots_are_loaded_from_beside_the_settings_file_at_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("packages")).unwrap();
    let settings = dir.path().join("sluice.toml");
    std::fs::write(
        &settings,
        "packages = \"packages\"\n[environment]\nsubnets = [\"10.1.0.0/16\"]\npublic = false\nprivate_roots = [\"ca.pem\"]\n",
    )
    .unwrap();
    let config = sluice_gateway::config::GatewayConfig::load(&settings).unwrap();
    let error = sluice_gateway::Gateway::start(config.clone(), Default::default()).await.unwrap_err();
    assert!(error.to_string().contains("ca.pem: cannot read it"), "{error}");

    std::fs::write(dir.path().join("ca.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
        .unwrap();
    let error = sluice_gateway::Gateway::start(config, Default::default()).await.unwrap_err();
    assert!(error.to_string().contains("not a usable root certificate"), "{error}");
}
