//! Dev-only: what the tests' real services (`sluice-test-postgres`,
//! `sluice-test-browser`) need of the machine.
//!
//! - [`apt_install`]: Debian packages, installed on first use when the
//!   tests run as root (once at a time, across test processes), with
//!   `apt-get update` only when the first attempt fails;
//! - [`free_port`]: a loopback port the system chose free;
//! - [`run`]: a command run to its end, its stdout or why it failed;
//! - [`watchdog`]: a shell that cleans up when the test process ends,
//!   however it ends.

#![deny(missing_docs)]

use std::process::{Child, ChildStdin, Command, Stdio};

/// Installs Debian `packages` unless `present()` already holds, as root;
/// `prepare` runs first (under the install lock) to set what the packages'
/// scripts read. `what` names the software in the error for a non-root run.
pub fn apt_install(
    what: &str,
    packages: &[&str],
    present: impl Fn() -> bool,
    prepare: impl FnOnce() -> Result<(), String>,
) -> Result<(), String> {
    if !is_root() {
        return Err(format!(
            "{what} is not installed, and the tests do not run as root to install it: install {}",
            packages.join(" ")
        ));
    }
    // Test binaries run one after another, but a developer may run two.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(std::env::temp_dir().join("sluice-test-apt.lock"))
        .map_err(|e| format!("cannot take the install lock: {e}"))?;
    lock.lock().map_err(|e| format!("cannot take the install lock: {e}"))?;
    if present() {
        return Ok(());
    }
    prepare()?;
    let install = || {
        run(Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"))
    };
    if install().is_err() {
        run(Command::new("apt-get").arg("update").env("DEBIAN_FRONTEND", "noninteractive"))
            .map_err(|e| format!("apt-get update: {e}"))?;
        install().map_err(|e| format!("apt-get install {}: {e}", packages.join(" ")))?;
    }
    Ok(())
}

/// A port of 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| format!("no free port: {e}"))
}

/// Whether the tests run as root.
pub fn is_root() -> bool {
    run(Command::new("id").arg("-u")).is_ok_and(|out| out.trim() == "0")
}

/// Runs a command to its end: its stdout, or why it failed.
pub fn run(command: &mut Command) -> Result<String, String> {
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

/// Starts `shell` (a `sh -c` whose script first waits for its stdin to
/// close, with `read -r _`, then cleans up) with the test process holding
/// its stdin. When the test process ends, however it ends, the pipe closes
/// and the script goes on. Keep both halves for as long as what it guards
/// lives; dropping the stdin runs the clean-up at once.
pub fn watchdog(shell: &mut Command) -> Result<(Child, ChildStdin), String> {
    let mut child = shell
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the watchdog: {e}"))?;
    let stdin = child.stdin.take().ok_or("the watchdog has no stdin")?;
    Ok((child, stdin))
}
