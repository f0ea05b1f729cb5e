//! The egress crate's integration tests, one binary: the decision vectors,
//! and the client against real servers on loopback.

mod client;
mod support;
mod vectors;
