//! `sluice run` and its test harness: the example connector's code runs
//! offline against fixtures in `tests/data/fixtures/`; an unmatched `send`
//! and an unmet expectation fail with the request shown; bad input is one
//! line and exit code 2.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use sluice_tools::harness::{self, Fixture};

fn example() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/items-transform")).to_path_buf()
}

fn script() -> PathBuf {
    crate::support::guest_component("items_transform")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/fixtures/items-transform")).join(name)
}

fn sluice(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice")).args(args).output().expect("the sluice binary runs")
}

fn run_example(fixture_name: &str, extra: &[&str]) -> Output {
    let (package, fixture, script) = (example(), fixture(fixture_name), script());
    let mut args = vec![
        "run".to_string(),
        package.display().to_string(),
        "ListItems".into(),
        "--fixture".into(),
        fixture.display().to_string(),
        "--script".into(),
        script.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    sluice(&args)
}

#[test]
fn run_prints_response_backend_requests_and_report() {
    let output = run_example("ListItems.json", &[]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{text}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(text.starts_with("response: 200 OK\n"), "{text}");
    assert!(
        text.contains(r#"{"count":2,"items":[{"id":1,"name":"one","ok":true},{"id":2,"name":"two","ok":false}]}"#),
        "{text}"
    );
    assert!(text.contains("GET https://items.sluice.example/v1/items?limit=2 -> 200 (backend[0])"), "{text}");
    assert!(text.contains("report: fuel "), "{text}");
    assert!(text.contains("peak memory"), "{text}");
    assert!(text.trim_end().ends_with("passed"), "{text}");
}

#[test]
fn json_format_shows_the_headers_the_code_added() {
    let output = run_example("ListItems.json", &["--format", "json"]);
    assert_eq!(output.status.code(), Some(0));
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["passed"], true);
    assert_eq!(result["response"]["status"], 200);
    assert_eq!(result["response"]["body"]["count"], 2);
    let sent = &result["backend_requests"][0];
    assert_eq!(sent["matched"], 0);
    assert!(sent["headers"].as_array().unwrap().contains(&json!(["x-sluice", "1"])), "{sent}");
    assert!(result["report"]["fuel"].as_u64().unwrap() > 0);
    assert!(result["report"]["peak_memory_bytes"].as_u64().unwrap() > 0);
}

#[test]
fn unmatched_send_fails_and_shows_the_request() {
    let output = run_example("ListItems-unmatched.json", &[]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("GET https://items.sluice.example/v1/items?limit=5 -> NO MATCH in the fixture"), "{text}");
    assert!(text.contains("    x-sluice: 1"), "{text}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        "error: the code sent GET https://items.sluice.example/v1/items?limit=5, which no backend entry of the fixture matches"
    );
}

#[test]
fn unmet_expectation_fails_with_both_bodies() {
    let output = run_example("ListItems-wrong-expectation.json", &[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(r#"expected JSON body {"count":2,"items":[]}, got {"count":1"#), "{stderr}");
}

#[test]
fn flags_build_the_request_and_a_backend_file_answers() {
    let dir = tempfile::tempdir().unwrap();
    let backend = dir.path().join("backend.json");
    std::fs::write(
        &backend,
        json!([{"method": "GET", "url": "https://items.sluice.example/v1/items?limit=1", "response": {"json": [{"id": 5, "name": "five", "ok": true}]}}]).to_string(),
    )
    .unwrap();
    let (package, script) = (example().display().to_string(), script().display().to_string());
    let output = sluice(&[
        "run",
        &package,
        "ListItems",
        "--path",
        "/items?limit=1",
        "-H",
        "X-Api-Key: k",
        "--backend",
        &backend.display().to_string(),
        "--script",
        &script,
        "--format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["response"]["body"], json!({"count": 1, "items": [{"id": 5, "name": "five", "ok": true}]}));
}

#[test]
fn harness_runs_a_fixture_from_a_plain_test() {
    let outcome = harness::Run::new(example())
        .script(script())
        .fixture(fixture("ListItems.json"))
        .run_blocking()
        .expect("the run starts");
    outcome.assert_passed();
    assert_eq!(outcome.status(), Some(200));
    assert_eq!(outcome.json().unwrap()["count"], 2);
    assert_eq!(outcome.backend_requests.len(), 1);
    assert!(outcome.backend_requests[0].headers.contains(&("x-sluice".into(), "1".into())));
    assert!(outcome.report.fuel_consumed.is_some_and(|f| f > 0));
}

#[tokio::test]
async fn harness_takes_fixtures_built_in_code() {
    let fixture: Fixture = serde_json::from_value(json!({
        "request": {"url": "https://items.sluice.example/v1/items"},
        "backend": [{"method": "GET", "url": "https://items.sluice.example/v1/items", "response": {"status": 503, "text": "down"}}],
        "expect": {"status": 503, "text": "down"}
    }))
    .unwrap();
    let outcome =
        harness::Run::new(example()).operation("ListItems").script(script()).with_fixture(fixture).run().await.unwrap();
    // The code passes a failed backend answer through unchanged.
    outcome.assert_passed();
}

#[test]
#[should_panic(expected = "which no backend entry of the fixture matches")]
fn harness_assertion_names_the_unmatched_request() {
    harness::Run::new(example())
        .script(script())
        .fixture(fixture("ListItems-unmatched.json"))
        .run_blocking()
        .unwrap()
        .assert_passed();
}

fn assert_usage_error(output: &Output, mentions: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error:") && stderr.contains(mentions), "{stderr}");
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let package = example().display().to_string();
    let script = script().display().to_string();
    assert_usage_error(
        &sluice(&["run", &package, "ListItems", "--fixture", "/nonexistent/f.json"]),
        "/nonexistent/f.json",
    );
    assert_usage_error(&sluice(&["run", &package, "Nope", "--script", &script]), "no operation `Nope`");
    assert_usage_error(&sluice(&["run", &package, "ListItems"]), "has no script.wasm");
    assert_usage_error(&sluice(&["run", "/nonexistent/pkg", "ListItems"]), "/nonexistent/pkg");
    assert_usage_error(&sluice(&["run", &package, "GetItem", "--script", &script]), "has parameters");
    assert_usage_error(
        &sluice(&["run", &package, "ListItems", "--script", "/nonexistent/x.wasm"]),
        "/nonexistent/x.wasm",
    );
    assert_usage_error(&sluice(&["run", &package, "ListItems", "-H", "no-colon", "--script", &script]), "Name: value");

    let dir = tempfile::tempdir().unwrap();
    let not_json = dir.path().join("f.json");
    std::fs::write(&not_json, "request: {}").unwrap();
    assert_usage_error(
        &sluice(&["run", &package, "ListItems", "--fixture", &not_json.display().to_string()]),
        "not a valid fixture",
    );
    let other_op = dir.path().join("other.json");
    std::fs::write(&other_op, r#"{"operation": "GetItem"}"#).unwrap();
    assert_usage_error(
        &sluice(&["run", &package, "ListItems", "--fixture", &other_op.display().to_string(), "--script", &script]),
        "not `ListItems`",
    );
    let not_wasm = dir.path().join("x.wasm");
    std::fs::write(&not_wasm, "text").unwrap();
    assert_usage_error(
        &sluice(&["run", &package, "ListItems", "--script", &not_wasm.display().to_string()]),
        "not a WebAssembly binary",
    );
    let stderr = String::from_utf8_lossy(&sluice(&["run", &package]).stderr).to_string();
    assert!(stderr.starts_with("error:") && stderr.contains("OPERATION_ID"), "{stderr}");
}

/// A package whose one code operation echoes the request the code receives
/// (the `misbehave` test guest), with an API key in a header and a policy
/// that reads a connection parameter.
fn echo_package(sees_credentials: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let definition = json!({
        "swagger": "2.0",
        "info": {"title": "Echo", "description": "test", "version": "1.0"},
        "host": "api.echo.example",
        "basePath": "/v2",
        "schemes": ["https"],
        "securityDefinitions": {"api_key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
        "paths": {"/run/{action}": {"get": {"operationId": "Run", "summary": "Run", "parameters": [
            {"name": "action", "in": "path", "required": true, "type": "string", "x-ms-url-encoding": "single"},
            {"name": "to", "in": "query", "required": false, "type": "string"},
            {"name": "limit", "in": "query", "required": false, "type": "integer", "default": 25}
        ], "responses": {"200": {"description": "ok"}}}}}
    });
    let properties = json!({"properties": {
        "connectionParameters": {
            "api_key": {"type": "securestring", "uiDefinition": {"constraints": {"required": "true"}}},
            "region": {"type": "string"}
        },
        "policyTemplateInstances": [{"templateId": "setheader", "title": "Region", "parameters": {
            "x-ms-apimTemplateParameter.name": "X-Region",
            "x-ms-apimTemplateParameter.value": "@connectionParameters('region')"
        }}]
    }});
    std::fs::write(dir.path().join("apiDefinition.swagger.json"), definition.to_string()).unwrap();
    std::fs::write(dir.path().join("apiProperties.json"), properties.to_string()).unwrap();
    std::fs::write(
        dir.path().join("script.wasm"),
        std::fs::read(crate::support::guest_component("misbehave")).unwrap(),
    )
    .unwrap();
    if sees_credentials {
        std::fs::write(dir.path().join("sluice.toml"), "[code]\nsees_credentials = true\n").unwrap();
    }
    dir
}

fn echo_fixture(send_to: Option<&str>) -> Fixture {
    let path = match send_to {
        Some(to) => format!("/run/send?to={to}"),
        None => "/run/headers".to_string(),
    };
    Fixture::parse(
        json!({
            "connection": {"api_key": "fixture-key-1", "region": "eu-west"},
            "request": {"path": path},
            "backend": [{"method": "GET", "url": "https://api.echo.example/*", "response": {"status": 200, "text": "ok"}}]
        })
        .to_string()
        .as_bytes(),
    )
    .unwrap()
}

#[test]
fn run_builds_the_request_the_gateway_would_give_the_code() {
    let package = echo_package(false);
    let outcome =
        harness::Run::new(package.path()).operation("Run").with_fixture(echo_fixture(None)).run_blocking().unwrap();
    outcome.assert_passed();
    let seen = outcome.json().unwrap();
    // The backend URL from the definition, with the declared default.
    assert_eq!(seen["url"], "https://api.echo.example/v2/run/headers?limit=25");
    // The request policy ran with the fixture connection's values.
    assert_eq!(seen["headers"]["x-region"], "eu-west");
    // The code may not see the credentials by default.
    assert!(seen["headers"].get("x-api-key").is_none(), "{seen}");
}

#[test]
fn run_puts_the_credentials_back_on_the_codes_calls_to_the_backend() {
    let package = echo_package(false);
    let outcome = harness::Run::new(package.path())
        .operation("Run")
        .with_fixture(echo_fixture(Some("https://api.echo.example/v2/items")))
        .run_blocking()
        .unwrap();
    outcome.assert_passed();
    let sent = &outcome.backend_requests[0];
    assert!(sent.headers.iter().any(|(n, v)| n == "x-api-key" && v == "fixture-key-1"), "{:?}", sent.headers);
}

#[test]
fn run_shows_the_credentials_to_code_that_may_see_them() {
    let package = echo_package(true);
    let outcome =
        harness::Run::new(package.path()).operation("Run").with_fixture(echo_fixture(None)).run_blocking().unwrap();
    assert_eq!(outcome.json().unwrap()["headers"]["x-api-key"], "fixture-key-1");
}

#[test]
fn a_fixture_connection_missing_a_required_parameter_is_refused() {
    let package = echo_package(false);
    let mut fixture = echo_fixture(None);
    fixture.connection = Some([("region".to_string(), "eu".to_string())].into_iter().collect());
    let error = harness::Run::new(package.path()).operation("Run").with_fixture(fixture).run_blocking().unwrap_err();
    assert!(error.to_string().contains("required parameter `api_key`"), "{error}");
}

#[test]
fn the_packages_assets_are_offered_read_only_offline() {
    // The package's `assets/` at `/assets`, as the gateway offers it; the
    // Python and JavaScript test guests read, write and try to leave it.
    let package = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/packages/assets-reader"));
    for language in ["js", "py"] {
        let script = sluice_test_programs::interpreted_path(language, "hostile").display().to_string();
        let run = |operation: &str| {
            let output = sluice(&["run", &package.display().to_string(), operation, "--script", &script]);
            (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned())
        };
        let (code, out) = run("ReadAsset");
        assert_eq!(code, Some(0), "{language}: {out}");
        assert!(out.contains("\nhello from the assets\n"), "{language}: {out}");
        for operation in ["WriteAsset", "EscapeAsset"] {
            let (code, out) = run(operation);
            assert_eq!(code, Some(0), "{language} {operation}: {out}");
            assert!(out.starts_with("client error: 403: "), "{language} {operation}: {out}");
        }
        assert!(!package.join("assets/new.txt").exists(), "nothing was written");
    }
}
