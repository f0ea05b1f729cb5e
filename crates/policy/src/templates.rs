//! The policy templates sluice implements: each template's parameters parsed
//! into a typed [`Kind`], and what each does to a request or a response.
//! The semantics are documented on the crate root.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::PolicyError;
use super::body::{self, BodyPath, PropertyValue};
use super::expr::{ExprContext, RenderError, Template, UndefinedParameter};
use super::fetch::ValueFromUrl;
use super::target::{self, Target, encode_segment};
use super::trigger::PollingTrigger;

/// Prefix of a template parameter's key.
pub(crate) const PARAMETER_PREFIX: &str = "x-ms-apimTemplateParameter.";

/// One policy template the platform offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateInfo {
    /// Its `templateId`, e.g. `setheader`.
    pub id: &'static str,
}

/// Every template the platform offers, each of which sluice runs: the one
/// list that loading and `sluice validate` both read.
pub const TEMPLATES: &[TemplateInfo] = &[
    TemplateInfo { id: "setheader" },
    TemplateInfo { id: "setqueryparameter" },
    TemplateInfo { id: "routerequesttoendpoint" },
    TemplateInfo { id: "dynamichosturl" },
    TemplateInfo { id: "setproperty" },
    TemplateInfo { id: "stringreplace" },
    TemplateInfo { id: "convertobjecttoarray" },
    TemplateInfo { id: "convertarraytoobject" },
    TemplateInfo { id: "updatenextlink" },
    TemplateInfo { id: "setvaluefromurl" },
    TemplateInfo { id: "stringtoarray" },
    TemplateInfo { id: "encodepropertyvalue" },
    TemplateInfo { id: "pollingtrigger" },
    TemplateInfo { id: "setconnectionstatustounauthenticated" },
    // In certified packages (AzureAD, AlisQI), so the platform takes them.
    TemplateInfo { id: "moveproperties" },
    TemplateInfo { id: "dynamicsubdomain" },
];

/// The platform's template with this id, if there is one. Ids match
/// without regard to case, as the platform matches them: certified packages
/// write `dynamicHostUrl`, `SetProperty` and `setHeader`.
pub fn template(id: &str) -> Option<&'static TemplateInfo> {
    TEMPLATES.iter().find(|t| t.id.eq_ignore_ascii_case(id))
}

/// What to do when a header or query parameter already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExistsAction {
    Override,
    Skip,
    Append,
}

/// The method `routerequesttoendpoint` sends with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MethodSpec {
    /// `@Request.OriginalHTTPMethod`: the method the client used.
    Original,
    Fixed(Method),
}

/// A setproperty value as written in the parameters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ValueSpec {
    Json(Value),
    Template(Template),
    Copy(BodyPath),
}

/// How `encodepropertyvalue` encodes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// Percent-encoding of every byte but RFC 3986's unreserved ones, as a
    /// URL component (.NET's `Uri.EscapeDataString`).
    Url,
    /// Standard base64 of the UTF-8 bytes, with padding.
    Base64,
}

impl Encoding {
    fn apply(self, text: &str) -> String {
        use base64::Engine as _;
        match self {
            Encoding::Url => encode_segment(text),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(text),
        }
    }
}

/// Where `updatenextlink` finds the next-page link.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NextLinkProperty {
    /// A property of the body's root, named as written: `@odata.nextLink`
    /// is one name, not a path.
    Name(String),
    /// A body path (`@body().paging.next`).
    Path(BodyPath),
}

/// Where stringreplace works.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ReplaceTarget {
    /// The whole body, as text.
    Body,
    /// Strings in a JSON property under each parent.
    Property { parent: BodyPath, sub: BodyPath },
}

/// A parsed policy template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    SetHeader {
        name: HeaderName,
        value: Template,
        exists: ExistsAction,
    },
    SetQueryParameter {
        name: String,
        value: Template,
        exists: ExistsAction,
    },
    RouteRequestToEndpoint {
        new_path: Option<Template>,
        method: Option<MethodSpec>,
    },
    /// `dynamichosturl`, and `dynamicsubdomain` (`subdomain`: each value
    /// an expression puts in must be one DNS label, so a connection chooses
    /// only a subdomain of the template's fixed domain).
    DynamicHostUrl {
        url: Template,
        subdomain: bool,
    },
    SetValueFromUrl(ValueFromUrl),
    SetProperty {
        parent: BodyPath,
        sub: BodyPath,
        value: ValueSpec,
    },
    ObjectToArray {
        parent: BodyPath,
        sub: BodyPath,
        new_path: BodyPath,
        key_name: String,
        value_name: String,
    },
    ArrayToObject {
        parent: BodyPath,
        sub: BodyPath,
        key: BodyPath,
        new_path: BodyPath,
        retain_key: bool,
    },
    StringReplace {
        target: ReplaceTarget,
        old: Template,
        new: Template,
    },
    StringToArray {
        parent: BodyPath,
        sub: BodyPath,
        delimiters: Vec<char>,
        child: String,
        new_path: BodyPath,
    },
    UpdateNextLink {
        property: NextLinkProperty,
    },
    PollingTrigger(PollingTrigger),
    EncodePropertyValue {
        parent: BodyPath,
        sub: BodyPath,
        new_path: BodyPath,
        encoding: Encoding,
    },
    /// `setconnectionstatustounauthenticated`: a response of this status
    /// marks the connection unauthenticated (the caller keeps the status;
    /// the message is left as it is).
    MarkUnauthenticated {
        status: StatusCode,
    },
    MoveProperties {
        src_parent: BodyPath,
        src_sub: BodyPath,
        dst_parent: BodyPath,
        dst_sub: BodyPath,
        only_sub: bool,
    },
}

