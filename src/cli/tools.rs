//! The command-line side of the authors' tools (`sluice-tools`): clap
//! arguments and the commands that print results. Every command returns its
//! exit code:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (`validate`: no errors, warnings allowed; `run`: the code answered, every `send` matched, expectations held) |
//! | 1 | the check failed (`validate`: an error finding; `run`: the call failed, an unmatched `send`, an expectation not met; `new`/`import`: writing failed) |
//! | 2 | bad usage or unusable input: a missing or unreadable file or folder, a file in the wrong format, a package that does not load (`run`), a bad name (`new`) |
//!
//! Errors are one line on standard error, starting `error: `.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};

use sluice_tools::fixture::Fixture;
use sluice_tools::{new, postman, run, validate};

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: the check failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: bad usage or unusable input.
pub const EXIT_USAGE: u8 = 2;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// For people.
    #[default]
    Text,
    /// For scripts: one JSON document on standard output.
    Json,
}

/// `sluice validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Package folders to check.
    #[arg(required = true, value_name = "PACKAGE_DIR")]
    pub packages: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Check this component instead of the package's script.wasm (one package only).
    #[arg(long, value_name = "COMPONENT")]
    pub script: Option<PathBuf>,
}

/// `sluice run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The package folder.
    #[arg(value_name = "PACKAGE_DIR")]
    pub package: PathBuf,
    /// The operation to run.
    #[arg(value_name = "OPERATION_ID")]
    pub operation: String,
    /// The fixture: request, canned backend responses, expectations (JSON).
    #[arg(long, short)]
    pub fixture: Option<PathBuf>,
    /// Canned backend responses (JSON list), replacing the fixture's.
    #[arg(long)]
    pub backend: Option<PathBuf>,
    /// Run this component instead of the package's script.wasm.
    #[arg(long, value_name = "COMPONENT")]
    pub script: Option<PathBuf>,
    /// The request's method (default: the operation's).
    #[arg(long)]
    pub method: Option<String>,
    /// The request's path and query, relative to the definition's base URL.
    #[arg(long, conflicts_with = "url")]
    pub path: Option<String>,
    /// The request's absolute URL.
    #[arg(long)]
    pub url: Option<String>,
    /// A request header, `Name: value`; repeatable.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// A JSON request body.
    #[arg(long, conflicts_with_all = ["body", "body_file"])]
    pub json: Option<String>,
    /// A text request body.
    #[arg(long, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// A request body read from a file.
    #[arg(long)]
    pub body_file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `sluice import`.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Convert a Postman collection (v2.0, v2.1) into apiDefinition.swagger.json.
    Postman(PostmanArgs),
}

/// `sluice import postman`.
#[derive(Debug, Args)]
pub struct PostmanArgs {
    /// The exported collection (JSON).
    #[arg(value_name = "COLLECTION")]
    pub collection: PathBuf,
    /// Write a package folder here (apiDefinition.swagger.json, and
    /// apiProperties.json unless it exists) instead of printing the definition.
    #[arg(long, short, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// A Postman environment export whose variables (a host kept there,
    /// say) resolve the collection's, as Newman's `-e` does.
    #[arg(long, short, value_name = "FILE")]
    pub environment: Option<PathBuf>,
    /// A variable's value, over the collection's and the environment's.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
}

/// `NAME=VALUE`, as `--var` and `--parameter` take it.
pub fn parse_var(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(format!("`{text}` is not NAME=VALUE")),
    }
}

