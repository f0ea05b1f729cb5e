//! The sluice gateway: loads connector packages, routes operations, applies
//! connections' credentials and policy templates, and runs custom code in
//! `sluice-runtime`, with every backend call through `sluice-egress`.
#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

pub mod config;
pub mod connections;
pub mod credentials;
pub mod demo;
pub mod gateway;
pub mod metrics;
pub mod oauth;
pub mod package;
pub mod pipeline;
pub mod policy;
pub mod problem;
pub mod server;
pub mod tools;
