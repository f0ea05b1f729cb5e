//! Annature's custom code. For the `OnDocumentEvent` webhook operation it
//! sends the subscription request, reads the new endpoint's `id` from the
//! JSON answer and sets `Location: <original request URL>/<id>`, so that the
//! platform can later delete the subscription through `DeleteEndpoint`.
//! Every other operation is forwarded unchanged.
//!
//! Build: `cargo build --target wasm32-wasip2 --release` in `examples/`
//! (the gateway's build does it for you).

use sluice_guest::serde_json::Value;
use sluice_guest::{Context, Error, Handler, Request, Response, send};

/// The webhook operation whose answer needs a `Location` header.
const WEBHOOK_OPERATION: &str = "OnDocumentEvent";

struct Annature;

impl Handler for Annature {
    fn handle(ctx: &Context, request: Request) -> Result<Response, Error> {
        let response = send(request)?;
        if ctx.operation_id() != WEBHOOK_OPERATION || !response.is_success() {
            return Ok(response);
        }
        let answer: Value = response.json()?;
        let id = match answer.get("id") {
            Some(Value::String(id)) if !id.is_empty() => id.clone(),
            Some(Value::Number(id)) => id.to_string(),
            _ => return Err(Error::upstream("the new webhook endpoint has no `id` in Annature's answer")),
        };
        let location = location(ctx.original_url(), &id)?;
        Ok(response.with_header("Location", location))
    }
}

/// `<original>/<id>`, the id encoded as one path segment; the query stays.
fn location(original: &str, id: &str) -> Result<String, Error> {
    let mut url = url::Url::parse(original).map_err(|e| Error::internal(format!("original URL `{original}`: {e}")))?;
    url.path_segments_mut()
        .map_err(|()| Error::internal(format!("original URL `{original}` cannot take a path segment")))?
        .pop_if_empty()
        .push(id);
    Ok(url.into())
}

sluice_guest::export!(Annature);
