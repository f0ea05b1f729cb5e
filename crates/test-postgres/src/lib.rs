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
//! - **Stopping.** A small shell holds a pipe from the test process. When
//!   the test process ends, however it ends, the pipe closes, and the shell
//!   stops the server and removes its data directory.
//! - **Faults.** A test that stops the database under load starts a
//!   [`Cluster`] of its own, which it can [`stop`](Cluster::stop) and
//!   [`start`](Cluster::start) again on the same port.
//!
//! Nothing is skipped: when no server can be had, [`database`] panics with
//! the reason, and the test fails.

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use sluice_test_system::{free_port, is_root, run};

/// The user the tests' servers run as, and connect as.
const USER: &str = "sluice";

/// A new, empty database for one test on the process's shared server, as
/// a `postgres://` URL. Panics with the reason when no PostgreSQL server
/// can be had.
pub fn database() -> String {
    static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();
    let shared = SHARED.get_or_init(|| match std::env::var("SLUICE_TEST_POSTGRES_URL") {
        Ok(url) => Ok(Shared::External(url.trim_end_matches('/').to_string())),
        Err(_) => Cluster::new().map(Shared::Own),
    });
    match shared {
        Ok(Shared::Own(cluster)) => cluster.create_database(),
        Ok(Shared::External(base)) => create_database(Path::new(""), base),
        Err(reason) => panic!("PostgreSQL for the tests: {reason}"),
    }
}

#[derive(Debug)]
enum Shared {
    Own(Cluster),
    External(String),
}

/// A PostgreSQL server of the test's own, on `127.0.0.1`, stopped and its
/// data removed when the test process ends.
#[derive(Debug)]
pub struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    /// The command prefix that runs a program as the server's user.
    runner: Vec<String>,
    /// The pipe whose end stops the server, kept open while the process runs.
    _stop: Mutex<ChildStdin>,
    _watchdog: Mutex<Child>,
}

impl Cluster {
    /// Installs PostgreSQL if it must, makes a fresh cluster and starts it.
    pub fn new() -> Result<Self, String> {
        Self::make(false)
    }

    /// [`Cluster::new`], serving TLS as well, with a self-signed
    /// certificate for `127.0.0.1` made now (`openssl`): the certificate
    /// is [`Cluster::certificate`].
    pub fn with_tls() -> Result<Self, String> {
        Self::make(true)
    }

    /// The server's certificate (PEM), when it serves TLS.
    pub fn certificate(&self) -> PathBuf {
        self.data.join("server.crt")
    }

