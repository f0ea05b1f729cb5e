//! Embeds the JavaScript and Python guest SDKs (`guest-sdk-js/`,
//! `guest-sdk-py/`: their build scripts, SDK modules and pinned tool lists)
//! and the contract (`wit/`), so that `sluice build` installs and runs them
//! from the binary alone, wherever the author's code is.

use std::path::{Path, PathBuf};

/// What of each SDK folder is part of the build: not the tests, the docs or
/// what installing leaves behind.
const SKIPPED: &[&str] = &["node_modules", "test", "tests", "README.md", ".gitignore", "__pycache__"];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let repository = manifest.join("../..");
    let mut generated = String::new();
    for (name, folder) in [("JS_SDK", "guest-sdk-js"), ("PY_SDK", "guest-sdk-py"), ("WIT", "wit")] {
        let root = repository.join(folder);
        println!("cargo:rerun-if-changed={}", root.display());
        let mut files = Vec::new();
        collect(&root, &root, &mut files);
        files.sort();
        generated.push_str(&format!("/// The files of `{folder}/` a build uses, by relative path.\n"));
        generated.push_str(&format!("pub(crate) const {name}: &[(&str, &[u8])] = &[\n"));
        for (relative, path) in files {
            generated.push_str(&format!("    ({relative:?}, include_bytes!({:?})),\n", path.display().to_string()));
        }
        generated.push_str("];\n");
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("sdks.rs"), generated).expect("OUT_DIR is writable");
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if SKIPPED.contains(&name.as_str()) || name.ends_with(".pyc") {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, files);
        } else if path.is_file() {
            let relative = path.strip_prefix(root).expect("walked from root").to_string_lossy().replace('\\', "/");
            files.push((relative, path.canonicalize().expect("a file just listed exists")));
        }
    }
}
