//! `pollingtrigger`: a polling trigger's response made into the platform's
//! polling protocol. The parameters (`triggerDataPath`, the items, and
//! `triggerConfig`, the next poll's state as query parameters computed from
//! the response with `@{triggerBody()...}`) are parsed once; per call the
//! response becomes 202 (nothing new) or 200 (new items), with a `Location`
//! that polls again through the gateway and the connection.

use http::header::LOCATION;
use http::{HeaderValue, StatusCode};
use serde_json::{Map, Value};

use crate::body::{self, BodyPath, Step};
use crate::expr::ExprContext;
use crate::target::{self, Query};
use crate::templates::{PARAMETER_PREFIX, ResponseParts};

/// The function trigger expressions read the response body with.
const TRIGGER_BODY: &str = "triggerBody()";

/// A parsed `pollingtrigger`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PollingTrigger {
    /// Where the new items are (`triggerDataPath`), from the body's root.
    pub(crate) data: Vec<Step>,
    /// The next poll's query parameters (`triggerConfig`), in order.
    pub(crate) state: Vec<(String, StateValue)>,
}

/// A `triggerConfig` value: text with `@{triggerBody()...}` in it, or one
/// `@triggerBody()...` path for the whole value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StateValue {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    /// A property of the response body, from its root.
    Property(Vec<Step>),
}

/// A `triggerBody()` path (`triggerBody().files[0].created`) as steps from
/// the body's root; `None` when the text is not one.
fn trigger_body_path(text: &str) -> Option<Result<Vec<Step>, String>> {
    let rest = text.trim().strip_prefix('@').unwrap_or(text.trim()).strip_prefix(TRIGGER_BODY)?;
    Some(BodyPath::parse(&format!("@body(){rest}")).map(|path| path.steps))
}

impl StateValue {
    /// Parses a `triggerConfig` value.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        if text.trim_start().starts_with("@triggerBody()") {
            let steps = trigger_body_path(text).unwrap_or_else(|| Err(format!("cannot read `{text}`")))?;
            return Ok(Self { parts: vec![Part::Property(steps)] });
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("@{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let inner = &rest[open + 2..];
            let close = inner.find('}').ok_or_else(|| format!("unclosed `@{{` in `{text}`"))?;
            let expression = &inner[..close];
            let steps = trigger_body_path(expression).ok_or_else(|| {
                format!("`@{{{expression}}}` is not a `{TRIGGER_BODY}` property, the one sluice reads")
            })??;
            parts.push(Part::Property(steps));
            rest = &inner[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Self { parts })
    }

    /// The value for a response body; `None` when a property it reads is
    /// absent, `null`, an object or an array.
    fn evaluate(&self, body: &Value) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Property(steps) => match body::get(body, steps)? {
                    Value::String(s) => out.push_str(s),
                    v @ (Value::Number(_) | Value::Bool(_)) => out.push_str(&v.to_string()),
                    Value::Null | Value::Object(_) | Value::Array(_) => return None,
                },
            }
        }
        Some(out)
    }
}

impl PollingTrigger {
    /// Parses the template's parameters. A `triggerConfig` entry without a
    /// name is left out with a note (the certified The Events Calendar
    /// package writes `"": "1"`), so the rest of the policy still runs.
    pub(crate) fn parse(parameters: &Map<String, Value>, notes: &mut Vec<String>) -> Result<Self, String> {
        let key = |name: &str| format!("{PARAMETER_PREFIX}{name}");
        let data = match parameters.get(&key("triggerDataPath")) {
            Some(Value::String(text)) if !text.trim().is_empty() => trigger_body_path(text)
                .unwrap_or_else(|| Err(format!("`{text}` is not a `@{TRIGGER_BODY}` path")))
                .map_err(|e| format!("parameter `{}`: {e}", key("triggerDataPath")))?,
            _ => return Err(format!("missing parameter `{}`", key("triggerDataPath"))),
        };
        let config = match parameters.get(&key("triggerConfig")) {
            Some(Value::Object(config)) => config,
            None | Some(Value::Null) => return Err(format!("missing parameter `{}`", key("triggerConfig"))),
            Some(_) => return Err(format!("parameter `{}` must be an object", key("triggerConfig"))),
        };
        let mut state = Vec::with_capacity(config.len());
        for (name, value) in config {
            let text = match value {
                Value::String(s) => s.clone(),
                v @ (Value::Number(_) | Value::Bool(_)) => v.to_string(),
                _ => return Err(format!("parameter `{}`: `{name}` must be text", key("triggerConfig"))),
            };
            if name.trim().is_empty() {
                notes.push(format!("parameter `{}`: an entry without a name is ignored", key("triggerConfig")));
                continue;
            }
            let value =
                StateValue::parse(&text).map_err(|e| format!("parameter `{}`: `{name}`: {e}", key("triggerConfig")))?;
            state.push((name.clone(), value));
        }
        Ok(Self { data, state })
    }

