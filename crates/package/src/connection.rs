//! Connections: a connector's parameter values, checked against the
//! connector's declared parameters (those of the parameter set the
//! connection chose, when the connector has sets), with the secret ones
//! kept out of logs and error text. Where the values come from (a settings
//! file, the environment, a fixture) is the caller's business.

use std::fmt;

use indexmap::IndexMap;

use crate::properties::{ConnectionParameter, Properties, SetChoiceError};

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
    /// The connection's choice of parameter set does not fit the connector
    /// (none chosen where there are sets, an unknown one, one where there
    /// are none); the message lists the sets.
    #[error("connection `{connection}`: {source}")]
    ParameterSet {
        /// The connection.
        connection: String,
        /// What is wrong with the choice.
        #[source]
        source: SetChoiceError,
    },
    /// A value is given for a parameter of another set than the one chosen.
    #[error(
        "connection `{connection}`: parameter `{parameter}` belongs to parameter set {owners}, not to the chosen set `{set}`"
    )]
    OtherSetParameter {
        /// The connection.
        connection: String,
        /// The parameter.
        parameter: String,
        /// The chosen set.
        set: String,
        /// The sets that declare it, each quoted, comma-separated.
        owners: String,
    },
}

impl ConnectionError {
    /// Whether the error is about the choice of parameter set (a set not
    /// chosen, unknown, or a value of another set's parameter) rather than
    /// about the values themselves.
    pub fn is_set_choice(&self) -> bool {
        matches!(self, ConnectionError::ParameterSet { .. } | ConnectionError::OtherSetParameter { .. })
    }
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
    parameter_set: Option<String>,
}

impl Connection {
    /// A connection of `connector` (whose properties are `properties`) that
    /// chose parameter set `set` (`None` for a connector without sets), with
    /// these values, checked against that set's parameters as
    /// [`Connection::new`] checks them. A value for a parameter that only
    /// another set declares is refused as such, naming the sets.
    pub fn with_set(
        id: &str,
        connector: &str,
        properties: &Properties,
        set: Option<&str>,
        values: IndexMap<String, Secret>,
    ) -> Result<Self, ConnectionError> {
        let declared = properties
            .parameters_for(connector, set)
            .map_err(|source| ConnectionError::ParameterSet { connection: id.to_string(), source })?;
        if let Some(set) = set
            && let Some(name) = values.keys().find(|name| !declared.contains_key(*name))
        {
            let owners: Vec<String> = properties
                .parameter_sets
                .iter()
                .flat_map(|s| &s.sets)
                .filter(|s| s.parameters.contains_key(name))
                .map(|s| format!("`{}`", s.name))
                .collect();
            if !owners.is_empty() {
                return Err(ConnectionError::OtherSetParameter {
                    connection: id.to_string(),
                    parameter: name.clone(),
                    set: set.to_string(),
                    owners: owners.join(", "),
                });
            }
        }
        let mut connection = Self::new(id, connector, values, declared)?;
        connection.parameter_set = set.map(str::to_string);
        Ok(connection)
    }

    /// The parameter set the connection chose, if its connector has sets.
    pub fn parameter_set(&self) -> Option<&str> {
        self.parameter_set.as_deref()
    }

