//! `sluice connectors redirect-audit` over the example packages, through the binary.

use std::process::Command;

use anyhow::Result;

fn audit(args: &[&str]) -> Result<(i32, String, String)> {
    let output =
        Command::new(env!("CARGO_BIN_EXE_sluice")).args(["connectors", "redirect-audit"]).args(args).output()?;
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
