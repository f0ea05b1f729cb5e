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
