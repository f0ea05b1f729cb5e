//! Tools for connector authors, behind the `sluice` CLI: [`validate`] checks a
//! package the way certification would, [`run`] runs one operation's code
//! offline against a [`fixture`], [`harness`] does the same from `cargo
//! test`, [`postman`] imports a Postman collection and [`new`] starts a
//! connector. Each is a library function the CLI prints; none touches the
//! network.

pub mod cli;
pub mod fixture;
pub mod harness;
pub mod jsonpath;
pub mod new;
pub mod postman;
pub mod run;
pub mod validate;
