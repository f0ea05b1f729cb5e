//! The test harness: the fixtures of `sluice run`, from `cargo test`.
//!
//! In a connector's guest crate, add `sluice-tools` as a dev-dependency and write
//! one test per fixture:
//!
//! ```no_run
//! use sluice_tools::harness;
//!
//! #[test]
//! fn list_items_wraps_the_backend_answer() {
//!     let package = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
//!     harness::Run::new(package)
//!         .script(concat!(env!("CARGO_MANIFEST_DIR"), "/target/wasm32-wasip2/release/my_connector.wasm"))
//!         .fixture(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/ListItems.json"))
//!         .run_blocking()
//!         .expect("the run starts")
//!         .assert_passed();
//! }
//! ```
//!
//! Build the component first (`cargo build --target wasm32-wasip2
//! --release`); the harness runs the built code, it does not build it.
//! [`Run::run`] is the async form for tests already inside a tokio runtime.

use std::path::{Path, PathBuf};

pub use super::fixture::{BackendEntry, Expect, Fixture, FixtureError, RequestSpec, ResponseSpec};
pub use super::run::{RecordedRequest, RunError, RunOutcome};
use super::run::{RunSpec, run};

/// A run being set up: a package, a fixture, optionally an operation and a
/// component other than the package's `script.wasm`.
#[derive(Debug, Clone)]
pub struct Run {
    package: PathBuf,
    operation: Option<String>,
    script: Option<PathBuf>,
    fixture: Result<Fixture, String>,
}

/// Why a harness run did not start.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The fixture file is unusable.
    #[error("{0}")]
    Fixture(String),
    /// The run could not start.
    #[error(transparent)]
    Run(#[from] RunError),
    /// No async runtime for [`Run::run_blocking`].
    #[error("cannot start an async runtime: {0}")]
    Tokio(std::io::Error),
}

impl Run {
    /// A run of the package in `package` with an empty fixture.
    pub fn new(package: impl AsRef<Path>) -> Self {
        Self { package: package.as_ref().to_path_buf(), operation: None, script: None, fixture: Ok(Fixture::default()) }
    }

    /// Reads the fixture from a file.
    pub fn fixture(mut self, path: impl AsRef<Path>) -> Self {
        self.fixture = Fixture::load(path.as_ref()).map_err(|e| e.to_string());
        self
    }

    /// Uses a fixture built in code.
    pub fn with_fixture(mut self, fixture: Fixture) -> Self {
        self.fixture = Ok(fixture);
        self
    }

    /// The operation to run (default: the fixture's `operation`).
    pub fn operation(mut self, operation_id: impl Into<String>) -> Self {
        self.operation = Some(operation_id.into());
        self
    }

    /// Runs this component instead of the package's `script.wasm`.
    pub fn script(mut self, path: impl AsRef<Path>) -> Self {
        self.script = Some(path.as_ref().to_path_buf());
        self
    }

    /// Runs the code.
    pub async fn run(self) -> Result<RunOutcome, HarnessError> {
        let fixture = self.fixture.map_err(HarnessError::Fixture)?;
        Ok(run(RunSpec { package: self.package, operation: self.operation, script: self.script, fixture }).await?)
    }

    /// Runs the code on a runtime of its own; for plain `#[test]`s (not
    /// from inside an async runtime).
    pub fn run_blocking(self) -> Result<RunOutcome, HarnessError> {
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_time().build().map_err(HarnessError::Tokio)?;
        runtime.block_on(self.run())
    }
}

/// Runs a package's code against a fixture file: `Run::new(package).fixture(fixture).run()`.
pub async fn run_fixture(package: impl AsRef<Path>, fixture: impl AsRef<Path>) -> Result<RunOutcome, HarnessError> {
    Run::new(package).fixture(fixture).run().await
}
