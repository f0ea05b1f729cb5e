//! Loading code: what is refused, with an error that names the cause, and
//! what the compiled-code cache keeps.

use crate::support::*;
use sluice_runtime::{Limits, LoadError, Runtime, RuntimeConfig};

fn load_error(code: &[u8]) -> LoadError {
    runtime().load("contoso", code, Limits::default()).unwrap_err()
}

#[test]
fn garbage_bytes_refused_as_not_wasm() {
    let error = load_error(b"#!/bin/sh\necho hello\n");
    assert!(matches!(error, LoadError::NotWasm { .. }), "{error:?}");
    assert!(error.to_string().contains("not a WebAssembly binary"), "{error}");
}

#[test]
fn core_module_refused_with_a_pointer_to_components() {
    let module = wat::parse_str("(module (func (export \"handle\")))").unwrap();
    let error = load_error(&module);
    assert!(matches!(error, LoadError::CoreModule { .. }), "{error:?}");
    assert!(error.to_string().contains("wasm32-wasip2"), "{error}");
}

#[test]
fn truncated_component_refused_as_not_compiling() {
    let code = guest("misbehave");
    let error = load_error(&code[..code.len() / 2]);
    assert!(matches!(error, LoadError::Compile { .. }), "{error:?}");
}

#[test]
fn component_of_another_world_refused_naming_the_missing_export() {
    let error = load_error(&guest("command"));
    match &error {
        LoadError::MissingExport { export, found, .. } => {
            assert_eq!(*export, "sluice:connector/handler@0.1.0");
            assert!(found.contains("wasi:cli/run"), "{found}");
        }
        other => panic!("expected a missing export, got {other:?}"),
    }
}

#[test]
fn component_importing_sockets_refused_naming_the_import() {
    let error = load_error(&guest("sneaky-import"));
    match &error {
        LoadError::UnexpectedImport { import, .. } => assert!(import.starts_with("wasi:sockets/"), "{import}"),
        other => panic!("expected an unexpected import, got {other:?}"),
    }
    assert!(error.to_string().contains("which the sandbox does not provide"), "{error}");
}

#[test]
fn code_over_size_limit_refused() {
    let code = guest("misbehave");
    let runtime = Runtime::new(RuntimeConfig { max_code_bytes: code.len() - 1, ..test_config() }).unwrap();
    let error = runtime.load("contoso", &code, Limits::default()).unwrap_err();
    assert!(
        matches!(error, LoadError::CodeTooLarge { size, limit, .. } if size == code.len() && limit == code.len() - 1),
        "{error:?}"
    );
    let runtime = Runtime::new(RuntimeConfig { max_code_bytes: code.len(), ..test_config() }).unwrap();
    assert!(runtime.load("contoso", &code, Limits::default()).is_ok());
}

#[test]
fn compiled_code_cache_is_written_and_reused() {
    let dir = std::env::temp_dir().join(format!("sluice-cache-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = RuntimeConfig { cache_dir: Some(dir.clone()), ..test_config() };
    let runtime = Runtime::new(config).unwrap();
    runtime.load("a", &guest("misbehave"), Limits::default()).unwrap();
    let entries: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(entries.len(), 1, "one compiled artifact");
    // A corrupt entry is recompiled and replaced, never a load failure.
    let entry = entries[0].as_ref().unwrap().path();
    std::fs::write(&entry, b"garbage").unwrap();
    runtime.load("b", &guest("misbehave"), Limits::default()).unwrap();
    assert!(std::fs::metadata(&entry).unwrap().len() > 1000, "entry rewritten");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The cache entry files of `dir`.
fn cache_entries(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .collect();
    entries.sort();
    entries
}

/// Plants `from`'s compiled entry under the name `to`'s code would be
/// cached by, in `dir`.
fn plant(dir: &std::path::Path, from_entry: &std::path::Path, to_code: &[u8]) -> std::path::PathBuf {
    use sha2::Digest as _;
    let name = from_entry.file_name().unwrap().to_str().unwrap();
    let suffix = &name[name.find('-').unwrap()..];
    let planted = dir.join(format!("{}{suffix}", hex::encode(sha2::Sha256::digest(to_code))));
    std::fs::copy(from_entry, &planted).unwrap();
    planted
}

async fn loads_as_itself(cache: &std::path::Path) -> bool {
    let config = RuntimeConfig { cache_dir: Some(cache.to_path_buf()), ..test_config() };
    let connector = Runtime::new(config).unwrap().load("items", &guest("items-transform"), Limits::default()).unwrap();
    // misbehave answers "ok" on /ok; the canonical transform asks its backend.
    let output = call(&connector, "/ok").await;
    !matches!(&output.result, Ok(response) if response.body().as_ref() == b"ok")
}

#[tokio::test]
async fn a_cache_others_may_write_is_not_loaded() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("compiled");
    let config = RuntimeConfig { cache_dir: Some(cache.clone()), ..test_config() };
    Runtime::new(config).unwrap().load("misbehave", &guest("misbehave"), Limits::default()).unwrap();
    let entries = cache_entries(&cache);
    assert_eq!(entries.len(), 1, "the cache holds the first guest");
    assert_eq!(std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777, 0o700);
    // Another user (anyone who may write the folder) plants the first guest's
    // native code under the second guest's name.
    let planted = plant(&cache, &entries[0], &guest("items-transform"));
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    assert!(loads_as_itself(&cache).await, "a folder others may write is not trusted");
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert!(loads_as_itself(&cache).await, "an entry others may write is not trusted");
    // What the checks stop: closed to others, the same entry is loaded.
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(!loads_as_itself(&cache).await, "a trusted cache is used as it is");
}
