//! `sluice serve`: the gateway of a settings file, reloading packages as
//! they change and the environments' network settings on `SIGHUP`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use sluice_gateway::config::GatewayConfig;
use sluice_gateway::{Gateway, GatewayOptions};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Logs to stderr, `RUST_LOG` or `info` (guest lines at debug).
pub fn init_tracing() {
    let _ = tracing_subscriber::registry().with(log_filter()).with(log_lines()).try_init();
}

fn log_filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sluice::guest=debug"))
}

fn log_lines<S>() -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    tracing_subscriber::fmt::layer().with_writer(std::io::stderr)
}

/// Logs as [`init_tracing`] does and, when `[telemetry] otlp_endpoint` or
/// `OTEL_EXPORTER_OTLP_ENDPOINT` names a collector, exports the spans there
/// over OTLP/HTTP, as `service.name` with the replica as
/// `service.instance.id`. Returns the provider to flush at the end.
fn init_serve_tracing(
    telemetry: &sluice_gateway::config::TelemetryConfig,
) -> Result<Option<opentelemetry_sdk::trace::SdkTracerProvider>> {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::WithExportConfig as _;
    let endpoint = telemetry.otlp_endpoint.as_ref().map(|url| url.as_str().trim_end_matches('/').to_string());
    let from_env = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").is_ok_and(|v| !v.is_empty())
        || std::env::var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_ok_and(|v| !v.is_empty());
    if endpoint.is_none() && !from_env {
        init_tracing();
        return Ok(None);
    }
    let mut exporter = opentelemetry_otlp::SpanExporter::builder().with_http();
    if let Some(endpoint) = &endpoint {
        exporter = exporter.with_endpoint(format!("{endpoint}/v1/traces"));
    }
    let exporter = exporter.build().context("the OTLP trace exporter")?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(telemetry.service_name.clone())
        .with_attribute(opentelemetry::KeyValue::new("service.instance.id", telemetry.replica_id()))
        .build();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    let spans = tracing_opentelemetry::layer().with_tracer(provider.tracer("sluice"));
    let _ = tracing_subscriber::registry().with(log_filter()).with(log_lines()).with(spans).try_init();
    Ok(Some(provider))
}

/// Serves the settings file at `config_path` until Ctrl-C; with
/// `bootstrap_admin`, first makes that principal an admin and prints a new
/// API key for it.
pub async fn serve(config_path: PathBuf, bootstrap_admin: Option<&str>) -> Result<()> {
    let config = GatewayConfig::load(&config_path)?;
    let traces = init_serve_tracing(&config.telemetry)?;
    let (listen, metrics_listen) = (config.listen, config.metrics_listen);
    let listener = bind(listen, config.requests.max_connections).await?;
    let gateway = start_when_reachable(config, &listener).await?;
    if let Some(principal) = bootstrap_admin {
        let issued = gateway
            .access()
            .bootstrap_admin(principal, principal, "bootstrap")
            .await
            .with_context(|| format!("making `{principal}` an admin"))?;
        println!("admin api key for {principal} (shown once): {}", issued.key);
    }
    reload_environment_on_hangup(gateway.clone(), config_path)?;
    let served = run(gateway, listener, metrics_listen).await;
    if let Some(traces) = traces {
        // The last spans are sent before the process ends.
        let _ = tokio::task::spawn_blocking(move || traces.shutdown()).await;
    }
    served
}

/// Starts the gateway, trying again with backoff while its database cannot
/// be reached (a replica may start before the database does). Meanwhile
/// `listener` answers 503: `/healthz` says the gateway is not ready and
/// why, so that a load balancer sends it nothing yet. Any other failure
/// stops the start.
async fn start_when_reachable(config: GatewayConfig, listener: &tokio::net::TcpListener) -> Result<Gateway> {
    let reason = std::sync::Arc::new(std::sync::Mutex::new(String::from("starting")));
    let (started, stop_waiting) = tokio::sync::oneshot::channel::<()>();
    let waiting = {
        let accepting = tokio::net::TcpListener::from_std(listener_clone(listener)?)?;
        let reason = std::sync::Arc::clone(&reason);
        let not_ready = move || {
            let reason = reason.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
            let body = serde_json::json!({
                "type": "https://sluice.dev/problems/starting",
                "title": "Not ready",
                "status": 503,
                "detail": format!("the gateway is starting: {reason}"),
            });
            let headers = [("content-type", "application/problem+json"), ("retry-after", "1")];
            std::future::ready((http::StatusCode::SERVICE_UNAVAILABLE, headers, body.to_string()))
        };
        let app = axum::Router::new().fallback(not_ready);
        tokio::spawn(async move {
            let stop = async {
                let _ = stop_waiting.await;
            };
            let _ = axum::serve(accepting, app).with_graceful_shutdown(stop).await;
        })
    };
    let mut wait = std::time::Duration::from_secs(1);
    let gateway = loop {
        match Gateway::start(config.clone(), GatewayOptions::default()).await {
            Ok(gateway) => break gateway,
            Err(error) if error.is_unavailable() => {
                let cause = format!("{:#}", anyhow::Error::from(error));
                tracing::warn!(error = %cause, retry_in = ?wait, "the gateway's database cannot be reached; trying again");
                // Anyone may ask /healthz: the database's address and the
                // error stay in the log.
                *reason.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                    "waiting for its database, which cannot be reached (the log says why)".into();
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(30));
            }
            Err(error) => return Err(error.into()),
        }
    };
    let _ = started.send(());
    let _ = waiting.await;
    Ok(gateway)
}

