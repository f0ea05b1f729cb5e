//! The decision vectors (`tests/data/egress/vectors.json` and
//! `extra-vectors.json`), each checked three ways: through `Policy::check`,
//! through the check command's logic, and through the egress client itself.

use std::sync::Arc;

use crate::support::{EXTRA_VECTORS, Expect, RecordingDialer, VECTORS, Vectors, load_vectors};
use anyhow::Result;
use bytes::Bytes;
use sluice_egress::{EgressClient, EgressError, SendOptions, run_check};

fn all_vectors() -> Result<Vec<(&'static str, Vectors)>> {
    Ok(vec![("vectors", load_vectors(VECTORS)?), ("extra", load_vectors(EXTRA_VECTORS)?)])
}

#[test]
fn vectors_are_all_there() -> Result<()> {
    let vectors = load_vectors(VECTORS)?;
    assert_eq!(vectors.vectors.len(), 175);
    assert_eq!(vectors.contexts.len(), 4);
    // Every vector names a context that exists, and every context is used.
    for (file, vectors) in all_vectors()? {
        for v in &vectors.vectors {
            assert!(vectors.contexts.contains_key(&v.context), "{file} {}", v.url);
        }
        for name in vectors.contexts.keys() {
            assert!(vectors.vectors.iter().any(|v| &v.context == name), "{file} {name}");
        }
    }
    Ok(())
}

#[tokio::test]
async fn vectors_decided_by_policy_check() -> Result<()> {
    let mut failures = Vec::new();
    for (file, vectors) in all_vectors()? {
        for v in &vectors.vectors {
            let ctx = &vectors.contexts[&v.context];
            let decision = ctx.policy()?.check(&v.url, &ctx.resolver()?).await;
            let got = if decision.is_allowed() { Expect::Allow } else { Expect::Deny };
            if got != v.expect {
                failures.push(format!("{file} {} {}: got {decision:?} ({})", v.context, v.url, v.why));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

#[tokio::test]
async fn vectors_decided_by_check_command() -> Result<()> {
    let mut failures = Vec::new();
    for (file, vectors) in all_vectors()? {
        for (name, ctx) in &vectors.contexts {
            let cases: Vec<_> = vectors.vectors.iter().filter(|v| &v.context == name).collect();
            let urls = cases.iter().map(|v| v.url.clone()).collect();
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let fallback = Arc::new(crate::support::offline_resolver());
            let status = run_check(ctx.check_args(urls), fallback, &mut out, &mut err).await;
            let out = String::from_utf8(out)?;
            assert_eq!(String::from_utf8(err)?, "", "{file} {name}");
            let lines: Vec<&str> = out.lines().collect();
            assert_eq!(lines.len(), cases.len(), "{file} {name}: {out}");
            for (line, v) in lines.iter().zip(&cases) {
                let ok = match v.expect {
                    Expect::Allow => line.starts_with(&format!("allow {} -> ", v.url)),
                    Expect::Deny => line.starts_with(&format!("deny {}: ", v.url)),
                };
                if !ok {
                    failures.push(format!("{file} {name} {} ({}): {line}", v.url, v.why));
                }
            }
            let any_denied = cases.iter().any(|v| v.expect == Expect::Deny);
            assert_eq!(status, i32::from(any_denied), "{file} {name}");
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

/// Allowed vectors must dial exactly the vetted addresses (the test dialer
/// refuses, so nothing leaves the machine); denied ones must dial nothing.
#[tokio::test]
async fn vectors_enforced_by_client() -> Result<()> {
    let mut failures = Vec::new();
    for (file, vectors) in all_vectors()? {
        for v in &vectors.vectors {
            let ctx = &vectors.contexts[&v.context];
            let policy = ctx.policy()?;
            let dialer = RecordingDialer::refusing();
            let client = EgressClient::builder().resolver(Arc::new(ctx.resolver()?)).dialer(dialer.clone()).build();
            let expected = policy.check(&v.url, &ctx.resolver()?).await;
            // `http::Uri` holds ASCII only: callers send an IDNA name as
            // punycode, the URL's WHATWG serialisation. A URL `http` cannot
            // represent at all never reaches the client: that too is a denial.
            let uri = match v.url.parse::<http::Uri>() {
                Ok(uri) => Ok(uri),
                Err(_) => url::Url::parse(&v.url)
                    .map_err(|e| e.to_string())
                    .and_then(|u| u.as_str().parse::<http::Uri>().map_err(|e| e.to_string())),
            };
            let outcome = match uri.map(|uri| http::Request::get(uri).body(Bytes::new())) {
                Ok(Ok(request)) => Some(client.send(&policy, request, SendOptions::default()).await),
                _ => None,
            };
            let ok = match (v.expect, &outcome) {
                (Expect::Allow, Some(Err(EgressError::Unreachable { .. }))) => {
                    dialer.dialed() == expected.addrs() && !expected.addrs().is_empty()
                }
                (Expect::Deny, Some(Err(EgressError::Denied { .. })) | None) => dialer.dialed().is_empty(),
                _ => false,
            };
            if !ok {
                failures.push(format!(
                    "{file} {} {} ({}): {outcome:?}, dialed {:?}",
                    v.context,
                    v.url,
                    v.why,
                    dialer.dialed()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}