/// Why a template was not parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotParsed {
    Unknown,
    Invalid(String),
}

/// A template's parameters, read by short name.
struct Params<'a> {
    map: &'a Map<String, Value>,
}

impl Params<'_> {
    fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(&format!("{PARAMETER_PREFIX}{name}"))
    }

    /// A parameter as text; numbers and booleans are taken as their text,
    /// null and empty as absent.
    fn text(&self, name: &str) -> Result<Option<String>, NotParsed> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(v.to_string())),
            Some(_) => Err(invalid(format!("parameter `{PARAMETER_PREFIX}{name}` must be text"))),
        }
    }

    fn required(&self, name: &str) -> Result<String, NotParsed> {
        self.text(name)?.ok_or_else(|| invalid(format!("missing parameter `{PARAMETER_PREFIX}{name}`")))
    }

    fn template(&self, name: &str) -> Result<Template, NotParsed> {
        parse_template(name, &self.required(name)?)
    }

    fn path(&self, name: &str, default: &str) -> Result<BodyPath, NotParsed> {
        let text = self.text(name)?.unwrap_or_else(|| default.to_string());
        BodyPath::parse(&text).map_err(|e| invalid(format!("parameter `{PARAMETER_PREFIX}{name}`: {e}")))
    }

    /// A path parameter, or `default` when it is absent.
    fn path_or(&self, name: &str, default: &BodyPath) -> Result<BodyPath, NotParsed> {
        match self.text(name)? {
            None => Ok(default.clone()),
            Some(_) => self.path(name, ""),
        }
    }

    /// A `true`/`false` parameter (text or JSON boolean, any case).
    fn flag(&self, name: &str, default: bool) -> Result<bool, NotParsed> {
        match self.text(name)?.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => {
                Err(invalid(format!("parameter `{PARAMETER_PREFIX}{name}`: `{other}` is not true or false")))
            }
        }
    }

    fn exists_action(&self) -> Result<ExistsAction, NotParsed> {
        match self.text("existsAction")?.map(|s| s.to_ascii_lowercase()).as_deref() {
            None | Some("override") => Ok(ExistsAction::Override),
            Some("skip") => Ok(ExistsAction::Skip),
            Some("append") => Ok(ExistsAction::Append),
            Some(other) => Err(invalid(format!("existsAction `{other}` is not one of override, skip, append"))),
        }
    }
}

fn invalid(reason: String) -> NotParsed {
    NotParsed::Invalid(reason)
}

fn parse_template(name: &str, text: &str) -> Result<Template, NotParsed> {
    Template::parse(text).map_err(|e| invalid(format!("parameter `{PARAMETER_PREFIX}{name}`: {e}")))
}

/// The template parameters (short names) each template reads; others are
/// reported as load warnings.
pub(crate) fn known_parameters(template_id: &str) -> &'static [&'static str] {
    match template_id {
        "setheader" | "setqueryparameter" => &["name", "value", "existsAction"],
        "routerequesttoendpoint" => &["newPath", "httpMethod"],
        "dynamichosturl" | "dynamicsubdomain" => &["urlTemplate"],
        "setconnectionstatustounauthenticated" => &["statusCode"],
        "setvaluefromurl" => &["parameterTemplate", "parameterValueUrl", "parameterValuePathTemplate", "httpMethod"],
        "setproperty" => &["newPropertyParentPathTemplate", "newPropertySubPathTemplate", "propertyValuePathTemplate"],
        "convertobjecttoarray" => &["propertyParentPath", "propertySubPath", "newPropertyPath", "keyName", "valueName"],
        "convertarraytoobject" => {
            &["propertyParentPath", "propertySubPath", "keyWithinCollectionPath", "newPropertyPath", "retainKey"]
        }
        "stringreplace" => &["propertyParentPath", "propertySubPath", "oldValue", "newValue"],
        "updatenextlink" => &["nextLinkPropertyName"],
        "pollingtrigger" => &["triggerConfig", "triggerDataPath"],
        "encodepropertyvalue" => &["propertyParentPath", "propertySubPath", "newPropertyPath", "encodingType"],
        "moveproperties" => &["srcParentPath", "srcSubPath", "dstParentPath", "dstSubPath", "copyOnlySubProperties"],
        "stringtoarray" => {
            &["propertyParentPath", "propertySubPath", "delimiterList", "childPropertyName", "newPropertyPath"]
        }
        _ => &[],
    }
}

