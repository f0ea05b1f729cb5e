//! `sluice-guest` is how connector authors write custom code for sluice in
//! Rust. The code compiles to a WebAssembly component
//! (`cargo build --target wasm32-wasip2 --release`) that the gateway runs,
//! per call, in a sandbox.
//!
//! There are two ways to write it, and one macro, [`export!`], to expose it.
//!
//! **Transform hooks**, for the common case of changing the request and the
//! response around one backend call:
//!
//! ```no_run
//! use sluice_guest::{Context, Error, Request, Response, Transform};
//!
//! struct Items;
//!
//! impl Transform for Items {
//!     fn on_request(_ctx: &Context, request: Request) -> Result<Request, Error> {
//!         Ok(request.with_header("x-sluice", "1"))
//!     }
//!
//!     fn on_response(_ctx: &Context, response: Response) -> Result<Response, Error> {
//!         let items: Vec<serde_json::Value> = response.json()?;
//!         Response::json_body(200, &serde_json::json!({ "count": items.len(), "items": items }))
//!     }
//! }
//!
//! sluice_guest::export!(Items);
//! ```
//!
//! **A full handler**, which may answer on its own or call backends any
//! number of times with [`send`]:
//!
//! ```no_run
//! use sluice_guest::{Context, Error, Handler, Request, Response};
//!
//! struct Echo;
//!
//! impl Handler for Echo {
//!     fn handle(ctx: &Context, request: Request) -> Result<Response, Error> {
//!         let name = request.query("name").ok_or_else(|| Error::bad_request("`name` is required"))?;
//!         sluice_guest::info!("greeting {name} for {}", ctx.operation_id());
//!         Ok(Response::text_body(200, format!("hello, {name}")))
//!     }
//! }
//!
//! sluice_guest::export!(Echo);
//! ```
#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

extern crate self as sluice_guest;

mod context;
mod error;
mod headers;
mod message;

pub use context::Context;
pub use error::{Error, SendError};
pub use headers::Headers;
pub use message::{Request, Response};
/// JSON, re-exported so that code and SDK agree on one version.
pub use serde_json;

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

#[doc(hidden)]
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        // The crate carries its own copy of the contract, so that it builds
        // (and publishes) from its folder alone; a test keeps it equal to
        // the repository's `wit/`.
        path: "wit",
        world: "connector",
        pub_export_macro: true,
        export_macro_name: "__export_connector",
        default_bindings_module: "sluice_guest::bindings",
        runtime_path: "sluice_guest::__wit_bindgen::rt",
    });
}

use bindings::sluice::connector::{backend, log as wit_log, types};

/// Code that handles a call completely: it returns the client's response,
/// calling backends with [`send`] as often as it needs (or never).
pub trait Handler {
    /// Handles one call. `request` is what the gateway would send to the
    /// backend: absolute URL, credentials and request policies applied.
    fn handle(ctx: &Context, request: Request) -> Result<Response, Error>;
}

/// Code that changes the request before one backend call and the response
/// after it. Both hooks default to passing the message through unchanged.
///
/// Every `Transform` is a [`Handler`]: on_request, [`send`], on_response.
/// A backend call that fails without a response becomes an
/// [`Error::Upstream`].
pub trait Transform {
    /// Changes the request before it is sent.
    fn on_request(ctx: &Context, request: Request) -> Result<Request, Error> {
        let _ = ctx;
        Ok(request)
    }

    /// Changes the backend's response before the client gets it.
    fn on_response(ctx: &Context, response: Response) -> Result<Response, Error> {
        let _ = ctx;
        Ok(response)
    }
}

impl<T: Transform> Handler for T {
    fn handle(ctx: &Context, request: Request) -> Result<Response, Error> {
        let request = T::on_request(ctx, request)?;
        let response = send(request)?;
        T::on_response(ctx, response)
    }
}

/// Exposes a type implementing [`Handler`] (or [`Transform`]) as the
/// component's `sluice:connector/handler` export. Use it once per crate.
///
/// ```no_run
/// # use sluice_guest::{Transform};
/// struct PassThrough;
/// impl Transform for PassThrough {}
/// sluice_guest::export!(PassThrough);
/// ```
#[macro_export]
macro_rules! export {
    ($handler:ty) => {
        const _: () = {
            struct __SluiceExport;

            impl $crate::bindings::exports::sluice::connector::handler::Guest for __SluiceExport {
                fn handle(
                    ctx: $crate::bindings::sluice::connector::types::Context,
                    request: $crate::bindings::sluice::connector::types::Request,
                ) -> ::core::result::Result<
                    $crate::bindings::sluice::connector::types::Response,
                    $crate::bindings::sluice::connector::types::Error,
                > {
                    $crate::__handle::<$handler>(ctx, request)
                }
            }

    $crate::bindings::__export_connector!(__SluiceExport with_types_in $crate::bindings);
        };
    };
}

