//! `sluice egress check`: explains egress decisions for connector authors and
//! operators, one line per URL, with the same [`Policy::check`] the client
//! uses.
//!
//! ```text
//! sluice egress check [--allow RULE]... [--subnet CIDR]... [--no-public]
//!                     [--resolve NAME=IP[,IP...]]... URL...
//! ```
//!
//! Exit status: 0 when every URL is allowed, 1 when any is denied, 2 on a bad
//! rule or argument.

use std::io::Write;
use std::sync::Arc;

use crate::environment::{Environment, parse_subnet};
use crate::policy::{Decision, Policy};
use crate::resolve::{PinnedResolver, Resolver};
use crate::rule::Allowlist;

/// What `sluice egress check` is asked: the rules and network to decide
/// under, the names to pin, and the URLs. The CLI parses its flags into it.
#[derive(Debug, Clone, Default)]
pub struct CheckRequest {
    /// Allowlist rules, `scheme://host[:port]`; without any, nothing is
    /// granted.
    pub allow: Vec<String>,
    /// Linked subnets of the environment's virtual network, as CIDRs.
    pub subnets: Vec<String>,
    /// Whether public egress is on (off as for a linked subnet without a NAT
    /// gateway).
    pub public: bool,
    /// Names pinned to addresses, `NAME=IP[,IP...]`, bypassing DNS.
    pub resolve: Vec<String>,
    /// The URLs to check, each reported on its own line in order.
    pub urls: Vec<String>,
}

/// Runs the check: unpinned names use the system resolver. Writes one line
/// per URL to `out`, an argument error to `err`, and returns the exit status.
#[cfg(feature = "client")]
pub async fn check_command(request: CheckRequest, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    run_check(request, Arc::new(crate::resolve::SystemResolver), out, err).await
}

/// The check, with `fallback` resolving the names `--resolve` does not
/// pin, so tests and embedders stay off the network.
pub async fn run_check(
    args: CheckRequest,
    fallback: Arc<dyn Resolver>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let (policy, resolver) = match build(&args, fallback) {
        Ok(built) => built,
        Err(message) => {
            // Nothing sensible is left to do if stderr itself fails.
            let _ = writeln!(err, "error: {message}");
            return 2;
        }
    };
    let mut status = 0;
    for url in &args.urls {
        let line = match policy.check(url, &resolver).await {
            Decision::Allow { addrs, .. } => {
                let addrs: Vec<String> = addrs.iter().map(ToString::to_string).collect();
                format!("allow {url} -> {}", addrs.join(","))
            }
            Decision::Deny { reason } => {
                status = 1;
                format!("deny {url}: {reason}")
            }
        };
        if let Err(e) = writeln!(out, "{line}") {
            let _ = writeln!(err, "error: cannot write the result: {e}");
            return 2;
        }
    }
    status
}

fn build(args: &CheckRequest, fallback: Arc<dyn Resolver>) -> Result<(Policy, PinnedResolver), String> {
    if args.urls.is_empty() {
        return Err("give at least one URL to check".into());
    }
    let allowlist = Allowlist::parse(&args.allow).map_err(|e| e.to_string())?;
    let subnets =
        args.subnets.iter().map(|s| parse_subnet(s)).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
    let mut resolver = PinnedResolver::new().with_fallback(fallback);
    for pin in &args.resolve {
        resolver.pin_spec(pin).map_err(|e| e.to_string())?;
    }
    let environment = Environment::new(subnets, args.public);
    Ok((Policy::new(allowlist, environment), resolver))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The request `sluice egress check` would build from these flags.
    fn request(argv: &[&str]) -> CheckRequest {
        let mut request = CheckRequest { public: true, ..CheckRequest::default() };
        let mut args = argv.iter();
        while let Some(arg) = args.next() {
            match *arg {
                "--allow" => request.allow.push(args.next().unwrap().to_string()),
                "--subnet" => request.subnets.push(args.next().unwrap().to_string()),
                "--resolve" => request.resolve.push(args.next().unwrap().to_string()),
                "--no-public" => request.public = false,
                url => request.urls.push(url.to_string()),
            }
        }
        request
    }

    async fn run(argv: &[&str]) -> (i32, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let status = run_check(request(argv), Arc::new(PinnedResolver::new()), &mut out, &mut err).await;
        (status, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
    }

    #[tokio::test]
    async fn all_allowed_exits_zero_with_addresses() {
        let (status, out, _) = run(&[
            "--allow",
            "https://*.example.com",
            "--resolve",
            "a.example.com=93.184.215.14,[2606:4700::1]",
            "https://A.example.com./x",
            "https://8.8.8.8.example.com",
        ])
        .await;
        assert_eq!(status, 1);
        assert_eq!(
            out,
            "allow https://A.example.com./x -> 93.184.215.14:443,[2606:4700::1]:443\n\
             deny https://8.8.8.8.example.com: no addresses found for `8.8.8.8.example.com`\n"
        );
        let (status, _, _) = run(&["--allow", "*://*:*", "http://8.8.8.8/"]).await;
        assert_eq!(status, 0);
    }

    #[tokio::test]
    async fn no_public_and_subnets_applied() {
        let (status, out, _) = run(&[
            "--allow",
            "*://*:*",
            "--subnet",
            "10.1.0.0/16",
            "--no-public",
            "http://10.1.0.5/",
            "http://8.8.8.8/",
        ])
        .await;
        assert_eq!(status, 1);
        assert_eq!(
            out,
            "allow http://10.1.0.5/ -> 10.1.0.5:80\n\
             deny http://8.8.8.8/: 8.8.8.8 is public, and public egress is off for this environment\n"
        );
    }

    #[tokio::test]
    async fn bad_rule_exits_two_with_one_line() {
        let (status, out, err) = run(&["--allow", "ftp://x", "http://8.8.8.8/"]).await;
        assert_eq!(status, 2);
        assert_eq!(out, "");
        assert_eq!(err, "error: rule `ftp://x`: scheme must be http, https or *\n");
    }

    #[tokio::test]
    async fn bad_subnet_or_pin_exits_two() {
        let (status, _, err) = run(&["--subnet", "10.1/16", "http://8.8.8.8/"]).await;
        assert_eq!(status, 2);
        assert!(err.starts_with("error: subnet `10.1/16`"), "{err}");
        let (status, _, err) = run(&["--resolve", "x.example", "http://8.8.8.8/"]).await;
        assert_eq!(status, 2);
        assert!(err.contains("write NAME=IP"), "{err}");
    }

    #[tokio::test]
    async fn missing_url_is_an_argument_error() {
        let (status, _, err) = run(&["--allow", "*://*"]).await;
        assert_eq!(status, 2);
        assert_eq!(err, "error: give at least one URL to check\n");
    }
}
