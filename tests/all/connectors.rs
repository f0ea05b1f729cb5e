//! `sluice connectors redirect-audit` and `sluice connectors check` over the
//! example and test packages, through the binary.

use std::process::Command;

use anyhow::Result;

fn audit(args: &[&str]) -> Result<(i32, String, String)> {
    connectors("redirect-audit", args)
}

fn connectors(command: &str, args: &[&str]) -> Result<(i32, String, String)> {
    let output = Command::new(env!("CARGO_BIN_EXE_sluice")).args(["connectors", command]).args(args).output()?;
    Ok((
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");

#[test]
fn audit_lists_the_global_redirect_connector_as_json() -> Result<()> {
    let (code, stdout, stderr) = audit(&[SHARED])?;
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout)?;
    let connectors = json["connectors"].as_array().unwrap();
    assert_eq!(connectors.len(), 1, "{stdout}");
    assert_eq!(connectors[0]["connector"], "Industrial_App_Store");
    assert!(connectors[0]["publisher"].is_string() && connectors[0]["stack_owner"].is_string(), "{stdout}");
    Ok(())
}

#[test]
fn audit_renders_an_html_table_with_the_cutoff() -> Result<()> {
    let (code, stdout, _) = audit(&[SHARED, "--format", "html", "--cutoff", "2026-02-17"])?;
    assert_eq!(code, 0);
    assert!(stdout.contains("<table>") && stdout.contains("<td>Industrial_App_Store</td>"), "{stdout}");
    assert!(stdout.contains("From 2026-02-17"), "{stdout}");
    Ok(())
}

#[test]
fn unreadable_directory_exits_two_with_one_line() -> Result<()> {
    let (code, stdout, stderr) = audit(&["/nonexistent/sluice-packages"])?;
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    Ok(())
}

const TEST_PACKAGES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/packages");

#[test]
fn check_reports_each_package_and_the_totals() -> Result<()> {
    let (code, stdout, stderr) = connectors("check", &[SHARED, TEST_PACKAGES])?;
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines.contains(&"csx-only: loads, 2 operations; code: C# not ported (1 operations answer 501)"),
        "{stdout}"
    );
    assert!(
        lines.contains(&"Industrial_App_Store: loads, 10 operations; code: none; oauth redirect: global"),
        "{stdout}"
    );
    assert!(lines.iter().any(|l| l.starts_with("Tulip: loads, 5 operations; code: none; templates: dynamichosturl")));
    let totals = lines.last().unwrap();
    assert!(totals.starts_with("14 packages: 14 load; 64 operations, 63 callable;"), "{totals}");
    assert!(totals.contains("1 C# not ported") && totals.contains("1 OAuth on the global redirect URI"), "{totals}");

    let (code, stdout, _) = connectors("check", &["--format", "json", TEST_PACKAGES])?;
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout)?;
    let csx = json["packages"].as_array().unwrap().iter().find(|p| p["package"] == "csx-only").unwrap();
    assert_eq!((csx["code"].as_str(), csx["code_operations"].as_u64()), (Some("not-ported"), Some(1)));
    assert_eq!(json["totals"]["packages"], 3);
    Ok(())
}

#[test]
fn check_says_why_a_package_does_not_load_and_exits_1() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let nested = dir.path().join("Contoso").join("V2");
    std::fs::create_dir_all(&nested)?;
    std::fs::write(nested.join("apiDefinition.swagger.json"), "{\"swagger\": \"2.0\",\n  \"host\": ")?;
    std::fs::write(nested.join("apiProperties.json"), "{\"properties\": {}}")?;
    let (code, stdout, _) = connectors("check", &[&dir.path().display().to_string()])?;
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("V2: does not load: apiDefinition.swagger.json: invalid JSON at line 2"), "{stdout}");
    assert!(stdout.lines().last().unwrap().starts_with("1 packages: 0 load;"), "{stdout}");

    let empty = tempfile::tempdir()?;
    let (code, _, stderr) = connectors("check", &[&empty.path().display().to_string()])?;
    assert_eq!((code, stderr.lines().count()), (2, 1), "{stderr}");
    assert!(stderr.starts_with("error: no package"), "{stderr}");
    let (code, _, stderr) = connectors("check", &["/nonexistent/packages"])?;
    assert_eq!(code, 2, "{stderr}");
    Ok(())
}

#[test]
fn check_call_calls_every_operation_and_none_is_internal() -> Result<()> {
    let (code, stdout, stderr) = connectors("check", &["--call", SHARED, TEST_PACKAGES])?;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let calls = stdout.split_once("64 calls:\n").map(|(_, c)| c).unwrap_or_else(|| panic!("{stdout}"));
    // Every backend call is denied (no name resolves), sign-ins are missing,
    // the C# operation is refused: each answer is a typed problem.
    for answer in ["502 egress-denied", "401 signin-required", "501 code-not-ported"] {
        assert!(
            calls.lines().any(|l| l.trim_start().split_once("  ").is_some_and(|(_, a)| a == answer)),
            "{answer}: {calls}"
        );
    }
    assert!(!calls.contains("internal"), "{calls}");

    let (_, stdout, _) = connectors("check", &["--call", "--format", "json", TEST_PACKAGES])?;
    let json: serde_json::Value = serde_json::from_str(&stdout)?;
    assert_eq!(json["calls"]["calls"], 7);
    assert_eq!(json["calls"]["internal"].as_array().map(Vec::len), Some(0));
    let answers = json["calls"]["answers"].as_array().unwrap();
    let not_ported = answers.iter().find(|a| a["type"] == "code-not-ported").unwrap();
    assert_eq!((not_ported["status"].as_u64(), not_ported["calls"].as_u64()), (Some(501), Some(1)));
    assert!(not_ported["examples"][0].as_str().unwrap().starts_with("csx-only Convert: "), "{not_ported}");
    Ok(())
}
