//! Expressions inside policy parameter values: `@connectionParameters('x')`,
//! `@headers('x')` and `@queryParameters('x')`, alone or embedded in text
//! (`Bearer @connectionParameters('api_key')`), parsed once when a policy is
//! loaded and evaluated per call against an [`ExprContext`].
//!
//! Syntax, as the platform writes it:
//! - `@name('argument')` or `@{name('argument')}`; a quote inside the
//!   argument is doubled (`'it''s'`); function names match in any case
//!   (`@ConnectionParameters`), as the platform matches them;
//! - a second argument is the default, used when the value is missing or
//!   empty (`@connectionParameters('domain', 'api.example.com')`);
//! - `@@` is a literal `@`;
//! - an `@` not followed by `{` or by a name and `(` is literal text, so
//!   e-mail addresses in values need no escaping.
//!
//! A function other than the three above is a parse error (the policy is
//! then dropped with a load warning). At evaluation, an undefined connection
//! parameter is an error naming it; a missing header or query parameter
//! evaluates to the empty string, as a missing value does on the platform.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;

use indexmap::IndexMap;

/// Where a connection's parameter values come from: a lookup by parameter
/// name, so the gateway can keep values in whatever map (or secret store)
/// it likes. Names are case-sensitive, as on the platform. `Sync` so that an
/// [`ExprContext`] can be held across an `.await` in a `Send` future.
pub trait ConnectionValues: Sync {
    /// The value of the connection parameter `name`, if the connection has one.
    fn value(&self, name: &str) -> Option<&str>;
}

impl<S: BuildHasher + Sync> ConnectionValues for HashMap<String, String, S> {
    fn value(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

impl<S: BuildHasher + Sync> ConnectionValues for IndexMap<String, String, S> {
    fn value(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

impl ConnectionValues for BTreeMap<String, String> {
    fn value(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

/// What expressions are evaluated against during one call.
#[derive(Clone, Copy)]
pub struct ExprContext<'a> {
    /// The connection's parameter values (`@connectionParameters('x')`).
    pub connection_parameters: &'a dyn ConnectionValues,
    /// Headers of the client's original request (`@headers('x')`); names
    /// match case-insensitively.
    pub headers: &'a http::HeaderMap,
    /// Query parameters of the client's original request, decoded, in order
    /// (`@queryParameters('x')`); the first one with the name wins.
    pub query: &'a [(String, String)],
    /// Where the call came through the gateway and went to the backend, for
    /// templates that point the client back at the gateway
    /// (`updatenextlink`); `None` where there is no gateway (load-time
    /// checks, offline runs), and those templates then leave the message as
    /// it is.
    pub gateway: Option<GatewayRoute<'a>>,
}

/// A call's way through the gateway: the gateway URL of its connection and
/// the backend URL it was sent to.
#[derive(Debug, Clone, Copy)]
pub struct GatewayRoute<'a> {
    /// The URL the connection's operations are called at, without a
    /// trailing `/`: `{public URL}/apim/{connector}/{connection}`, with the
    /// environment's prefix before `/apim` outside the default one.
    pub connection_url: &'a str,
    /// The backend request's URL as the gateway sent it, after the request
    /// policies (so a `dynamichosturl` host is the backend's origin).
    pub backend_url: &'a http::Uri,
}

impl fmt::Debug for ExprContext<'_> {
    // Values may be secrets: show only what is safe to log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExprContext")
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("query", &self.query.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .field("gateway", &self.gateway.map(|g| g.connection_url))
            .finish_non_exhaustive()
    }
}

/// A parameter value with its expressions parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    ConnectionParameter { name: String, default: Option<String> },
    Header { name: String, default: Option<String> },
    Query { name: String, default: Option<String> },
}

/// Evaluation failed because the connection has no such parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UndefinedParameter(pub(crate) String);

/// Why [`Template::render_checked`] made no text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RenderError {
    /// The connection has no such parameter.
    Undefined(UndefinedParameter),
    /// The value of the expression reading `name` cannot stand where the
    /// template puts it.
    Refused { name: String, reason: String },
}

/// What a template that is one bare expression names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reference {
    /// `@headers('name')`.
    Header(String),
    /// `@queryParameters('name')`.
    Query(String),
}

