//! The command line: every subcommand's arguments, and what runs it.

pub mod calls;
pub mod connectors;
pub mod egress;
pub mod remote;
pub mod tools;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// `sluice`.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, about = "Run API connectors and their custom code in a WebAssembly sandbox")]
pub struct Cli {
    /// What to do; default: the offline demo.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the example connectors against a sample backend, offline (the default).
    Demo {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
    },
    /// Serve the connectors of a settings file.
    Serve {
        /// The gateway's settings file (TOML).
        #[arg(long, short, env = "SLUICE_CONFIG")]
        config: PathBuf,
        /// Make this principal an admin of the environment and print a new
        /// API key for it once, before serving: the first admin's key.
        #[arg(long, value_name = "PRINCIPAL")]
        bootstrap_admin: Option<String>,
    },
    /// Egress policy tools.
    Egress {
        /// The egress command.
        #[command(subcommand)]
        command: EgressCommand,
    },
    /// Check connector packages the way certification would (exit 0: clean or
    /// warnings only, 1: errors, 2: unreadable input).
    Validate(tools::ValidateArgs),
    /// Run one operation's custom code offline, against a fixture of canned
    /// backend responses (exit 0: passed, 1: failed, 2: bad input).
    Run(tools::RunArgs),
    /// Import an API description from another tool.
    Import {
        /// The format to import.
        #[command(subcommand)]
        command: tools::ImportCommand,
    },
    /// Connector reports, and a gateway's connectors through its management API.
    Connectors {
        /// The command.
        #[command(subcommand)]
        command: connectors::ConnectorsCommand,
    },
    /// A gateway's connections through its management API.
    Connections {
        /// The command.
        #[command(subcommand)]
        command: connectors::ConnectionsCommand,
    },
    /// Create a connector: a package folder and a guest (Rust, JavaScript or
    /// Python) that builds, validates and runs as is.
    New(tools::NewArgs),
    /// Build a package's code into its script.wasm, whatever the guest's
    /// language (Rust, JavaScript, Python), installing the pinned
    /// JavaScript and Python tools on first use (exit 0: built, 1: the build
    /// failed, 2: bad input).
    Build(tools::BuildArgs),
}

/// `sluice egress`.
#[derive(Debug, Subcommand)]
pub enum EgressCommand {
    /// Explain whether URLs may be called: one `allow` or `deny` line each.
    Check(egress::CheckArgs),
}