    /// Makes a backend's answer to a poll the platform's answer: no items at
    /// the data path (an empty array, `null` or none) is 202 with the
    /// request's own state; items are 200 with the state computed from the
    /// body. Either way `Location` is the same operation through the
    /// gateway and the connection, with the client's query and the state
    /// set in it. The backend's `Retry-After`, if any, is kept. A response
    /// that is not a 2xx JSON body, or whose state cannot be computed, and
    /// any call without a gateway route, is left as it is (logged at debug).
    pub(crate) fn apply(
        &self,
        policy: &str,
        res: &mut ResponseParts<'_>,
        ctx: &ExprContext<'_>,
        base_path: &str,
    ) -> Result<(), crate::PolicyError> {
        let leave = |reason: &str| -> Result<(), crate::PolicyError> {
            tracing::debug!(policy, reason, "pollingtrigger: the response is left as it is");
            Ok(())
        };
        if !res.status.is_success() {
            return Ok(());
        }
        let Some(route) = ctx.gateway else {
            return leave("no gateway route for this call");
        };
        let Some(json) = res.body.json(policy, false)? else {
            return leave("the body is not JSON");
        };
        let new_items = match body::get(json, &self.data) {
            None | Some(Value::Null) => false,
            Some(Value::Array(items)) => !items.is_empty(),
            Some(other) => {
                let reason = format!("triggerDataPath holds {}, not an array", body::kind(other));
                return leave(&reason);
            }
        };
        let mut query = Query::default();
        for (name, value) in ctx.query {
            if !(new_items && self.state.iter().any(|(state, _)| state == name)) {
                query.push(name, value);
            }
        }
        if new_items {
            for (name, value) in &self.state {
                let Some(value) = value.evaluate(json) else {
                    let reason = format!("triggerConfig `{name}` cannot be computed from the body");
                    return leave(&reason);
                };
                query.push(name, &value);
            }
        }
        let path = route.backend_url.path();
        let mut location = match target::gateway_link(path, route.backend_url, base_path, route.connection_url) {
            Ok(location) => location,
            Err(reason) => return leave(&reason),
        };
        let query = query.to_string();
        if !query.is_empty() {
            location.push('?');
            location.push_str(&query);
        }
        let Ok(location) = HeaderValue::from_str(&location) else {
            return leave("the next poll's URL is not a valid header value");
        };
        res.headers.insert(LOCATION, location);
        *res.status = if new_items { StatusCode::OK } else { StatusCode::ACCEPTED };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn evaluate(text: &str, body: Value) -> Option<String> {
        StateValue::parse(text).unwrap().evaluate(&body)
    }

    #[test]
    fn state_values_read_the_trigger_body() {
        // As certified Huddle, MicrosoftGraphSecurity and Event Tickets write them.
        let files = json!({"files": [{"created": "2024-05-01T10:00:00Z"}]});
        assert_eq!(
            evaluate("@{triggerBody().files[0].created}", files.clone()).as_deref(),
            Some("2024-05-01T10:00:00Z")
        );
        assert_eq!(evaluate("@triggerBody().files[0].created", files).as_deref(), Some("2024-05-01T10:00:00Z"));
        let alerts = json!({"value": [{"lastModifiedDateTime": "T1"}]});
        assert_eq!(
            evaluate("lastModifiedDateTime gt @{triggerBody().value[0].lastModifiedDateTime}", alerts).as_deref(),
            Some("lastModifiedDateTime gt T1")
        );
        assert_eq!(evaluate("1", json!({})).as_deref(), Some("1"));
        assert_eq!(
            evaluate("@{triggerBody().data[0].contactID}", json!({"data": [{"contactID": 42}]})).as_deref(),
            Some("42")
        );
    }

    #[test]
    fn a_state_that_is_not_there_cannot_be_computed() {
        for body in [
            json!({"files": []}),
            json!({}),
            json!({"files": [{"created": null}]}),
            json!({"files": [{"created": {}}]}),
        ] {
            assert_eq!(evaluate("@{triggerBody().files[0].created}", body.clone()), None, "{body}");
        }
    }

    #[test]
    fn state_values_other_than_trigger_body_are_refused() {
        for text in ["@{utcNow()}", "@{triggerBody().a", "@{triggerBody().a[x]}"] {
            assert!(StateValue::parse(text).is_err(), "{text}");
        }
    }
}