/// Parses one template's parameters; `notes` gets what was left out of a
/// policy that still loads.
pub(crate) fn parse(
    template_id: &str,
    parameters: &Map<String, Value>,
    notes: &mut Vec<String>,
) -> Result<Kind, NotParsed> {
    let p = Params { map: parameters };
    match template_id {
        "setheader" => {
            let name = p.required("name")?;
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(format!("`{name}` is not a valid header name")))?;
            Ok(Kind::SetHeader { name, value: p.template("value")?, exists: p.exists_action()? })
        }
        "setqueryparameter" => Ok(Kind::SetQueryParameter {
            name: p.required("name")?,
            value: p.template("value")?,
            exists: p.exists_action()?,
        }),
        "routerequesttoendpoint" => {
            let new_path = p.text("newPath")?.map(|t| parse_template("newPath", &t)).transpose()?;
            let method = match p.text("httpMethod")? {
                None => None,
                Some(m) if m.trim().eq_ignore_ascii_case("@Request.OriginalHTTPMethod") => Some(MethodSpec::Original),
                Some(m) => Some(MethodSpec::Fixed(
                    Method::from_bytes(m.trim().to_ascii_uppercase().as_bytes())
                        .map_err(|_| invalid(format!("`{m}` is not an HTTP method")))?,
                )),
            };
            if new_path.is_none() && method.is_none() {
                return Err(invalid("neither newPath nor httpMethod is given".into()));
            }
            Ok(Kind::RouteRequestToEndpoint { new_path, method })
        }
        "dynamichosturl" => Ok(Kind::DynamicHostUrl { url: p.template("urlTemplate")?, subdomain: false }),
        "dynamicsubdomain" => {
            let url = p.template("urlTemplate")?;
            check_subdomain_template(&url)?;
            Ok(Kind::DynamicHostUrl { url, subdomain: true })
        }
        "setconnectionstatustounauthenticated" => {
            let text = p.required("statusCode")?;
            let status = text
                .trim()
                .parse::<u16>()
                .ok()
                .and_then(|code| StatusCode::from_u16(code).ok())
                .filter(|status| (400..600).contains(&status.as_u16()))
                .ok_or_else(|| invalid(format!("statusCode `{text}` is not an HTTP error status (400 to 599)")))?;
            Ok(Kind::MarkUnauthenticated { status })
        }
        "setvaluefromurl" => {
            let url = p.template("parameterValueUrl")?;
            let parsed = ValueFromUrl::parse(
                &p.required("parameterTemplate")?,
                p.text("httpMethod")?.as_deref(),
                url,
                &p.required("parameterValuePathTemplate")?,
            )
            .map_err(invalid)?;
            Ok(Kind::SetValueFromUrl(parsed))
        }
        "setproperty" => {
            let value = match p.get("propertyValuePathTemplate") {
                None => {
                    return Err(invalid(format!("missing parameter `{PARAMETER_PREFIX}propertyValuePathTemplate`")));
                }
                Some(Value::String(s)) if is_body_path(s) => {
                    ValueSpec::Copy(BodyPath::parse(s).map_err(|e| invalid(format!("propertyValuePathTemplate: {e}")))?)
                }
                Some(Value::String(s)) => ValueSpec::Template(parse_template("propertyValuePathTemplate", s)?),
                Some(other) => ValueSpec::Json(other.clone()),
            };
            let sub = p.path("newPropertySubPathTemplate", "")?;
            if sub.steps.is_empty() {
                return Err(invalid(format!("missing parameter `{PARAMETER_PREFIX}newPropertySubPathTemplate`")));
            }
            Ok(Kind::SetProperty { parent: p.path("newPropertyParentPathTemplate", "@body()")?, sub, value })
        }
        "convertobjecttoarray" => Ok(Kind::ObjectToArray {
            parent: p.path("propertyParentPath", "@body()")?,
            sub: p.path("propertySubPath", "")?,
            new_path: p.path("newPropertyPath", "")?,
            key_name: p.required("keyName")?,
            value_name: p.text("valueName")?.unwrap_or_default(),
        }),
        "convertarraytoobject" => {
            let retain_key = p.flag("retainKey", true)?;
            let key = p.path("keyWithinCollectionPath", "")?;
            if key.steps.is_empty() {
                return Err(invalid(format!("missing parameter `{PARAMETER_PREFIX}keyWithinCollectionPath`")));
            }
            Ok(Kind::ArrayToObject {
                parent: p.path("propertyParentPath", "@body()")?,
                sub: p.path("propertySubPath", "")?,
                key,
                new_path: p.path("newPropertyPath", "")?,
                retain_key,
            })
        }
        "stringreplace" => {
            let target = if p.text("propertyParentPath")?.is_none() && p.text("propertySubPath")?.is_none() {
                ReplaceTarget::Body
            } else {
                ReplaceTarget::Property {
                    parent: p.path("propertyParentPath", "@body()")?,
                    sub: p.path("propertySubPath", "")?,
                }
            };
            let new = match p.text("newValue")? {
                Some(text) => parse_template("newValue", &text)?,
                None => parse_template("newValue", "")?,
            };
            Ok(Kind::StringReplace { target, old: p.template("oldValue")?, new })
        }
        "stringtoarray" => {
            let sub = p.path("propertySubPath", "")?;
            // Absent: the result replaces the value it was made from.
            let new_path = p.path_or("newPropertyPath", &sub)?;
            Ok(Kind::StringToArray {
                parent: p.path("propertyParentPath", "@body()")?,
                sub,
                delimiters: p.required("delimiterList")?.chars().collect(),
                child: p.required("childPropertyName")?,
                new_path,
            })
        }
        "updatenextlink" => {
            let name = p.required("nextLinkPropertyName")?;
            let property = if is_body_path(&name) {
                NextLinkProperty::Path(
                    BodyPath::parse(&name)
                        .map_err(|e| invalid(format!("parameter `{PARAMETER_PREFIX}nextLinkPropertyName`: {e}")))?,
                )
            } else {
                NextLinkProperty::Name(name.trim().to_string())
            };
            Ok(Kind::UpdateNextLink { property })
        }
        "pollingtrigger" => Ok(Kind::PollingTrigger(PollingTrigger::parse(parameters, notes).map_err(invalid)?)),
        "encodepropertyvalue" => {
            let sub = p.path("propertySubPath", "")?;
            // Absent: the result replaces the value it was made from.
            let new_path = p.path_or("newPropertyPath", &sub)?;
            let encoding = match p.text("encodingType")?.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
                None | Some("url") => Encoding::Url,
                Some("base64") => Encoding::Base64,
                Some(other) => {
                    return Err(invalid(format!(
                        "parameter `{PARAMETER_PREFIX}encodingType`: `{other}` is not url or base64"
                    )));
                }
            };
            Ok(Kind::EncodePropertyValue { parent: p.path("propertyParentPath", "@body()")?, sub, new_path, encoding })
        }
        "moveproperties" => {
            let src_sub = p.path("srcSubPath", "")?;
            if src_sub.steps.is_empty() {
                return Err(invalid(format!("missing parameter `{PARAMETER_PREFIX}srcSubPath`")));
            }
            // AzureAD writes `"dstSubPath": "null"` for "no sub-path".
            let dst_sub = match p.text("dstSubPath")? {
                Some(text) if text.trim().eq_ignore_ascii_case("null") => BodyPath::parse("").map_err(invalid)?,
                _ => p.path("dstSubPath", "")?,
            };
            Ok(Kind::MoveProperties {
                src_parent: p.path("srcParentPath", "@body()")?,
                src_sub,
                dst_parent: p.path("dstParentPath", "@body()")?,
                dst_sub,
                only_sub: p.flag("copyOnlySubProperties", false)?,
            })
        }
        // Every template of the list has an arm above.
        _ => Err(NotParsed::Unknown),
    }
}

