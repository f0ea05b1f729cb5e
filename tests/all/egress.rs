//! `sluice egress check` as a user runs it: the built binary, every egress
//! decision vector, one line per URL and the documented exit codes.

use std::process::Command;

use anyhow::{Context as _, Result};
use serde_json::Value;

/// The egress decision vectors.
const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/egress/vectors.json");
/// Further vectors.
const EXTRA_VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/egress/extra-vectors.json");

fn vectors(path: &str) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    Ok(serde_json::from_str(&text)?)
}

/// The flags that describe one vector context.
fn context_args(context: &Value) -> Vec<String> {
    let mut args = Vec::new();
    for rule in context["allow"].as_array().into_iter().flatten() {
        args.extend(["--allow".to_string(), rule.as_str().unwrap_or_default().to_string()]);
    }
    for subnet in context["subnets"].as_array().into_iter().flatten() {
        args.extend(["--subnet".to_string(), subnet.as_str().unwrap_or_default().to_string()]);
    }
    if context["public"] == Value::Bool(false) {
        args.push("--no-public".into());
    }
    for (name, ips) in context["resolve"].as_object().into_iter().flatten() {
        let ips: Vec<&str> = ips.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        args.extend(["--resolve".to_string(), format!("{name}={}", ips.join(","))]);
    }
    args
}

fn check(args: &[String]) -> Result<(i32, String, String)> {
    let output = Command::new(env!("CARGO_BIN_EXE_sluice")).arg("egress").arg("check").args(args).output()?;
    Ok((
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

/// Runs every vector of the file at `path` through the binary, one run per
/// context; returns how many were checked.
fn check_vectors(path: &str) -> Result<usize> {
    let vectors = vectors(path)?;
    let contexts = &vectors["contexts"];
    let mut checked = 0;
    for (name, context) in contexts.as_object().context("contexts")? {
        let cases: Vec<&Value> = vectors["vectors"]
            .as_array()
            .context("vectors")?
            .iter()
            .filter(|v| v["context"] == name.as_str())
            .collect();
        let mut args = context_args(context);
        args.push("--".into());
        args.extend(cases.iter().map(|v| v["url"].as_str().unwrap_or_default().to_string()));
        let (code, stdout, stderr) = check(&args)?;
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), cases.len(), "context {name}: one line per URL\n{stdout}\n{stderr}");
        for (case, line) in cases.iter().zip(&lines) {
            let url = case["url"].as_str().unwrap_or_default();
            let expect = case["expect"].as_str().unwrap_or_default();
            let prefix = format!("{expect} {url}");
            assert!(line.starts_with(&prefix), "context {name}: `{line}` should start `{prefix}` ({})", case["why"]);
            checked += 1;
        }
        let any_denied = cases.iter().any(|v| v["expect"] == "deny");
        assert_eq!(code, if any_denied { 1 } else { 0 }, "context {name} exit status");
    }
    Ok(checked)
}

#[test]
fn every_vector_decided_as_expected_by_the_binary() -> Result<()> {
    assert_eq!(check_vectors(VECTORS)?, 175);
    assert!(check_vectors(EXTRA_VECTORS)? > 0);
    Ok(())
}

#[test]
fn all_allowed_exits_zero_with_the_vetted_address() -> Result<()> {
    let args: Vec<String> = [
        "--allow",
        "https://api.contoso.example",
        "--resolve",
        "api.contoso.example=93.184.215.14",
        "https://api.contoso.example/x",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (code, stdout, _) = check(&args)?;
    assert_eq!(code, 0);
    assert_eq!(stdout.trim(), "allow https://api.contoso.example/x -> 93.184.215.14:443");
    Ok(())
}

#[test]
fn bad_rule_exits_two_with_one_clear_line() -> Result<()> {
    let args: Vec<String> =
        ["--allow", "ftp://x.example", "https://x.example/"].iter().map(|s| s.to_string()).collect();
    let (code, stdout, stderr) = check(&args)?;
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("scheme"), "{stderr}");
    Ok(())
}