    fn make(tls: bool) -> Result<Self, String> {
        let bin = match binaries() {
            Some(bin) => bin,
            None => {
                install()?;
                binaries().ok_or("the postgresql package is installed, but no initdb was found")?
            }
        };
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sluice-test-postgres-{}-{nanos}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
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
        let data = dir.join("data");
        let initdb = bin.join("initdb");
        let data_arg = data.display().to_string();
        run(&mut as_user(&runner, &initdb, &["-D", &data_arg, "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync"]))
            .map_err(|e| format!("initdb: {e}"))?;
        // The shell waits for its stdin to close (the test process ended),
        // then stops the server and removes the data.
        let script = r#"read -r _; "$1" -D "$2" -m immediate stop > /dev/null 2>&1; rm -rf "$3""#;
        let pg_ctl = bin.join("pg_ctl").display().to_string();
        let dir_arg = dir.display().to_string();
        let (watchdog, stop) = sluice_test_system::watchdog(&mut as_user(
            &runner,
            Path::new("sh"),
            &["-c", script, "sh", &pg_ctl, &data_arg, &dir_arg],
        ))
        .map_err(|e| format!("the server's watchdog: {e}"))?;
        let mut cluster = Self { bin, data, port: 0, runner, _stop: Mutex::new(stop), _watchdog: Mutex::new(watchdog) };
        let mut tls_settings = String::new();
        if tls {
            let (certificate, key) = (cluster.certificate().display().to_string(), cluster.data.join("server.key"));
            let key_arg = key.display().to_string();
            run(&mut as_user(
                &cluster.runner,
                Path::new("openssl"),
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=127.0.0.1",
                    "-addext",
                    "subjectAltName=IP:127.0.0.1",
                    "-addext",
                    "basicConstraints=critical,CA:FALSE",
                    "-keyout",
                    &key_arg,
                    "-out",
                    &certificate,
                ],
            ))
            .map_err(|e| format!("cannot make the server's certificate: {e}"))?;
            tls_settings = format!("ssl = on\nssl_cert_file = '{certificate}'\nssl_key_file = '{key_arg}'\n");
        }
        // The port is free when chosen, but another process may take it
        // before the server binds it: try a few.
        let mut last = String::new();
        for _ in 0..3 {
            cluster.port = free_port()?;
            let settings = format!(
                "listen_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\n\
                 fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 300\n{tls_settings}",
                cluster.port, dir_arg
            );
            std::fs::write(cluster.data.join("postgresql.auto.conf"), settings)
                .map_err(|e| format!("cannot write the server's settings: {e}"))?;
            match cluster.start() {
                Ok(()) => return Ok(cluster),
                Err(reason) => last = reason,
            }
        }
        Err(last)
    }

    /// Starts the server (again), on its port; returns once it accepts connections.
    pub fn start(&self) -> Result<(), String> {
        let log = self.data.join("server.log").display().to_string();
        let data = self.data.display().to_string();
        run(&mut as_user(&self.runner, &self.bin.join("pg_ctl"), &["-D", &data, "-l", &log, "-w", "-t", "60", "start"]))
            .map(drop)
            .map_err(|e| format!("the server did not start on 127.0.0.1:{}: {e}", self.port))
    }

    /// Stops the server, closing every connection to it.
    pub fn stop(&self) -> Result<(), String> {
        let data = self.data.display().to_string();
        run(&mut as_user(&self.runner, &self.bin.join("pg_ctl"), &["-D", &data, "-m", "fast", "-w", "stop"]))
            .map(drop)
            .map_err(|e| format!("the server did not stop: {e}"))
    }

    /// `postgres://user@127.0.0.1:port`, without a database.
    pub fn base_url(&self) -> String {
        format!("postgres://{USER}@127.0.0.1:{}", self.port)
    }

    /// A new, empty database on this server, as a `postgres://` URL.
    /// Panics when it cannot be made.
    pub fn create_database(&self) -> String {
        create_database(&self.bin, &self.base_url())
    }
}

/// Creates a database on the server at `base` with `createdb` (from `bin`,
/// or `PATH` when empty); panics when it cannot.
fn create_database(bin: &Path, base: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!("sluice_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let created =
        run(Command::new(bin.join("createdb")).args(["--maintenance-db", &format!("{base}/postgres"), &name]));
    if let Err(reason) = created {
        panic!("PostgreSQL for the tests: cannot create database {name}: {reason}");
    }
    format!("{base}/{name}")
}

/// `program` with `args`, run as the server's user.
fn as_user(runner: &[String], program: &Path, args: &[&str]) -> Command {
    let mut command = match runner.split_first() {
        Some((first, rest)) => {
            let mut command = Command::new(first);
            command.args(rest).arg(program);
            command
        }
        None => Command::new(program),
    };
    command.args(args);
    command
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
    let prepare = || {
        let config = Path::new("/etc/postgresql-common/createcluster.d");
        std::fs::create_dir_all(config).map_err(|e| format!("cannot write {}: {e}", config.display()))?;
        std::fs::write(config.join("sluice-tests.conf"), "create_main_cluster = false\n")
            .map_err(|e| format!("cannot write {}: {e}", config.display()))
    };
    sluice_test_system::apt_install(
        "PostgreSQL (or set SLUICE_TEST_POSTGRES_URL)",
        &["postgresql"],
        || binaries().is_some(),
        prepare,
    )
}