fn is_body_path(text: &str) -> bool {
    let t = text.trim();
    ["@body()", "@item()"].iter().any(|p| t.starts_with(p))
}

impl Kind {
    /// Whether the template only makes sense on a response: it runs there
    /// even when its instance names no section (the platform's instances
    /// of these name none).
    pub(crate) fn response_only(&self) -> bool {
        matches!(self, Kind::UpdateNextLink { .. } | Kind::PollingTrigger(_) | Kind::MarkUnauthenticated { .. })
    }

    /// Whether the template can run in the response section.
    pub(crate) fn allowed_in_response(&self) -> bool {
        !matches!(
            self,
            Kind::SetQueryParameter { .. }
                | Kind::RouteRequestToEndpoint { .. }
                | Kind::DynamicHostUrl { .. }
                | Kind::SetValueFromUrl(_)
        )
    }

    /// Whether an expression of the policy reads a header.
    pub(crate) fn reads_headers(&self) -> bool {
        self.templates().iter().any(|t| t.reads_headers())
    }

    /// The templates whose text is evaluated per call.
    pub(crate) fn templates(&self) -> Vec<&Template> {
        match self {
            Kind::SetHeader { value, .. } | Kind::SetQueryParameter { value, .. } => vec![value],
            Kind::RouteRequestToEndpoint { new_path, .. } => new_path.iter().collect(),
            Kind::DynamicHostUrl { url, .. } => vec![url],
            Kind::SetValueFromUrl(fetch) => vec![&fetch.url],
            Kind::SetProperty { value: ValueSpec::Template(t), .. } => vec![t],
            Kind::StringReplace { old, new, .. } => vec![old, new],
            _ => Vec::new(),
        }
    }
}

