//! Connections: a connector's parameter values, checked against the
//! connector's declared parameters, with the secret ones kept out of logs
//! and error text. Where the values come from (a settings file, the
//! environment, a fixture) is the caller's business.

use std::fmt;

use indexmap::IndexMap;

use crate::properties::ConnectionParameter;

/// A parameter value that must not be shown: its `Debug` and `Display` print
/// `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the places that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A connection could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// A required parameter has no value.
    #[error("connection `{connection}`: required parameter `{parameter}` of connector `{connector}` has no value")]
    MissingParameter {
        /// The connection.
        connection: String,
        /// The connector.
        connector: String,
        /// The parameter.
        parameter: String,
    },
    /// A value is given for a parameter the connector does not declare.
    #[error(
        "connection `{connection}`: connector `{connector}` declares no parameter `{parameter}` (it declares: {declared})"
    )]
    UnknownParameter {
        /// The connection.
        connection: String,
        /// The connector.
        connector: String,
        /// The parameter.
        parameter: String,
        /// The declared names.
        declared: String,
    },
    /// A value is not one of the parameter's `allowedValues`.
    #[error("connection `{connection}`: parameter `{parameter}` of connector `{connector}` must be one of: {allowed}")]
    NotAllowed {
        /// The connection.
        connection: String,
        /// The connector.
        connector: String,
        /// The parameter.
        parameter: String,
        /// The allowed values, comma-separated.
        allowed: String,
    },
    /// A value is not of the parameter's type (`int`, `number`, `bool`).
    #[error("connection `{connection}`: parameter `{parameter}` of connector `{connector}` must be {expected}")]
    WrongType {
        /// The connection.
        connection: String,
        /// The connector.
        connector: String,
        /// The parameter.
        parameter: String,
        /// What it must be: `an integer`, `a number`, `true or false`.
        expected: &'static str,
    },
}

/// A usable connection.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The connection id.
    pub id: String,
    /// The connector it belongs to.
    pub connector: String,
    values: IndexMap<String, Secret>,
    secret_names: Vec<String>,
}

impl Connection {
    /// A connection of `connector` with these parameter values, checked
    /// against the connector's declared parameters: every value names a
    /// declared parameter, and every required parameter has a value.
    pub fn new(
        id: &str,
        connector: &str,
        values: IndexMap<String, Secret>,
        declared: &IndexMap<String, ConnectionParameter>,
    ) -> Result<Self, ConnectionError> {
        if let Some(name) = values.keys().find(|name| !declared.contains_key(*name)) {
            return Err(ConnectionError::UnknownParameter {
                connection: id.to_string(),
                connector: connector.to_string(),
                parameter: name.clone(),
                declared: declared.keys().cloned().collect::<Vec<_>>().join(", "),
            });
        }
        if let Some((name, _)) = declared.iter().find(|(name, p)| p.required && !values.contains_key(*name)) {
            return Err(ConnectionError::MissingParameter {
                connection: id.to_string(),
                connector: connector.to_string(),
                parameter: name.clone(),
            });
        }
        // A value that does not fit is refused without echoing it (it may be a secret).
        for (name, value) in &values {
            let Some(parameter) = declared.get(name) else { continue };
            let value = value.expose();
            if !parameter.allowed_values.is_empty() && !parameter.allowed_values.iter().any(|a| a == value) {
                return Err(ConnectionError::NotAllowed {
                    connection: id.to_string(),
                    connector: connector.to_string(),
                    parameter: name.clone(),
                    allowed: parameter.allowed_values.join(", "),
                });
            }
            let expected = match parameter.kind.as_str() {
                "int" if value.trim().parse::<i64>().is_err() => Some("an integer"),
                "number" if value.trim().parse::<f64>().is_err() => Some("a number"),
                "bool" if !matches!(value.trim().to_ascii_lowercase().as_str(), "true" | "false") => {
                    Some("true or false")
                }
                _ => None,
            };
            if let Some(expected) = expected {
                return Err(ConnectionError::WrongType {
                    connection: id.to_string(),
                    connector: connector.to_string(),
                    parameter: name.clone(),
                    expected,
                });
            }
        }
        let secret_names = declared.iter().filter(|(_, p)| p.is_secret()).map(|(name, _)| name.clone()).collect();
        Ok(Self { id: id.to_string(), connector: connector.to_string(), values, secret_names })
    }

