//! `sluice new`: the created connector builds for wasm32-wasip2, passes
//! `sluice validate` and `sluice run` as is; bad names and existing folders
//! are refused with one line and exit code 2.
//!
//! The build is real and shares `target/wasm-guests` with the example and
//! test guests, so their compiled dependencies are reused.

use std::process::{Command, Output};

fn sluice(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice")).args(args).output().expect("the sluice binary runs")
}

use crate::support::guest_target_dir;

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn new_connector_builds_validates_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let parent = dir.path().display().to_string();
    let output = sluice(&["new", "contoso_items", "--dir", &parent]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let package = dir.path().join("contoso_items");
    let guest = package.join("guest");
    assert!(guest.join("Cargo.toml").is_file() && guest.join("src/lib.rs").is_file());
    let manifest = std::fs::read_to_string(guest.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("guest-sdk"), "depends on this checkout's SDK by path:\n{manifest}");

    let target_dir = build_guest(&guest);
    let component = target_dir.join("wasm32-wasip2/release/contoso_items.wasm");
    assert!(component.is_file(), "{}", component.display());

    let package_arg = package.display().to_string();
    let component_arg = component.display().to_string();
    let validated = sluice(&["validate", &package_arg, "--script", &component_arg]);
    assert_eq!(validated.status.code(), Some(0), "{}", text(&validated));
    assert_eq!(String::from_utf8_lossy(&validated.stdout).trim(), "contoso_items: passes (0 errors, 0 warnings)");

    let fixture = package.join("fixtures/ListItems.json").display().to_string();
    let ran = sluice(&["run", &package_arg, "ListItems", "--fixture", &fixture, "--script", &component_arg]);
    assert_eq!(ran.status.code(), Some(0), "{}", text(&ran));
    let out = String::from_utf8_lossy(&ran.stdout);
    assert!(out.contains(r#"{"count":2,"items":[{"id":1,"name":"one"},{"id":2,"name":"two"}]}"#), "{out}");
    assert!(out.contains("info  log    ListItems -> https://api.example.com/v1/items?limit=2"), "{out}");

    // As the gateway loads it: the component copied in as script.wasm.
    std::fs::copy(&component, package.join("script.wasm")).unwrap();
    let validated = sluice(&["validate", &package_arg]);
    assert_eq!(validated.status.code(), Some(0), "{}", text(&validated));
    let (packages, errors) = sluice_package::load_packages(dir.path());
    assert!(errors.is_empty(), "{errors:?}");
    assert!(packages[0].runs_code("ListItems"));
}

#[test]
fn new_javascript_and_python_connectors_build_validate_and_run() {
    for (lang, marker) in [("js", "index.js"), ("py", "app.py")] {
        let dir = tempfile::tempdir().unwrap();
        let parent = dir.path().display().to_string();
        let output = sluice(&["new", "contoso_items", "--dir", &parent, "--lang", lang]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        let package = dir.path().join("contoso_items");
        assert!(package.join("guest").join(marker).is_file(), "{lang}: guest/{marker}");
        assert!(!package.join("guest/Cargo.toml").exists());
        let package_arg = package.display().to_string();

        // The tools come from SLUICE_TOOLS_DIR (.cargo/config.toml: inside
        // the target directory, installed by the test guests' build).
        let built = sluice(&["build", &package_arg]);
        assert_eq!(built.status.code(), Some(0), "{lang}: {}", text(&built));
        let language = if lang == "js" { "JavaScript" } else { "Python" };
        assert!(
            String::from_utf8_lossy(&built.stdout).contains(&format!("script.wasm ({language}, ")),
            "{}",
            text(&built)
        );

        let validated = sluice(&["validate", &package_arg]);
        assert_eq!(validated.status.code(), Some(0), "{lang}: {}", text(&validated));
        let fixture = package.join("fixtures/ListItems.json").display().to_string();
        let ran = sluice(&["run", &package_arg, "ListItems", "--fixture", &fixture]);
        assert_eq!(ran.status.code(), Some(0), "{lang}: {}", text(&ran));
        let out = String::from_utf8_lossy(&ran.stdout);
        let wrapped: serde_json::Value =
            serde_json::from_str(out.lines().find(|l| l.starts_with("{\"count\"")).expect("the answer's body"))
                .unwrap();
        assert_eq!(
            wrapped,
            serde_json::json!({"count": 2, "items": [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}]})
        );
        assert!(out.contains("info  log    ListItems -> https://api.example.com/v1/items?limit=2"), "{out}");
    }
}

#[test]
fn build_says_what_is_wrong_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().display().to_string();
    let output = sluice(&["build", &empty]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error:") && stderr.contains("no guest here"), "{stderr}");

    // A JavaScript guest with a syntax error: the build's own words, one line.
    let guest = dir.path().join("guest");
    std::fs::create_dir(&guest).unwrap();
    std::fs::write(guest.join("index.js"), "export function onRequest(request) {\n  return request.withHeader(;\n}\n")
        .unwrap();
    let output = sluice(&["build", &empty]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("index.js:2"), "names the file and line: {stderr}");
    assert!(!dir.path().join("script.wasm").exists());
}

#[test]
fn existing_folder_and_bad_names_are_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let parent = dir.path().display().to_string();
    std::fs::create_dir(dir.path().join("taken")).unwrap();
    for (name, mentions) in [
        ("taken", "already exists"),
        // A name that climbs out of --dir; refused, never created (not a read).
        ("../escape", "not a usable connector name"),
        ("9lives", "not a usable"),
    ] {
        let output = sluice(&["new", name, "--dir", &parent]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("error:") && stderr.contains(mentions), "{stderr}");
    }
    let output = sluice(&["new"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).starts_with("error:"));
}

/// Builds a scaffolded guest for wasm32-wasip2 as an author would, offline,
/// in the shared guest target directory; returns that directory.
fn build_guest(guest: &std::path::Path) -> std::path::PathBuf {
    // The examples' lock file pins the same dependency versions the other
    // guests were built with, so the build reuses them (and needs no network).
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/Cargo.lock"), guest.join("Cargo.lock")).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target_dir = guest_target_dir();
    let mut build = Command::new(cargo);
    build
        .current_dir(guest)
        .args(["build", "--offline", "--release", "--target", "wasm32-wasip2", "--target-dir"])
        .arg(&target_dir);
    for var in
        ["CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "CARGO_BUILD_TARGET", "RUSTC_WORKSPACE_WRAPPER", "CARGO_TARGET_DIR"]
    {
        build.env_remove(var);
    }
    let built = build.output().expect("cargo runs");
    assert!(built.status.success(), "{}", text(&built));
    target_dir
}

/// A copy of the `csx-only` test package (C# code, no component), with
/// its `scriptOperations` removed when `listed` is false.
fn csx_package(dir: &std::path::Path, listed: bool) -> std::path::PathBuf {
    let source = crate::support::package_dir("csx-only");
    let package = dir.join("csx-only");
    std::fs::create_dir(&package).unwrap();
    for file in ["apiDefinition.swagger.json", "apiProperties.json", "script.csx"] {
        std::fs::copy(source.join(file), package.join(file)).unwrap();
    }
    if !listed {
        let path = package.join("apiProperties.json");
        let mut properties: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        properties["properties"].as_object_mut().unwrap().remove("scriptOperations");
        std::fs::write(&path, serde_json::to_vec_pretty(&properties).unwrap()).unwrap();
    }
    package
}

#[test]
fn validate_says_what_to_do_with_csharp_code() {
    let dir = tempfile::tempdir().unwrap();
    let package = csx_package(dir.path(), true).display().to_string();
    let output = sluice(&["validate", &package]);
    assert_eq!(output.status.code(), Some(0), "a warning, not an error: {}", text(&output));
    let out = text(&output);
    assert!(out.contains("warning[code-not-ported]") && out.contains("sluice new --from-csx"), "{out}");
    assert!(!out.contains("script-missing"), "{out}");
    // `sluice run` says the same when asked to run it.
    let ran = sluice(&["run", &package, "Convert"]);
    assert_ne!(ran.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&ran.stderr).contains("`sluice new --from-csx` starts the port"), "{}", text(&ran));
}

#[test]
fn from_csx_scaffolds_a_guest_that_builds_and_answers_501_until_ported() {
    let dir = tempfile::tempdir().unwrap();
    // No scriptOperations: the operations come from the C#'s OperationId switch.
    let package = csx_package(dir.path(), false);
    let package_arg = package.display().to_string();
    let output = sluice(&["new", "--from-csx", &package_arg]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains("1 operation(s) to port: Convert"), "{}", text(&output));
    let guest = package.join("guest");
    let lib = std::fs::read_to_string(guest.join("src/lib.rs")).unwrap();
    assert!(lib.contains("\"Convert\" => not_ported(ctx),"), "{lib}");
    assert!(!lib.contains("\"Status\" =>"), "{lib}");
    assert!(lib.contains("// public class Script : ScriptBase"), "the C# is kept to port from:\n{lib}");

    let target_dir = build_guest(&guest);
    let component = target_dir.join("wasm32-wasip2/release/csx_only.wasm");
    std::fs::copy(&component, package.join("script.wasm")).unwrap();
    let validated = sluice(&["validate", &package_arg]);
    assert!(!text(&validated).contains("code-not-ported"), "ported now: {}", text(&validated));
    let (packages, errors) = sluice_package::load_packages(dir.path());
    assert!(errors.is_empty(), "{errors:?}");
    assert!(packages[0].runs_code("Convert") && !packages[0].code_not_ported("Convert"));

    // The scaffolded arm answers 501 until it is written, and calls no backend.
    let fixture = dir.path().join("convert.json");
    let request = serde_json::json!({
        "operation": "Convert",
        "request": { "method": "POST", "path": "/convert", "json": { "text": "hi" } },
        "backend": [],
        "expect": { "status": 501 }
    });
    std::fs::write(&fixture, request.to_string()).unwrap();
    let ran = sluice(&["run", &package_arg, "Convert", "--fixture", &fixture.display().to_string()]);
    assert_eq!(ran.status.code(), Some(0), "{}", text(&ran));
    assert!(text(&ran).contains("not ported yet"), "{}", text(&ran));

    // Again is refused with one line: there is no C# left to port.
    let again = sluice(&["new", "--from-csx", &package_arg]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("has script.wasm already"), "{}", text(&again));
}