/// A body being edited: parsed as JSON on first use, serialised once at
/// the end.
pub(crate) struct Body {
    raw: Bytes,
    json: Option<Value>,
    changed: bool,
    /// Request bodies must be JSON for JSON templates; response bodies that
    /// are not are left alone (see the module docs).
    strict: bool,
    /// The largest body the templates may make, in bytes: a template that
    /// would grow it past this fails before it builds anything.
    limit: usize,
}

impl Body {
    pub(crate) fn new(raw: Bytes, strict: bool, limit: usize) -> Self {
        Self { raw, json: None, changed: false, strict, limit }
    }

    /// Refuses an edit that would make the body `grown` bytes longer than
    /// the limit allows.
    fn room_for(&self, policy: &str, grown: usize) -> Result<(), PolicyError> {
        if self.raw.len().saturating_add(grown) > self.limit {
            return Err(PolicyError::BodyTooLarge { policy: policy.to_string(), limit: self.limit });
        }
        Ok(())
    }

    /// The body as JSON; `None` when there is nothing to work on.
    pub(crate) fn json(&mut self, policy: &str, create_if_empty: bool) -> Result<Option<&mut Value>, PolicyError> {
        if self.json.is_none() {
            if self.raw.iter().all(u8::is_ascii_whitespace) {
                if !create_if_empty {
                    return Ok(None);
                }
                self.json = Some(Value::Object(Map::new()));
            } else {
                match serde_json::from_slice(&self.raw) {
                    Ok(v) => self.json = Some(v),
                    Err(_) if !self.strict => return Ok(None),
                    Err(e) => {
                        return Err(PolicyError::BodyNotJson { policy: policy.to_string(), reason: e.to_string() });
                    }
                }
            }
        }
        Ok(self.json.as_mut())
    }

    /// The body as text, with any JSON edits so far serialised first.
    fn text(&mut self, policy: &str) -> Result<Option<String>, PolicyError> {
        self.flush();
        match std::str::from_utf8(&self.raw) {
            Ok(s) => Ok(Some(s.to_string())),
            Err(_) if !self.strict => Ok(None),
            Err(e) => Err(PolicyError::BodyNotJson { policy: policy.to_string(), reason: e.to_string() }),
        }
    }

    fn flush(&mut self) {
        if let Some(json) = self.json.take()
            && self.changed
        {
            self.raw = Bytes::from(json.to_string());
        }
    }

    /// The new body, if a template changed it.
    pub(crate) fn finish(mut self) -> Option<Bytes> {
        if !self.changed {
            return None;
        }
        self.flush();
        Some(self.raw)
    }
}

/// The response as response policies edit it.
pub(crate) struct ResponseParts<'r> {
    pub(crate) status: &'r mut StatusCode,
    pub(crate) headers: &'r mut HeaderMap,
    pub(crate) body: Body,
}

/// The request as request policies edit it.
pub(crate) struct RequestParts<'r> {
    pub(crate) target: LazyTarget<'r>,
    pub(crate) method: &'r mut Method,
    pub(crate) original_method: Method,
    pub(crate) headers: &'r mut HeaderMap,
    pub(crate) body: Body,
    pub(crate) path_params: &'r IndexMap<String, String>,
}

/// The backend URL, split into [`Target`]'s parts only when a policy first
/// reads or edits it: most request policies only set headers.
pub(crate) struct LazyTarget<'r> {
    uri: &'r http::Uri,
    base_path: &'r str,
    /// The split, and the URL as it was before any policy edited it.
    split: Option<(Target, Target)>,
}

impl<'r> LazyTarget<'r> {
    /// `uri`, to be split with the definition's `base_path`.
    pub(crate) fn new(uri: &'r http::Uri, base_path: &'r str) -> Self {
        Self { uri, base_path, split: None }
    }

    /// The parts, split now if no policy has asked before; `policy` is the
    /// one asking, named if the URL cannot be split.
    pub(crate) fn get(&mut self, policy: &str) -> Result<&mut Target, PolicyError> {
        let split = match self.split.take() {
            Some(split) => split,
            None => {
                let target = Target::split(self.uri, self.base_path).map_err(|reason| PolicyError::InvalidUrl {
                    policy: policy.to_string(),
                    url: self.uri.to_string(),
                    reason,
                })?;
                (target.clone(), target)
            }
        };
        let (target, _) = self.split.insert(split);
        Ok(target)
    }

    /// The edited URL's parts, if a policy changed them.
    pub(crate) fn edited(self) -> Option<Target> {
        self.split.filter(|(target, original)| target != original).map(|(target, _)| target)
    }
}

fn render(policy: &str, template: &Template, ctx: &ExprContext<'_>) -> Result<String, PolicyError> {
    template.render(ctx).map_err(|UndefinedParameter(name)| PolicyError::UndefinedConnectionParameter {
        policy: policy.to_string(),
        name,
    })
}