impl Template {
    /// Parses `text`; the error says what is wrong and where.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(at) = rest.find('@') {
            literal.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            if let Some(tail) = after.strip_prefix('@') {
                literal.push('@');
                rest = tail;
                continue;
            }
            let (call, braced) = match after.strip_prefix('{') {
                Some(inner) => (inner, true),
                None => (after, false),
            };
            let name_len = call.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(call.len());
            let is_call = name_len > 0 && call[name_len..].starts_with('(');
            if !is_call {
                if braced {
                    return Err(format!("`@{{` at byte {at} does not start a function call"));
                }
                literal.push('@');
                rest = after;
                continue;
            }
            let name = &call[..name_len];
            let (argument, default, mut tail) =
                parse_call_arguments(&call[name_len + 1..]).map_err(|reason| format!("in `@{name}(`: {reason}"))?;
            if braced {
                tail = tail.strip_prefix('}').ok_or_else(|| format!("`@{{{name}(...)` is missing its closing `}}`"))?;
            }
            let part = match name.to_ascii_lowercase().as_str() {
                "connectionparameters" => Part::ConnectionParameter { name: argument, default },
                "headers" => Part::Header { name: argument, default },
                "queryparameters" => Part::Query { name: argument, default },
                _ => {
                    let other = name;
                    return Err(format!(
                        "unsupported expression function `{other}` (sluice evaluates \
                         connectionParameters, headers and queryParameters)"
                    ));
                }
            };
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(part);
            rest = tail;
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Self { parts })
    }

    /// Evaluates the template to a string.
    pub(crate) fn render(&self, ctx: &ExprContext<'_>) -> Result<String, UndefinedParameter> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::ConnectionParameter { name, default } => {
                    let value = ctx.connection_parameters.value(name).filter(|v| !v.is_empty() || default.is_none());
                    match (value, default) {
                        (Some(value), _) => out.push_str(value),
                        (None, Some(default)) => out.push_str(default),
                        (None, None) => return Err(UndefinedParameter(name.clone())),
                    }
                }
                Part::Header { name, default } => {
                    let value = ctx.headers.get(name.as_str()).map(|v| String::from_utf8_lossy(v.as_bytes()));
                    match value.filter(|v| !v.is_empty()) {
                        Some(value) => out.push_str(&value),
                        None => out.push_str(default.as_deref().unwrap_or_default()),
                    }
                }
                Part::Query { name, default } => {
                    let value = ctx.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
                    out.push_str(value.filter(|v| !v.is_empty()).or(default.as_deref()).unwrap_or_default());
                }
            }
        }
        Ok(out)
    }

    /// Names of the connection parameters the template refers to, in order.
    /// Renders the template like [`Template::render`], checking each value
    /// an expression puts in (a default included) with `check`, which says
    /// why a value cannot stand there. The error names the expression's
    /// argument, never the value, which may be a secret.
    pub(crate) fn render_checked(
        &self,
        ctx: &ExprContext<'_>,
        check: &dyn Fn(&str) -> Result<(), String>,
    ) -> Result<String, RenderError> {
        let mut out = String::new();
        for part in &self.parts {
            let (name, piece) = match part {
                Part::Literal(text) => {
                    out.push_str(text);
                    continue;
                }
                Part::ConnectionParameter { name, .. } | Part::Header { name, .. } | Part::Query { name, .. } => {
                    let single = Template { parts: vec![part.clone()] };
                    (name, single.render(ctx).map_err(RenderError::Undefined)?)
                }
            };
            check(&piece).map_err(|reason| RenderError::Refused { name: name.clone(), reason })?;
            out.push_str(&piece);
        }
        Ok(out)
    }

    /// The literal text after the template's last expression, when it has
    /// one and text follows it.
    pub(crate) fn text_after_last_expression(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [.., Part::Literal(_)] if self.parts.len() == 1 => None,
            [.., Part::Literal(text)] => Some(text),
            _ => None,
        }
    }

    /// The template's text with each expression shown as `{argument}`, for
    /// errors that must not show values.
    pub(crate) fn shape(&self) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::ConnectionParameter { name, .. } | Part::Header { name, .. } | Part::Query { name, .. } => {
                    out.push('{');
                    out.push_str(name);
                    out.push('}');
                }
            }
        }
        out
    }

    /// Whether the template has any expression.
    pub(crate) fn has_expressions(&self) -> bool {
        self.parts.iter().any(|p| !matches!(p, Part::Literal(_)))
    }

    /// Whether an expression reads a header (`@headers(...)`).
    pub(crate) fn reads_headers(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Header { .. }))
    }

    /// The header or query parameter the template names when it is nothing
    /// but one `@headers('x')` or `@queryParameters('x')`: where
    /// `setvaluefromurl` puts its value.
    pub(crate) fn as_reference(&self) -> Option<Reference> {
        match self.parts.as_slice() {
            [Part::Header { name, default: None }] => Some(Reference::Header(name.clone())),
            [Part::Query { name, default: None }] => Some(Reference::Query(name.clone())),
            _ => None,
        }
    }

    pub(crate) fn connection_parameters(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::ConnectionParameter { name, .. } => Some(name.as_str()),
            _ => None,
        })
    }
}

