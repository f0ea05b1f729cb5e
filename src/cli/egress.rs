//! `sluice egress check`: its arguments, parsed here and handed to
//! `sluice_egress::check_command`.

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

/// Runs the check: one `allow` or `deny` line per URL; exit 0 when all are
/// allowed, 1 when any is denied, 2 on a bad rule or argument.
pub async fn check(args: CheckArgs) -> i32 {
    let request = sluice_egress::CheckRequest {
        allow: args.allow,
        subnets: args.subnet,
        public: !args.no_public,
        resolve: args.resolve,
        urls: args.urls,
    };
    sluice_egress::check_command(request, &mut std::io::stdout(), &mut std::io::stderr()).await
}
