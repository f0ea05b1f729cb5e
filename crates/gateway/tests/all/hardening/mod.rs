//! What an outside review found, one test per finding, each named for the
//! behaviour that holds now: credentials and custom code, error text and
//! logs, package files, slow clients and the server, and the limits that
//! keep one connector or one call from taking everything.

mod credentials;
mod errors;
mod limits;
mod packages;
mod server;

use std::net::SocketAddr;

use serde_json::json;

use crate::support::*;

/// A `shop` package whose code is the `misbehave` test guest (the last path
/// segment of `/run/{action}` picks what it does), with these security
/// definitions, connection parameters, policies and `sluice.toml`.
pub(crate) fn code_shop(
    builder: TestGatewayBuilder,
    backend: SocketAddr,
    security: serde_json::Value,
    parameters: serde_json::Value,
    policies: serde_json::Value,
    settings: &str,
) -> TestGatewayBuilder {
    builder
        .package("shop", shop_definition(backend, security), shop_properties(parameters, None, policies))
        .file("shop", "script.wasm", guest("misbehave"))
        .file("shop", "sluice.toml", settings)
}

/// Basic-auth security and its two secret parameters.
pub(crate) fn basic_auth() -> (serde_json::Value, serde_json::Value) {
    let secure = json!({"type": "securestring", "uiDefinition": {"constraints": {"required": "true"}}});
    (json!({"basic": {"type": "basic"}}), json!({"username": secure, "password": secure}))
}

/// API-key security in the `X-Key` header, and its secret parameter.
pub(crate) fn header_key() -> (serde_json::Value, serde_json::Value) {
    (json!({"key": {"type": "apiKey", "in": "header", "name": "X-Key"}}), api_key_parameter())
}
