//! A connector's policies as one set: which apply to an operation and a
//! section, and applying them to a backend request or response in order.

use std::future::Future as _;

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::{HeaderValue, Request, Response};
use indexmap::IndexMap;
use serde_json::Value;

use crate::error::PolicyError;
use crate::expr::ExprContext;
use crate::fetch::{self, NoFetch, ValueFetch, ValueFromUrl, ValueTarget};
use crate::policy::{Policy, Section, parse_instance};
use crate::templates::{self, Body, Kind, LazyTarget, RequestParts, ResponseParts};

/// A connector's policies, in the order they apply.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySet {
    policies: Vec<Policy>,
    base_path: String,
    /// The largest request and response bodies the templates may make.
    request_body_limit: usize,
    response_body_limit: usize,
}

impl Default for PolicySet {
    fn default() -> Self {
        Self {
            policies: Vec::new(),
            base_path: String::new(),
            request_body_limit: usize::MAX,
            response_body_limit: usize::MAX,
        }
    }
}

impl PolicySet {
    /// Parses `policyTemplateInstances`. Returns the policies that parsed
    /// and a warning for each instance, or parameter, that did not.
    pub fn parse(instances: &[Value]) -> (PolicySet, Vec<String>) {
        let mut policies = Vec::new();
        let mut warnings = Vec::new();
        for (index, instance) in instances.iter().enumerate() {
            match parse_instance(instance, &mut warnings) {
                Ok(policy) => policies.push(policy),
                Err(reason) => warnings.push(format!("policy {index}: {reason}; policy ignored")),
            }
        }
        (PolicySet { policies, ..PolicySet::default() }, warnings)
    }

    /// Sets the definition's `basePath`, which separates the part of the
    /// backend URL `dynamichosturl` replaces from the part
    /// `routerequesttoendpoint` replaces. Default: none (`/`).
    pub fn with_base_path(mut self, base_path: &str) -> Self {
        self.base_path = base_path.trim_end_matches('/').to_string();
        self
    }

    /// The set with the largest request and response bodies its templates
    /// may make, in bytes (the connector's body limits): a template that
    /// would grow a body past its limit fails with
    /// [`PolicyError::BodyTooLarge`] before it builds anything. Default: no
    /// limit.
    pub fn with_body_limits(mut self, request: usize, response: usize) -> Self {
        self.request_body_limit = request;
        self.response_body_limit = response;
        self
    }

    /// The policies, in order.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// Whether there are no policies.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// Whether a response policy points the client back at the gateway
    /// (`updatenextlink`, `pollingtrigger`), so that the caller need only make
    /// [`ExprContext::gateway`] for the sets that read it.
    pub fn reads_gateway_route(&self) -> bool {
        self.policies.iter().any(|p| matches!(p.kind, Kind::UpdateNextLink { .. } | Kind::PollingTrigger(_)))
    }

    /// Every connection parameter an expression refers to, as (policy
    /// title, parameter name), in order, so a loader can check them against
    /// the declared `connectionParameters`.
    pub fn referenced_connection_parameters(&self) -> Vec<(&str, &str)> {
        self.policies.iter().flat_map(|p| p.connection_parameters().map(move |name| (p.title(), name))).collect()
    }

    /// The base URLs the `dynamichosturl` policies send to, evaluated for a
    /// connection (headers and query of `ctx` are usually empty here), so the
    /// gateway can add them to the connection's egress allowlist. Each is an
    /// absolute `http(s)` URL without a trailing `/`.
    pub fn dynamic_host_urls(&self, ctx: &ExprContext<'_>) -> Result<Vec<String>, PolicyError> {
        self.policies
            .iter()
            .filter_map(|p| match &p.kind {
                Kind::DynamicHostUrl { url, subdomain } => {
                    Some(templates::evaluate_base_url(p.title(), url, *subdomain, ctx))
                }
                _ => None,
            })
            .collect()
    }

    /// Whether a `setconnectionstatustounauthenticated` policy of
    /// `operation_id` names `status`: the backend's answer then marks the
    /// call's connection unauthenticated, which the caller records (the
    /// policy does not change the message).
    pub fn marks_unauthenticated(&self, operation_id: &str, status: http::StatusCode) -> bool {
        self.in_section(Section::Response, operation_id)
            .any(|p| matches!(p.kind, Kind::MarkUnauthenticated { status: marked } if marked == status))
    }

    /// Whether some response policy applies to `operation_id`: a caller
    /// with none to apply need not build their context.
    pub fn has_response_policies(&self, operation_id: &str) -> bool {
        self.in_section(Section::Response, operation_id).next().is_some()
    }

    /// Whether a request policy of `operation_id` makes a backend call of its
    /// own (`setvaluefromurl`), which only
    /// [`PolicySet::apply_request_fetching`] can make.
    pub fn fetches_for(&self, operation_id: &str) -> bool {
        self.in_section(Section::Request, operation_id).any(|p| matches!(p.kind, Kind::SetValueFromUrl(_)))
    }