/// `sluice new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The connector's name: the package folder and the guest crate.
    #[arg(required_unless_present = "from_csx", conflicts_with = "from_csx")]
    pub name: Option<String>,
    /// Start porting this package's script.csx instead: a guest crate in
    /// its `guest/` folder, one arm per code operation answering 501 until
    /// written, the C# beside them as comments.
    #[arg(long, value_name = "PACKAGE")]
    pub from_csx: Option<PathBuf>,
    /// Where to create it.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// The sluice-guest crate to depend on by path (default: this sluice's
    /// own checkout when it exists, else the published crate).
    #[arg(long, value_name = "PATH")]
    pub sdk_path: Option<PathBuf>,
    /// The guest's language: `rust`, `js` (JavaScript) or `py` (Python).
    #[arg(long, default_value = "rust", value_parser = parse_language, conflicts_with = "from_csx")]
    pub lang: new::Language,
}

fn parse_language(text: &str) -> Result<new::Language, String> {
    new::Language::ALL
        .into_iter()
        .find(|language| language.tag() == text)
        .ok_or_else(|| format!("`{text}` is not a guest language: use rust, js or py"))
}

/// `sluice build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The package folder.
    #[arg(default_value = ".")]
    pub package: PathBuf,
    /// The guest folder (default: the package's `guest/`). Its language is
    /// told by its marker: Cargo.toml (Rust), index.js (JavaScript) or
    /// app.py (Python).
    #[arg(long, value_name = "DIR")]
    pub guest: Option<PathBuf>,
    /// Where to write the component (default: the package's script.wasm).
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Where the JavaScript and Python build tools are installed (default:
    /// `$SLUICE_TOOLS_DIR`, else `~/.cache/sluice/tools`).
    #[arg(long, value_name = "DIR")]
    pub tools: Option<PathBuf>,
}

/// Runs `sluice build`.
pub fn build_command(args: BuildArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    use sluice_guest_build::{BuildError, Tools};
    let guest = args.guest.unwrap_or_else(|| args.package.join("guest"));
    let component = args.out.unwrap_or_else(|| args.package.join(sluice_package::SCRIPT_FILE));
    let tools = args.tools.map(Tools::new).unwrap_or_else(Tools::user_default);
    match sluice_guest_build::build_guest(&guest, &component, &tools) {
        Ok(built) => {
            let _ = writeln!(
                out,
                "built {} ({}, {:.1} MB, {:.1} s)",
                built.component.display(),
                built.language,
                built.bytes as f64 / 1e6,
                built.elapsed.as_secs_f64()
            );
            EXIT_OK
        }
        Err(error @ BuildError::NoGuest(_)) => fail(err, EXIT_USAGE, error),
        Err(error) => fail(err, EXIT_FAILED, error),
    }
}

fn fail(err: &mut dyn Write, code: u8, message: impl std::fmt::Display) -> u8 {
    let _ = writeln!(err, "error: {message}");
    code
}

/// Runs `sluice validate`.
pub fn validate_command(args: ValidateArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    if args.script.is_some() && args.packages.len() > 1 {
        return fail(err, EXIT_USAGE, "--script applies to one package; name only one");
    }
    let options = validate::ValidateOptions { script: args.script };
    let mut validator = validate::Validator::new();
    let mut reports = Vec::new();
    for dir in &args.packages {
        match validator.validate(dir, &options) {
            Ok(report) => reports.push(report),
            Err(error) => return fail(err, EXIT_USAGE, error),
        }
    }
    let written = match args.format {
        Format::Text => validate::write_text(&reports, out),
        Format::Json => serde_json::to_writer_pretty(&mut *out, &reports)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out)),
    };
    if let Err(error) = written {
        return fail(err, EXIT_FAILED, format!("writing the report: {error}"));
    }
    validate::exit_code(&reports)
}

