//! The management CLI (`sluice connectors create | update | download | list
//! | delete`, `sluice connections create | list | delete`) against a running
//! gateway: the demo, started as the README starts it.

use std::path::Path;
use std::process::{Command, Output};

use crate::demo::start_demo;
use crate::support::{EXAMPLE_CONNECTORS, package_dir};

/// Runs `sluice` against the demo with its key.
fn sluice(server: &str, key: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sluice"));
    command.args(args).env("SLUICE_SERVER", server).env_remove("SLUICE_API_KEY").env_remove("SLUICE_ENVIRONMENT");
    if let Some(key) = key {
        command.env("SLUICE_API_KEY", key);
    }
    command.output().expect("the sluice binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The package files of a folder, by name.
fn package_files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    ["apiDefinition.swagger.json", "apiProperties.json", "script.wasm", "sluice.toml", "icon.png"]
        .into_iter()
        .filter_map(|name| std::fs::read(dir.join(name)).ok().map(|bytes| (name.to_string(), bytes)))
        .collect()
}

#[test]
fn the_cli_publishes_lists_downloads_updates_and_deletes_against_a_running_gateway() {
    let (demo, address, key) = start_demo();
    let server = format!("http://{address}");
    let run = |args: &[&str]| sluice(&server, Some(&key), args);
    let example = package_dir(EXAMPLE_CONNECTORS[0]);
    let example = example.display().to_string();

    let created = run(&["connectors", "create", &example, "--id", "Example"]);
    assert_eq!(created.status.code(), Some(0), "{}\n{}", stderr(&created), demo.log());
    assert!(stdout(&created).starts_with("published Example version 1 \""), "{}", stdout(&created));

    let listed = run(&["connectors", "list"]);
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    let lines = stdout(&listed);
    assert!(
        lines.lines().any(|l| l.starts_with("Example\tready\tcan-edit\towner ") && l.ends_with("\tpublished")),
        "{lines}"
    );
    assert!(lines.lines().any(|l| l.starts_with("items-transform\tready") && l.ends_with("\tfolder")), "{lines}");
    let json = run(&["connectors", "list", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert!(json.as_array().unwrap().iter().any(|c| c["id"] == "Example"), "{json}");

    // The download is a folder that create takes back unchanged.
    let out = tempfile::tempdir().unwrap();
    let folder = out.path().join("Example");
    let downloaded = run(&["connectors", "download", "--id", "Example", "--out", &folder.display().to_string()]);
    assert_eq!(downloaded.status.code(), Some(0), "{}", stderr(&downloaded));
    assert_eq!(package_files(&folder), package_files(Path::new(&example)));
    let folder = folder.display().to_string();

    // Refusals are one line with the status and problem type, exit 1.
    let again = run(&["connectors", "create", &folder, "--id", "Example"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).starts_with("error: 409 connector-exists: "), "{}", stderr(&again));
    assert_eq!(stderr(&again).lines().count(), 1, "{}", stderr(&again));
    let stale = run(&["connectors", "update", "--id", "Example", &folder, "--if-match", "\"0-stale\""]);
    assert_eq!(stale.status.code(), Some(1));
    assert!(stderr(&stale).starts_with("error: 412 precondition-failed: "), "{}", stderr(&stale));
    let updated = run(&[
        "connectors",
        "update",
        "--id",
        "Example",
        "--api-def",
        &format!("{folder}/apiDefinition.swagger.json"),
        "--api-prop",
        &format!("{folder}/apiProperties.json"),
    ]);
    assert_eq!(updated.status.code(), Some(0), "{}", stderr(&updated));
    assert!(stdout(&updated).starts_with("published Example version 2 "), "{}", stdout(&updated));

    // Connections.
    let made = run(&["connections", "create", "--connector", "items-transform", "--id", "mine", "-p", "api_key=k-cli"]);
    assert_eq!(made.status.code(), Some(0), "{}", stderr(&made));
    assert!(stdout(&made).starts_with("items-transform/mine\tready\towner "), "{}", stdout(&made));
    let missing = run(&["connections", "create", "--connector", "items-transform", "--id", "bad"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).starts_with("error: 422 bad-connection: ") && stderr(&missing).contains("api_key"),
        "{}",
        stderr(&missing)
    );
    let connections = stdout(&run(&["connections", "list"]));
    assert!(connections.lines().any(|l| l.starts_with("items-transform/mine\tready")), "{connections}");
    assert!(!connections.contains("k-cli"), "no secret is shown");
    assert_eq!(
        run(&["connections", "delete", "--connector", "items-transform", "--id", "mine"]).status.code(),
        Some(0)
    );

    // A connector with parameter sets: a connection names its set, and one
    // that does not is refused in one line naming the sets.
    let multi = out.path().join("Multi");
    std::fs::create_dir_all(&multi).unwrap();
    let definition = serde_json::json!({"swagger": "2.0", "info": {"title": "Multi", "version": "1.0"},
        "host": "api.multi.example", "schemes": ["https"],
        "securityDefinitions": {"api_key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
        "paths": {"/items": {"get": {"operationId": "ListItems", "summary": "List items", "description": "Lists them",
            "responses": {"200": {"description": "ok", "schema": {"type": "object"}}}}}}});
    let properties = serde_json::json!({"properties": {"connectionParameterSets": {"values": [
        {"name": "key", "parameters": {"api_key": {"type": "securestring", "uiDefinition": {"constraints": {"required": "true"}}}}},
        {"name": "user", "parameters": {"username": {"type": "string"}, "password": {"type": "securestring"}}}]},
        "publisher": "p", "stackOwner": "s", "iconBrandColor": "#da3b01"}});
    std::fs::write(multi.join("apiDefinition.swagger.json"), definition.to_string()).unwrap();
    std::fs::write(multi.join("apiProperties.json"), properties.to_string()).unwrap();
    let published = run(&["connectors", "create", &multi.display().to_string(), "--id", "Multi"]);
    assert_eq!(published.status.code(), Some(0), "{}", stderr(&published));
    let unchosen = run(&["connections", "create", "--connector", "Multi", "--id", "m", "-p", "api_key=k-multi"]);
    assert_eq!(unchosen.status.code(), Some(1));
    assert_eq!(
        stderr(&unchosen).trim_end(),
        "error: 400 bad-parameter-set: connection `m`: connector `Multi` offers several ways to connect; choose a parameter set: key, user"
    );
    let chosen = run(&[
        "connections",
        "create",
        "--connector",
        "Multi",
        "--id",
        "m",
        "--parameter-set",
        "key",
        "-p",
        "api_key=k-multi",
    ]);
    assert_eq!(chosen.status.code(), Some(0), "{}", stderr(&chosen));
    assert!(stdout(&chosen).starts_with("Multi/m\tready\towner "), "{}", stdout(&chosen));
    assert!(stdout(&chosen).contains("\tset key"), "{}", stdout(&chosen));
    assert_eq!(run(&["connectors", "delete", "--id", "Multi"]).status.code(), Some(0));

    let deleted = run(&["connectors", "delete", "--id", "Example"]);
    assert_eq!(deleted.status.code(), Some(0), "{}", stderr(&deleted));
    assert!(!stdout(&run(&["connectors", "list"])).contains("Example\t"));
    let read_only = run(&["connectors", "delete", "--id", "items-transform"]);
    assert!(stderr(&read_only).starts_with("error: 409 read-only: "), "{}", stderr(&read_only));

    // No key, a bad key, no gateway: each one line.
    let no_key = sluice(&server, None, &["connectors", "list"]);
    assert_eq!(no_key.status.code(), Some(2));
    assert!(stderr(&no_key).contains("SLUICE_API_KEY"), "{}", stderr(&no_key));
    let bad_key = sluice(&server, Some("slk_000000000000.nope"), &["connectors", "list"]);
    assert_eq!(bad_key.status.code(), Some(1));
    assert!(stderr(&bad_key).starts_with("error: 401 unauthenticated: "), "{}", stderr(&bad_key));
    drop(demo);
    let gone = sluice(&server, Some(&key), &["connectors", "list"]);
    assert_eq!(gone.status.code(), Some(2));
    assert!(stderr(&gone).contains("no answer"), "{}", stderr(&gone));
    assert_eq!(stderr(&gone).lines().count(), 1);
}
