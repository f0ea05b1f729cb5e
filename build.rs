//! Builds the example connectors' code (`examples/`) for the offline demo,
//! which embeds it so that `cargo run --release` needs nothing else. The
//! tests' guests are built by the dev-only `sluice-test-programs` crate, not
//! here.

use std::env;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let examples = root.join("examples");
    let components = sluice_guest_build::build_workspace(&examples).unwrap_or_else(|error| panic!("{error}"));
    write_embedded_examples(&examples, &components);
}

/// Writes `$OUT_DIR/examples.rs`: every example package (a folder of
/// `examples/` with an `apiDefinition.swagger.json`), its files and its
/// built code, embedded so the demo runs from the binary alone.
fn write_embedded_examples(examples: &Path, components: &Path) {
    let mut entries = String::from("&[\n");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(examples)
        .expect("examples/ is readable")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|dir| dir.join("apiDefinition.swagger.json").exists())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir.file_name().and_then(|n| n.to_str()).expect("example folder names are UTF-8");
        let file = |file: &str| -> String {
            let path = dir.join(file);
            if path.exists() {
                format!("Some(include_bytes!({:?}))", path.display().to_string())
            } else {
                "None".into()
            }
        };
        let script = guest_crate_name(&dir.join("guest/Cargo.toml"))
            .map(|krate| {
                let path = components.join(sluice_guest_build::component_file(&krate));
                format!("Some(include_bytes!({:?}))", path.display().to_string())
            })
            .unwrap_or_else(|| "None".into());
        entries.push_str(&format!(
            "    EmbeddedPackage {{ name: {name:?}, definition: {}, properties: {}, settings: {}, script: {script} }},\n",
            file("apiDefinition.swagger.json"),
            file("apiProperties.json"),
            file("sluice.toml"),
        ));
    }
    entries.push(']');
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out_dir.join("examples.rs"), entries).expect("OUT_DIR is writable");
}

/// The package name in a guest crate's Cargo.toml, if the crate exists.
fn guest_crate_name(manifest: &Path) -> Option<String> {
    let text = std::fs::read_to_string(manifest).ok()?;
    text.lines().find_map(|line| line.trim().strip_prefix("name = ").map(|v| v.trim_matches('"').to_string()))
}
