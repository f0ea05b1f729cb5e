//! The JavaScript and Python build tools: installed on first use from the
//! pinned lists embedded in this crate, into a folder of their own.
//!
//! Each language gets `<tools>/<language>-<hash>/`, where the hash covers
//! every embedded file of its SDK: a changed SDK or pin installs afresh
//! beside the old one, and an interrupted install is redone (the folder
//! counts as installed only once `.installed` is written). A lock file
//! keeps two builds (cargo runs build scripts in parallel) from installing
//! into the same folder at once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

use crate::{BuildError, Language};

include!(concat!(env!("OUT_DIR"), "/sdks.rs"));

/// Where the build tools live.
#[derive(Debug, Clone)]
pub struct Tools {
    root: PathBuf,
}

impl Tools {
    /// Tools kept under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The folder an author's builds use: `SLUICE_TOOLS_DIR` when set, else
    /// `$XDG_CACHE_HOME/sluice/tools`, else `~/.cache/sluice/tools`, else
    /// `.sluice-tools` in the current folder.
    pub fn user_default() -> Self {
        let root = std::env::var_os("SLUICE_TOOLS_DIR")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|c| PathBuf::from(c).join("sluice/tools")))
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/sluice/tools")))
            .unwrap_or_else(|| PathBuf::from(".sluice-tools"));
        Self::new(root)
    }

    /// The folder holding the tools.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The contract (`connector.wit`), written under the tools folder for
    /// the JavaScript and Python builds to read.
    pub(crate) fn wit(&self) -> Result<PathBuf, BuildError> {
        let folder = self.root.join(format!("wit-{}", digest(WIT)));
        write_files(&folder, WIT)?;
        Ok(folder)
    }

    /// The JavaScript toolchain's folder (`build.mjs` and its
    /// `node_modules`), installed with `npm ci` if it is not yet.
    pub(crate) fn javascript(&self) -> Result<PathBuf, BuildError> {
        self.install(Language::JavaScript, JS_SDK, |folder| {
            let mut npm = Command::new("npm");
            npm.current_dir(folder)
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                // npm's cache beside the tools, not in the user's home.
                .env("npm_config_cache", self.root.join("npm-cache"))
                .env("npm_config_update_notifier", "false");
            run(Language::JavaScript, "npm", folder, &mut npm)
        })
    }

    /// The Python toolchain's folder (`build.py` and a venv with
    /// componentize-py), installed with `pip --require-hashes` if it is not yet.
    pub(crate) fn python(&self) -> Result<PathBuf, BuildError> {
        self.install(Language::Python, PY_SDK, |folder| {
            let mut venv = Command::new("python3");
            venv.current_dir(folder).args(["-m", "venv", "venv"]);
            run(Language::Python, "python3", folder, &mut venv)?;
            let mut pip = Command::new(python_in(folder));
            pip.current_dir(folder)
                .args(["-m", "pip", "install", "--quiet", "--require-hashes", "--no-deps", "-r", "requirements.txt"])
                .env("PIP_CACHE_DIR", self.root.join("pip-cache"))
                .env("PIP_DISABLE_PIP_VERSION_CHECK", "1");
            run(Language::Python, "pip", folder, &mut pip)
        })
    }

    fn install(
        &self,
        language: Language,
        files: &[(&str, &[u8])],
        install: impl FnOnce(&Path) -> Result<(), BuildError>,
    ) -> Result<PathBuf, BuildError> {
        let name = format!("{}-{}", language.tag(), digest(files));
        let folder = self.root.join(&name);
        let installed = folder.join(".installed");
        if installed.exists() {
            return Ok(folder);
        }
        std::fs::create_dir_all(&self.root).map_err(|source| BuildError::Io { path: self.root.clone(), source })?;
        let lock_path = self.root.join(format!("{name}.lock"));
        let lock = std::fs::File::create(&lock_path).map_err(|source| BuildError::Io { path: lock_path, source })?;
        lock.lock().map_err(|source| BuildError::Io { path: self.root.clone(), source })?;
        // Another build may have installed it while this one waited.
        if installed.exists() {
            return Ok(folder);
        }
        if folder.exists() {
            std::fs::remove_dir_all(&folder).map_err(|source| BuildError::Io { path: folder.clone(), source })?;
        }
        write_files(&folder, files)?;
        install(&folder)?;
        std::fs::write(&installed, b"").map_err(|source| BuildError::Io { path: installed, source })?;
        Ok(folder)
    }
}

/// The venv's Python in a Python tools folder.
pub(crate) fn python_in(folder: &Path) -> PathBuf {
    folder.join("venv/bin/python")
}

/// Runs an installer, turning failure into [`BuildError::Install`] with the
/// end of what it printed.
fn run(language: Language, tool: &'static str, folder: &Path, command: &mut Command) -> Result<(), BuildError> {
    let output = command.output().map_err(|e| BuildError::MissingTool { language, tool, reason: e.to_string() })?;
    if output.status.success() {
        return Ok(());
    }
    Err(BuildError::Install { language, folder: folder.to_path_buf(), reason: last_lines(&output, 6) })
}

/// The last `count` non-empty lines of a command's stderr (or stdout when
/// stderr is empty), joined with ` | `, for a one-line error.
pub(crate) fn last_lines(output: &Output, count: usize) -> String {
    let text = if output.stderr.iter().any(|b| !b.is_ascii_whitespace()) { &output.stderr } else { &output.stdout };
    let text = String::from_utf8_lossy(text);
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(count)..];
    if tail.is_empty() { format!("exited with {}", output.status) } else { tail.join(" | ") }
}

/// Writes embedded files under `folder`, creating folders as needed. Each
/// file is written beside and renamed into place, so that a build reading
/// it meanwhile (the JavaScript and Python builds share the contract's
/// folder and run side by side) sees the whole file, never half of it.
fn write_files(folder: &Path, files: &[(&str, &[u8])]) -> Result<(), BuildError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static WRITES: AtomicU64 = AtomicU64::new(0);
    for (relative, bytes) in files {
        let path = folder.join(relative);
        if std::fs::read(&path).is_ok_and(|existing| existing == *bytes) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| BuildError::Io { path: parent.to_path_buf(), source })?;
        }
        let unique = format!("tmp-{}-{}", std::process::id(), WRITES.fetch_add(1, Ordering::Relaxed));
        let temporary = path.with_extension(unique);
        std::fs::write(&temporary, bytes).map_err(|source| BuildError::Io { path: temporary.clone(), source })?;
        std::fs::rename(&temporary, &path).map_err(|source| BuildError::Io { path: path.clone(), source })?;
    }
    Ok(())
}

/// The first 12 hex digits of the SHA-256 over files' names and contents.
pub(crate) fn digest(files: &[(&str, &[u8])]) -> String {
    let mut hash = Sha256::new();
    for (name, bytes) in files {
        hash.update((name.len() as u64).to_le_bytes());
        hash.update(name.as_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    }
    hex::encode(&hash.finalize()[..6])
}

/// The digest of the embedded SDK and contract a language's build uses,
/// part of a built component's inputs.
pub(crate) fn sdk_digest(language: Language) -> String {
    match language {
        Language::JavaScript => format!("{}{}", digest(JS_SDK), digest(WIT)),
        Language::Python => format!("{}{}", digest(PY_SDK), digest(WIT)),
        Language::Rust => String::new(),
    }
}
