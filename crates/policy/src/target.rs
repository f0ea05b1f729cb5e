//! The backend request's URL as request policies edit it, split into the
//! part `dynamichosturl` replaces (scheme, host and base path), the part
//! `routerequesttoendpoint` replaces (the operation's path) and the query
//! `setqueryparameter` edits. Query parameters a policy does not touch keep
//! their original encoding.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Characters encoded in a query name or value that a policy writes.
const QUERY_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A backend URL in three editable parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// `scheme://authority` and the base path, without a trailing `/`.
    pub(crate) prefix: String,
    /// The operation's path: empty or starting with `/`.
    pub(crate) path: String,
    /// The query.
    pub(crate) query: Query,
}

impl Target {
    /// Splits an absolute URI, taking `base_path` (e.g. `/api/v3`) as the
    /// base when the path starts with it.
    pub(crate) fn split(uri: &http::Uri, base_path: &str) -> Result<Self, String> {
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(format!("the backend URL `{uri}` is not absolute"));
        };
        let base = base_path.trim_end_matches('/');
        let path = uri.path();
        let (base, rest) = match path.strip_prefix(base) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => (base, rest),
            _ => ("", path),
        };
        Ok(Self {
            prefix: format!("{scheme}://{authority}{base}"),
            path: rest.to_string(),
            query: Query::parse(uri.query().unwrap_or("")),
        })
    }

    /// Joins the parts back into a URI, normalised by the URL parser.
    pub(crate) fn to_uri(&self) -> Result<http::Uri, String> {
        let mut text = format!("{}{}", self.prefix, self.path);
        let query = self.query.to_string();
        if !query.is_empty() {
            text.push('?');
            text.push_str(&query);
        }
        let url = url::Url::parse(&text).map_err(|e| format!("the backend URL is invalid: {e}"))?;
        http::Uri::try_from(url.as_str()).map_err(|e| format!("the backend URL is invalid: {e}"))
    }
}

/// A query string as a list of raw (still encoded) name/value pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Query {
    pairs: Vec<(String, Option<String>)>,
}

impl Query {
    /// Splits a raw query string.
    pub(crate) fn parse(raw: &str) -> Self {
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (p.to_string(), None),
            })
            .collect();
        Self { pairs }
    }

    /// Whether a parameter with this (decoded) name is present.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| decode(k) == name)
    }

    /// Removes every parameter with this (decoded) name.
    pub(crate) fn remove(&mut self, name: &str) {
        self.pairs.retain(|(k, _)| decode(k) != name);
    }

    /// Appends a parameter, encoding name and value.
    pub(crate) fn push(&mut self, name: &str, value: &str) {
        self.pairs.push((
            utf8_percent_encode(name, QUERY_COMPONENT).to_string(),
            Some(utf8_percent_encode(value, QUERY_COMPONENT).to_string()),
        ));
    }
}

impl std::fmt::Display for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (k, v)) in self.pairs.iter().enumerate() {
            if i > 0 {
                f.write_str("&")?;
            }
            f.write_str(k)?;
            if let Some(v) = v {
                write!(f, "={v}")?;
            }
        }
        Ok(())
    }
}

fn decode(raw: &str) -> String {
    percent_decode_str(&raw.replace('+', " ")).decode_utf8_lossy().into_owned()
}

/// The gateway URL that serves a backend's next-page `link` through the
/// call's connection: `link` (absolute, or relative to `backend`) must be on
/// `backend`'s origin and under its base path (`base_path` when `backend`'s
/// path starts with it); what follows the base path, and the query, go
/// after `connection_url`. The error says why the link was not rewritten.
pub(crate) fn gateway_link(
    link: &str,
    backend: &http::Uri,
    base_path: &str,
    connection_url: &str,
) -> Result<String, String> {
    let split = Target::split(backend, base_path)?;
    let prefix = url::Url::parse(&split.prefix).map_err(|e| format!("the backend URL is invalid: {e}"))?;
    let next = prefix.join(link.trim()).map_err(|e| format!("the link is not a URL: {e}"))?;
    if next.origin() != prefix.origin() {
        return Err(format!("the link's origin {} is not the backend's", next.origin().ascii_serialization()));
    }
    let base = prefix.path().trim_end_matches('/');
    let rest = match next.path().strip_prefix(base) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => return Err(format!("the link's path is not under the base path `{base}`")),
    };
    let mut out = format!("{}{rest}", connection_url.trim_end_matches('/'));
    if let Some(query) = next.query() {
        out.push('?');
        out.push_str(query);
    }
    Ok(out)
}

