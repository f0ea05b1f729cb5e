//! Calendly's custom code: the API wants the caller's organization on
//! event-type queries and new webhook subscriptions, and only the API knows
//! it. So the code first asks `GET <base>/users/me` (`<base>` is the request
//! URL without its last path segment), takes `resource.current_organization`,
//! then appends `organization=<org>` to the query (`GetEventTypes`) or adds
//! `"organization"` to the JSON body (the webhook operations), and sends.
//!
//! The connection's `Authorization` header is not visible to the code (the
//! package keeps sluice's default): the gateway puts it back on both calls,
//! which go to the connector's own host.
//!
//! Build: `cargo build --target wasm32-wasip2 --release` in `examples/`.

use sluice_guest::serde_json::{Map, Value};
use sluice_guest::{Context, Error, Handler, Request, Response, send};

/// The operations whose body gets the organization.
const WEBHOOK_OPERATIONS: [&str; 2] = ["CreateWebhookSubscription", "CreateWebhookSubscriptionRoutingFormSubmission"];

struct Calendly;

impl Handler for Calendly {
    fn handle(ctx: &Context, mut request: Request) -> Result<Response, Error> {
        let me = send(who_am_i(&request)?)?;
        if !me.is_success() {
            return Ok(me);
        }
        let answer: Value = me.json()?;
        let organization = answer
            .pointer("/resource/current_organization")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::upstream("Calendly's /users/me answer has no `resource.current_organization`"))?;
        if ctx.operation_id() == "GetEventTypes" {
            request.append_query("organization", organization)?;
        } else if WEBHOOK_OPERATIONS.contains(&ctx.operation_id()) {
            let mut body: Map<String, Value> = if request.body().is_empty() { Map::new() } else { request.json()? };
            body.insert("organization".into(), Value::String(organization.into()));
            request.set_json(&body)?;
        }
        Ok(send(request)?)
    }
}

/// `GET <request URL without its last segment>/users/me`, with the
/// caller's `Authorization` when the code can see it (else the gateway adds it).
fn who_am_i(request: &Request) -> Result<Request, Error> {
    let mut url = request.parsed_url()?;
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut()
        .map_err(|()| Error::internal("the request URL has no path"))?
        .pop_if_empty()
        .pop()
        .extend(["users", "me"]);
    let mut me = Request::get(url.as_str()).with_header("X-Calendly-Consumer-Application", "ms_power_automate");
    if let Some(authorization) = request.header("Authorization") {
        me = me.with_header("Authorization", authorization);
    }
    Ok(me)
}

sluice_guest::export!(Calendly);
