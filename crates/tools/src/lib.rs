//! `sluice-tools`: tools for connector authors, behind the `sluice` CLI:
//! [`validate`] checks a package the way certification would, [`run`] runs
//! one operation's code offline against a [`fixture`], [`harness`] does the
//! same from `cargo test`, [`postman`] imports a Postman collection and
//! [`new`] starts a connector. Each is a library function the CLI prints;
//! none touches the network, and the crate brings no server, database or
//! OAuth client to the authors who depend on it.
//!
//! ```no_run
//! use sluice_tools::validate::{ValidateOptions, Validator};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let report = Validator::new().validate(std::path::Path::new("contoso"), &ValidateOptions::default())?;
//! for finding in &report.findings {
//!     println!("{}[{}] {} {}: {}", finding.severity, finding.rule, finding.file, finding.path, finding.message);
//! }
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

pub mod check;
pub mod fixture;
pub mod harness;
pub mod jsonpath;
pub mod new;
pub mod postman;
pub mod run;
pub mod validate;
