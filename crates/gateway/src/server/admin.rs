//! The operator's endpoints: metrics, and the redirect audit; admins only
//! (metrics also on their own address, to anyone who reaches it).

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

use crate::access::Caller;
use crate::audit::{self, AuditEntry};
use crate::gateway::Gateway;
use crate::metrics::Metrics;
use crate::problem::GatewayError;
use crate::registry::Registry;

/// `GET /metrics` on the main address: Prometheus text, for admins.
pub(super) async fn metrics(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, GatewayError> {
    gateway.access().directory().require_admin(&caller, "reading metrics")?;
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

fn entries(registry: &Registry) -> Vec<AuditEntry> {
    let loaded = registry.loaded();
    audit::audit(loaded.iter().map(|c| c.package.as_ref()))
}

/// `GET /admin/redirect-audit`: JSON.
pub(super) async fn redirect_audit(
    State(gateway): State<Gateway>,
    State(registry): State<Arc<Registry>>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, GatewayError> {
    gateway.access().directory().require_admin(&caller, "reading the redirect audit")?;
    let cutoff = gateway.oauth().ok().and_then(|o| o.cutoff());
    Ok(axum::Json(serde_json::json!({
        "cutoff": cutoff.map(|d| d.to_string()),
        "connectors": entries(&registry),
    }))
    .into_response())
}

/// `GET /admin/redirect-audit.html`: a page.
pub(super) async fn redirect_audit_html(
    State(gateway): State<Gateway>,
    State(registry): State<Arc<Registry>>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, GatewayError> {
    gateway.access().directory().require_admin(&caller, "reading the redirect audit")?;
    let cutoff = gateway.oauth().ok().and_then(|o| o.cutoff());
    Ok(Html(audit::render_html(&entries(&registry), cutoff)).into_response())
}
