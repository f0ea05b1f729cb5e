//! A real PostgreSQL server for the tests, with no step before
//! `cargo test`: the first test that asks for a database starts one server
//! for the whole test process, and every test gets a database of its own on
//! it.
//!
//! - **Which server.** `SLUICE_TEST_POSTGRES_URL` (e.g.
//!   `postgres://user@127.0.0.1:5432`) names one that is already running,
//!   where the user may create databases. Otherwise this crate starts its
//!   own from the distribution's binaries (`/usr/lib/postgresql/*/bin`, or
//!   `initdb` on `PATH`), and installs the `postgresql` package with
//!   `apt-get` first when they are missing and the tests run as root. It
//!   never starts the distribution's own cluster.
//! - **How.** A fresh data directory under the temporary directory, owned
//!   by an unprivileged user when the tests run as root (PostgreSQL refuses
//!   to run as root); the server listens on `127.0.0.1` only, on a port
//!   the system chose free a moment before, with durability off (these
//!   databases live for one test run).
//! - **Stopping.** The server runs under a small shell that holds a pipe
//!   from the test process. When the test process ends, however it ends,
//!   the pipe closes, and the shell stops the server and removes its data
//!   directory.
//!
//! Nothing is skipped: when no server can be had, [`database`] panics with
//! the reason, and the test fails.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The user the tests' server runs as, and connects as.
const USER: &str = "sluice";

