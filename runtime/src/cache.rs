//! The on-disk cache of compiled components, keyed by code hash and engine settings.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Compiles `code`, or loads the result of an earlier compilation of the same
/// bytes by an engine with the same settings from `dir`.
///
/// Cache failures never fail a load: a corrupt or stale entry is recompiled
/// and rewritten, an unwritable directory is logged and skipped. Entries are
/// native code, so the cache is used only when the directory and the entry
/// belong to the process's user and nobody else may write them: an entry
/// planted by another user is never loaded.
pub(crate) fn compile(engine: &Engine, code: &[u8], dir: Option<&Path>) -> wasmtime::Result<Component> {
    let Some(dir) = dir else {
        return Component::new(engine, code);
    };
    if let Err(reason) = prepare_dir(dir) {
        tracing::warn!(dir = %dir.display(), %reason, "not using the compiled-code cache");
        return Component::new(engine, code);
    }
    let path = entry_path(engine, code, dir);
    // Loads of the same code at once (a gateway loading environments side
    // by side, tests in parallel) compile it once: the others wait here,
    // then find the entry. An interpreter guest takes seconds to compile.
    let entry_lock = entry_lock(&path);
    let _compiling = entry_lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if path.exists()
        && let Err(reason) = owned_by_us(&path)
    {
        tracing::warn!(path = %path.display(), %reason, "ignoring a compiled-code cache entry that is not ours");
        return Component::new(engine, code);
    }
    if path.exists() {
        // SAFETY: the cache directory is documented as trusted
        // (`RuntimeConfig::cache_dir`), and its entries are written only by
        // `Component::serialize` below; wasmtime still checks that the
        // artifact was made by a compatible engine and rejects it otherwise.
        #[allow(unsafe_code)]
        let cached = unsafe { Component::deserialize_file(engine, &path) };
        match cached {
            Ok(component) => return Ok(component),
            Err(error) => {
                tracing::warn!(path = %path.display(), error = %error, "ignoring unusable compiled-code cache entry")
            }
        }
    }
    let component = Component::new(engine, code)?;
    if let Err(error) = store(&component, &path) {
        tracing::warn!(path = %path.display(), %error, "cannot write compiled-code cache entry");
    }
    Ok(component)
}

/// Creates the cache directory (mode 0700) if it is missing, and checks that
/// it is ours and closed to others.
fn prepare_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt as _;
    if !dir.exists() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| e.to_string())?;
    }
    owned_by_us(dir)
}

/// Whether `path` (not following a link) belongs to this process's user and
/// no one else may write it.
fn owned_by_us(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    if meta.file_type().is_symlink() {
        return Err("it is a symbolic link".into());
    }
    let ours = rustix::process::geteuid().as_raw();
    if meta.uid() != ours {
        return Err(format!("it belongs to user {}, not to this process's user {ours}", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!("its group or others may write it (mode {:o})", meta.mode() & 0o777));
    }
    Ok(())
}

/// The lock held while an entry is looked up and compiled, one per entry
/// path, kept for the life of the process (one per distinct code and engine).
fn entry_lock(path: &Path) -> std::sync::Arc<std::sync::Mutex<()>> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>> = OnceLock::new();
    let locks = LOCKS.get_or_init(Mutex::default);
    let mut locks = locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    Arc::clone(locks.entry(path.to_path_buf()).or_default())
}

fn entry_path(engine: &Engine, code: &[u8], dir: &Path) -> PathBuf {
    let mut settings = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut settings);
    let code_hash = hex::encode(Sha256::digest(code));
    dir.join(format!("{code_hash}-{:016x}.cwasm", settings.finish()))
}

fn store(component: &Component, path: &Path) -> std::io::Result<()> {
    let bytes = component.serialize().map_err(|e| std::io::Error::other(format!("{e:#}")))?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    // Write beside and rename, so a concurrent reader never sees half a
    // file; readable and writable by this user only.
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut file =
            std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&temporary)?;
        file.write_all(&bytes)?;
    }
    std::fs::rename(&temporary, path)
}
