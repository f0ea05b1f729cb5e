//! The `sluice` binary's tests, one binary: each command run as a user runs
//! it, and the check that nothing in the build or the tests reads outside
//! the repository.

mod connectors;
mod demo;
mod egress;
mod guest_sdks;
mod import;
mod new;
mod remote;
mod replicas;
mod run;
mod source_tree;
mod support;
mod validate;
