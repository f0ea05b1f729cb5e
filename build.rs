//! Builds the guest components the gateway's demo and the tests run: the
//! example connectors' code (`examples/`) and the test programs
//! (`tests/guests/`), with `cargo build --target wasm32-wasip2 --release`.
//!
//! A fresh clone needs no manual step: the `wasm32-wasip2` target is
//! installed with rustup when it is missing. The components land in
//! `<target>/wasm-guests/wasm32-wasip2/release/`, which is passed to the
//! package as `SLUICE_GUEST_DIR`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
const WORKSPACES: [&str; 2] = ["examples", "tests/guests"];

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    for watched in ["wit", "guest-sdk/src", "guest-sdk/Cargo.toml", "examples", "tests/guests"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let target_dir = guest_target_dir();
    ensure_target_installed();
    for workspace in WORKSPACES {
        build_workspace(&root.join(workspace), &target_dir);
    }
    let out = target_dir.join(TARGET).join("release");
    println!("cargo:rustc-env=SLUICE_GUEST_DIR={}", out.display());
    write_embedded_examples(&root.join("examples"), &out);
}

/// Writes `$OUT_DIR/examples.rs`: every example package (a folder of
/// `examples/` with an `apiDefinition.swagger.json`), its files and its
/// built code, embedded so the demo runs from the binary alone.
fn write_embedded_examples(examples: &Path, guests: &Path) {
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
            if path.exists() { format!("Some(include_bytes!({:?}))", path.display().to_string()) } else { "None".into() }
        };
        let script = guest_crate_name(&dir.join("guest/Cargo.toml"))
            .map(|krate| format!("Some(include_bytes!({:?}))", guests.join(format!("{}.wasm", krate.replace('-', "_"))).display().to_string()))
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
    text.lines()
        .find_map(|line| line.trim().strip_prefix("name = ").map(|v| v.trim_matches('"').to_string()))
}

/// `<target>/wasm-guests`, beside the host build, so `cargo clean` clears it
/// and incremental builds reuse it. OUT_DIR is `<target>/<profile>/build/<pkg>/out`.
fn guest_target_dir() -> PathBuf {
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target = out_dir
        .ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").exists())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| out_dir.join("guests"));
    target.join("wasm-guests")
}

fn ensure_target_installed() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc).args(["--print", "sysroot"]).output();
    let installed = sysroot.ok().is_some_and(|out| {
        let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Path::new(&sysroot).join("lib/rustlib").join(TARGET).join("lib").exists()
    });
    if installed {
        return;
    }
    println!("cargo:warning=installing the {TARGET} target with rustup (needed to build guest components)");
    let status = Command::new("rustup").args(["target", "add", TARGET]).status();
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => panic!("`rustup target add {TARGET}` failed ({status}); install the target and build again"),
        Err(error) => panic!("cannot run rustup to install the {TARGET} target: {error}; install it and build again"),
    }
}

fn build_workspace(workspace: &Path, target_dir: &Path) {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--release", "--target", TARGET, "--target-dir"])
        .arg(target_dir)
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"));
    // The outer build's flags are for the host; the guests are built clean.
    for var in ["CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "CARGO_BUILD_TARGET", "RUSTC_WORKSPACE_WRAPPER", "CARGO_TARGET_DIR"] {
        command.env_remove(var);
    }
    let status = command.status().unwrap_or_else(|e| panic!("cannot run cargo for {}: {e}", workspace.display()));
    if !status.success() {
        panic!("building the guest components in {} failed ({status})", workspace.display());
    }
}
