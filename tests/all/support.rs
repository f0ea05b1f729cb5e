//! What several of the binary's tests share: the repository's packages and
//! the built guest components.
#![allow(dead_code)]

use std::path::PathBuf;

/// The real connector packages of `examples/` (from the public connector
/// repository, MIT: see each folder's PROVENANCE.md), by folder name.
pub const EXAMPLE_CONNECTORS: &[&str] = sluice_test_programs::REAL_CONNECTORS;

/// A package of the repository by folder name: an example connector, else
/// a test package of `tests/data/packages`.
pub fn package_dir(name: &str) -> PathBuf {
    let example = sluice_test_programs::examples_dir().join(name);
    if example.exists() { example } else { sluice_test_programs::test_data_dir().join("packages").join(name) }
}

/// A built guest component by crate name (`-` or `_`).
pub fn guest_component(name: &str) -> PathBuf {
    sluice_test_programs::path(name)
}

/// `<target>/wasm-guests`, where the guests are built.
pub fn guest_target_dir() -> PathBuf {
    PathBuf::from(sluice_test_programs::COMPONENT_DIR)
        .ancestors()
        .nth(2)
        .map(PathBuf::from)
        .expect("the components are in <target>/wasm-guests/wasm32-wasip2/release")
}