    /// A connection of `connector` with no values at all, not checked
    /// against its parameters: for running code offline without one.
    pub fn empty(connector: &str) -> Self {
        Self { id: String::new(), connector: connector.to_string(), values: IndexMap::new(), secret_names: Vec::new() }
    }

    /// The value of parameter `name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(Secret::expose)
    }

    /// All values by name, for policy expressions.
    pub fn values(&self) -> IndexMap<String, String> {
        self.values.iter().map(|(k, v)| (k.clone(), v.expose().to_string())).collect()
    }

    /// Replaces every value equal to `secret` by `with`, for the masked view
    /// of a connection whose code may not see its secrets.
    pub(crate) fn replace_value(&mut self, secret: &str, with: &str) {
        for value in self.values.values_mut() {
            if value.expose() == secret {
                *value = Secret::new(with);
            }
        }
    }

    /// The names of the parameters whose values are secrets.
    pub fn secret_names(&self) -> &[String] {
        &self.secret_names
    }

    /// The values that are secrets (secure strings, tokens), longest first,
    /// for redaction.
    pub fn secrets(&self) -> Vec<&str> {
        let mut secrets: Vec<&str> =
            self.secret_names.iter().filter_map(|name| self.value(name)).filter(|value| !value.is_empty()).collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets
    }

    /// `text` with every secret value of this connection replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        redact(&self.secrets(), text)
    }
}

/// `text` with every one of `secrets` replaced by `***`; give the secrets
/// longest first, so that one containing another is hidden whole.
pub fn redact<S: AsRef<str>>(secrets: &[S], text: &str) -> String {
    let mut text = text.to_string();
    for secret in secrets.iter().map(AsRef::as_ref).filter(|s| !s.is_empty()) {
        text = text.replace(secret, "***");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(json: &str) -> IndexMap<String, ConnectionParameter> {
        let file = format!(r#"{{"properties": {{"connectionParameters": {json}}}}}"#);
        crate::Properties::parse(file.as_bytes(), &mut Vec::new()).unwrap().connection_parameters
    }

    fn values(pairs: &[(&str, &str)]) -> IndexMap<String, Secret> {
        pairs.iter().map(|(k, v)| (k.to_string(), Secret::new(*v))).collect()
    }

    #[test]
    fn values_must_be_allowed_and_of_their_type_and_are_never_echoed() {
        let declared = declared(
            r#"{"region": {"type": "string", "uiDefinition": {"constraints": {"allowedValues": [
                    {"text": "Europe", "value": "eu"}, {"text": "US", "value": "us"}]}}},
                "port": {"type": "int"}, "verbose": {"type": "bool"},
                "key": {"type": "securestring", "uiDefinition": {"constraints": {"allowedValues": "not a list"}}}}"#,
        );
        assert!(
            Connection::new("c", "Shop", values(&[("region", "eu"), ("port", "8443"), ("verbose", "True")]), &declared)
                .is_ok()
        );
        let error = Connection::new("c", "Shop", values(&[("region", "mars")]), &declared).unwrap_err();
        assert!(
            matches!(&error, ConnectionError::NotAllowed { parameter, allowed, .. } if parameter == "region" && allowed == "eu, us")
        );
        assert!(!error.to_string().contains("mars"), "{error}");
        let error = Connection::new("c", "Shop", values(&[("port", "eighty")]), &declared).unwrap_err();
        assert!(matches!(error, ConnectionError::WrongType { expected: "an integer", .. }), "{error}");
        let error = Connection::new("c", "Shop", values(&[("verbose", "yes")]), &declared).unwrap_err();
        assert!(matches!(error, ConnectionError::WrongType { expected: "true or false", .. }), "{error}");
        // A list that is not one constrains nothing.
        assert!(Connection::new("c", "Shop", values(&[("key", "anything")]), &declared).is_ok());
    }
}
