//! `sluice-gateway`: the gateway. It loads connector packages, routes
//! operations, applies connections' credentials and policy templates, runs
//! custom code in `sluice-runtime`, and sends every backend call through
//! `sluice-egress`; OAuth connections sign in through it.
//!
//! ```no_run
//! use sluice_gateway::config::GatewayConfig;
//! use sluice_gateway::{Gateway, GatewayOptions};
//!
//! # async fn serve() -> Result<(), Box<dyn std::error::Error>> {
//! let config = GatewayConfig::load(std::path::Path::new("sluice.toml"))?;
//! let listen = config.listen;
//! let gateway = Gateway::start(config, GatewayOptions::default()).await?;
//! for environment in gateway.environments() {
//!     environment.registry().watch()?;
//! }
//! let listener = tokio::net::TcpListener::bind(listen).await?;
//! sluice_gateway::server::serve_gateway(listener, gateway, std::future::pending()).await?;
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

pub mod access;
pub mod activity;
pub mod api;
pub mod archive;
pub mod audit;
pub mod catalog;
pub mod config;
mod console;
pub mod environment;
mod gateway;
mod kinds;
pub mod metrics;
pub mod network;
pub mod oauth;
pub mod pipeline;
pub mod problem;
pub mod registry;
mod replicas;
pub mod server;
pub mod store;
pub mod telemetry;

pub use gateway::{Gateway, GatewayOptions, StartError};

/// The hash map of what the gateway reads on every call (connectors,
/// people, keys, connections, activity): foldhash, seeded at random per
/// process, costs a fraction of the standard SipHash on their short keys.
/// Every key is a name or an id that a signed-in person created.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
