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
    let interpreted = build_interpreted(&manifest, &examples);
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
         pub const REAL_CONNECTORS: &[&str] = &[\n{}];\n\
         /// The folder holding the JavaScript and Python guests' components, `js/` and `py/`.\n\
         pub const INTERPRETED_DIR: &str = {:?};\n",
        components.display().to_string(),
        real.concat(),
        interpreted.display().to_string(),
    );
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("programs.rs"), generated).expect("OUT_DIR is writable");
}

/// Builds the JavaScript and Python guests: each example's `guest-js/` and
/// `guest-py/` (as `<lang>/<package>.wasm`) and this crate's `guests-js/*`
/// and `guests-py/*` (as `<lang>/<name>.wasm`), the two languages side by
/// side. A guest whose sources did not change is not rebuilt.
fn build_interpreted(manifest: &Path, examples: &Path) -> PathBuf {
    use sluice_guest_build::{Tools, build_guest_cached};
    let out = sluice_guest_build::guest_output_dir().unwrap_or_else(|error| panic!("{error}")).join("interpreted");
    let tools = Tools::new(out.join("../guest-tools"));
    let repository = manifest.join("../..");
    for watched in ["guest-sdk-js", "guest-sdk-py", "wit"] {
        println!("cargo:rerun-if-changed={}", repository.join(watched).display());
    }
    let languages = [("js", "guest-js", "guests-js"), ("py", "guest-py", "guests-py")];
    std::thread::scope(|scope| {
        for (tag, example_folder, own_folder) in languages {
            let (out, tools) = (&out, &tools);
            let own = manifest.join(own_folder);
            println!("cargo:rerun-if-changed={}", own.display());
            scope.spawn(move || {
                let mut guests: Vec<(PathBuf, String)> = Vec::new();
                for root in [examples, own.as_path()] {
                    let Ok(entries) = std::fs::read_dir(root) else { continue };
                    for entry in entries.filter_map(Result::ok) {
                        let name = entry.file_name().to_string_lossy().into_owned();
                        let guest = if root == examples { entry.path().join(example_folder) } else { entry.path() };
                        if guest.is_dir() {
                            guests.push((guest, name));
                        }
                    }
                }
                guests.sort();
                for (guest, name) in guests {
                    let component = out.join(tag).join(format!("{name}.wasm"));
                    if let Err(error) = build_guest_cached(&guest, &component, tools) {
                        panic!("{error}");
                    }
                }
            });
        }
    });
    out
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
