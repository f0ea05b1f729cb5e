//! The guest components sluice's tests and benches run, built by this
//! crate's build script: the test guests of `guests/` (`misbehave`, whose
//! behaviour the request path picks; `sneaky-import`, which imports
//! sockets; `command`, a plain WASI program) and the example connectors'
//! code. Take this crate as a dev-dependency only.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/programs.rs"));

/// The path of a test guest's component, by crate name (`misbehave`).
pub fn path(name: &str) -> PathBuf {
    Path::new(COMPONENT_DIR).join(format!("{}.wasm", name.replace('-', "_")))
}

/// The bytes of a test guest's component, by crate name.
///
/// # Panics
/// When the component is missing, which means the build script did not run.
pub fn bytes(name: &str) -> Vec<u8> {
    let path = path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The path of an example connector's component, by package folder
/// (`items-transform`, `VIES`).
///
/// # Panics
/// When the example has no guest crate.
pub fn example_path(package: &str) -> PathBuf {
    let file = EXAMPLES
        .iter()
        .find(|(folder, _)| *folder == package)
        .map(|(_, file)| *file)
        .unwrap_or_else(|| panic!("examples/{package} has no guest crate"));
    Path::new(COMPONENT_DIR).join(file)
}

/// The bytes of an example connector's component, by package folder.
///
/// # Panics
/// When the example has no guest or its component is missing.
pub fn example_bytes(package: &str) -> Vec<u8> {
    let path = example_path(package);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A compiled-code cache directory the tests of every crate share, beside
/// the components, so a guest compiles once per checkout.
pub fn compiled_cache_dir() -> PathBuf {
    Path::new(COMPONENT_DIR).join("../../compiled-cache")
}

/// The repository's `examples/` folder.
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// The component of a JavaScript (`"js"`) or Python (`"py"`) guest: an
/// example's port by package folder (`items-transform`, `Tulip`), or a test
/// guest of `guests-js/`/`guests-py/` by name (`hostile`).
///
/// # Panics
/// When the guest was not built, which means it does not exist.
pub fn interpreted_bytes(language: &str, name: &str) -> Vec<u8> {
    let path = interpreted_path(language, name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The path of [`interpreted_bytes`]' component.
pub fn interpreted_path(language: &str, name: &str) -> PathBuf {
    Path::new(INTERPRETED_DIR).join(language).join(format!("{name}.wasm"))
}

/// The repository's test data folder (`tests/data`).
pub fn test_data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}
