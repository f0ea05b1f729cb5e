//! What can go wrong with OAuth: the service being unavailable, a sign-in,
//! a refresh, a connection that must sign in.

use crate::config::MissingEnv;
use crate::store::VaultError;
use crate::store::key::KeyError;

/// OAuth sign-in cannot be offered, and why.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthUnavailable {
    /// No `[oauth]` section, and no key in the default variable.
    #[error("no secret key: set `SLUICE_SECRET_KEY` to 32 random bytes in base64, or configure [oauth]")]
    NoKey,
    /// The key does not load.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A client secret reads a variable that is not set.
    #[error("the client secret of connector `{connector}` reads environment variable `{}`, which is not set", source.variable)]
    ClientSecret {
        /// The connector.
        connector: String,
        /// The variable.
        #[source]
        source: MissingEnv,
    },
    /// A client certificate or its key does not load, or they do not
    /// belong together.
    #[error("the client certificate of connector `{connector}`: {source}")]
    Certificate {
        /// The connector.
        connector: String,
        /// Why.
        #[source]
        source: super::CertificateError,
    },
    /// No `public_url`, and the listen address does not make one.
    #[error("no public_url, and the listen address does not make one: {0}")]
    PublicUrl(#[source] url::ParseError),
}

/// A sign-in could not be completed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SignInFailure {
    /// The provider sent the user back with an error.
    #[error("the provider answered `{error}`{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Provider {
        /// The `error` parameter.
        error: String,
        /// The `error_description` parameter.
        description: Option<String>,
    },
    /// The redirect carries no `code` or no `state`.
    #[error("the redirect carries no `code` and `state`")]
    MissingCodeOrState,
    /// No sign-in is pending under this `state` (unknown, used or expired).
    #[error("unknown or expired `state`; start the sign-in again")]
    UnknownState,
    /// The sign-in belongs to another redirect URI; it stays pending.
    #[error("this sign-in for connector `{connector}` must come back on {redirect_uri}")]
    WrongRedirect {
        /// The connector being signed in.
        connector: String,
        /// Where it must come back.
        redirect_uri: String,
    },
    /// The redirect came without the browser-binding cookie of the sign-in,
    /// or with another principal's credential: someone else's sign-in, or
    /// another browser. The sign-in is spent and must start again.
    #[error("this sign-in was started by someone else or in another browser; start it again from this browser")]
    NotBound,
    /// The connector was removed meanwhile.
    #[error("connector `{connector}` is no longer loaded")]
    ConnectorGone {
        /// The connector.
        connector: String,
    },
    /// The redirect names an issuer that is not the connector's provider
    /// (RFC 9207): the code may come from another provider.
    #[error("the redirect comes from issuer `{issuer}`, not from this connector's provider")]
    IssuerMismatch {
        /// The `iss` the redirect carried.
        issuer: String,
    },
    /// The provider refused to exchange the code.
    #[error("the provider refused the code: {reason}")]
    CodeRefused {
        /// What the provider said (never a secret).
        reason: String,
    },
}

/// An OAuth operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthError {
    /// The service is not available.
    #[error("OAuth sign-in is unavailable: {0}")]
    Unavailable(#[source] std::sync::Arc<OAuthUnavailable>),
    /// The connector's package lacks what OAuth needs.
    #[error("OAuth sign-in is unavailable: connector `{connector}` has no {what}")]
    NotConfigured {
        /// The connector.
        connector: String,
        /// What is missing.
        what: &'static str,
    },
    /// An endpoint of the connector does not parse.
    #[error("OAuth sign-in is unavailable: connector `{connector}`: OAuth endpoint: {source}")]
    BadEndpoint {
        /// The connector.
        connector: String,
        /// Why.
        #[source]
        source: url::ParseError,
    },
    /// The authorization endpoint is not a web address: a browser sent to
    /// `javascript:` or `data:` would run what the package wrote.
    #[error(
        "OAuth sign-in is unavailable: connector `{connector}`: its authorization URL is a `{scheme}:` address, not https"
    )]
    EndpointScheme {
        /// The connector.
        connector: String,
        /// The scheme it has.
        scheme: String,
    },
    /// An `oauth2generic` connector's templates do not make this
    /// connection's requests: a defect of the package, or a connection
    /// value that may not shape an endpoint or does not fit where it lands.
    #[error("OAuth sign-in refused: connector `{connector}`: {source}")]
    Generic {
        /// The connector.
        connector: String,
        /// Why.
        #[source]
        source: sluice_package::oauth_templates::FillError,
    },
    /// The connection of a connector with parameter sets chose a set that
    /// does not sign in (an API key, a user and password), or none: there
    /// is nothing to sign in to.
    #[error("connection `{connection}` of connector `{connector}` does not sign in with OAuth: {}", match set {
        Some(set) => format!("its parameter set `{set}` has no oauthSetting parameter"),
        None => "it chose no parameter set".to_string(),
    })]
    NoSignIn {
        /// The connector.
        connector: String,
        /// The connection.
        connection: String,
        /// Its parameter set, if it chose one.
        set: Option<String>,
    },
    /// The connector has no such connection.
    #[error("no connection `{connection}` for connector `{connector}`")]
    UnknownConnection {
        /// The connector.
        connector: String,
        /// The connection.
        connection: String,
    },
    /// The connection must be signed in (again).
    #[error("connection `{connection}` of connector `{connector}` needs to sign in: {reason}; {}", match signin_url {
        Some(url) => format!("sign in at {url}"),
        None => "its owner must sign it in again".to_string(),
    })]
    SignInRequired {
        /// The connector.
        connector: String,
        /// The connection.
        connection: String,
        /// Why.
        reason: String,
        /// Where to sign in; told only to the connection's owner.
        signin_url: Option<String>,
    },
    /// A sign-in could not be completed.
    #[error("sign-in failed: {0}")]
    SignIn(#[from] SignInFailure),
    /// The connector is still on the global redirect URI after the cut-off.
    #[error(
        "connector `{connector}` still uses the global redirect URI, which takes no new sign-ins since {cutoff}; set \"redirectMode\": \"GlobalPerConnector\" in its apiProperties.json and register {redirect_uri} with the identity provider"
    )]
    GlobalRedirectRetired {
        /// The connector.
        connector: String,
        /// The cut-off date.
        cutoff: chrono::NaiveDate,
        /// The per-connector redirect URI to register.
        redirect_uri: String,
    },
    /// Refreshing the token failed for a reason other than a refusal (the
    /// provider unreachable, an unreadable answer); the connection stays
    /// usable.
    #[error("refreshing the token failed: {reason}")]
    Refresh {
        /// What went wrong (never a secret).
        reason: String,
    },
    /// The client assertion of a token request could not be made.
    #[error("connector `{connector}`: {source}")]
    ClientAssertion {
        /// The connector.
        connector: String,
        /// Why.
        #[source]
        source: super::CertificateError,
    },
    /// The provider issued a token that cannot be sent in a header.
    #[error("the provider issued a token that is not a valid header value")]
    InvalidToken,
    /// The credential store failed.
    #[error("the credential store failed")]
    Vault(#[from] VaultError),
}
