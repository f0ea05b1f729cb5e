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
/// and rewritten, an unwritable directory is logged and skipped.
pub(crate) fn compile(engine: &Engine, code: &[u8], dir: Option<&Path>) -> wasmtime::Result<Component> {
    let Some(dir) = dir else {
        return Component::new(engine, code);
    };
    let path = entry_path(engine, code, dir);
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
    // Write beside and rename, so a concurrent reader never sees half a file.
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path)
}
