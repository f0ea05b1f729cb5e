//! One guest, any language: which language a guest folder holds, and its
//! build into a component.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::tools::{self, Tools, last_lines};
use crate::{BuildError, TARGET, ensure_target_installed};

/// A language sluice builds guests from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Language {
    /// A `sluice-guest` crate (`Cargo.toml`).
    Rust,
    /// An ES module (`index.js`) using the `sluice` JavaScript SDK.
    JavaScript,
    /// A module (`app.py`) using the `sluice` Python SDK.
    Python,
}

impl Language {
    /// The file that marks a guest folder as this language's.
    pub fn marker(self) -> &'static str {
        match self {
            Language::Rust => "Cargo.toml",
            Language::JavaScript => "index.js",
            Language::Python => "app.py",
        }
    }

    /// The short name used on the command line (`--lang`) and in folder names.
    pub fn tag(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::JavaScript => "js",
            Language::Python => "py",
        }
    }

    /// Every language, in the order [`detect`] tries them.
    pub const ALL: [Language; 3] = [Language::Rust, Language::JavaScript, Language::Python];
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Language::Rust => "Rust",
            Language::JavaScript => "JavaScript",
            Language::Python => "Python",
        })
    }
}

/// The language of the guest in `folder`, by its marker file. A folder
/// with markers of two languages is refused: which one is meant is not
/// for sluice to guess.
pub fn detect(folder: &Path) -> Result<Language, BuildError> {
    let found: Vec<Language> = Language::ALL.into_iter().filter(|l| folder.join(l.marker()).is_file()).collect();
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(BuildError::NoGuest(folder.to_path_buf())),
        several => Err(BuildError::Guest {
            guest: folder.to_path_buf(),
            reason: format!(
                "the folder holds guests of several languages ({}); keep one",
                several.iter().map(|l| l.marker()).collect::<Vec<_>>().join(", ")
            ),
        }),
    }
}

/// A component a build made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// The guest's language.
    pub language: Language,
    /// The component file.
    pub component: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// How long the build took (zero when an up-to-date component was kept).
    pub elapsed: Duration,
}

/// Builds the guest in `guest` into the component `out`, whatever its
/// language; JavaScript and Python install their pinned tools under
/// `tools` on first use.
pub fn build_guest(guest: &Path, out: &Path, tools: &Tools) -> Result<Built, BuildError> {
    let language = detect(guest)?;
    let started = Instant::now();
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| BuildError::Io { path: parent.to_path_buf(), source })?;
    }
    match language {
        Language::Rust => build_rust(guest, out)?,
        Language::JavaScript => {
            let folder = tools.javascript()?;
            let mut node = Command::new("node");
            node.arg(folder.join("build.mjs"));
            script(language, "node", guest, out, &tools.wit()?, &mut node)?;
        }
        Language::Python => {
            let folder = tools.python()?;
            let mut python = Command::new(tools::python_in(&folder));
            python.arg(folder.join("build.py"));
            script(language, "python3", guest, out, &tools.wit()?, &mut python)?;
        }
    }
    let bytes = std::fs::metadata(out).map_err(|source| BuildError::Io { path: out.to_path_buf(), source })?.len();
    Ok(Built { language, component: out.to_path_buf(), bytes, elapsed: started.elapsed() })
}

/// [`build_guest`] for build scripts: keeps `out` when it was built from
/// the same sources and SDK (recorded beside it in `<out>.inputs`), since a
/// JavaScript or Python build takes seconds and a build script reruns for
/// any change in the folders it watches.
pub fn build_guest_cached(guest: &Path, out: &Path, tools: &Tools) -> Result<Built, BuildError> {
    let language = detect(guest)?;
    let record = out.with_extension("wasm.inputs");
    let inputs = inputs_digest(guest, language)?;
    if out.is_file() && std::fs::read_to_string(&record).is_ok_and(|recorded| recorded == inputs) {
        let bytes = std::fs::metadata(out).map_err(|source| BuildError::Io { path: out.to_path_buf(), source })?.len();
        return Ok(Built { language, component: out.to_path_buf(), bytes, elapsed: Duration::ZERO });
    }
    let built = build_guest(guest, out, tools)?;
    std::fs::write(&record, inputs).map_err(|source| BuildError::Io { path: record, source })?;
    Ok(built)
}

