//! `sluice connectors ...`: reports over packages (the redirect audit, the
//! migration report `check`), and a gateway's connectors through its
//! management API (`create`, `update`, `download`, `list`, `delete`;
//! [`super::remote`]).

use std::path::{Path, PathBuf};

use clap::Subcommand;

/// `sluice connectors`.
#[derive(Debug, Subcommand)]
pub enum ConnectorsCommand {
    /// Publish a package to a gateway (exit 0: published, 1: refused, 2: bad input or no gateway).
    Create {
        /// The package.
        #[command(flatten)]
        package: super::remote::PackageArgs,
        /// The connector's id; default: made from the definition's title.
        #[arg(long)]
        id: Option<String>,
        /// The gateway.
        #[command(flatten)]
        server: super::remote::Server,
    },
    /// Publish a new version of a connector to a gateway.
    Update {
        /// The connector's id.
        #[arg(long)]
        id: String,
        /// The package.
        #[command(flatten)]
        package: super::remote::PackageArgs,
        /// Only if the gateway's newest version has this ETag.
        #[arg(long)]
        if_match: Option<String>,
        /// The gateway.
        #[command(flatten)]
        server: super::remote::Server,
    },
    /// Download a connector's package into a folder that `create` takes back.
    Download {
        /// The connector's id.
        #[arg(long)]
        id: String,
        /// The folder to write.
        #[arg(long, short)]
        out: PathBuf,
        /// The gateway.
        #[command(flatten)]
        server: super::remote::Server,
    },
    /// List the connectors of a gateway the caller may use.
    List {
        /// The gateway.
        #[command(flatten)]
        server: super::remote::Server,
    },
    /// Delete a connector published to a gateway, with its connections.
    Delete {
        /// The connector's id.
        #[arg(long)]
        id: String,
        /// The gateway.
        #[command(flatten)]
        server: super::remote::Server,
    },
    /// List the OAuth connectors still on the global redirect URI, with their
    /// name, publisher and stack owner.
    RedirectAudit {
        /// The directory of connector packages.
        packages: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "json")]
        format: AuditFormat,
        /// The cut-off date (YYYY-MM-DD) to show on the HTML page.
        #[arg(long)]
        cutoff: Option<chrono::NaiveDate>,
    },
    /// Load packages as the gateway would and report, one line each with
    /// totals: loads or why not, operations, code (component, C# not
    /// ported, none), what sluice does not run yet, the OAuth redirect mode,
    /// the policy templates. Exit 0 when every package loads, 1 otherwise.
    Check {
        /// Package folders, or folders holding packages (searched three levels down).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: CheckFormat,
        /// Also call every operation of the packages that load, once,
        /// through a gateway in this process, with dummy connection values
        /// and every backend call denied, and tally the answers by status
        /// and problem type. Exit 1 when any is 500 `internal`.
        #[arg(long)]
        call: bool,
    },
}

/// The migration report's output format.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CheckFormat {
    /// One line per package, then the totals.
    Text,
    /// `{packages: [...], totals: {...}}`.
    Json,
}

/// The audit's output format.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum AuditFormat {
    /// JSON: `{cutoff, connectors: [...]}`.
    Json,
    /// A standalone HTML page.
    Html,
}

/// Runs a `sluice connectors` command; returns its exit code.
pub fn run(command: ConnectorsCommand) -> i32 {
    match command {
        ConnectorsCommand::RedirectAudit { packages, format, cutoff } => redirect_audit(&packages, format, cutoff),
        ConnectorsCommand::Check { paths, format, call } => check(&paths, format, call),
        ConnectorsCommand::Create { package, id, server } => super::remote::create(&server, &package, id.as_deref()),
        ConnectorsCommand::Update { id, package, if_match, server } => {
            super::remote::update(&server, &id, &package, if_match.as_deref())
        }
        ConnectorsCommand::Download { id, out, server } => super::remote::download(&server, &id, &out),
        ConnectorsCommand::List { server } => super::remote::list_connectors(&server),
        ConnectorsCommand::Delete { id, server } => super::remote::delete_connector(&server, &id),
    }
}

/// `sluice connections`: a gateway's connections through its management API.
#[derive(Debug, Subcommand)]
pub enum ConnectionsCommand {
    /// Make a connection of a connector, owned by the caller (exit 0: made, 1: refused, 2: bad input or no gateway).
    Create {
        /// The connector.
        #[arg(long)]
        connector: String,
        /// The connection's id.
        #[arg(long)]
        id: String,
        /// The way to connect, for a connector with parameter sets (connectionParameterSets): one of its set names.
        #[arg(long = "parameter-set")]
        parameter_set: Option<String>,
        /// A parameter value, NAME=VALUE; repeat for each (secrets are sealed by the gateway, never shown again).
        #[arg(long = "parameter", short = 'p', value_parser = super::tools::parse_var)]
        parameters: Vec<(String, String)>,
        /// The gateway.
        #[command(flatten)]
        server: super::remote::Server,
    },
    /// List the connections the caller may use, with their status.
    List {
        /// The gateway.
        #[command(flatten)]
        server: super::remote::Server,
    },
    /// Sign an OAuth connection in: prints the provider's page to open in a
    /// browser on this machine, and completes when the browser comes back.
    Signin {
        /// The connector.
        #[arg(long)]
        connector: String,
        /// The connection's id.
        #[arg(long)]
        id: String,
        /// How long to wait for the browser, in seconds.
        #[arg(long, default_value_t = 600)]
        wait: u64,
        /// The gateway.
        #[command(flatten)]
        server: super::remote::Server,
    },
    /// Delete a connection the caller owns.
    Delete {
        /// The connector.
        #[arg(long)]
        connector: String,
        /// The connection's id.
        #[arg(long)]
        id: String,
        /// The gateway.
        #[command(flatten)]
        server: super::remote::Server,
    },
}