/// Parses `'argument')` or `'argument', 'default')`; returns the argument,
/// the default, and what follows the `)`.
fn parse_call_arguments(s: &str) -> Result<(String, Option<String>, &str), String> {
    let (argument, tail) = parse_quoted_argument(s)?;
    let tail = tail.trim_start();
    if let Some(tail) = tail.strip_prefix(')') {
        return Ok((argument, None, tail));
    }
    let Some(second) = tail.strip_prefix(',') else {
        return Err("expected `)` after the argument".into());
    };
    let (default, tail) = parse_quoted_argument(second)?;
    let tail = tail.trim_start().strip_prefix(')').ok_or("expected `)` after the default")?;
    Ok((argument, Some(default), tail))
}

/// Parses one quoted argument; returns it and what follows its closing quote.
fn parse_quoted_argument(s: &str) -> Result<(String, &str), String> {
    let s = s.trim_start();
    match s.chars().next() {
        Some('\'') => parse_quoted(&s[1..], '\''),
        // The platform's environment-variable syntax uses double quotes;
        // accept them for the three supported functions too.
        Some('"') => parse_quoted(&s[1..], '"'),
        _ => Err("expected a quoted argument".into()),
    }
}

fn parse_quoted(s: &str, quote: char) -> Result<(String, &str), String> {
    let mut argument = String::new();
    let mut iter = s.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        if c != quote {
            argument.push(c);
            continue;
        }
        if iter.peek().map(|&(_, n)| n) == Some(quote) {
            argument.push(quote);
            iter.next();
            continue;
        }
        return Ok((argument, &s[i + c.len_utf8()..]));
    }
    Err("unterminated quoted argument".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(
        text: &str,
        conn: &[(&str, &str)],
        headers: &[(&str, &str)],
        query: &[(&str, &str)],
    ) -> Result<String, UndefinedParameter> {
        let conn: IndexMap<String, String> = conn.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut map = http::HeaderMap::new();
        for (k, v) in headers {
            map.append(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), http::HeaderValue::from_str(v).unwrap());
        }
        let query: Vec<(String, String)> = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let ctx = ExprContext { connection_parameters: &conn, headers: &map, query: &query, gateway: None };
        Template::parse(text).unwrap().render(&ctx)
    }

    #[test]
    fn context_can_be_held_across_an_await() {
        fn send_and_sync<T: Send + Sync>() {}
        send_and_sync::<ExprContext<'static>>();
    }

    #[test]
    fn plain_text_is_literal() {
        let t = Template::parse("ms_power_automate").unwrap();
        assert_eq!(t.parts, [Part::Literal("ms_power_automate".into())]);
        assert_eq!(render("ms_power_automate", &[], &[], &[]).unwrap(), "ms_power_automate");
    }

    #[test]
    fn connection_parameter_alone_is_substituted() {
        let out = render("@connectionParameters('api_key')", &[("api_key", "k1")], &[], &[]);
        assert_eq!(out.unwrap(), "k1");
    }

    #[test]
    fn connection_parameter_embedded_in_text_is_substituted() {
        let out = render("Bearer @connectionParameters('api_key')", &[("api_key", "k1")], &[], &[]);
        assert_eq!(out.unwrap(), "Bearer k1");
        let out =
            render("https://@connectionParameters('factoryUrl')/api/v3", &[("factoryUrl", "acme.tulip.co")], &[], &[]);
        assert_eq!(out.unwrap(), "https://acme.tulip.co/api/v3");
    }

    #[test]
    fn braced_form_is_substituted() {
        let out = render("v=@{connectionParameters('x')}!", &[("x", "1")], &[], &[]);
        assert_eq!(out.unwrap(), "v=1!");
    }

    #[test]
    fn header_is_read_case_insensitively() {
        let out = render("@headers('X-Tenant')", &[], &[("x-tenant", "t1")], &[]);
        assert_eq!(out.unwrap(), "t1");
    }

    #[test]
    fn query_parameter_is_read() {
        let out = render("page=@queryParameters('page')", &[], &[], &[("page", "2")]);
        assert_eq!(out.unwrap(), "page=2");
    }

    #[test]
    fn missing_header_and_query_evaluate_to_empty() {
        assert_eq!(render("[@headers('nope')@queryParameters('nope')]", &[], &[], &[]).unwrap(), "[]");
    }

    #[test]
    fn undefined_connection_parameter_names_it() {
        let err = render("https://@connectionParameters('factoryURL')/api/v3", &[("factoryUrl", "x")], &[], &[]);
        assert_eq!(err.unwrap_err(), UndefinedParameter("factoryURL".into()));
    }

    #[test]
    fn at_sign_not_starting_a_call_is_literal() {
        assert_eq!(render("user@example.com", &[], &[], &[]).unwrap(), "user@example.com");
        assert_eq!(render("a@@b", &[], &[], &[]).unwrap(), "a@b");
    }

    #[test]
    fn doubled_quote_escapes_a_quote() {
        let out = render("@connectionParameters('it''s')", &[("it's", "v")], &[], &[]);
        assert_eq!(out.unwrap(), "v");
    }

    #[test]
    fn unsupported_function_is_a_parse_error() {
        let err = Template::parse("@concat('a', 'b')").unwrap_err();
        assert!(err.contains("concat"), "{err}");
        assert!(Template::parse("@connectionParameters(x)").is_err());
        assert!(Template::parse("@connectionParameters('x'").is_err());
        assert!(Template::parse("@{connectionParameters('x')").is_err());
    }

    #[test]
    fn referenced_connection_parameters_are_listed() {
        let t = Template::parse("@connectionParameters('a')-@headers('h')-@{connectionParameters('b')}").unwrap();
        assert_eq!(t.connection_parameters().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn a_second_argument_is_the_default_of_a_missing_or_empty_value() {
        let template = "https://@connectionParameters('domain', 'api.pdfblocks.com')/v1";
        assert_eq!(render(template, &[], &[], &[]).unwrap(), "https://api.pdfblocks.com/v1");
        assert_eq!(render(template, &[("domain", "")], &[], &[]).unwrap(), "https://api.pdfblocks.com/v1");
        assert_eq!(render(template, &[("domain", "eu.example")], &[], &[]).unwrap(), "https://eu.example/v1");
        assert_eq!(render("@connectionParameters('apiKey', '')", &[], &[], &[]).unwrap(), "");
        assert_eq!(render("@headers('X-Env', 'prod')", &[], &[], &[]).unwrap(), "prod");
        assert_eq!(render("@queryParameters(\"q\" , \"all\")", &[], &[], &[("q", "x")]).unwrap(), "x");
        // Without a default, a missing connection parameter is still an error.
        assert!(render("@connectionParameters('domain')", &[], &[], &[]).is_err());
        assert!(Template::parse("@connectionParameters('a', )").is_err());
        assert!(Template::parse("@connectionParameters('a', 'b', 'c')").is_err());
    }

    #[test]
    fn function_names_match_in_any_case() {
        let host = "https://@ConnectionParameters('contentgate-DnsName').content-gate.com";
        assert_eq!(
            render(host, &[("contentgate-DnsName", "acme")], &[], &[]).unwrap(),
            "https://acme.content-gate.com"
        );
        assert_eq!(render("@HEADERS('x-a')", &[], &[("x-a", "1")], &[]).unwrap(), "1");
        // The parameter's own name keeps its case.
        assert!(render("@connectionParameters('DOMAIN')", &[("domain", "x")], &[], &[]).is_err());
    }
}
