//! Nothing in the build, the tests or the benches reads outside the
//! repository: every relative path written in a source or manifest file
//! stays inside the repository once joined to its crate's folder, and no
//! file names a folder of the machine it was written on.

use std::path::{Component, Path, PathBuf};

/// The repository's root: this package's folder.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Folders that are build output or other repositories' checkouts.
const SKIPPED: &[&str] = &["target", ".git", "node_modules"];

/// Every file whose text can name a path the build or the tests open.
fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !SKIPPED.contains(&name.as_str()) {
                source_files(&path, out);
            }
        } else if name.ends_with(".rs")
            || name == "Cargo.toml"
            || name == "config.toml"
            || name == "run"
            || name.ends_with(".sh")
            || name.ends_with(".js")
            || name.ends_with(".mjs")
            || name.ends_with(".py")
        {
            out.push(path);
        }
    }
}

/// The folder paths in `file` are relative to: for JavaScript and Python,
/// the file's own folder (their imports and `import.meta.url`/`__file__`
/// paths are); else the nearest folder above it with a `Cargo.toml` (what
/// `CARGO_MANIFEST_DIR` is for a `.rs` file, and the manifest's own folder
/// for a `Cargo.toml`).
fn base_of(file: &Path) -> PathBuf {
    let script = file.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "js" | "mjs" | "py"));
    if script && let Some(parent) = file.parent() {
        return parent.to_path_buf();
    }
    file.ancestors().skip(1).find(|dir| dir.join("Cargo.toml").is_file()).unwrap_or(&root()).to_path_buf()
}

/// `path` with `.` and `..` resolved lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The string literals of a file: text between double quotes on one line.
/// A line whose comment above says `(not a read)` is skipped: bad input a
/// test hands to a command that must refuse it.
fn literals(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut previous = "";
    for line in text.lines() {
        let skip = previous.contains("(not a read)");
        previous = line;
        if skip {
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find('"') {
            let after = &rest[start + 1..];
            let Some(end) = after.find('"') else { break };
            found.push(&after[..end]);
            rest = &after[end + 1..];
        }
    }
    found
}

/// Folders of this machine that no file of the repository may name.
const MACHINE_FOLDERS: &[&str] = &["/work/", "/home/", "/root/", "/opt/", "/srv/", "/mnt/", "../shared", "~/"];

#[test]
fn no_source_file_reads_outside_the_repository() {
    let root = normalize(&root());
    let mut files = Vec::new();
    source_files(&root, &mut files);
    assert!(files.len() > 50, "the walk found only {} files", files.len());
    let mut escapes = Vec::new();
    // This file names the folders it looks for.
    let this_file = root.join(file!());
    for file in files.iter().filter(|f| **f != this_file) {
        let Ok(text) = std::fs::read_to_string(file) else { continue };
        let base = base_of(file);
        for literal in literals(&text) {
            if let Some(folder) = MACHINE_FOLDERS.iter().find(|f| literal.contains(*f)) {
                escapes.push(format!("{}: `{literal}` names {folder}", file.display()));
                continue;
            }
            if !literal.contains("..") || literal.contains(' ') || literal.contains("://") {
                continue;
            }
            // `concat!(env!("CARGO_MANIFEST_DIR"), "/../x")` and `.join("../x")` alike.
            let relative = literal.trim_start_matches('/');
            let resolved = normalize(&base.join(relative));
            if !resolved.starts_with(&root) {
                escapes.push(format!("{}: `{literal}` resolves to {}", file.display(), resolved.display()));
            }
        }
    }
    assert!(escapes.is_empty(), "paths outside the repository:\n{}", escapes.join("\n"));
}

#[test]
fn the_check_catches_a_path_out_of_the_repository() {
    let base = root().join("crates/gateway");
    let inside = normalize(&base.join("../../tests/data"));
    let outside = normalize(&base.join("../../../shared/connectors"));
    let root = normalize(&root());
    assert!(inside.starts_with(&root));
    assert!(!outside.starts_with(&root));
    assert_eq!(literals(r#"let a = "x/../y"; let b = "z";"#), ["x/../y", "z"]);
}

#[test]
fn the_guest_sdk_carries_the_contract_unchanged() {
    // `sluice-guest` builds from its own folder (it is published alone), so
    // it holds a copy of the contract; the copy must be the contract.
    let contract = std::fs::read(root().join("wit/connector.wit")).unwrap();
    let copy = std::fs::read(root().join("guest-sdk/wit/connector.wit")).unwrap();
    assert!(contract == copy, "guest-sdk/wit/connector.wit differs from wit/connector.wit; copy it over");
}