/// Runs a language's build script with the CLI they share.
fn script(
    language: Language,
    tool: &'static str,
    guest: &Path,
    out: &Path,
    wit: &Path,
    command: &mut Command,
) -> Result<(), BuildError> {
    let output = command
        .arg("--guest")
        .arg(guest)
        .arg("--wit")
        .arg(wit)
        .arg("--out")
        .arg(out)
        .output()
        .map_err(|e| BuildError::MissingTool { language, tool, reason: e.to_string() })?;
    if output.status.success() {
        return Ok(());
    }
    Err(BuildError::Guest { guest: guest.to_path_buf(), reason: last_lines(&output, 3) })
}

/// Builds a Rust guest crate with cargo and copies its component to `out`.
fn build_rust(guest: &Path, out: &Path) -> Result<(), BuildError> {
    ensure_target_installed()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["build", "--release", "--message-format=json-render-diagnostics", "--target", TARGET, "--manifest-path"])
        .arg(guest.join("Cargo.toml"))
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| BuildError::MissingTool { language: Language::Rust, tool: "cargo", reason: e.to_string() })?;
    if !output.status.success() {
        return Err(BuildError::Guest {
            guest: guest.to_path_buf(),
            reason: format!("cargo build failed ({}); its errors are above", output.status),
        });
    }
    // The component is the `.wasm` of the last artifact cargo reports
    // (the guest crate itself comes after its dependencies).
    let stdout = String::from_utf8_lossy(&output.stdout);
    let component = stdout
        .lines()
        .filter(|line| line.contains("\"reason\":\"compiler-artifact\""))
        .filter_map(|line| {
            let files = line.split("\"filenames\":[").nth(1)?.split(']').next()?;
            files.split(',').map(|f| f.trim_matches('"')).find(|f| f.ends_with(".wasm")).map(PathBuf::from)
        })
        .next_back()
        .ok_or_else(|| BuildError::Guest {
            guest: guest.to_path_buf(),
            reason: "cargo built no .wasm; is the crate a cdylib?".into(),
        })?;
    std::fs::copy(&component, out).map_err(|source| BuildError::Io { path: out.to_path_buf(), source })?;
    Ok(())
}

/// The digest of what a guest's component is built from: the language's
/// embedded SDK and contract, and every file of the guest folder.
fn inputs_digest(guest: &Path, language: Language) -> Result<String, BuildError> {
    let mut files = Vec::new();
    source_files(guest, guest, &mut files)?;
    files.sort();
    let mut hash = Sha256::new();
    hash.update(tools::sdk_digest(language));
    for (relative, path) in files {
        let bytes = std::fs::read(&path).map_err(|source| BuildError::Io { path: path.clone(), source })?;
        hash.update((relative.len() as u64).to_le_bytes());
        hash.update(relative.as_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(&bytes);
    }
    Ok(hex::encode(hash.finalize()))
}

fn source_files(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) -> Result<(), BuildError> {
    let entries = std::fs::read_dir(dir).map_err(|source| BuildError::Io { path: dir.to_path_buf(), source })?;
    for entry in entries {
        let entry = entry.map_err(|source| BuildError::Io { path: dir.to_path_buf(), source })?;
        let path = entry.path();
        let name = entry.file_name();
        if matches!(name.to_str(), Some("node_modules" | "__pycache__" | "target")) {
            continue;
        }
        if path.is_dir() {
            source_files(root, &path, files)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            files.push((relative.to_string_lossy().into_owned(), path));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guest_folder_is_of_the_language_of_its_marker() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(detect(dir.path()), Err(BuildError::NoGuest(_))));
        std::fs::write(dir.path().join("index.js"), "").unwrap();
        assert_eq!(detect(dir.path()).unwrap(), Language::JavaScript);
        std::fs::write(dir.path().join("app.py"), "").unwrap();
        let error = detect(dir.path()).unwrap_err().to_string();
        assert!(error.contains("several languages (index.js, app.py)"), "{error}");
    }
}
