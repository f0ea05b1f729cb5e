//! `sluice connectors ...`: reports over packages: the redirect audit, and
//! the migration report (`check`).

use std::path::{Path, PathBuf};

use clap::Subcommand;

/// `sluice connectors`.
#[derive(Debug, Subcommand)]
pub enum ConnectorsCommand {
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
        ConnectorsCommand::Check { paths, format } => check(&paths, format),
    }
}

/// Prints the migration report; exit 1 when a package does not load, 2
/// when a path cannot be read or holds no package.
fn check(paths: &[PathBuf], format: CheckFormat) -> i32 {
    if let Some(path) = paths.iter().find(|p| !p.is_dir()) {
        eprintln!("error: {} is not a folder", path.display());
        return 2;
    }
    let report = sluice_tools::check::check(paths);
    if report.packages.is_empty() {
        eprintln!("error: no package (a folder with {}) under the paths given", sluice_package::DEFINITION_FILE);
        return 2;
    }
    match format {
        CheckFormat::Text => {
            for package in &report.packages {
                println!("{}", package.line());
            }
            println!("{}", report.totals.line());
        }
        CheckFormat::Json => println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default()),
    }
    if report.totals.loaded == report.totals.packages { 0 } else { 1 }
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
    let entries = sluice_gateway::audit::audit(&loaded);
    match format {
        AuditFormat::Json => {
            let json = serde_json::json!({ "cutoff": cutoff.map(|d| d.to_string()), "connectors": entries });
            println!("{}", serde_json::to_string_pretty(&json).unwrap_or_default());
        }
        AuditFormat::Html => print!("{}", sluice_gateway::audit::render_html(&entries, cutoff)),
    }
    0
}