/// Runs `sluice run`.
pub async fn run_command(args: RunArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let mut fixture = match &args.fixture {
        Some(path) => match Fixture::load(path) {
            Ok(fixture) => fixture,
            Err(error) => return fail(err, EXIT_USAGE, error),
        },
        None => Fixture::default(),
    };
    if let Some(path) = &args.backend {
        match Fixture::load_backend(path) {
            Ok(entries) => fixture.backend = entries,
            Err(error) => return fail(err, EXIT_USAGE, error),
        }
    }
    if let Err(message) = apply_flags(&args, &mut fixture) {
        return fail(err, EXIT_USAGE, message);
    }
    // The command line names the operation; a fixture for another one is a mistake.
    let spec = run::RunSpec {
        package: args.package.clone(),
        operation: Some(args.operation.clone()),
        script: args.script.clone(),
        fixture,
    };
    let outcome = match run::run(spec).await {
        Ok(outcome) => outcome,
        Err(error) => return fail(err, EXIT_USAGE, error),
    };
    let written = match args.format {
        Format::Text => run::write_text(&outcome, out),
        Format::Json => serde_json::to_writer_pretty(&mut *out, &run::to_json(&outcome))
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out)),
    };
    if let Err(error) = written {
        return fail(err, EXIT_FAILED, format!("writing the result: {error}"));
    }
    if outcome.passed() {
        EXIT_OK
    } else {
        if let Some(first) = outcome.failures().first() {
            let _ = writeln!(err, "error: {first}");
        }
        EXIT_FAILED
    }
}

/// The request flags, over the fixture's request.
fn apply_flags(args: &RunArgs, fixture: &mut Fixture) -> Result<(), String> {
    let request = &mut fixture.request;
    if let Some(method) = &args.method {
        request.method = Some(method.clone());
    }
    if let Some(path) = &args.path {
        request.path = Some(path.clone());
        request.url = None;
    }
    if let Some(url) = &args.url {
        request.url = Some(url.clone());
    }
    for header in &args.headers {
        let (name, value) = header.split_once(':').ok_or_else(|| format!("header `{header}` is not `Name: value`"))?;
        request.headers.insert(name.trim().to_string(), value.trim().to_string());
    }
    let body_given = args.json.is_some() || args.body.is_some() || args.body_file.is_some();
    if body_given {
        request.json = None;
        request.text = None;
        request.base64 = None;
    }
    if let Some(json) = &args.json {
        request.json = Some(serde_json::from_str(json).map_err(|e| format!("--json is not JSON: {e}"))?);
    }
    if let Some(text) = &args.body {
        request.text = Some(text.clone());
    }
    if let Some(path) = &args.body_file {
        use base64::Engine as _;
        let bytes = std::fs::read(path).map_err(|e| format!("{}: cannot read it: {e}", path.display()))?;
        match String::from_utf8(bytes) {
            Ok(text) => request.text = Some(text),
            Err(e) => request.base64 = Some(base64::engine::general_purpose::STANDARD.encode(e.into_bytes())),
        }
    }
    Ok(())
}

/// The end of an import's output: operations made, requests skipped and
/// why, the hosts, each operation's auth, and the variables nothing defines.
fn write_import_summary(summary: &postman::Summary, err: &mut dyn Write) {
    let _ =
        writeln!(err, "summary: {} operations made, {} requests skipped", summary.operations, summary.skipped.len());
    for (request, why) in &summary.skipped {
        let _ = writeln!(err, "  skipped `{request}`: {why}");
    }
    for (index, (origin, count)) in summary.hosts.iter().enumerate() {
        let role = if index == 0 { "the backend" } else { "sent there by a dynamichosturl policy" };
        let _ = writeln!(err, "  host {origin}: {count} requests, {role}");
    }
    for (operation, auth) in &summary.auth {
        let _ = writeln!(err, "  auth of {operation}: {auth}");
    }
    if !summary.unresolved.is_empty() {
        let names: Vec<String> = summary.unresolved.iter().map(|n| format!("{{{{{n}}}}}")).collect();
        let _ = writeln!(err, "  variables without a value: {}", names.join(", "));
    }
}

