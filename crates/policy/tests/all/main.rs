//! The policy crate's tests, one binary, through its public API.

mod packages;
mod support;
mod templates;