    /// Applies the request policies for `operation_id` to a request whose
    /// URI is the absolute backend URL. `path_params` are the operation's
    /// path parameters (decoded), used by `routerequesttoendpoint`. A
    /// `setvaluefromurl` fails here with [`PolicyError::FetchUnavailable`]
    /// (`reason` says why this caller makes no backend call for it);
    /// [`PolicySet::apply_request_fetching`] is the same with the calls.
    pub fn apply_request(
        &self,
        operation_id: &str,
        path_params: &IndexMap<String, String>,
        request: &mut Request<Bytes>,
        ctx: &ExprContext<'_>,
    ) -> Result<(), PolicyError> {
        let no_fetch = NoFetch("this caller makes no backend calls for policies");
        let applying = std::pin::pin!(self.apply_request_fetching(operation_id, path_params, request, ctx, &no_fetch));
        // `NoFetch` answers at once, so the future is done at its first poll.
        match applying.poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
            std::task::Poll::Ready(outcome) => outcome,
            std::task::Poll::Pending => {
                Err(PolicyError::FetchUnavailable { policy: "setvaluefromurl".into(), reason: no_fetch.0.to_string() })
            }
        }
    }

    /// [`PolicySet::apply_request`], with `fetch` making the backend calls
    /// of `setvaluefromurl` policies, in their turn.
    pub async fn apply_request_fetching(
        &self,
        operation_id: &str,
        path_params: &IndexMap<String, String>,
        request: &mut Request<Bytes>,
        ctx: &ExprContext<'_>,
        fetch: &dyn ValueFetch,
    ) -> Result<(), PolicyError> {
        let mut applicable = self.in_section(Section::Request, operation_id).peekable();
        let Some(first) = applicable.peek() else {
            return Ok(());
        };
        let mut last_title: &str = (*first).title();
        let original_method = request.method().clone();
        let (mut parts, body) = std::mem::take(request).into_parts();
        let mut req = RequestParts {
            target: LazyTarget::new(&parts.uri, &self.base_path),
            method: &mut parts.method,
            original_method,
            headers: &mut parts.headers,
            body: Body::new(body.clone(), true, self.request_body_limit),
            path_params,
        };
        let mut outcome = Ok(());
        for policy in applicable {
            last_title = policy.title();
            // `@headers` reads the request as the earlier policies left it,
            // as the platform's does: certified packages set a header and
            // read it back in the next policy (`Bearer @headers('Authorization')`).
            let current;
            let ctx = if policy.kind.reads_headers() {
                current = req.headers.clone();
                ExprContext { headers: &current, ..*ctx }
            } else {
                *ctx
            };
            let applied = match &policy.kind {
                Kind::SetValueFromUrl(value) => set_value_from_url(policy.title(), value, &mut req, &ctx, fetch).await,
                kind => kind.apply_request(policy.title(), &mut req, &ctx),
            };
            if let Err(e) = applied {
                outcome = Err(e);
                break;
            }
        }
        let RequestParts { target, body: edited, .. } = req;
        let new_body = edited.finish();
        if outcome.is_ok()
            && let Some(target) = target.edited()
        {
            match target.to_uri() {
                Ok(uri) => parts.uri = uri,
                Err(reason) => {
                    outcome = Err(PolicyError::InvalidUrl {
                        policy: last_title.to_string(),
                        url: format!("{}{}", target.prefix, target.path),
                        reason,
                    })
                }
            }
        }
        let body = match new_body {
            Some(new) if outcome.is_ok() => {
                set_content_length(&mut parts.headers, new.len());
                new
            }
            _ => body,
        };
        *request = Request::from_parts(parts, body);
        outcome
    }

    /// Applies the response policies for `operation_id`.
    pub fn apply_response(
        &self,
        operation_id: &str,
        response: &mut Response<Bytes>,
        ctx: &ExprContext<'_>,
    ) -> Result<(), PolicyError> {
        let mut applicable = self.in_section(Section::Response, operation_id).peekable();
        if applicable.peek().is_none() {
            return Ok(());
        }
        let raw = std::mem::take(response.body_mut());
        let mut status = response.status();
        let mut res = ResponseParts {
            status: &mut status,
            headers: response.headers_mut(),
            body: Body::new(raw.clone(), false, self.response_body_limit),
        };
        let mut outcome = Ok(());
        for policy in applicable {
            if let Err(e) = policy.kind.apply_response(policy.title(), &mut res, ctx, &self.base_path) {
                outcome = Err(e);
                break;
            }
        }
        let ResponseParts { body, .. } = res;
        if outcome.is_ok() {
            *response.status_mut() = status;
        }
        match body.finish() {
            Some(new) if outcome.is_ok() => {
                set_content_length(response.headers_mut(), new.len());
                *response.body_mut() = new;
            }
            _ => *response.body_mut() = raw,
        }
        outcome
    }

    fn in_section<'s>(&'s self, section: Section, operation_id: &'s str) -> impl Iterator<Item = &'s Policy> + 's {
        self.policies.iter().filter(move |p| p.section == section && p.applies_to(operation_id))
    }
}

/// `setvaluefromurl`: the request it describes, sent by `fetch`, and the
/// value taken from the answer put where `parameterTemplate` says.
async fn set_value_from_url(
    policy: &str,
    value: &ValueFromUrl,
    req: &mut RequestParts<'_>,
    ctx: &ExprContext<'_>,
    fetch: &dyn ValueFetch,
) -> Result<(), PolicyError> {
    let url = templates::endpoint_url(policy, &value.url, req.target.get(policy)?, req.path_params, ctx)?;
    let request = fetch::value_request(policy, &value.method, &url, req.headers)?;
    let response = fetch
        .fetch(policy, request)
        .await
        .map_err(|reason| PolicyError::FetchUnavailable { policy: policy.to_string(), reason })?;
    let fetched = fetch::value_of(policy, &value.value, &response)?;
    match &value.target {
        ValueTarget::Header(name) => {
            req.headers.insert(name.clone(), fetch::header_value(policy, name, &fetched)?);
        }
        ValueTarget::Query(name) => {
            let query = &mut req.target.get(policy)?.query;
            query.remove(name);
            query.push(name, &fetched);
        }
        ValueTarget::Body(path) => templates::set_body_value(policy, &mut req.body, path, fetched)?,
    }
    Ok(())
}

fn set_content_length(headers: &mut http::HeaderMap, len: usize) {
    if headers.contains_key(CONTENT_LENGTH) {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    }
}