/// Runs a handler with the SDK's types; the glue behind [`export!`].
#[doc(hidden)]
pub fn __handle<H: Handler>(ctx: types::Context, request: types::Request) -> Result<types::Response, types::Error> {
    let ctx = Context {
        connector_id: ctx.connector_id,
        operation_id: ctx.operation_id,
        correlation_id: ctx.correlation_id,
        original_url: ctx.original_url,
    };
    let request = Request::from_parts(request.method, request.url, from_wit_headers(request.headers), request.body);
    match H::handle(&ctx, request) {
        Ok(response) => {
            let (status, headers, body) = response.into_parts();
            Ok(types::Response { status, headers: to_wit_headers(headers), body })
        }
        Err(Error::Client { status, message }) => Err(types::Error::Client(types::ClientError { status, message })),
        Err(Error::Upstream(message)) => Err(types::Error::Upstream(message)),
        Err(Error::Internal(message)) => Err(types::Error::Internal(message)),
    }
}

/// Sends a request to a backend and waits for its response: the only way
/// out of the sandbox.
///
/// The host checks the call against the connector's egress rules first; a
/// refusal is [`SendError::Denied`]. Redirects are not followed. Each call
/// counts against the call's limit on backend calls.
pub fn send(request: Request) -> Result<Response, SendError> {
    let (method, url, headers, body) = request.into_parts();
    let request = types::Request { method, url, headers: to_wit_headers(headers), body };
    match backend::send(&request) {
        Ok(response) => Ok(Response::from_parts(response.status, from_wit_headers(response.headers), response.body)),
        Err(types::SendError::Denied(reason)) => Err(SendError::Denied(reason)),
        Err(types::SendError::InvalidRequest(reason)) => Err(SendError::InvalidRequest(reason)),
        Err(types::SendError::Unreachable(reason)) => Err(SendError::Unreachable(reason)),
        Err(types::SendError::Timeout) => Err(SendError::Timeout),
        Err(types::SendError::Failed(reason)) => Err(SendError::Failed(reason)),
    }
}

/// How much a log line matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Fine-grained detail.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that was handled.
    Warn,
    /// A failure.
    Error,
}

/// Writes one log line, attributed to the call by the host. The macros
/// [`info!`] and friends format and call this.
pub fn log(level: Level, message: &str) {
    let level = match level {
        Level::Trace => wit_log::Level::Trace,
        Level::Debug => wit_log::Level::Debug,
        Level::Info => wit_log::Level::Info,
        Level::Warn => wit_log::Level::Warn,
        Level::Error => wit_log::Level::Error,
    };
    wit_log::write(level, message);
}

/// Logs a formatted line at trace level.
#[macro_export]
macro_rules! trace { ($($arg:tt)*) => { $crate::log($crate::Level::Trace, &::std::format!($($arg)*)) }; }
/// Logs a formatted line at debug level.
#[macro_export]
macro_rules! debug { ($($arg:tt)*) => { $crate::log($crate::Level::Debug, &::std::format!($($arg)*)) }; }
/// Logs a formatted line at info level.
#[macro_export]
macro_rules! info { ($($arg:tt)*) => { $crate::log($crate::Level::Info, &::std::format!($($arg)*)) }; }
/// Logs a formatted line at warn level.
#[macro_export]
macro_rules! warn { ($($arg:tt)*) => { $crate::log($crate::Level::Warn, &::std::format!($($arg)*)) }; }
/// Logs a formatted line at error level.
#[macro_export]
macro_rules! error { ($($arg:tt)*) => { $crate::log($crate::Level::Error, &::std::format!($($arg)*)) }; }

fn from_wit_headers(headers: Vec<types::Header>) -> Headers {
    headers.into_iter().map(|h| (h.name, h.value)).collect()
}

fn to_wit_headers(headers: Headers) -> Vec<types::Header> {
    headers.into_entries().into_iter().map(|(name, value)| types::Header { name, value }).collect()
}
