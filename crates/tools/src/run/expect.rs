//! Checking a run's answer against the fixture's `expect`.

use serde_json::Value;

use super::RunOutcome;
use super::output::preview;
use crate::fixture::Fixture;

pub(super) fn check_expectations(outcome: &RunOutcome, fixture: &Fixture) -> Vec<String> {
    let Some(expect) = &fixture.expect else {
        return Vec::new();
    };
    let mut failures = Vec::new();
    let Some(status) = outcome.status() else {
        if expect.status.is_some() || expect.json.is_some() || expect.text.is_some() || !expect.headers.is_empty() {
            failures.push("expected an answer, but the call failed".to_string());
        }
        return failures;
    };
    if let Some(want) = expect.status
        && want != status
    {
        failures.push(format!("expected status {want}, got {status}"));
    }
    if let Ok(response) = &outcome.result {
        for (name, want) in &expect.headers {
            let got: Vec<&str> =
                response.headers().get_all(name.as_str()).iter().filter_map(|v| v.to_str().ok()).collect();
            if !got.contains(&want.as_str()) {
                failures.push(format!(
                    "expected header `{name}: {want}`, got {}",
                    if got.is_empty() { "none".to_string() } else { got.join(", ") }
                ));
            }
        }
    } else if !expect.headers.is_empty() {
        failures.push("expected headers, but the code answered with a client error".into());
    }
    let body = outcome.body().unwrap_or_default();
    if let Some(want) = &expect.json {
        match serde_json::from_slice::<Value>(&body) {
            Ok(got) if &got == want => {}
            Ok(got) => failures.push(format!("expected JSON body {want}, got {got}")),
            Err(e) => failures.push(format!("expected a JSON body, but it does not parse ({e}): {}", preview(&body))),
        }
    }
    if let Some(want) = &expect.text
        && body != want.as_bytes()
    {
        failures.push(format!("expected body {want:?}, got {:?}", String::from_utf8_lossy(&body)));
    }
    failures
}
