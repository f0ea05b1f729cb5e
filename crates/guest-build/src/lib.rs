//! Builds sluice guests into components, in any of the languages sluice
//! takes: Rust (`cargo build --target wasm32-wasip2`), JavaScript
//! (componentize-js) and Python (componentize-py).
//!
//! Two kinds of callers: build scripts, which compile a workspace of guest
//! crates ([`build_workspace`]) or one guest of another language
//! ([`build_guest_cached`]) for the crates whose build needs them (the
//! `sluice` binary's demo, `sluice-test-programs`); and `sluice build`,
//! which builds an author's guest ([`build_guest`]), whatever its language
//! ([`detect`]). The JavaScript and Python toolchains are pinned (a
//! `package-lock.json`, a `requirements.txt` with hashes), embedded in this
//! crate with their SDKs, and installed on first use ([`Tools`]).
//!
//! A fresh clone needs no manual step: the `wasm32-wasip2` target is
//! installed with rustup when the toolchain lacks it. The guests are built
//! in `<target>/wasm-guests`, beside the host build, so that `cargo clean`
//! clears them and incremental builds reuse them.
//!
//! ```no_run
//! // build.rs
//! let root = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
//! let out = sluice_guest_build::build_workspace(&root.join("guests")).unwrap();
//! println!("cargo:rustc-env=GUESTS={}", out.display());
//! ```
#![deny(missing_docs)]

mod guest;
mod tools;

pub use guest::{Built, Language, build_guest, build_guest_cached, detect};
pub use tools::Tools;

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target guests are compiled for.
pub const TARGET: &str = "wasm32-wasip2";

/// A guest build failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The target is missing and rustup could not add it.
    #[error("the {TARGET} target is not installed: {0}")]
    Target(String),
    /// Cargo could not be started, or the build failed.
    #[error("building the guest components in {} failed: {reason}", workspace.display())]
    Build {
        /// The guest workspace.
        workspace: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A variable cargo sets for build scripts is missing.
    #[error("{0} is not set; call this from a build script")]
    Env(&'static str),
    /// The folder holds no guest of a language sluice builds.
    #[error("{}: no guest here: expected Cargo.toml (Rust), index.js (JavaScript) or app.py (Python)", .0.display())]
    NoGuest(PathBuf),
    /// A tool the language needs is not on this machine.
    #[error("building {language} code needs `{tool}`, which cannot be run: {reason}")]
    MissingTool {
        /// The guest's language.
        language: Language,
        /// The program.
        tool: &'static str,
        /// Why it cannot run.
        reason: String,
    },
    /// Installing the language's pinned build tools failed.
    #[error("installing the {language} build tools in {} failed: {reason}", folder.display())]
    Install {
        /// The guest's language.
        language: Language,
        /// Where they were being installed.
        folder: PathBuf,
        /// What the installer said (its last lines).
        reason: String,
    },
    /// The language's build refused the code or failed.
    #[error("{}: {reason}", guest.display())]
    Guest {
        /// The guest folder.
        guest: PathBuf,
        /// Why, in the build's words.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Builds every guest crate of the workspace at `workspace` in release mode
/// and returns the folder holding the components
/// (`<target>/wasm-guests/wasm32-wasip2/release`). Tells cargo to rerun the
/// build script when the workspace, the guest SDK or the contract change.
pub fn build_workspace(workspace: &Path) -> Result<PathBuf, BuildError> {
    println!("cargo:rerun-if-changed={}", workspace.display());
    let repository = repository_root(workspace);
    for watched in ["wit", "guest-sdk/src", "guest-sdk/wit", "guest-sdk/Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", repository.join(watched).display());
    }
    let target_dir = guest_target_dir()?;
    ensure_target_installed()?;
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--release", "--target", TARGET, "--target-dir"])
        .arg(&target_dir)
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"));
    // The outer build's flags are for the host; the guests are built clean.
    for var in
        ["CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "CARGO_BUILD_TARGET", "RUSTC_WORKSPACE_WRAPPER", "CARGO_TARGET_DIR"]
    {
        command.env_remove(var);
    }
    let status = command.status().map_err(|e| BuildError::Build {
        workspace: workspace.to_path_buf(),
        reason: format!("cannot run cargo: {e}"),
    })?;
    if !status.success() {
        return Err(BuildError::Build { workspace: workspace.to_path_buf(), reason: status.to_string() });
    }
    Ok(target_dir.join(TARGET).join("release"))
}

/// The file name a guest crate's component gets: its package name with `-`
/// as `_`, and `.wasm`.
pub fn component_file(crate_name: &str) -> String {
    format!("{}.wasm", crate_name.replace('-', "_"))
}

/// The repository holding a guest workspace: the nearest ancestor with a
/// `wit/` folder (for the rerun triggers only).
fn repository_root(workspace: &Path) -> PathBuf {
    workspace
        .ancestors()
        .find(|dir| dir.join("wit").is_dir() && dir.join("guest-sdk").is_dir())
        .unwrap_or(workspace)
        .to_path_buf()
}

/// Where build scripts put guest components: `<target>/wasm-guests`,
/// beside the host build (see [`build_workspace`]).
pub fn guest_output_dir() -> Result<PathBuf, BuildError> {
    guest_target_dir()
}

/// `<target>/wasm-guests`. OUT_DIR is `<target>/<profile>/build/<pkg>/out`,
/// and the target directory is the ancestor cargo marks with `CACHEDIR.TAG`.
fn guest_target_dir() -> Result<PathBuf, BuildError> {
    let out_dir = PathBuf::from(env::var("OUT_DIR").map_err(|_| BuildError::Env("OUT_DIR"))?);
    let target = out_dir
        .ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").exists())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| out_dir.join("guests"));
    Ok(target.join("wasm-guests"))
}

pub(crate) fn ensure_target_installed() -> Result<(), BuildError> {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc).args(["--print", "sysroot"]).output();
    let installed = sysroot.ok().is_some_and(|out| {
        let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Path::new(&sysroot).join("lib/rustlib").join(TARGET).join("lib").exists()
    });
    if installed {
        return Ok(());
    }
    println!("cargo:warning=installing the {TARGET} target with rustup (needed to build guest components)");
    match Command::new("rustup").args(["target", "add", TARGET]).status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(BuildError::Target(format!("`rustup target add {TARGET}` failed ({status})"))),
        Err(error) => Err(BuildError::Target(format!("cannot run rustup: {error}"))),
    }
}
