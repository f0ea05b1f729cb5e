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

mod backend;
mod bindings;
mod cache;
mod config;
mod connector;
mod error;
mod limits;
mod logs;
mod report;
mod runtime;
mod state;

pub use backend::{Backend, CallInfo, NoBackend, SendError};
pub use config::RuntimeConfig;
pub use connector::{CallOutput, Connector, HANDLER_EXPORT, Invocation, WarmUp};
pub use error::{Body, CallError, LoadError, RuntimeError};
pub use limits::Limits;
pub use report::{BackendCall, CallReport, LogLevel, LogLine, LogSource};
pub use runtime::Runtime;