fn set_header(
    policy: &str,
    headers: &mut HeaderMap,
    name: &HeaderName,
    value: &Template,
    exists: ExistsAction,
    ctx: &ExprContext<'_>,
) -> Result<(), PolicyError> {
    if exists == ExistsAction::Skip && headers.contains_key(name) {
        return Ok(());
    }
    let text = render(policy, value, ctx)?;
    // The value may hold a secret: the error names the header, never the value.
    let value = HeaderValue::from_str(&text)
        .map_err(|_| PolicyError::InvalidHeader { policy: policy.to_string(), name: name.to_string() })?;
    match exists {
        ExistsAction::Append => {
            headers.append(name.clone(), value);
        }
        ExistsAction::Override | ExistsAction::Skip => {
            headers.insert(name.clone(), value);
        }
    }
    Ok(())
}

impl Kind {
    /// Applies a request-section policy.
    pub(crate) fn apply_request(
        &self,
        policy: &str,
        req: &mut RequestParts<'_>,
        ctx: &ExprContext<'_>,
    ) -> Result<(), PolicyError> {
        match self {
            Kind::SetHeader { name, value, exists } => set_header(policy, req.headers, name, value, *exists, ctx),
            Kind::SetQueryParameter { name, value, exists } => {
                let query = &mut req.target.get(policy)?.query;
                match exists {
                    ExistsAction::Skip if query.contains(name) => return Ok(()),
                    ExistsAction::Override => query.remove(name),
                    _ => {}
                }
                let value = render(policy, value, ctx)?;
                query.push(name, &value);
                Ok(())
            }
            Kind::RouteRequestToEndpoint { new_path, method } => {
                if let Some(new_path) = new_path {
                    let rendered = render(policy, new_path, ctx)?;
                    let filled = fill_placeholders(policy, &rendered, req.path_params)?;
                    route_to(policy, req.target.get(policy)?, &filled)?;
                }
                match method {
                    Some(MethodSpec::Original) => *req.method = req.original_method.clone(),
                    Some(MethodSpec::Fixed(m)) => *req.method = m.clone(),
                    None => {}
                }
                Ok(())
            }
            Kind::DynamicHostUrl { url, subdomain } => {
                let prefix = evaluate_base_url(policy, url, *subdomain, ctx)?;
                req.target.get(policy)?.prefix = prefix;
                Ok(())
            }
            _ => self.apply_body(policy, &mut req.body, ctx),
        }
    }

    /// Applies a response-section policy; `base_path` is the definition's.
    pub(crate) fn apply_response(
        &self,
        policy: &str,
        res: &mut ResponseParts<'_>,
        ctx: &ExprContext<'_>,
        base_path: &str,
    ) -> Result<(), PolicyError> {
        match self {
            Kind::SetHeader { name, value, exists } => set_header(policy, res.headers, name, value, *exists, ctx),
            Kind::UpdateNextLink { property } => {
                update_next_link(policy, property, &mut res.body, ctx, base_path)?;
                Ok(())
            }
            Kind::PollingTrigger(trigger) => trigger.apply(policy, res, ctx, base_path),
            // The caller reads it (`PolicySet::marks_unauthenticated`).
            Kind::MarkUnauthenticated { .. } => Ok(()),
            _ => self.apply_body(policy, &mut res.body, ctx),
        }
    }

