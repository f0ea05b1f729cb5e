//! `sluice`: the gateway that runs API connectors and their custom code in a
//! WebAssembly sandbox, and the tools around it.
//!
//! - `sluice` (or `sluice demo`): the offline demo, the example connectors
//!   against a sample backend on loopback;
//! - `sluice serve --config sluice.toml`: the gateway;
//! - `sluice egress check ...`: explain egress decisions;
//! - `sluice connectors redirect-audit DIR`: OAuth connectors still on the
//!   global redirect URI;
//! - `sluice validate`, `sluice run`, `sluice import postman`, `sluice new`:
//!   the connector authors' tools (`sluice::tools`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};
use sluice::config::{ConnectionConfig, GatewayConfig, ValueSource};
use sluice::gateway::{Gateway, GatewayOptions};

/// Every call of custom code allocates its store, instance and messages;
/// mimalloc serves these faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "sluice", version, about = "Run API connectors and their custom code in a WebAssembly sandbox")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
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
    },
    /// Egress policy tools.
    Egress {
        #[command(subcommand)]
        command: EgressCommand,
    },
    /// Check connector packages the way certification would (exit 0: clean or
    /// warnings only, 1: errors, 2: unreadable input).
    Validate(sluice::tools::cli::ValidateArgs),
    /// Run one operation's custom code offline, against a fixture of canned
    /// backend responses (exit 0: passed, 1: failed, 2: bad input).
    Run(sluice::tools::cli::RunArgs),
    /// Import an API description from another tool.
    Import {
        #[command(subcommand)]
        command: sluice::tools::cli::ImportCommand,
    },
    /// Connector reports.
    Connectors {
        #[command(subcommand)]
        command: ConnectorsCommand,
    },
    /// Create a connector: a package folder and a guest crate that builds,
    /// validates and runs as is.
    New(sluice::tools::cli::NewArgs),
}

#[derive(Debug, Subcommand)]
enum ConnectorsCommand {
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

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum AuditFormat {
    Json,
    Html,
}

#[derive(Debug, Subcommand)]
enum EgressCommand {
    /// Explain whether URLs may be called: one `allow` or `deny` line each.
    Check(sluice_egress::CheckArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    let code = runtime.block_on(async {
        match cli.command {
            Some(Command::Egress { command: EgressCommand::Check(args) }) => {
                let mut out = std::io::stdout();
                let mut err = std::io::stderr();
                sluice_egress::check_command(args, &mut out, &mut err).await
            }
            Some(Command::Validate(args)) => {
                i32::from(sluice::tools::cli::validate_command(args, &mut std::io::stdout(), &mut std::io::stderr()))
            }
            Some(Command::Run(args)) => {
                i32::from(sluice::tools::cli::run_command(args, &mut std::io::stdout(), &mut std::io::stderr()).await)
            }
            Some(Command::Import { command }) => {
                i32::from(sluice::tools::cli::import_command(command, &mut std::io::stdout(), &mut std::io::stderr()))
            }
            Some(Command::New(args)) => {
                i32::from(sluice::tools::cli::new_command(args, &mut std::io::stdout(), &mut std::io::stderr()))
            }
            Some(Command::Connectors { command: ConnectorsCommand::RedirectAudit { packages, format, cutoff } }) => {
                redirect_audit(&packages, format, cutoff)
            }
            Some(Command::Serve { config }) => report(serve(config).await),
            Some(Command::Demo { listen }) => report(demo(listen).await),
            None => report(demo("127.0.0.1:8080".parse().expect("a valid address")).await),
        }
    });
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Prints the redirect audit of a packages directory; exit 2 when it cannot be read.
fn redirect_audit(packages: &std::path::Path, format: AuditFormat, cutoff: Option<chrono::NaiveDate>) -> i32 {
    if let Err(error) = std::fs::read_dir(packages) {
        eprintln!("error: cannot read the packages directory {}: {error}", packages.display());
        return 2;
    }
    let (loaded, failed) = sluice::package::load_packages(packages);
    for (dir, error) in &failed {
        eprintln!("warning: {} not audited: {error}", dir.display());
    }
    let entries = sluice::oauth::audit::audit(&loaded);
    match format {
        AuditFormat::Json => {
            let json = serde_json::json!({ "cutoff": cutoff.map(|d| d.to_string()), "connectors": entries });
            println!("{}", serde_json::to_string_pretty(&json).unwrap_or_default());
        }
        AuditFormat::Html => print!("{}", sluice::oauth::audit::render_html(&entries, cutoff)),
    }
    0
}

fn report(result: Result<()>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("error: {error:#}");
            1
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sluice::guest=debug"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}

async fn serve(config_path: PathBuf) -> Result<()> {
    init_tracing();
    let config = GatewayConfig::load(&config_path)?;
    let listen = config.listen;
    let gateway = Gateway::start(config, GatewayOptions::default()).await?;
    reload_environment_on_hangup(Arc::clone(&gateway), config_path)?;
    run_server(gateway, listen).await
}

/// On SIGHUP, re-reads the settings file and applies its `[environment]`
/// to every call from then on, without reloading connectors.
fn reload_environment_on_hangup(gateway: Arc<Gateway>, config_path: PathBuf) -> Result<()> {
    let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("listening for SIGHUP")?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let applied = GatewayConfig::load(&config_path)
                .map_err(anyhow::Error::from)
                .and_then(|config| gateway.set_environment(&config.environment).map_err(anyhow::Error::from));
            if let Err(error) = applied {
                tracing::error!(error = %format!("{error:#}"), "environment settings not changed");
            }
        }
    });
    Ok(())
}

async fn run_server(gateway: Arc<Gateway>, listen: std::net::SocketAddr) -> Result<()> {
    let (ready, failed) = gateway.status();
    tracing::info!(?ready, "connectors loaded");
    for (connector, reason) in failed {
        tracing::error!(%connector, %reason, "connector not loaded");
    }
    gateway.watch().context("watching the packages directory")?;
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    tracing::info!(address = %listener.local_addr()?, "gateway listening");
    axum::serve(listener, sluice::server::router(gateway))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")
}

async fn demo(listen: std::net::SocketAddr) -> Result<()> {
    init_tracing();
    let backend = sluice::demo::start_backend().await?;
    let dir = std::env::temp_dir().join(format!("sluice-demo-{}", std::process::id()));
    sluice::demo::write_packages(&dir, backend)?;
    let config = GatewayConfig {
        listen,
        packages: dir.clone(),
        environment: Default::default(),
        requests: Default::default(),
        // Compiled code is cached across runs, so a restarted demo is ready at once.
        runtime: sluice::config::RuntimeSettings {
            cache_dir: Some(std::env::temp_dir().join("sluice-demo-compiled")),
            ..Default::default()
        },
        connections: vec![ConnectionConfig {
            id: "demo".into(),
            connector: "items-transform".into(),
            parameters: [("api_key".to_string(), ValueSource::Literal(sluice::demo::DEMO_API_KEY.into()))].into_iter().collect(),
        }],
        public_url: None,
        oauth: Default::default(),
    };
    // The sample backend listens on loopback, which egress never allows from
    // configuration; the demo grants it in code.
    let gateway = Gateway::start(config, GatewayOptions { grant_loopback: true }).await?;
    println!("sluice demo: packages in {}, sample backend on {backend}", dir.display());
    println!("  with custom code:    curl -s http://{listen}/apim/items-transform/demo/items");
    println!("  without custom code: curl -s http://{listen}/apim/items-transform/demo/items/3");
    println!("  metrics:             curl -s http://{listen}/metrics");
    run_server(gateway, listen).await
}