    /// A connection of `connector` with these parameter values, checked
    /// against the connector's declared parameters: every value names a
    /// declared parameter, and every required parameter has a value. It
    /// chooses no parameter set; [`Connection::with_set`] is the way for a
    /// connector that may have them.
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
        Ok(Self { id: id.to_string(), connector: connector.to_string(), values, secret_names, parameter_set: None })
    }

    /// A connection of `connector` with no values at all, not checked
    /// against its parameters: for running code offline without one.
    pub fn empty(connector: &str) -> Self {
        Self {
            id: String::new(),
            connector: connector.to_string(),
            values: IndexMap::new(),
            secret_names: Vec::new(),
            parameter_set: None,
        }
    }

    /// The value of parameter `name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(Secret::expose)
    }

    /// All values by name, copied. Policy expressions read the connection
    /// itself, a [`sluice_policy::ConnectionValues`].
    pub fn values(&self) -> IndexMap<String, String> {
        self.values.iter().map(|(k, v)| (k.clone(), v.expose().to_string())).collect()
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

/// Policy expressions read the values in place: no copy of the secrets.
impl sluice_policy::ConnectionValues for Connection {
    fn value(&self, name: &str) -> Option<&str> {
        Connection::value(self, name)
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

    fn with_sets() -> Properties {
        let file = br#"{"properties": {"connectionParameterSets": {"values": [
            {"name": "key", "parameters": {
                "api_key": {"type": "securestring", "uiDefinition": {"constraints": {"required": "true"}}}}},
            {"name": "oauth", "parameters": {
                "token": {"type": "oauthSetting", "oAuthSettings": {"identityProvider": "oauth2"}},
                "token:customHost": {"type": "string", "uiDefinition": {"constraints": {"required": "true"}}}}}
        ]}}}"#;
        Properties::parse(file, &mut Vec::new()).unwrap()
    }

    #[test]
    fn a_connection_is_checked_against_the_set_it_chose() {
        let props = with_sets();
        let key = Connection::with_set("c", "Shop", &props, Some("key"), values(&[("api_key", "k-1")])).unwrap();
        assert_eq!(key.parameter_set(), Some("key"));
        assert_eq!(key.secrets(), ["k-1"]);
        let oauth =
            Connection::with_set("c", "Shop", &props, Some("oauth"), values(&[("token:customHost", "h.example")]))
                .unwrap();
        assert_eq!(oauth.value("token:customHost"), Some("h.example"));
        let error = Connection::with_set("c", "Shop", &props, Some("oauth"), values(&[])).unwrap_err();
        assert!(
            matches!(&error, ConnectionError::MissingParameter { parameter, .. } if parameter == "token:customHost")
        );
        assert!(!error.is_set_choice());
    }

    #[test]
    fn a_wrong_choice_of_set_is_an_error_naming_the_sets() {
        let props = with_sets();
        let error = Connection::with_set("c", "Shop", &props, None, values(&[("api_key", "k-1")])).unwrap_err();
        assert!(error.is_set_choice());
        assert_eq!(
            error.to_string(),
            "connection `c`: connector `Shop` offers several ways to connect; choose a parameter set: key, oauth"
        );
        let error = Connection::with_set("c", "Shop", &props, Some("basic"), values(&[])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "connection `c`: connector `Shop` has no parameter set `basic` (it has: key, oauth)"
        );
        let error = Connection::with_set(
            "c",
            "Shop",
            &props,
            Some("key"),
            values(&[("api_key", "k-secret"), ("token:customHost", "h")]),
        )
        .unwrap_err();
        assert!(error.is_set_choice());
        assert_eq!(
            error.to_string(),
            "connection `c`: parameter `token:customHost` belongs to parameter set `oauth`, not to the chosen set `key`"
        );
        assert!(!error.to_string().contains("k-secret"));
        // A name no set declares is the plain unknown parameter.
        let error = Connection::with_set("c", "Shop", &props, Some("key"), values(&[("nope", "x")])).unwrap_err();
        assert!(matches!(error, ConnectionError::UnknownParameter { .. }), "{error}");
    }

    #[test]
    fn without_sets_a_connection_chooses_none() {
        let props = Properties::parse(
            br#"{"properties": {"connectionParameters": {"api_key": {"type": "securestring"}}}}"#,
            &mut Vec::new(),
        )
        .unwrap();
        let plain = Connection::with_set("c", "Shop", &props, None, values(&[("api_key", "k")])).unwrap();
        assert_eq!(plain.parameter_set(), None);
        let error = Connection::with_set("c", "Shop", &props, Some("key"), values(&[])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "connection `c`: connector `Shop` has no parameter sets, so set `key` cannot be chosen"
        );
    }
}
