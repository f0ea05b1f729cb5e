//! A connector's policies as one set: which apply to an operation and a
//! section, and applying them to a backend request or response in order.

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::{HeaderValue, Request, Response};
use indexmap::IndexMap;
use serde_json::Value;

use crate::error::PolicyError;
use crate::expr::ExprContext;
use crate::policy::{Policy, Section, parse_instance};
use crate::target::Target;
use crate::templates::{self, Body, Kind, RequestParts, ResponseParts};

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
                Kind::DynamicHostUrl { url } => Some(templates::evaluate_base_url(p.title(), url, ctx)),
                _ => None,
            })
            .collect()
    }

    /// Applies the request policies for `operation_id` to a request whose
    /// URI is the absolute backend URL. `path_params` are the operation's
    /// path parameters (decoded), used by `routerequesttoendpoint`.
    pub fn apply_request(
        &self,
        operation_id: &str,
        path_params: &IndexMap<String, String>,
        request: &mut Request<Bytes>,
        ctx: &ExprContext<'_>,
    ) -> Result<(), PolicyError> {
        let mut applicable = self.in_section(Section::Request, operation_id).peekable();
        let Some(first) = applicable.peek() else {
            return Ok(());
        };
        let url_error = |policy: &str, url: String, reason: String| PolicyError::InvalidUrl {
            policy: policy.to_string(),
            url,
            reason,
        };
        let target = Target::split(request.uri(), &self.base_path)
            .map_err(|e| url_error(first.title(), request.uri().to_string(), e))?;
        let original_target = target.clone();
        let original_method = request.method().clone();
        let (mut parts, body) = std::mem::take(request).into_parts();
        let mut req = RequestParts {
            target,
            method: &mut parts.method,
            original_method,
            headers: &mut parts.headers,
            body: Body::new(body.clone(), true, self.request_body_limit),
            path_params,
        };
        let mut last_title = first.title().to_string();
        let mut outcome = Ok(());
        for policy in applicable {
            last_title = policy.title().to_string();
            if let Err(e) = policy.kind.apply_request(policy.title(), &mut req, ctx) {
                outcome = Err(e);
                break;
            }
        }
        let RequestParts { target, body: edited, .. } = req;
        let new_body = edited.finish();
        if outcome.is_ok() && target != original_target {
            match target.to_uri() {
                Ok(uri) => parts.uri = uri,
                Err(reason) => {
                    outcome = Err(url_error(&last_title, format!("{}{}", target.prefix, target.path), reason))
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

fn set_content_length(headers: &mut http::HeaderMap, len: usize) {
    if headers.contains_key(CONTENT_LENGTH) {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    }
}
