//! The runtime's integration tests, one binary (as wasmtime's `tests/all`):
//! real guest components from `sluice-test-programs`, called through the
//! public API.

mod calls;
mod interpreted;
mod limits;
mod load;
mod support;