/// A second handle on the same listening socket.
fn listener_clone(listener: &tokio::net::TcpListener) -> Result<std::net::TcpListener> {
    use std::os::fd::AsFd as _;
    let socket = listener.as_fd().try_clone_to_owned().context("sharing the listening socket")?;
    let listener = std::net::TcpListener::from(socket);
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Binds the gateway's address with a listen queue as long as the
/// connections it serves at once (`max_connections`): a burst of clients
/// connecting together waits in the queue, where a short one (tokio's
/// default is 1,024) drops their SYNs and each drop costs a client a
/// retry 1 s, then 3 s, 7 s... later. The kernel caps the queue at
/// `net.core.somaxconn`.
pub async fn bind(listen: SocketAddr, max_connections: usize) -> Result<tokio::net::TcpListener> {
    let context = || format!("listening on {listen}");
    let socket = if listen.is_ipv4() { tokio::net::TcpSocket::new_v4() } else { tokio::net::TcpSocket::new_v6() }
        .with_context(context)?;
    // As tokio's own `bind`: a restarted gateway rebinds at once.
    socket.set_reuseaddr(true).with_context(context)?;
    socket.bind(listen).with_context(context)?;
    let backlog = u32::try_from(max_connections).unwrap_or(u32::MAX).max(1024);
    socket.listen(backlog).with_context(context)
}

/// On SIGHUP, re-reads the settings file and applies each environment's
/// network settings (`[environment]` for the default one, `network` of
/// `[[environments]]`) to every call from then on, without reloading
/// connectors. Environments added or removed need a restart.
fn reload_environment_on_hangup(gateway: Gateway, config_path: PathBuf) -> Result<()> {
    let mut hangups =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).context("listening for SIGHUP")?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let config = match GatewayConfig::load(&config_path) {
                Ok(config) => config,
                Err(error) => {
                    tracing::error!(error = %format!("{error:#}"), "environment settings not changed");
                    continue;
                }
            };
            let networks = std::iter::once((sluice_gateway::access::DEFAULT_ENVIRONMENT, config.environment.clone()))
                .chain(config.environments.iter().map(|e| (e.id.as_str(), e.network.clone())));
            for (id, network) in networks {
                match gateway.environment(id) {
                    Some(environment) if environment.network_from_api() => {
                        tracing::info!(
                            environment = id,
                            "network set through the API; the settings file's is not applied"
                        )
                    }
                    Some(environment) => {
                        if let Err(error) = environment.set_network(network) {
                            tracing::error!(environment = id, %error, "environment settings not changed");
                        }
                    }
                    None => tracing::warn!(environment = id, "a new environment needs a restart"),
                }
            }
        }
    });
    Ok(())
}

/// Serves `gateway` on `listener` (and its metrics alone on
/// `metrics_listen`) until Ctrl-C, reloading packages as they change.
pub async fn run(
    gateway: Gateway,
    listener: tokio::net::TcpListener,
    metrics_listen: Option<SocketAddr>,
) -> Result<()> {
    for environment in gateway.environments() {
        let id = environment.id();
        let (ready, failed) = environment.registry().status();
        tracing::info!(environment = id, ?ready, "connectors loaded");
        for (connector, reason) in failed {
            tracing::error!(environment = id, %connector, %reason, "connector not loaded");
        }
        // Without a watch (out of inotify instances, say) the gateway still
        // serves; it only misses package changes until restarted.
        if let Err(error) = environment.registry().watch() {
            tracing::error!(environment = id, %error, "cannot watch the packages directory; changes to packages need a restart");
        }
    }
    tracing::info!(address = %listener.local_addr()?, "gateway listening");
    if let Some(address) = metrics_listen {
        let metrics = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("listening for metrics on {address}"))?;
        tracing::info!(%address, "metrics listening");
        let gateway = gateway.clone();
        tokio::spawn(async move {
            if let Err(error) = sluice_gateway::server::serve_metrics(metrics, gateway, std::future::pending()).await {
                tracing::error!(%error, "metrics listener stopped");
            }
        });
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    sluice_gateway::server::serve_gateway(listener, gateway, shutdown).await.context("serving")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    /// Clients past tokio's default queue of 1,024, none of them accepted
    /// yet: the kernel finishes a connect as soon as the connection is
    /// queued, and drops the SYN of one that does not fit (its client then
    /// waits a second or more for the retry). 1,500 fits in Linux's default
    /// `somaxconn` (4,096 since 5.4).
    #[tokio::test]
    async fn connections_past_tokios_default_queue_are_queued() -> anyhow::Result<()> {
        let listener = super::bind("127.0.0.1:0".parse()?, 4096).await?;
        let address = listener.local_addr()?;
        let mut streams = Vec::new();
        for queued in 0..1500 {
            let connect = tokio::net::TcpStream::connect(address);
            let stream = tokio::time::timeout(Duration::from_millis(900), connect).await.map_err(|_| {
                anyhow::anyhow!("connection {queued} waited for a SYN retry: the listen queue was full")
            })??;
            streams.push(stream);
        }
        Ok(())
    }
}
