//! `sluice`: the gateway that runs API connectors and their custom code in a
//! WebAssembly sandbox, and the tools around it.
//!
//! - `sluice` (or `sluice demo`): the offline demo, the example connectors
//!   against a sample backend on loopback;
//! - `sluice serve --config sluice.toml`: the gateway;
//! - `sluice egress check ...`: explain egress decisions;
//! - `sluice connectors redirect-audit DIR`: OAuth connectors still on the
//!   global redirect URI;
//! - `sluice connectors create|update|download|list|delete` and `sluice
//!   connections create|list|delete`: a gateway's management API;
//! - `sluice validate`, `sluice run`, `sluice import postman`, `sluice new`:
//!   the connector authors' tools (`sluice-tools`).

mod cli;
mod demo;
mod serve;

use clap::Parser;
use cli::{Cli, Command, EgressCommand};

/// Every call of custom code allocates its store, instance and messages;
/// mimalloc serves these faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
        match cli.command {
            Some(Command::Egress { command: EgressCommand::Check(args) }) => cli::egress::check(args).await,
            Some(Command::Validate(args)) => i32::from(cli::tools::validate_command(args, &mut out, &mut err)),
            Some(Command::Run(args)) => i32::from(cli::tools::run_command(args, &mut out, &mut err).await),
            Some(Command::Import { command }) => i32::from(cli::tools::import_command(command, &mut out, &mut err)),
            Some(Command::New(args)) => i32::from(cli::tools::new_command(args, &mut out, &mut err)),
            Some(Command::Build(args)) => i32::from(cli::tools::build_command(args, &mut out, &mut err)),
            Some(Command::Connectors { command }) => cli::connectors::run(command),
            Some(Command::Connections { command }) => cli::connectors::run_connections(command),
            Some(Command::Serve { config, bootstrap_admin }) => {
                report(serve::serve(config, bootstrap_admin.as_deref()).await)
            }
            Some(Command::Demo { listen }) => report(demo::run(listen).await),
            None => report(demo::run(demo::DEFAULT_LISTEN).await),
        }
    });
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// The exit code of a long-running command: 1 with one `error:` line when
/// it failed.
fn report(result: anyhow::Result<()>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("error: {error:#}");
            1
        }
    }
}
