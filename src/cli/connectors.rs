//! `sluice connectors ...`: reports over a packages directory.

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
    }
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
