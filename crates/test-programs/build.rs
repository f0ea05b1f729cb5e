//! Builds the guests the tests and benches run, as wasmtime's test-programs
//! crate does: this crate's own test guests (`guests/`) and the example
//! connectors (`examples/` at the repository's top), with
//! `cargo build --target wasm32-wasip2 --release`. Only crates that take
//! this one as a dev-dependency pay for it; no normal build runs it.
//!
//! Writes `$OUT_DIR/programs.rs`: the folder of the components and, for each
//! example package folder, the file name of its component.

use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let examples = manifest.join("../../examples");
    let mut components = None;
    for workspace in [manifest.join("guests"), examples.clone()] {
        match sluice_guest_build::build_workspace(&workspace) {
            Ok(dir) => components = Some(dir),
            Err(error) => panic!("{error}"),
        }
    }
    let components = components.expect("two workspaces were built");
    let mut table = String::new();
    for (package, krate) in example_guests(&examples) {
        table.push_str(&format!("    ({package:?}, {:?}),\n", sluice_guest_build::component_file(&krate)));
    }
    let real: Vec<String> = real_connectors(&examples).iter().map(|name| format!("    {name:?},\n")).collect();
    let generated = format!(
        "/// The folder holding every built component.\npub const COMPONENT_DIR: &str = {:?};\n\
         /// Each example package folder with a guest, and its component's file name.\n\
         pub const EXAMPLES: &[(&str, &str)] = &[\n{table}];\n\
         /// The examples that are real published connectors (they carry a PROVENANCE.md), by folder.\n\
         pub const REAL_CONNECTORS: &[&str] = &[\n{}];\n",
        components.display().to_string(),
        real.concat()
    );
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("programs.rs"), generated).expect("OUT_DIR is writable");
}

/// The example folders that hold a real connector: those with a PROVENANCE.md.
fn real_connectors(examples: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(examples)
        .expect("examples/ is readable")
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("PROVENANCE.md").is_file())
        .filter_map(|entry| entry.file_name().to_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// Every example package folder with a `guest/` crate, and that crate's name.
fn example_guests(examples: &Path) -> Vec<(String, String)> {
    let mut guests = Vec::new();
    let entries = std::fs::read_dir(examples).expect("examples/ is readable");
    for entry in entries.filter_map(Result::ok) {
        let manifest = entry.path().join("guest/Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else { continue };
        let name =
            text.lines().find_map(|line| line.trim().strip_prefix("name = ").map(|v| v.trim_matches('"').to_string()));
        if let (Some(name), Some(folder)) = (name, entry.file_name().to_str()) {
            guests.push((folder.to_string(), name));
        }
    }
    guests.sort();
    guests
}