    fn apply_body(&self, policy: &str, body: &mut Body, ctx: &ExprContext<'_>) -> Result<(), PolicyError> {
        let body_error = |reason: String| PolicyError::Body { policy: policy.to_string(), reason };
        match self {
            Kind::SetProperty { parent, sub, value } => {
                let value = match value {
                    ValueSpec::Json(v) => PropertyValue::Fixed(v.clone()),
                    ValueSpec::Template(t) => PropertyValue::Fixed(Value::String(render(policy, t, ctx)?)),
                    ValueSpec::Copy(path) => PropertyValue::Copy(path.clone()),
                };
                let budget = body.limit.saturating_sub(body.raw.len());
                let limit = body.limit;
                if let Some(json) = body.json(policy, true)? {
                    body::set_property(json, parent, sub, &value, budget)
                        .map_err(|error| grow_error(policy, limit, error))?;
                    body.changed = true;
                }
            }
            Kind::ObjectToArray { parent, sub, new_path, key_name, value_name } => {
                if let Some(json) = body.json(policy, false)? {
                    let written =
                        body::object_to_array(json, parent, sub, new_path, key_name, value_name).map_err(body_error)?;
                    body.changed |= written;
                }
            }
            Kind::ArrayToObject { parent, sub, key, new_path, retain_key } => {
                if let Some(json) = body.json(policy, false)? {
                    let written =
                        body::array_to_object(json, parent, sub, key, new_path, *retain_key).map_err(body_error)?;
                    body.changed |= written;
                }
            }
            Kind::EncodePropertyValue { parent, sub, new_path, encoding } => {
                let budget = body.limit.saturating_sub(body.raw.len());
                let limit = body.limit;
                if let Some(json) = body.json(policy, false)? {
                    let encode = |text: &str| encoding.apply(text);
                    let written = body::encode_values(json, parent, sub, new_path, encode, budget)
                        .map_err(|error| grow_error(policy, limit, error))?;
                    body.changed |= written;
                }
            }
            Kind::MoveProperties { src_parent, src_sub, dst_parent, dst_sub, only_sub } => {
                if let Some(json) = body.json(policy, false)? {
                    body.changed |= body::move_properties(json, src_parent, src_sub, dst_parent, dst_sub, *only_sub);
                }
            }
            Kind::StringToArray { parent, sub, delimiters, child, new_path } => {
                let budget = body.limit.saturating_sub(body.raw.len());
                let limit = body.limit;
                if let Some(json) = body.json(policy, false)? {
                    let written = body::string_to_array(json, parent, sub, delimiters, child, new_path, budget)
                        .map_err(|error| grow_error(policy, limit, error))?;
                    body.changed |= written;
                }
            }
            Kind::StringReplace { target, old, new } => {
                let old = render(policy, old, ctx)?;
                let new = render(policy, new, ctx)?;
                if old.is_empty() {
                    return Ok(());
                }
                match target {
                    ReplaceTarget::Body => {
                        if let Some(text) = body.text(policy)?
                            && text.contains(&old)
                        {
                            let growth = text.matches(&old).count().saturating_mul(new.len().saturating_sub(old.len()));
                            body.room_for(policy, growth)?;
                            body.raw = Bytes::from(text.replace(&old, &new));
                            body.changed = true;
                        }
                    }
                    ReplaceTarget::Property { parent, sub } => {
                        let limit = body.limit;
                        let size = body.raw.len();
                        if let Some(json) = body.json(policy, false)? {
                            let growth = body::count_in_strings(json, parent, sub, &old)
                                .saturating_mul(new.len().saturating_sub(old.len()));
                            if size.saturating_add(growth) > limit {
                                return Err(PolicyError::BodyTooLarge { policy: policy.to_string(), limit });
                            }
                            let replaced = body::replace_in_strings(json, parent, sub, &old, &new);
                            body.changed |= replaced;
                        }
                    }
                }
            }
            // Request-only templates never reach here: parsing moves them to
            // the request section; and response-only ones the other way.
            Kind::UpdateNextLink { .. }
            | Kind::PollingTrigger(_)
            | Kind::MarkUnauthenticated { .. }
            | Kind::SetHeader { .. }
            | Kind::SetQueryParameter { .. }
            | Kind::RouteRequestToEndpoint { .. }
            | Kind::DynamicHostUrl { .. }
            | Kind::SetValueFromUrl(_) => {}
        }
        Ok(())
    }
}

/// `updatenextlink`: the next-page link at `property` rewritten to the same
/// page through the gateway and the call's connection. A link that is not
/// on the backend's origin and under its base path, or a call with no
/// gateway, leaves the body as it is (logged at debug).
fn update_next_link(
    policy: &str,
    property: &NextLinkProperty,
    body: &mut Body,
    ctx: &ExprContext<'_>,
    base_path: &str,
) -> Result<(), PolicyError> {
    let (size, limit) = (body.raw.len(), body.limit);
    let Some(json) = body.json(policy, false)? else {
        return Ok(());
    };
    let link = match property {
        NextLinkProperty::Name(name) => json.as_object_mut().and_then(|o| o.get_mut(name)),
        NextLinkProperty::Path(path) => body::get_mut(json, &path.steps),
    };
    // No link, or `null`: the last page.
    let Some(Value::String(link)) = link else {
        return Ok(());
    };
    let Some(route) = ctx.gateway else {
        tracing::debug!(policy, "updatenextlink: no gateway route for this call; the next link is left as it is");
        return Ok(());
    };
    match target::gateway_link(link, route.backend_url, base_path, route.connection_url) {
        Ok(rewritten) => {
            if size.saturating_add(rewritten.len().saturating_sub(link.len())) > limit {
                return Err(PolicyError::BodyTooLarge { policy: policy.to_string(), limit });
            }
            *link = rewritten;
            body.changed = true;
        }
        // The reason names the link's origin, never the link (its query
        // may carry a token).
        Err(reason) => tracing::debug!(policy, %reason, "updatenextlink: the next link is left as it is"),
    }
    Ok(())
}

/// A body edit that did not fit, as the policy's error.
fn grow_error(policy: &str, limit: usize, error: body::Grow) -> PolicyError {
    match error {
        body::Grow::TooLarge => PolicyError::BodyTooLarge { policy: policy.to_string(), limit },
        body::Grow::Invalid(reason) => PolicyError::Body { policy: policy.to_string(), reason },
    }
}