/// Runs `sluice import postman`.
pub fn import_command(command: ImportCommand, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let ImportCommand::Postman(args) = command;
    let bytes = match std::fs::read(&args.collection) {
        Ok(bytes) => bytes,
        Err(error) => {
            return fail(err, EXIT_USAGE, format!("{}: cannot read it: {error}", args.collection.display()));
        }
    };
    let mut overrides = Vec::new();
    if let Some(file) = &args.environment {
        let variables = std::fs::read(file)
            .map_err(|error| format!("{}: cannot read it: {error}", file.display()))
            .and_then(|bytes| postman::environment_variables(&bytes).map_err(|e| format!("{}: {e}", file.display())));
        match variables {
            Ok(variables) => overrides.extend(variables),
            Err(message) => return fail(err, EXIT_USAGE, message),
        }
    }
    overrides.extend(args.vars.iter().cloned());
    let imported = match postman::import_with(&bytes, &overrides) {
        Ok(imported) => imported,
        Err(error) => {
            return fail(err, EXIT_USAGE, format!("{}: {error}", args.collection.display()));
        }
    };
    for note in &imported.notes {
        let _ = writeln!(err, "note: {note}");
    }
    write_import_summary(&imported.summary, err);
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
    let Some(dir) = args.out else {
        return match out.write_all(pretty(&imported.definition).as_bytes()) {
            Ok(()) => EXIT_OK,
            Err(error) => fail(err, EXIT_FAILED, format!("writing the definition: {error}")),
        };
    };
    let write = |path: &Path, text: String| {
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(path, text))
            .map_err(|e| format!("{}: cannot write it: {e}", path.display()))
    };
    let definition = dir.join(sluice_package::DEFINITION_FILE);
    if let Err(message) = write(&definition, pretty(&imported.definition)) {
        return fail(err, EXIT_FAILED, message);
    }
    let _ = writeln!(out, "wrote {}", definition.display());
    let properties = dir.join(sluice_package::PROPERTIES_FILE);
    if properties.exists() {
        let _ = writeln!(out, "kept {}", properties.display());
    } else if let Err(message) = write(&properties, pretty(&imported.properties)) {
        return fail(err, EXIT_FAILED, message);
    } else {
        let _ = writeln!(out, "wrote {}", properties.display());
    }
    EXIT_OK
}

/// Runs `sluice new`.
pub fn new_command(args: NewArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let sdk_path = args.sdk_path.or_else(|| Some(new::default_sdk_path()).filter(|p| p.join("Cargo.toml").exists()));
    if let Some(package) = args.from_csx {
        return match new::from_csx(&package, sdk_path.as_deref()) {
            Ok(ported) => {
                let guest = ported.guest.display();
                let _ = writeln!(
                    out,
                    "created {guest}: {} operation(s) to port: {}",
                    ported.operations.len(),
                    ported.operations.join(", ")
                );
                let _ = writeln!(out, "  cd {guest} && cargo build --target wasm32-wasip2 --release && cd -");
                let _ = writeln!(out, "  cp {guest}/{} {}/script.wasm", ported.component.display(), package.display());
                EXIT_OK
            }
            Err(error @ (new::NewError::Exists(_) | new::NewError::NothingToPort(..))) => fail(err, EXIT_USAGE, error),
            Err(error) => fail(err, EXIT_FAILED, error),
        };
    }
    let Some(name) = args.name else { return fail(err, EXIT_USAGE, "name the connector, or give --from-csx") };
    let options = new::NewOptions { name, parent: args.dir, sdk_path, language: args.lang };
    match new::create(&options) {
        Ok(created) => {
            let package = created.package.display();
            let _ = writeln!(out, "created {package} ({})", args.lang);
            let _ = writeln!(out, "  sluice build {package}");
            let _ = writeln!(out, "  sluice validate {package}");
            let _ = writeln!(out, "  sluice run {package} ListItems --fixture {}", created.fixture.display());
            EXIT_OK
        }
        Err(error @ (new::NewError::Name(_) | new::NewError::Exists(_))) => fail(err, EXIT_USAGE, error),
        Err(error) => fail(err, EXIT_FAILED, error),
    }
}
