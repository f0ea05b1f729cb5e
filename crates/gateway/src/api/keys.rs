//! `/api/v1/keys`: API keys. Anyone issues, lists and revokes their own;
//! the gateway's admins also issue keys to others and revoke anyone's. A key
//! is shown once, when it is issued; afterwards only its id, label and
//! dates are.

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Body, ProblemBody, created, timestamp};
use crate::access::Caller;
use crate::gateway::Gateway;
use crate::problem::GatewayError;

/// The longest a label may be, in characters.
const MAX_LABEL_CHARS: usize = 200;
/// The longest a key may live, in days.
const MAX_DAYS: u32 = 3650;

pub(super) fn routes() -> OpenApiRouter<Gateway> {
    OpenApiRouter::new().routes(routes!(issue, list)).routes(routes!(revoke))
}

/// A key to issue.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewKey {
    /// What the key is for (1 to 200 characters).
    label: String,
    /// Days until it stops working (1 to 3650). Default: never.
    #[serde(default)]
    expires_in_days: Option<u32>,
    /// Whose key it is. Default: the caller's own; another principal's
    /// needs the gateway's admins.
    #[serde(default)]
    principal: Option<String>,
}

/// A key just issued: `key` is shown now and never again.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct IssuedKeyBody {
    /// The key's visible id.
    id: String,
    /// The whole key, for `Authorization: Bearer`.
    key: String,
    /// Whose key it is.
    principal: String,
    /// What it is for.
    label: String,
    /// When it stops working (RFC 3339), if ever.
    expires_at: Option<String>,
}

/// A key, without its secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct KeyInfo {
    /// The key's visible id.
    id: String,
    /// What it is for.
    label: String,
    /// When it was issued (RFC 3339).
    created_at: String,
    /// When it stops working (RFC 3339), if ever.
    expires_at: Option<String>,
    /// Whether it was revoked.
    revoked: bool,
}

/// Issues a key.
#[utoipa::path(post, path = "/api/v1/keys", tag = "keys", request_body = NewKey, responses(
    (status = 201, description = "Issued; the key is in the body, once", body = IssuedKeyBody),
    (status = 400, description = "A bad label, expiry or principal", body = ProblemBody),
    (status = 403, description = "A key for someone else, without being an admin", body = ProblemBody),
    (status = 415, description = "Not JSON", body = ProblemBody),
))]
async fn issue(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Body(new): Body<NewKey>,
) -> Result<Response, GatewayError> {
    let label = new.label.trim();
    if label.is_empty() || label.chars().count() > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
        return Err(GatewayError::BadRequest {
            reason: format!("`label` must be 1 to {MAX_LABEL_CHARS} characters, none of them control characters"),
        });
    }
    let expires_at = match new.expires_in_days {
        None => None,
        Some(days) if (1..=MAX_DAYS).contains(&days) => Some(crate::store::now() as i64 + i64::from(days) * 86_400),
        Some(_) => {
            return Err(GatewayError::BadRequest { reason: format!("`expires_in_days` must be 1 to {MAX_DAYS}") });
        }
    };
    let principal = new.principal.unwrap_or_else(|| caller.id.to_string());
    let issued =
        gateway.access().issue_key(&caller, &principal, label, expires_at).await.map_err(GatewayError::Access)?;
    Ok(created(IssuedKeyBody {
        id: issued.id,
        key: issued.key,
        principal,
        label: label.to_string(),
        expires_at: expires_at.map(timestamp),
    }))
}

/// Lists the caller's keys, newest first.
#[utoipa::path(get, path = "/api/v1/keys", tag = "keys", responses(
    (status = 200, description = "The caller's keys, revoked and expired ones included", body = [KeyInfo]),
))]
async fn list(State(gateway): State<Gateway>, Extension(caller): Extension<Caller>) -> axum::Json<Vec<KeyInfo>> {
    let people = gateway.access().people();
    let mut keys: Vec<KeyInfo> = people
        .keys_of(&caller.id)
        .map(|(id, key)| KeyInfo {
            id: id.to_string(),
            label: key.label.clone(),
            created_at: timestamp(key.created_at),
            expires_at: key.expires_at.map(timestamp),
            revoked: key.revoked,
        })
        .collect();
    keys.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.id.cmp(&b.id)));
    axum::Json(keys)
}

/// Revokes a key: its holder's own, or anyone's for the gateway's admins.
#[utoipa::path(delete, path = "/api/v1/keys/{id}", tag = "keys",
    params(("id" = String, Path, description = "The key's visible id")),
    responses(
        (status = 204, description = "Revoked; the key no longer authenticates"),
        (status = 404, description = "No such key the caller may see", body = ProblemBody),
    ))]
async fn revoke(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Path(super::IdPath { id }): Path<super::IdPath>,
) -> Result<Response, GatewayError> {
    gateway.access().revoke_key(&caller, &id).await.map_err(GatewayError::Access)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