/// Evaluates a `dynamichosturl` template to a checked base URL; with
/// `subdomain` (`dynamicsubdomain`), each value an expression puts in must
/// be one DNS label.
pub(crate) fn evaluate_base_url(
    policy: &str,
    url: &Template,
    subdomain: bool,
    ctx: &ExprContext<'_>,
) -> Result<String, PolicyError> {
    if !subdomain {
        let text = render(policy, url, ctx)?;
        return base_url(policy, &text);
    }
    let text = url.render_checked(ctx, &dns_label).map_err(|error| match error {
        RenderError::Undefined(UndefinedParameter(name)) => {
            PolicyError::UndefinedConnectionParameter { policy: policy.to_string(), name }
        }
        // The URL is not made: the error names the expression, never its value.
        RenderError::Refused { name, reason } => PolicyError::InvalidUrl {
            policy: policy.to_string(),
            url: url.shape(),
            reason: format!("the value of `{name}` {reason}, so that a connection chooses only a subdomain"),
        },
    })?;
    base_url(policy, &text)
}

/// Whether `value` is one DNS label: 1 to 63 letters, digits and hyphens,
/// not starting or ending with a hyphen.
fn dns_label(value: &str) -> Result<(), String> {
    let ok = (1..=63).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if ok { Ok(()) } else { Err("is not one DNS label (1 to 63 letters, digits and hyphens)".into()) }
}

/// `dynamicsubdomain`'s template must end its expressions inside the host,
/// followed by a fixed domain of at least two labels
/// (`https://@connectionParameters('tenant').example.com/api`), so that the
/// connection's value can only choose a subdomain of it.
fn check_subdomain_template(url: &Template) -> Result<(), NotParsed> {
    let refuse = || {
        invalid(
            "urlTemplate must put its expressions in the host, before a fixed domain \
             (`https://@connectionParameters('name').example.com/...`)"
                .into(),
        )
    };
    if !url.has_expressions() {
        return Err(refuse());
    }
    let after = url.text_after_last_expression().ok_or_else(refuse)?;
    let domain = after.strip_prefix('.').ok_or_else(refuse)?;
    let host = domain.split(['/', ':', '?', '#']).next().unwrap_or_default();
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|label| dns_label(label).is_err()) {
        return Err(refuse());
    }
    Ok(())
}

/// The URL a policy names for a call of its own (`setvaluefromurl`'s
/// `parameterValueUrl`): expressions evaluated, `{name}` placeholders filled
/// with the operation's path parameters, then an absolute `http(s)` URL as
/// it is, or a path (and query) relative to the request's base URL as the
/// earlier policies left it.
pub(crate) fn endpoint_url(
    policy: &str,
    url: &Template,
    target: &Target,
    path_params: &IndexMap<String, String>,
    ctx: &ExprContext<'_>,
) -> Result<String, PolicyError> {
    let rendered = render(policy, url, ctx)?;
    let filled = fill_placeholders(policy, rendered.trim(), path_params)?;
    if filled.starts_with("http://") || filled.starts_with("https://") {
        return Ok(filled);
    }
    let separator = if filled.starts_with('/') || filled.starts_with('?') { "" } else { "/" };
    Ok(format!("{}{separator}{filled}", target.prefix))
}

/// Writes a fetched value at a path of the JSON request body (made `{}`
/// when empty), within the body's limit.
pub(crate) fn set_body_value(policy: &str, body: &mut Body, path: &BodyPath, value: String) -> Result<(), PolicyError> {
    body.room_for(policy, value.len().saturating_add(path.steps.len()))?;
    let Some(json) = body.json(policy, true)? else { return Ok(()) };
    body::set(json, &path.steps, Value::String(value))
        .map_err(|reason| PolicyError::Body { policy: policy.to_string(), reason })?;
    body.changed = true;
    Ok(())
}

/// Replaces `{name}` with the operation's path parameter, encoded as a
/// path segment.
fn fill_placeholders(policy: &str, text: &str, params: &IndexMap<String, String>) -> Result<String, PolicyError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            break;
        };
        out.push_str(&rest[..open]);
        let name = &rest[open + 1..close];
        let value = params
            .get(name)
            .ok_or_else(|| PolicyError::MissingPathParameter { policy: policy.to_string(), name: name.to_string() })?;
        out.push_str(&encode_segment(value));
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Points the target at `new_path`: a path relative to the base URL, or an
/// absolute URL replacing the base URL too. A query in it is appended.
fn route_to(policy: &str, target: &mut Target, new_path: &str) -> Result<(), PolicyError> {
    let (path, query) = match new_path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (new_path, None),
    };
    if path.starts_with("http://") || path.starts_with("https://") {
        target.prefix = base_url(policy, path)?;
        target.path = String::new();
    } else if path.is_empty() || path.starts_with('/') {
        target.path = path.to_string();
    } else {
        target.path = format!("/{path}");
    }
    if let Some(query) = query {
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            target.query.push(&name, &value);
        }
    }
    Ok(())
}

/// Checks a base URL and returns it without a trailing `/`.
fn base_url(policy: &str, text: &str) -> Result<String, PolicyError> {
    let fail = |reason: String| PolicyError::InvalidUrl { policy: policy.to_string(), url: text.to_string(), reason };
    let url = url::Url::parse(text.trim()).map_err(|e| fail(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(fail(format!("scheme `{}` is not http or https", url.scheme())));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(fail("it has no host".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(fail("a base URL cannot carry a query or fragment".into()));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}