/// Runs a `sluice connections` command; returns its exit code.
pub fn run_connections(command: ConnectionsCommand) -> i32 {
    match command {
        ConnectionsCommand::Create { connector, id, parameter_set, parameters, server } => {
            super::remote::create_connection(&server, (&connector, &id), parameter_set.as_deref(), &parameters)
        }
        ConnectionsCommand::List { server } => super::remote::list_connections(&server),
        ConnectionsCommand::Signin { connector, id, wait, server } => {
            super::remote::signin_connection(&server, &connector, &id, std::time::Duration::from_secs(wait))
        }
        ConnectionsCommand::Delete { connector, id, server } => {
            super::remote::delete_connection(&server, &connector, &id)
        }
    }
}

/// Prints the migration report; exit 1 when a package does not load, 2
/// when a path cannot be read or holds no package.
fn check(paths: &[PathBuf], format: CheckFormat, call: bool) -> i32 {
    if let Some(path) = paths.iter().find(|p| !p.is_dir()) {
        eprintln!("error: {} is not a folder", path.display());
        return 2;
    }
    let report = sluice_tools::check::check(paths);
    if report.packages.is_empty() {
        eprintln!("error: no package (a folder with {}) under the paths given", sluice_package::DEFINITION_FILE);
        return 2;
    }
    let tally = if call {
        let dirs: Vec<PathBuf> = report.packages.iter().filter(|p| p.loads).map(|p| p.dir.clone()).collect();
        let runtime = match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle,
            Err(error) => {
                eprintln!("error: no async runtime: {error}");
                return 2;
            }
        };
        match tokio::task::block_in_place(|| runtime.block_on(super::calls::call_all(&dirs))) {
            Ok(tally) => Some(tally),
            Err(error) => {
                eprintln!("error: {error:#}");
                return 2;
            }
        }
    } else {
        None
    };
    match format {
        CheckFormat::Text => {
            for package in &report.packages {
                println!("{}", package.line());
            }
            println!("{}", report.totals.line());
            if let Some(tally) = &tally {
                println!("{} calls:", tally.calls);
                let mut answers: Vec<_> = tally.by_answer.iter().collect();
                answers.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
                for ((status, kind), count) in answers {
                    println!("  {count:>6}  {status} {kind}");
                    for sample in tally.samples.get(&(*status, kind.clone())).into_iter().flatten() {
                        println!("            e.g. {sample}");
                    }
                }
                for (package, operation) in &tally.internal {
                    println!("  internal: {package} {operation}");
                }
            }
        }
        CheckFormat::Json => {
            let mut json = serde_json::to_value(&report).unwrap_or_default();
            if let Some(tally) = &tally {
                let answers: Vec<_> = tally
                    .by_answer
                    .iter()
                    .map(|((status, kind), count)| {
                        let samples = tally.samples.get(&(*status, kind.clone()));
                        serde_json::json!({"status": status, "type": kind, "calls": count, "examples": samples})
                    })
                    .collect();
                json["calls"] =
                    serde_json::json!({"calls": tally.calls, "answers": answers, "internal": tally.internal});
            }
            println!("{}", serde_json::to_string_pretty(&json).unwrap_or_default());
        }
    }
    let internal = tally.as_ref().is_some_and(|t| !t.internal.is_empty());
    if report.totals.loaded == report.totals.packages && !internal { 0 } else { 1 }
}

/// Prints the redirect audit of a packages directory; exit 2 when it cannot be read.
fn redirect_audit(packages: &Path, format: AuditFormat, cutoff: Option<chrono::NaiveDate>) -> i32 {
    if let Err(error) = std::fs::read_dir(packages) {
        eprintln!("error: cannot read the packages directory {}: {error}", packages.display());
        return 2;
    }
    let (loaded, failed) = sluice_package::load_packages(packages);
    for (dir, error) in &failed {
        eprintln!("warning: {} not audited: {error}", dir.display());
    }
    // Offline, no gateway gives the URIs: the rows name the mode and set.
    let entries = sluice_gateway::audit::audit(&loaded, |_, _| None);
    match format {
        AuditFormat::Json => {
            let json = serde_json::json!({ "cutoff": cutoff.map(|d| d.to_string()), "connectors": entries });
            println!("{}", serde_json::to_string_pretty(&json).unwrap_or_default());
        }
        AuditFormat::Html => print!("{}", sluice_gateway::audit::render_html(&entries, cutoff)),
    }
    0
}
