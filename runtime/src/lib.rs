//! `sluice-runtime` runs API connectors' custom code, compiled to WebAssembly
//! components, in a sandbox: a fresh instance per call, with a fuel budget, a
//! memory cap, a deadline, and no way out but the host's [`Backend`].
//!
//! Three lifetimes, three steps:
//! - once per process, a [`Runtime`] owns the engine and its settings
//!   ([`RuntimeConfig`]);
//! - once per connector, [`Runtime::load`] compiles and checks the code and
//!   keeps a pre-linked template ([`Connector`]), under its [`Limits`]
//!   ([`Connector::warm_up`] can then check that it instantiates);
//! - once per call, [`Connector::call`] makes a store and an instance, runs
//!   the code's `handle`, and returns the response with a [`CallReport`].
//!
//! The contract the code implements is `wit/connector.wit`
//! (`sluice:connector@0.1.0`); the `sluice-guest` crate is its Rust side.
//!
//! ```no_run
//! use std::sync::Arc;
//! use bytes::Bytes;
//! use sluice_runtime::{Invocation, Limits, NoBackend, Runtime, RuntimeConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = Runtime::new(RuntimeConfig::default())?;
//! let code = std::fs::read("script.wasm")?;
//! let connector = runtime.load("contoso", &code, Limits::default())?;
//!
//! let request = http::Request::get("https://api.contoso.example/items")
//!     .body(Bytes::new())?;
//! let output = connector
//!     .call(
//!         Invocation {
//!             operation_id: "ListItems".into(),
//!             correlation_id: "4f1c".into(),
//!             original_url: "https://gateway.example/apim/contoso/c1/items".into(),
//!             request,
//!         },
//!         Arc::new(NoBackend),
//!     )
//!     .await;
//! match output.result {
//!     Ok(response) => println!("{} after {:?}", response.status(), output.report.wall_time),
//!     Err(error) => eprintln!("{error}"),
//! }
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

// Without the `engine` feature only the limits vocabulary is built.
#[cfg(feature = "engine")]
mod backend;
#[cfg(feature = "engine")]
mod bindings;
#[cfg(feature = "engine")]
mod cache;
#[cfg(feature = "engine")]
mod config;
#[cfg(feature = "engine")]
mod connector;
#[cfg(feature = "engine")]
mod error;
#[cfg(feature = "engine")]
mod kind;
mod limits;
#[cfg(feature = "engine")]
mod logs;
#[cfg(feature = "engine")]
mod report;
#[cfg(feature = "engine")]
mod runtime;
#[cfg(feature = "engine")]
mod state;

#[cfg(feature = "engine")]
pub use backend::{Backend, CallInfo, NoBackend, SendError};
#[cfg(feature = "engine")]
pub use config::RuntimeConfig;
#[cfg(feature = "engine")]
pub use connector::{ASSETS_GUEST_PATH, CallOutput, Connector, HANDLER_EXPORT, Invocation, LoadOptions, WarmUp};
#[cfg(feature = "engine")]
pub use error::{Body, CallError, EngineError, LoadError, RuntimeError};
#[cfg(feature = "engine")]
pub use kind::GuestKind;
pub use limits::Limits;
#[cfg(feature = "engine")]
pub use logs::escape_controls;
#[cfg(feature = "engine")]
pub use report::{BackendCall, CallReport, LogLevel, LogLine, LogSource};
#[cfg(feature = "engine")]
pub use runtime::Runtime;
