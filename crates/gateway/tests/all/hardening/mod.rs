//! What an outside review found, one test per finding, each named for the
//! behaviour that holds now: credentials and custom code, error text and
//! logs, package files, slow clients and the server, and the limits that
//! keep one connector or one call from taking everything.

mod credentials;
mod errors;
mod limits;
mod packages;
mod server;

use serde_json::json;

use crate::support::*;

/// Basic-auth security and its two secret parameters.
pub(crate) fn basic_auth() -> (serde_json::Value, serde_json::Value) {
    let secure = json!({"type": "securestring", "uiDefinition": {"constraints": {"required": "true"}}});
    (json!({"basic": {"type": "basic"}}), json!({"username": secure, "password": secure}))
}

/// API-key security in the `X-Key` header, and its secret parameter.
pub(crate) fn header_key() -> (serde_json::Value, serde_json::Value) {
    (json!({"key": {"type": "apiKey", "in": "header", "name": "X-Key"}}), api_key_parameter())
}