/// A server the tests create databases on.
#[derive(Debug)]
struct Server {
    /// `postgres://user@host:port`, without a database.
    base: String,
    /// Where `createdb` and `dropdb` are, for a server of our own.
    bin: Option<PathBuf>,
    /// The pipe whose end stops our server, kept open for the process.
    _stop: Option<Mutex<ChildStdin>>,
    _watchdog: Option<Mutex<Child>>,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();

/// A new, empty database for one test, as a `postgres://` URL. Panics with
/// the reason when no PostgreSQL server can be had.
pub fn database() -> String {
    let server = match SERVER.get_or_init(start) {
        Ok(server) => server,
        Err(reason) => panic!("PostgreSQL for the tests: {reason}"),
    };
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!("sluice_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let created = match &server.bin {
        Some(bin) => run(Command::new(bin.join("createdb")).args([
            "--maintenance-db",
            &format!("{}/postgres", server.base),
            &name,
        ])),
        None => run(Command::new("createdb").args(["--maintenance-db", &format!("{}/postgres", server.base), &name])),
    };
    if let Err(reason) = created {
        panic!("PostgreSQL for the tests: cannot create database {name}: {reason}");
    }
    format!("{}/{name}", server.base)
}

fn start() -> Result<Server, String> {
    if let Ok(url) = std::env::var("SLUICE_TEST_POSTGRES_URL") {
        return Ok(Server { base: url.trim_end_matches('/').to_string(), bin: None, _stop: None, _watchdog: None });
    }
    let bin = match binaries() {
        Some(bin) => bin,
        None => {
            install()?;
            binaries().ok_or("the postgresql package is installed, but no initdb was found")?
        }
    };
    let mut last = String::new();
    // The port is free when chosen, but another process may take it before
    // the server binds it: try a few.
    for _ in 0..3 {
        match start_on(&bin, free_port()?) {
            Ok(server) => return Ok(server),
            Err(reason) => last = reason,
        }
    }
    Err(last)
}

/// The directory of `initdb`, `postgres` and friends.
fn binaries() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| Some((entry.file_name().to_str()?.parse().ok()?, entry.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH")?.to_str()?.split(':').map(PathBuf::from).find(|dir| dir.join("initdb").exists())
}

/// Installs the distribution's PostgreSQL, without the cluster its package
/// would create and start.
fn install() -> Result<(), String> {
    if !is_root() {
        return Err("PostgreSQL is not installed, and the tests do not run as root to install it: \
                    install the `postgresql` package, or set SLUICE_TEST_POSTGRES_URL"
            .into());
    }
    // Test binaries run one after another, but a developer may run two.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(std::env::temp_dir().join("sluice-test-postgres-install.lock"))
        .map_err(|e| format!("cannot take the install lock: {e}"))?;
    lock.lock().map_err(|e| format!("cannot take the install lock: {e}"))?;
    if binaries().is_some() {
        return Ok(());
    }
    let config = Path::new("/etc/postgresql-common/createcluster.d");
    std::fs::create_dir_all(config).map_err(|e| format!("cannot write {}: {e}", config.display()))?;
    std::fs::write(config.join("sluice-tests.conf"), "create_main_cluster = false\n")
        .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
    let install = || {
        run(Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", "postgresql"])
            .env("DEBIAN_FRONTEND", "noninteractive"))
    };
    if install().is_err() {
        run(Command::new("apt-get").arg("update").env("DEBIAN_FRONTEND", "noninteractive"))
            .map_err(|e| format!("apt-get update: {e}"))?;
        install().map_err(|e| format!("apt-get install postgresql: {e}"))?;
    }
    Ok(())
}

fn start_on(bin: &Path, port: u16) -> Result<Server, String> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!("sluice-test-postgres-{}-{nanos}", std::process::id()));
    let data = dir.join("data");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    // PostgreSQL refuses to run as root: as root, the server runs as the
    // distribution's `postgres` user, else as `nobody`.
    let runner: Vec<String> = if is_root() {
        let user = if run(Command::new("id").args(["-u", "postgres"])).is_ok() { "postgres" } else { "nobody" };
        run(Command::new("chown").args([user, &dir.display().to_string()]))?;
        vec!["runuser".into(), "-u".into(), user.into(), "--".into()]
    } else {
        Vec::new()
    };
    let as_runner = |program: &Path| {
        let mut command = Command::new(runner.first().map_or(program.as_os_str(), |r| r.as_ref()));
        if !runner.is_empty() {
            command.args(&runner[1..]).arg(program);
        }
        command
    };
    run(as_runner(&bin.join("initdb")).args([
        "-D",
        &data.display().to_string(),
        "-U",
        USER,
        "--auth=trust",
        "-E",
        "UTF8",
        "--no-sync",
    ]))
    .map_err(|e| format!("initdb: {e}"))?;
    // The shell starts the server, then waits for its stdin to close (the
    // test process ended) to stop it and remove the data.
    let script = r#"
        "$1" -D "$2" -h 127.0.0.1 -p "$3" -k "$4" -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
            -c max_connections=300 > "$4/server.log" 2>&1 &
        server=$!
        read -r _
        kill -INT "$server"
        wait "$server"
        rm -rf "$4"
    "#;
    let mut watchdog = as_runner(Path::new("sh"))
        .args(["-c", script, "sh"])
        .arg(bin.join("postgres"))
        .arg(&data)
        .arg(port.to_string())
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the server: {e}"))?;
    let stop = watchdog.stdin.take().ok_or("the server's watchdog has no stdin")?;
    let base = format!("postgres://{USER}@127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready =
            run(Command::new(bin.join("pg_isready")).args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", USER]));
        if ready.is_ok() {
            break;
        }
        let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        if matches!(watchdog.try_wait(), Ok(Some(_))) || log.contains("FATAL") || Instant::now() > deadline {
            let mut stop = stop;
            let _ = stop.write_all(b"\n");
            let _ = watchdog.wait();
            return Err(format!("the server did not start on 127.0.0.1:{port}: {}", log.trim()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Server {
        base,
        bin: Some(bin.to_path_buf()),
        _stop: Some(Mutex::new(stop)),
        _watchdog: Some(Mutex::new(watchdog)),
    })
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| format!("no free port: {e}"))
}

fn is_root() -> bool {
    run(Command::new("id").arg("-u")).is_ok_and(|out| out.trim() == "0")
}

/// Runs a command to its end: its stdout, or why it failed.
fn run(command: &mut Command) -> Result<String, String> {
    let output = command.stdin(Stdio::null()).output().map_err(|e| format!("{:?}: {e}", command.get_program()))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "{:?} failed ({}): {}",
            command.get_program(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}
