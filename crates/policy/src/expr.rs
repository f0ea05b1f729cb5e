//! Expressions inside policy parameter values: `@connectionParameters('x')`,
//! `@headers('x')` and `@queryParameters('x')`, alone or embedded in text
//! (`Bearer @connectionParameters('api_key')`), parsed once when a policy is
//! loaded and evaluated per call against an [`ExprContext`].
//!
//! Syntax, as the platform writes it:
//! - `@name('argument')` or `@{name('argument')}`; a quote inside the
//!   argument is doubled (`'it''s'`);
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
}

impl fmt::Debug for ExprContext<'_> {
    // Values may be secrets: show only what is safe to log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExprContext")
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("query", &self.query.iter().map(|(k, _)| k).collect::<Vec<_>>())
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
    ConnectionParameter(String),
    Header(String),
    Query(String),
}

/// Evaluation failed because the connection has no such parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UndefinedParameter(pub(crate) String);

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
            let (argument, mut tail) =
                parse_call_argument(&call[name_len + 1..]).map_err(|reason| format!("in `@{name}(`: {reason}"))?;
            if braced {
                tail = tail.strip_prefix('}').ok_or_else(|| format!("`@{{{name}(...)` is missing its closing `}}`"))?;
            }
            let part = match name {
                "connectionParameters" => Part::ConnectionParameter(argument),
                "headers" => Part::Header(argument),
                "queryParameters" => Part::Query(argument),
                other => {
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
                Part::ConnectionParameter(name) => {
                    let value =
                        ctx.connection_parameters.value(name).ok_or_else(|| UndefinedParameter(name.clone()))?;
                    out.push_str(value);
                }
                Part::Header(name) => {
                    if let Some(value) = ctx.headers.get(name.as_str()) {
                        out.push_str(&String::from_utf8_lossy(value.as_bytes()));
                    }
                }
                Part::Query(name) => {
                    if let Some((_, value)) = ctx.query.iter().find(|(k, _)| k == name) {
                        out.push_str(value);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Names of the connection parameters the template refers to, in order.
    pub(crate) fn connection_parameters(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::ConnectionParameter(name) => Some(name.as_str()),
            _ => None,
        })
    }
}

/// Parses `'argument')` and returns the argument and what follows the `)`.
fn parse_call_argument(s: &str) -> Result<(String, &str), String> {
    let mut chars = s.trim_start().char_indices();
    let body_start = match chars.next() {
        Some((i, '\'')) => i + 1,
        Some((i, '"')) => {
            // The platform's environment-variable syntax uses double quotes;
            // accept them for the three supported functions too.
            return parse_quoted(&s.trim_start()[i + 1..], '"');
        }
        _ => return Err("expected a quoted argument".into()),
    };
    parse_quoted(&s.trim_start()[body_start..], '\'')
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
        let tail = s[i + c.len_utf8()..].trim_start();
        let tail = tail.strip_prefix(')').ok_or_else(|| "expected `)` after the argument".to_string())?;
        return Ok((argument, tail));
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
        let ctx = ExprContext { connection_parameters: &conn, headers: &map, query: &query };
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
}