/// Percent-encodes a value for use as one path segment.
pub(crate) fn encode_segment(value: &str) -> String {
    utf8_percent_encode(value, QUERY_COMPONENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> http::Uri {
        s.parse().unwrap()
    }

    #[test]
    fn split_separates_base_path_from_operation_path() {
        let t = Target::split(&uri("https://api.tulip.co/api/v3/tables/x?a=1"), "/api/v3").unwrap();
        assert_eq!(t.prefix, "https://api.tulip.co/api/v3");
        assert_eq!(t.path, "/tables/x");
        assert_eq!(t.to_uri().unwrap(), "https://api.tulip.co/api/v3/tables/x?a=1");
    }

    #[test]
    fn split_with_root_base_path_keeps_whole_path() {
        let t = Target::split(&uri("https://h/v1/voices"), "/").unwrap();
        assert_eq!((t.prefix.as_str(), t.path.as_str()), ("https://h", "/v1/voices"));
    }

    #[test]
    fn split_does_not_cut_a_base_path_inside_a_segment() {
        let t = Target::split(&uri("https://h/api/v30/x"), "/api/v3").unwrap();
        assert_eq!((t.prefix.as_str(), t.path.as_str()), ("https://h", "/api/v30/x"));
    }

    #[test]
    fn relative_uri_is_refused() {
        assert!(Target::split(&uri("/just/a/path"), "/").is_err());
    }

    #[test]
    fn next_link_on_the_backend_becomes_the_gateway_url() {
        let backend = uri("https://graph.example/v1.0/groups/g1/members?$top=2");
        let gateway = "https://gw.example/apim/graph/c1";
        let link = "https://GRAPH.example:443/v1.0/groups/g1/members?$top=2&$skiptoken=X%2BY";
        assert_eq!(
            gateway_link(link, &backend, "/v1.0", gateway).unwrap(),
            "https://gw.example/apim/graph/c1/groups/g1/members?$top=2&$skiptoken=X%2BY"
        );
        // Relative links are taken against the backend's base URL.
        assert_eq!(
            gateway_link("/v1.0/groups/g1/members?page=2", &backend, "/v1.0", gateway).unwrap(),
            "https://gw.example/apim/graph/c1/groups/g1/members?page=2"
        );
        // Without a base path, the whole path follows the connection's URL.
        assert_eq!(
            gateway_link("https://graph.example/v1.0/x", &backend, "/", gateway).unwrap(),
            "https://gw.example/apim/graph/c1/v1.0/x"
        );
    }

    #[test]
    fn next_link_elsewhere_is_not_rewritten() {
        let backend = uri("https://api.example/v2/items");
        let gateway = "https://gw.example/apim/c/k";
        for link in [
            "https://evil.example/v2/items?page=2",
            "http://api.example/v2/items?page=2",
            "https://api.example:8443/v2/items?page=2",
            "https://api.example/v20/items",
            "https://api.example/other",
        ] {
            assert!(gateway_link(link, &backend, "/v2", gateway).is_err(), "{link}");
        }
    }

    #[test]
    fn untouched_query_keeps_its_encoding() {
        let mut q = Query::parse("a=x%20y&b=1+2&flag");
        assert!(q.contains("b"));
        q.remove("b");
        q.push("c d", "é&");
        assert_eq!(q.to_string(), "a=x%20y&flag&c%20d=%C3%A9%26");
    }
}
