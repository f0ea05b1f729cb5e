//! The JavaScript and Python SDKs' own unit tests (their pure parts:
//! headers, URL and query helpers, JSON, errors), run with the language's
//! test runner: `node --test` and `python3 -m unittest`.

use std::process::Command;

fn run(program: &str, args: &[&str], folder: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
    let output = Command::new(program)
        .args(args)
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} in {folder} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn javascript_sdk_unit_tests_pass() {
    run("node", &["--test", "test/"], "guest-sdk-js");
}

#[test]
fn python_sdk_unit_tests_pass() {
    run("python3", &["-B", "-m", "unittest", "discover", "-s", "tests"], "guest-sdk-py");
}
