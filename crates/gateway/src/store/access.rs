//! The rows of who may do what, as a backend keeps them, and the async
//! [`AccessStore`] trait over them. The gateway reads them all at once into
//! its in-memory snapshot (`crate::access::Directory`) and writes them one
//! change at a time; no call of an operation reads them from the database.

use async_trait::async_trait;

use super::{AuditRow, StoreError};

/// A connection's status as a backend's answer set it
/// (`setconnectionstatustounauthenticated`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionStatusRow {
    /// `unauthenticated`, the one status a policy sets.
    pub status: String,
    /// What happened, for the people who fix it (no secret: the operation
    /// and the backend's status).
    pub reason: String,
    /// Since when, in seconds since the Unix epoch.
    pub since: i64,
}

/// A principal the gateway itself knows: a user (an API key holder) or one
/// of its own groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalRow {
    /// The stable id.
    pub id: String,
    /// `user` or `group`.
    pub kind: String,
    /// The name people read.
    pub display_name: String,
}

/// An API key as stored: never the key, only the SHA-256 of its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    /// The key's visible id (the part after `slk_`, before the `.`).
    pub id: String,
    /// The principal the key authenticates.
    pub principal: String,
    /// What the key is for, in its holder's words.
    pub label: String,
    /// SHA-256 of the key's secret part.
    pub secret_hash: Vec<u8>,
    /// When it was issued, in seconds since the Unix epoch.
    pub created_at: i64,
    /// When it stops working, if ever.
    pub expires_at: Option<i64>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

/// A connection made through the gateway, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionRow {
    /// The connector.
    pub connector: String,
    /// The connection's id.
    pub id: String,
    /// Who made it.
    pub owner: String,
    /// Its parameter values, sealed and bound to the row.
    pub sealed: Vec<u8>,
}

impl std::fmt::Debug for ConnectionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionRow")
            .field("connector", &self.connector)
            .field("id", &self.id)
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

/// The gateway-wide rows: who exists, in which of the gateway's groups, and
/// with which API keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeopleRows {
    /// The gateway's own principals.
    pub principals: Vec<PrincipalRow>,
    /// `(group, member)` pairs of the gateway's own groups.
    pub group_members: Vec<(String, String)>,
    /// Every API key, revoked and expired ones included.
    pub api_keys: Vec<ApiKeyRow>,
}

/// The rows of one environment: its members, and the owners and shares of
/// its connectors and connections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvironmentRows {
    /// `(principal, role)` of the environment's members.
    pub memberships: Vec<(String, String)>,
    /// `(connector, owner)`.
    pub connector_owners: Vec<(String, String)>,
    /// `(connector, principal, access)`.
    pub connector_shares: Vec<(String, String, String)>,
    /// `(connector, connection, principal)`.
    pub connection_shares: Vec<(String, String, String)>,
    /// The connections made through the gateway.
    pub connections: Vec<ConnectionRow>,
}

/// Where principals, roles, keys and shares are kept.
#[async_trait]
pub trait AccessStore: Send + Sync + std::fmt::Debug {
    /// The gateway-wide rows, read in one transaction.
    async fn people_rows(&self) -> Result<PeopleRows, StoreError>;

    /// Every row of `environment`, read in one transaction.
    async fn environment_rows(&self, environment: &str) -> Result<EnvironmentRows, StoreError>;

    /// Records an environment, or renames it. Members, owners, shares and
    /// connections may only name an environment that exists.
    async fn put_environment(&self, id: &str, display_name: &str) -> Result<(), StoreError>;

    /// The network settings an environment's admins set through the API
    /// (JSON), if they did.
    async fn environment_network(&self, id: &str) -> Result<Option<String>, StoreError>;

    /// Stores an environment's network settings (JSON) with the audit
    /// entry, in one transaction.
    async fn put_environment_network(&self, id: &str, network: &str, audit: &AuditRow) -> Result<(), StoreError>;

