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
use crate::resolve::{PinnedResolver, Resolver, SystemResolver};
use crate::rule::Allowlist;

/// Arguments of `sluice egress check`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CheckArgs {
    /// An allowlist rule `scheme://host[:port]` (scheme http, https or *; host
    /// a name, *.suffix, * or a CIDR; port a number, a-b or *, default the
    /// scheme's). Repeatable; without any, nothing is granted.
    #[arg(long = "allow", value_name = "RULE")]
    pub allow: Vec<String>,
    /// A linked subnet of the environment's virtual network, as a CIDR.
    /// Repeatable; default none.
    #[arg(long = "subnet", value_name = "CIDR")]
    pub subnet: Vec<String>,
    /// Turns public egress off, as for a linked subnet without a NAT
    /// gateway. Default: public egress on.
    #[arg(long)]
    pub no_public: bool,
    /// Pins a name to addresses, bypassing DNS (like curl's --resolve).
    /// Repeatable; other names use the system resolver.
    #[arg(long = "resolve", value_name = "NAME=IP[,IP...]")]
    pub resolve: Vec<String>,
    /// The URLs to check, each reported on its own line in order.
    #[arg(value_name = "URL", required = true)]
    pub urls: Vec<String>,
}

/// Runs `sluice egress check`: unpinned names use the system resolver.
/// Writes one line per URL to `out`, an argument error to `err`, and returns
/// the exit status.
pub async fn check_command(args: CheckArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    run_check(args, Arc::new(SystemResolver), out, err).await
}

/// [`check_command`] with `fallback` resolving the names `--resolve` does not
/// pin, so tests and embedders stay off the network.
pub async fn run_check(
    args: CheckArgs,
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

fn build(
    args: &CheckArgs,
    fallback: Arc<dyn Resolver>,
) -> Result<(Policy, PinnedResolver), String> {
    if args.urls.is_empty() {
        return Err("give at least one URL to check".into());
    }
    let allowlist = Allowlist::parse(&args.allow).map_err(|e| e.to_string())?;
    let subnets = args
        .subnet
        .iter()
        .map(|s| parse_subnet(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let mut resolver = PinnedResolver::new().with_fallback(fallback);
    for pin in &args.resolve {
        resolver.pin_spec(pin).map_err(|e| e.to_string())?;
    }
    let environment = Environment::new(subnets, !args.no_public);
    Ok((Policy::new(allowlist, environment), resolver))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: CheckArgs,
    }

    async fn run(argv: &[&str]) -> (i32, String, String) {
        let args = Cli::try_parse_from(std::iter::once("check").chain(argv.iter().copied()))
            .unwrap()
            .args;
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let status = run_check(args, Arc::new(PinnedResolver::new()), &mut out, &mut err).await;
        (
            status,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
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
        assert_eq!(
            err,
            "error: rule `ftp://x`: scheme must be http, https or *\n"
        );
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

    #[test]
    fn missing_url_is_an_argument_error() {
        assert!(Cli::try_parse_from(["check", "--allow", "*://*"]).is_err());
    }
}
