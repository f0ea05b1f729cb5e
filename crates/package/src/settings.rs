//! `sluice.toml`: sluice's own per-connector settings, beside the platform's
//! files. Every key is optional; unknown keys are errors that name the key.
//!
//! ```toml
//! [egress]
//! # Extra hosts the connector (its code or its policies) may call, beyond
//! # the definition's own `host`. Kept as strings; the egress crate parses them.
//! allow = ["https://api.nationalize.io", "https://*.example.com:8443"]
//!
//! [limits]            # overrides of sluice_runtime::Limits, per call
//! fuel = 50_000_000
//! deadline = "2s"
//!
//! [code]
//! sees_credentials = false
//! ```

use serde::Deserialize;
use sluice_runtime::Limits;

/// The parsed `sluice.toml`; [`Settings::default`] when the file is absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `[egress]`.
    pub egress: EgressSettings,
    /// `[limits]`: the runtime's per-call limits. Keys not given keep
    /// [`Limits::default`] (1e9 fuel, 64 MiB, 5 s, 16 backend calls, 8 MiB
    /// bodies, 64 KiB logs).
    pub limits: Limits,
    /// `[code]`.
    pub code: CodeSettings,
}

/// `[egress]`: where the connector may send besides its definition's host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EgressSettings {
    /// Extra egress rules, as written: `scheme://host[:port]`, a `*.suffix`
    /// host or a CIDR. Default: none.
    pub allow: Vec<String>,
}

/// `[code]`: how the custom code is run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CodeSettings {
    /// Whether the code sees the connection's credentials in the request it
    /// receives. Default: false (they are added when the code sends).
    pub sees_credentials: bool,
}

impl Settings {
    /// Parses the file's text.
    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn full_file_parses() {
        let s = Settings::parse(
            r#"
            [egress]
            allow = ["https://api.nationalize.io", "https://*.example.com:8443"]
            [limits]
            fuel = 50_000_000
            deadline = "2s"
            [code]
            sees_credentials = true
            "#,
        )
        .unwrap();
        assert_eq!(s.egress.allow.len(), 2);
        assert_eq!(s.limits.fuel, 50_000_000);
        assert_eq!(s.limits.deadline, Duration::from_secs(2));
        assert_eq!(s.limits.backend_calls, Limits::default().backend_calls);
        assert!(s.code.sees_credentials);
    }

    #[test]
    fn empty_file_is_defaults() {
        assert_eq!(Settings::parse("").unwrap(), Settings::default());
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        for (text, key) in [
            ("colour = 1", "colour"),
            ("[egress]\nallowed = []", "allowed"),
            ("[limits]\nfuels = 1", "fuels"),
            ("[code]\nsees_secrets = true", "sees_secrets"),
        ] {
            let err = Settings::parse(text).unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
    }
}