    /// Adds a principal, or renames it.
    async fn put_principal(&self, row: &PrincipalRow) -> Result<(), StoreError>;

    /// Adds `member` to the gateway's group `group`.
    async fn put_group_member(&self, group: &str, member: &str) -> Result<(), StoreError>;

    /// Removes `member` from `group`; returns whether it was there.
    async fn remove_group_member(&self, group: &str, member: &str) -> Result<bool, StoreError>;

    /// Gives `principal` `role` in `environment`, replacing its role there.
    async fn put_membership(&self, environment: &str, principal: &str, role: &str) -> Result<(), StoreError>;

    /// Removes `principal` from `environment`; returns whether it was a member.
    async fn remove_membership(&self, environment: &str, principal: &str) -> Result<bool, StoreError>;

    /// Stores a newly issued key.
    async fn put_api_key(&self, row: &ApiKeyRow) -> Result<(), StoreError>;

    /// Marks a key revoked at `at`; returns whether a live key was revoked.
    async fn revoke_api_key(&self, id: &str, at: i64) -> Result<bool, StoreError>;

    /// Records `owner` as the owner of `connector`.
    async fn put_connector_owner(&self, environment: &str, connector: &str, owner: &str) -> Result<(), StoreError>;

    /// Shares `connector` with `principal`, replacing an earlier share,
    /// with the audit entry, in one transaction.
    async fn put_connector_share(
        &self,
        environment: &str,
        connector: &str,
        principal: &str,
        access: &str,
        audit: &AuditRow,
    ) -> Result<(), StoreError>;

    /// Removes a share of `connector`, with the audit entry when there was
    /// one, in one transaction; returns whether there was one.
    async fn remove_connector_share(
        &self,
        environment: &str,
        connector: &str,
        principal: &str,
        audit: &AuditRow,
    ) -> Result<bool, StoreError>;

    /// Shares a connection with `principal`, with the audit entry, in one
    /// transaction.
    async fn put_connection_share(
        &self,
        environment: &str,
        connector: &str,
        connection: &str,
        principal: &str,
        audit: &AuditRow,
    ) -> Result<(), StoreError>;

    /// Stores a new connection with the audit entry, in one transaction;
    /// `false` (and no entry) when one with its id exists. A status left by
    /// an earlier connection of the same id goes.
    async fn put_connection(
        &self,
        environment: &str,
        row: &ConnectionRow,
        audit: &AuditRow,
    ) -> Result<bool, StoreError>;

    /// Deletes a connection with its tokens and shares, and the audit entry
    /// when it existed, in one transaction; returns whether it existed.
    async fn delete_connection(
        &self,
        environment: &str,
        connector: &str,
        id: &str,
        audit: &AuditRow,
    ) -> Result<bool, StoreError>;

    /// The status a backend's answer set on a connection, if any.
    async fn connection_status(
        &self,
        environment: &str,
        connector: &str,
        connection: &str,
    ) -> Result<Option<ConnectionStatusRow>, StoreError>;

    /// Sets a connection's status (a status already set stays, with its
    /// reason and time), or clears it with `None`.
    async fn set_connection_status(
        &self,
        environment: &str,
        connector: &str,
        connection: &str,
        status: Option<&ConnectionStatusRow>,
    ) -> Result<(), StoreError>;

    /// Deletes what belongs to a connector: its connections, their tokens
    /// and shares, its own shares and owner, its published versions, with
    /// the audit entry when there is one, in one transaction. Returns how
    /// many connections went.
    async fn delete_connector(
        &self,
        environment: &str,
        connector: &str,
        audit: Option<&AuditRow>,
    ) -> Result<u64, StoreError>;

    /// Removes a share of a connection, with the audit entry when there was
    /// one, in one transaction; returns whether there was one.
    async fn remove_connection_share(
        &self,
        environment: &str,
        connector: &str,
        connection: &str,
        principal: &str,
        audit: &AuditRow,
    ) -> Result<bool, StoreError>;
}
