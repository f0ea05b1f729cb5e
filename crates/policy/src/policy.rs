//! One parsed policy instance: its template, the operations it applies to
//! and its section, parsed from the instance's JSON once.

use serde_json::Value;

use crate::templates::{self, Kind, NotParsed, PARAMETER_PREFIX};

/// Key of the operation scope in an instance's parameters.
const OPERATION_NAME: &str = "x-ms-apimTemplate-operationName";
/// Key of the section in an instance's parameters.
const POLICY_SECTION: &str = "x-ms-apimTemplate-policySection";

/// Which side of the backend call a policy edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// The request on its way to the backend (the default).
    Request,
    /// The response on its way back to the client.
    Response,
}

/// One parsed policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    title: String,
    template_id: String,
    operations: Vec<String>,
    pub(crate) section: Section,
    pub(crate) kind: Kind,
}

impl Policy {
    /// The instance's title (its template id when it has none); errors and
    /// warnings name the policy by it.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The template id, e.g. `setheader`.
    pub fn template_id(&self) -> &str {
        &self.template_id
    }

    /// The operation ids the policy is limited to; empty means all.
    pub fn operations(&self) -> &[String] {
        &self.operations
    }

    /// The section the policy runs in.
    pub fn section(&self) -> Section {
        self.section
    }

    /// Whether the policy applies to the operation.
    pub fn applies_to(&self, operation_id: &str) -> bool {
        self.operations.is_empty() || self.operations.iter().any(|o| o == operation_id)
    }

    /// Names of the connection parameters the policy's expressions use.
    pub fn connection_parameters(&self) -> impl Iterator<Item = &str> {
        self.kind.templates().into_iter().flat_map(|t| t.connection_parameters())
    }
}

pub(crate) fn parse_instance(instance: &Value, warnings: &mut Vec<String>) -> Result<Policy, String> {
    let object = instance.as_object().ok_or("is not a JSON object")?;
    let written = object.get("templateId").and_then(Value::as_str).ok_or("has no templateId")?;
    // Known ids in their canonical spelling (`SetHeader` is `setheader`).
    let template_id = templates::template(written).map_or(written, |t| t.id).to_string();
    let title =
        object.get("title").and_then(Value::as_str).filter(|t| !t.is_empty()).unwrap_or(&template_id).to_string();
    let empty = serde_json::Map::new();
    let parameters = match object.get("parameters") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(map)) => map,
        Some(_) => {
            return Err(format!("`{title}` ({template_id}): parameters is not an object"));
        }
    };
    let mut notes = Vec::new();
    let kind = templates::parse(&template_id, parameters, &mut notes).map_err(|why| match why {
        NotParsed::Unknown => format!("`{title}`: unknown policy template `{template_id}`"),
        NotParsed::Invalid(reason) => format!("`{title}` ({template_id}): {reason}"),
    })?;
    warnings.extend(notes.into_iter().map(|note| format!("policy `{title}` ({template_id}): {note}")));
    let operations = match parameters.get(OPERATION_NAME) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(one)) if one.is_empty() => Vec::new(),
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(ids)) => ids
            .iter()
            .map(|id| id.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| format!("`{title}` ({template_id}): {OPERATION_NAME} must list operation ids"))?,
        Some(_) => {
            return Err(format!("`{title}` ({template_id}): {OPERATION_NAME} must list operation ids"));
        }
    };
    let written_section = parameters.get(POLICY_SECTION).and_then(Value::as_str).filter(|s| !s.is_empty());
    let mut section = match written_section {
        None if kind.response_only() => Section::Response,
        None => Section::Request,
        Some(s) if s.eq_ignore_ascii_case("request") => Section::Request,
        Some(s) if s.eq_ignore_ascii_case("response") => Section::Response,
        Some(other) => {
            return Err(format!("`{title}` ({template_id}): {POLICY_SECTION} `{other}` is not Request or Response"));
        }
    };
    if section == Section::Request && kind.response_only() {
        warnings.push(format!(
            "policy `{title}` ({template_id}) only applies to responses; running it in the response section"
        ));
        section = Section::Response;
    }
    if section == Section::Response && !kind.allowed_in_response() {
        warnings.push(format!(
            "policy `{title}` ({template_id}) only applies to requests; running it in the request section"
        ));
        section = Section::Request;
    }
    let known = templates::known_parameters(&template_id);
    for key in parameters.keys() {
        let unknown = match key.strip_prefix(PARAMETER_PREFIX) {
            Some(name) => !known.contains(&name),
            None => key != OPERATION_NAME && key != POLICY_SECTION,
        };
        if unknown {
            warnings.push(format!("policy `{title}` ({template_id}): unknown parameter `{key}` ignored"));
        }
    }
    Ok(Policy { title, template_id, operations, section, kind })
}
