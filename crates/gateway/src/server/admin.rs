//! The operator's endpoints: metrics, for the gateway's admins (also on
//! their own address, to anyone who reaches it), and each environment's
//! redirect audit, for its admins.

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::InEnvironment;
use crate::access::{Caller, DEFAULT_ENVIRONMENT, Denied};
use crate::audit::{self, AuditEntry};
use crate::environment::Environment;
use crate::gateway::Gateway;
use crate::metrics::Metrics;
use crate::problem::GatewayError;

/// `GET /metrics` on the main address: Prometheus text, for the gateway's
/// admins (the default environment's), since it covers every environment.
pub(super) async fn metrics(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, GatewayError> {
    let directory = gateway.access().directory(DEFAULT_ENVIRONMENT);
    match directory {
        Some(directory) => directory.require_admin(&caller, "reading metrics")?,
        None => return Err(Denied::Forbidden { action: "reading metrics".into(), needed: "admin" }.into()),
    }
    Ok(open_metrics(State(Arc::clone(gateway.metrics()))).await)
}

/// `GET /metrics` on its own address: Prometheus text.
pub(super) async fn open_metrics(State(metrics): State<Arc<Metrics>>) -> Response {
    let mut response = metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

fn entries(environment: &Environment) -> Vec<AuditEntry> {
    let loaded = environment.registry().loaded();
    let oauth = environment.oauth().ok();
    let redirect_uri = |connector: &str, mode| oauth.as_ref().map(|oauth| oauth.redirect_uri(connector, mode));
    audit::audit(loaded.iter().map(|c| c.package.as_ref()), redirect_uri)
}

/// `GET /admin/redirect-audit`: JSON, for the environment's admins.
pub(super) async fn redirect_audit(
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { environment, directory }): Extension<InEnvironment>,
) -> Result<Response, GatewayError> {
    directory.require_admin(&caller, "reading the redirect audit")?;
    let cutoff = environment.oauth().ok().and_then(|o| o.cutoff());
    Ok(axum::Json(serde_json::json!({
        "cutoff": cutoff.map(|d| d.to_string()),
        "connectors": entries(&environment),
    }))
    .into_response())
}

/// `GET /admin/redirect-audit.html`: a page, for the environment's admins.
pub(super) async fn redirect_audit_html(
    Extension(caller): Extension<Caller>,
    Extension(InEnvironment { environment, directory }): Extension<InEnvironment>,
) -> Result<Response, GatewayError> {
    directory.require_admin(&caller, "reading the redirect audit")?;
    let cutoff = environment.oauth().ok().and_then(|o| o.cutoff());
    Ok(super::own_page(audit::render_html(&entries(&environment), cutoff)))
}
