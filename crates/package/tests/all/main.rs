//! The package crate's tests, one binary, through its public API.

mod credentials;
mod load;
