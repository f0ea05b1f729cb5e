//! Capability-restricted egress for sluice: connector allowlists,
//! virtual-network (environment) rules, and an SSRF-safe HTTP client.
//!
//! The policy half (rules, environments, address classes, the decision)
//! does no I/O and builds without the default `client` feature; the client
//! and the system resolver need it.
//!
//! Every request that leaves sluice for a backend goes through
//! [`EgressClient`], which enforces a [`Policy`]: the connector's
//! [`Allowlist`] must grant the URL's scheme, host and port, and every
//! address the host resolves to must be permitted by the [`Environment`].
//! Loopback, link-local, cloud metadata and unlinked private addresses are
//! never reachable. Policy parsing does no I/O; [`Policy::check`] is the one
//! function that decides, and it logs every decision.
//!
//! ```no_run
//! use bytes::Bytes;
//! use sluice_egress::{Allowlist, EgressClient, Environment, Policy, SendOptions};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let allowlist = Allowlist::parse(["https://api.example.com", "https://*.example.net"])?;
//! let environment: Environment =
//!     serde_json::from_str(r#"{"subnets": ["10.1.0.0/16"], "public": true}"#)?;
//! let policy = Policy::new(allowlist, environment);
//!
//! let client = EgressClient::new();
//! let request = http::Request::get("https://api.example.com/v1/items").body(Bytes::new())?;
//! match client.send(&policy, request, SendOptions::default()).await {
//!     Ok(response) => println!("{}", response.status()),
//!     Err(sluice_egress::EgressError::Denied { reason }) => println!("denied: {reason}"),
//!     Err(e) => println!("failed: {e}"),
//! }
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod address;
pub mod canonical;
pub mod check;
#[cfg(feature = "client")]
pub mod client;
pub mod environment;
pub mod policy;
pub mod resolve;
pub mod rule;

pub use canonical::{Host, Scheme, Target, UrlError};
#[cfg(feature = "client")]
pub use check::check_command;
pub use check::{CheckRequest, run_check};
#[cfg(feature = "client")]
pub use client::{Dialer, EgressClient, EgressClientBuilder, EgressError, RootsError, SendOptions};
pub use environment::{AddressDenial, Environment, SubnetError, parse_subnet};
pub use policy::{Decision, DenyReason, Policy};
#[cfg(feature = "client")]
pub use resolve::SystemResolver;
pub use resolve::{PinError, PinnedResolver, ResolveError, Resolver};
pub use rule::{AllowRule, Allowlist, RuleError};
/// The TLS library the client uses, for callers supplying their own
/// [`rustls::ClientConfig`] (e.g. with a corporate root certificate).
#[cfg(feature = "client")]
pub use tokio_rustls::rustls;
