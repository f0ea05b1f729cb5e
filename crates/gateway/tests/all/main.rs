//! The gateway's integration tests, one binary: a real gateway on loopback
//! port 0 in front of real backend servers on loopback port 0, the example
//! connectors with their code, and test packages of `tests/data`.

mod access;
mod api;
mod assets;
mod connectors;
mod console;
mod environment;
mod environments;
mod errors;
mod hardening;
mod multiauth;
mod oauth;
mod oauth_certificate;
mod oauth_generic;
mod oidc;
mod packages;
mod policies;
mod replicas;
mod routing;
mod support;
mod telemetry;
