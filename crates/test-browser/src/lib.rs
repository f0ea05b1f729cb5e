//! Dev-only: a real, headless Chromium for the console's end-to-end tests,
//! driven through WebDriver (Debian's `chromedriver`, with `fantoccini`).
//!
//! - **Where from.** Debian's `chromium` and `chromium-driver` packages,
//!   installed with `apt-get` first when they are missing and the tests run
//!   as root.
//! - **How.** `chromedriver` listens on a free port of 127.0.0.1, and each
//!   [`Browser`] is a fresh Chromium with a profile of its own in the
//!   temporary directory, removed when it closes.
//! - **Offline.** Chromium resolves no name but `localhost` (its resolver
//!   rules map every name but `localhost` and `127.0.0.1` to nothing), and its background services
//!   (updates, safe browsing, sync, metrics) are off: a test can reach the
//!   gateway it started on loopback and nothing else.
//! - **Gone afterwards.** The driver runs in a process group of its own,
//!   which its Chromium processes join. The group is killed when the
//!   [`Browser`] drops (a test that panics included), and, should the test
//!   process end without dropping it, by a small shell holding a pipe from
//!   the test process, which kills the group and removes the profile when
//!   the pipe closes.

#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

pub use fantoccini::{Client, Locator};
use sluice_test_system::{apt_install, free_port, is_root};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A headless Chromium and the driver it runs under.
#[derive(Debug)]
pub struct Browser {
    client: Client,
    driver: tokio::process::Child,
    /// The driver's process group, which its Chromium processes are in.
    group: u32,
    /// The watchdog and its end of the pipe: closing it kills the group.
    _watchdog: Option<(std::process::Child, std::process::ChildStdin)>,
    profile: PathBuf,
}

impl Browser {
    /// Starts a fresh Chromium, installing it first when it is missing.
    pub async fn start() -> Result<Self, String> {
        if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
            tokio::task::spawn_blocking(install).await.map_err(|e| format!("install: {e}"))??;
        }
        let port = free_port()?;
        let mut driver = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {CHROMEDRIVER}: {e}"))?;
        let group = driver.id().ok_or_else(|| format!("{CHROMEDRIVER} exited at start"))?;
        let profile = std::env::temp_dir().join(format!("sluice-chromium-{}-{port}", std::process::id()));
        let watchdog = watchdog(group, &profile);
        let capabilities = capabilities(&profile);
        let address = format!("http://127.0.0.1:{port}");
        let mut last = String::new();
        for _ in 0..100 {
            if let Ok(Some(status)) = driver.try_wait() {
                return Err(format!("{CHROMEDRIVER} exited at start: {status}"));
            }
            match fantoccini::ClientBuilder::new(hyper_connector())
                .capabilities(capabilities.clone())
                .connect(&address)
                .await
            {
                Ok(client) => return Ok(Self { client, driver, group, _watchdog: watchdog, profile }),
                Err(error) => last = error.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        kill_group(group);
        let _ = driver.kill().await;
        Err(format!("chromedriver on {address} did not start Chromium: {last}"))
    }

    /// The WebDriver session.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Saves a PNG of the page as it is now to `dir/name.png`.
    pub async fn screenshot(&self, dir: &Path, name: &str) -> Result<PathBuf, String> {
        let png = self.client.screenshot().await.map_err(|e| format!("screenshot: {e}"))?;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }

    /// Ends the session, closing Chromium, and stops the driver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        kill_group(self.group);
        let _ = self.driver.kill().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(self.group);
        let _ = self.driver.start_kill();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Kills every process of `group`: the driver and its Chromium.
fn kill_group(group: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{group}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A shell that, when the test process ends, kills `group` and removes
/// `profile`; `None` when it cannot start (the drop still kills the group).
fn watchdog(group: u32, profile: &Path) -> Option<(std::process::Child, std::process::ChildStdin)> {
    let script = r#"read -r _; kill -KILL "-$1" 2> /dev/null; rm -rf "$2""#;
    let (group, profile) = (group.to_string(), profile.display().to_string());
    sluice_test_system::watchdog(std::process::Command::new("sh").args(["-c", script, "sh", &group, &profile])).ok()
}

/// A plain-HTTP connector: chromedriver listens on loopback.
fn hyper_connector() -> hyper_util::client::legacy::connect::HttpConnector {
    hyper_util::client::legacy::connect::HttpConnector::new()
}

fn capabilities(profile: &Path) -> serde_json::Map<String, serde_json::Value> {
    let mut args = vec![
        "--headless=new".to_string(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--no-first-run".into(),
        "--no-default-browser-check".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-default-apps".into(),
        "--disable-extensions".into(),
        "--metrics-recording-only".into(),
        "--safebrowsing-disable-auto-update".into(),
        "--window-size=1280,1800".into(),
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1".into(),
        format!("--user-data-dir={}", profile.display()),
    ];
    if is_root() {
        // Chromium's sandbox needs user namespaces it is not given as root
        // in a container; the page it runs is the test's own.
        args.push("--no-sandbox".into());
    }
    let options = serde_json::json!({ "binary": CHROMIUM, "args": args });
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), "chrome".into());
    capabilities.insert("goog:chromeOptions".into(), options);
    capabilities.insert("acceptInsecureCerts".into(), false.into());
    capabilities
}

/// Installs Debian's Chromium and its WebDriver.
fn install() -> Result<(), String> {
    let present = || Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    apt_install("Chromium", &["chromium", "chromium-driver"], present, || Ok(()))
}
