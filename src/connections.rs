//! Connections: a connector's parameter values, resolved from the settings
//! file and the environment, checked against the connector's declared
//! parameters, and kept out of logs.

use std::fmt;

use indexmap::IndexMap;

use crate::config::{ConnectionConfig, ValueSource};
use crate::package::ConnectionParameter;

/// A parameter value that must not be shown: its `Debug` and `Display` print
/// `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
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
pub enum ConnectionError {
    /// A value names an environment variable that is not set.
    #[error("connection `{connection}`: parameter `{parameter}` reads environment variable `{variable}`, which is not set")]
    MissingEnv {
        /// The connection.
        connection: String,
        /// The parameter.
        parameter: String,
        /// The variable.
        variable: String,
    },
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
    #[error("connection `{connection}`: connector `{connector}` declares no parameter `{parameter}` (it declares: {declared})")]
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
    /// Resolves a connection's values (reading environment variables with
    /// `env`) and checks them against the connector's declared parameters.
    pub fn resolve(
        config: &ConnectionConfig,
        declared: &IndexMap<String, ConnectionParameter>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConnectionError> {
        let mut values = IndexMap::new();
        for (name, source) in &config.parameters {
            if !declared.contains_key(name) {
                return Err(ConnectionError::UnknownParameter {
                    connection: config.id.clone(),
                    connector: config.connector.clone(),
                    parameter: name.clone(),
                    declared: declared.keys().cloned().collect::<Vec<_>>().join(", "),
                });
            }
            let value = match source {
                ValueSource::Literal(value) => value.clone(),
                ValueSource::Env { env: variable } => env(variable).ok_or_else(|| ConnectionError::MissingEnv {
                    connection: config.id.clone(),
                    parameter: name.clone(),
                    variable: variable.clone(),
                })?,
            };
            values.insert(name.clone(), Secret(value));
        }
        for (name, parameter) in declared {
            if parameter.required && !values.contains_key(name) {
                return Err(ConnectionError::MissingParameter {
                    connection: config.id.clone(),
                    connector: config.connector.clone(),
                    parameter: name.clone(),
                });
            }
        }
        let secret_names = declared
            .iter()
            .filter(|(_, p)| p.is_secret())
            .map(|(name, _)| name.clone())
            .collect();
        Ok(Self { id: config.id.clone(), connector: config.connector.clone(), values, secret_names })
    }

    /// The value of parameter `name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(Secret::expose)
    }

    /// All values by name, for policy expressions.
    pub fn values(&self) -> IndexMap<String, String> {
        self.values.iter().map(|(k, v)| (k.clone(), v.expose().to_string())).collect()
    }

    /// The values that are secrets (secure strings, tokens), longest first,
    /// for redaction.
    pub fn secrets(&self) -> Vec<&str> {
        let mut secrets: Vec<&str> = self
            .secret_names
            .iter()
            .filter_map(|name| self.value(name))
            .filter(|value| !value.is_empty())
            .collect();
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
