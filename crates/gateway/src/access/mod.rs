//! Who may do what: callers authenticated by an API key or an OpenID
//! Connect token, their roles in the environment, and the owners and shares
//! of connectors and connections.
//!
//! - [`keys`]: the gateway's API keys (issued, hashed, compared in constant time);
//! - [`oidc`]: bearer tokens of configured issuers, checked against their JWKS;
//! - [`People`] and [`Directory`]: the in-memory snapshot every decision is
//!   made from (the gateway's principals, groups and keys; each
//!   environment's members, owners and shares), so that no call of an
//!   operation reads the database;
//! - [`Access`]: the service that authenticates callers, decides, and
//!   changes roles, keys and shares (each change refreshes the snapshot).
//!
//! A resource a caller cannot see is reported as missing, in the words used
//! when it is ([`Denied::NoConnector`], [`Denied::NoConnection`]), so that
//! its existence does not leak; an action on a resource the caller
//! can see but may not take is [`Denied::Forbidden`], naming the right.

pub mod keys;
pub mod oidc;
mod service;

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use crate::FastMap;

pub use service::{Access, AccessError, EnvironmentSeed, IssuedKey, ObservedAnswer, PrincipalKind, Unauthenticated};

/// The default environment, which a single-environment settings file is.
pub const DEFAULT_ENVIRONMENT: &str = "default";

/// A role in an environment; each includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Uses what is shared with them.
    User,
    /// May also publish connectors.
    Maker,
    /// Everything in the environment.
    Admin,
}

impl Role {
    /// The role's name in the store and the settings file.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Maker => "maker",
            Role::Admin => "admin",
        }
    }

    /// The role of a name, if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "user" => Some(Role::User),
            "maker" => Some(Role::Maker),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a share of a connector gives; `can-edit` includes `can-use`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Right {
    /// Create connections and call operations.
    CanUse,
    /// Also update the package and share it further.
    CanEdit,
}

impl Right {
    /// The right's name in the store and in problem answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Right::CanUse => "can-use",
            Right::CanEdit => "can-edit",
        }
    }

    /// The right of a name, if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "can-use" => Some(Right::CanUse),
            "can-edit" => Some(Right::CanEdit),
            _ => None,
        }
    }
}

impl fmt::Display for Right {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A gateway API key, by its visible id.
    ApiKey {
        /// The key's id.
        id: String,
    },
    /// A bearer token of an OpenID Connect issuer, by the issuer's name.
    Oidc {
        /// The issuer's name in the settings file.
        issuer: String,
    },
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The principal's id.
    pub id: Arc<str>,
    /// The groups its token says it is in (an API key's holder has none
    /// here; the gateway's own groups come from the snapshot).
    pub groups: Vec<Arc<str>>,
    /// How it authenticated.
    pub credential: Credential,
}

/// A decision against the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The environment does not exist, or the caller is not one of its
    /// members: worded the same either way.
    #[error("no environment `{environment}`")]
    NoEnvironment {
        /// The environment id as the caller named it.
        environment: String,
    },
    /// The caller may not see the connector: worded as when it is missing.
    #[error("no connector `{connector}` is loaded")]
    NoConnector {
        /// The connector id.
        connector: String,
    },
    /// The caller may not see the connection: worded as when it is missing.
    #[error("no connection `{connection}` for connector `{connector}`")]
    NoConnection {
        /// The connector id.
        connector: String,
        /// The connection id.
        connection: String,
    },
    /// The caller may not see another resource: answered as if it did not exist.
    #[error("no {kind} `{id}`")]
    NotFound {
        /// `connector` or `connection`.
        kind: &'static str,
        /// The resource's id as the caller named it.
        id: String,
    },
    /// The caller sees the resource but lacks a right on it.
    #[error("{action} needs {needed}")]
    Forbidden {
        /// What was attempted.
        action: String,
        /// The right or role it needs (`can-edit`, `owner`, `admin`, ...).
        needed: &'static str,
    },
}

/// A connection made through the gateway, as the snapshot holds it: its
/// owner, and its parameter set and values opened (or why they do not open).
#[derive(Debug)]
pub struct StoredConnection {
    /// Who made it.
    pub owner: Arc<str>,
    /// The parameter set it chose and its parameter values; the reason when
    /// they cannot be opened (no key, another key, an altered row).
    pub values: Result<OpenedConnection, String>,
}

/// A stored connection's sealed part, opened.
#[derive(Debug, Clone)]
pub struct OpenedConnection {
    /// The parameter set it chose, for a connector with sets.
    pub parameter_set: Option<String>,
    /// Its parameter values.
    pub values: indexmap::IndexMap<String, sluice_package::Secret>,
}

/// The gateway-wide part of the snapshot: its own principals and groups,
/// and its API keys. Every environment's [`Directory`] shares it.
#[derive(Debug, Default)]
pub struct People {
    /// A principal's groups among the gateway's own.
    groups_of: FastMap<Arc<str>, Vec<Arc<str>>>,
    display_names: FastMap<Arc<str>, String>,
    groups: HashSet<Arc<str>>,
    keys: FastMap<String, keys::StoredKey>,
}

impl People {
    /// Builds the gateway-wide snapshot from the store's rows. Rows the
    /// schema would not hold (an unreadable key hash) are skipped and logged.
    pub fn build(rows: crate::store::PeopleRows) -> Self {
        let mut names = Interner::default();
        let mut people = People::default();
        for principal in rows.principals {
            let id = names.get(&principal.id);
            if principal.kind == "group" {
                people.groups.insert(Arc::clone(&id));
            }
            people.display_names.insert(id, principal.display_name);
        }
        for (group, member) in rows.group_members {
            let (group, member) = (names.get(&group), names.get(&member));
            people.groups_of.entry(member).or_default().push(group);
        }
        for key in rows.api_keys {
            match keys::StoredKey::from_row(&key) {
                Some(stored) => {
                    people.keys.insert(key.id, stored);
                }
                None => tracing::error!(key = %key.id, "API key with an unreadable hash skipped"),
            }
        }
        people
    }

    /// The stored key with this id.
    pub fn key(&self, id: &str) -> Option<&keys::StoredKey> {
        self.keys.get(id)
    }

    /// The keys of a principal (revoked and expired ones included), by id.
    pub fn keys_of<'a>(&'a self, principal: &'a str) -> impl Iterator<Item = (&'a str, &'a keys::StoredKey)> + 'a {
        self.keys.iter().filter(move |(_, key)| &*key.principal == principal).map(|(id, key)| (id.as_str(), key))
    }

    /// The display name of a principal the gateway knows.
    pub fn display_name(&self, id: &str) -> Option<&str> {
        self.display_names.get(id).map(String::as_str)
    }

    /// Whether `id` is one of the gateway's own groups.
    pub fn is_group(&self, id: &str) -> bool {
        self.groups.contains(id)
    }

    /// The caller and every group it is in: its token's and the gateway's.
    fn subjects<'a>(&'a self, caller: &'a Caller) -> impl Iterator<Item = &'a str> + 'a {
        let own = std::iter::once(&*caller.id).chain(caller.groups.iter().map(|g| &**g));
        let local = std::iter::once(&caller.id)
            .chain(caller.groups.iter())
            .filter_map(|id| self.groups_of.get(id))
            .flatten()
            .map(|g| &**g);
        own.chain(local)
    }
}

/// One `Arc<str>` per distinct id, so that a snapshot holds each id once.
#[derive(Default)]
struct Interner(FastMap<String, Arc<str>>);

impl Interner {
    fn get(&mut self, id: &str) -> Arc<str> {
        Arc::clone(self.0.entry(id.to_string()).or_insert_with(|| Arc::from(id)))
    }
}

/// The in-memory snapshot of one environment: its members, and the owners
/// and shares of its connectors and connections, over the gateway-wide
/// [`People`]. It is replaced whole when anything changes; decisions read
/// it without a lock or a database.
#[derive(Debug, Default)]
pub struct Directory {
    people: Arc<People>,
    roles: FastMap<Arc<str>, Role>,
    connector_owners: FastMap<String, Arc<str>>,
    connector_shares: FastMap<String, Vec<(Arc<str>, Right)>>,
    /// Owners of connections, from the settings file.
    connection_owners: FastMap<(String, String), Arc<str>>,
    connection_shares: FastMap<(String, String), Vec<Arc<str>>>,
    /// Connections made through the gateway.
    stored: FastMap<(String, String), Arc<StoredConnection>>,
}

impl Directory {
    /// Builds an environment's snapshot from its rows, the owners the
    /// settings file gives its connections (`(connector, connection) →
    /// owner`), and the connections made through the gateway, opened. Rows
    /// the schema would not hold (an unknown role) are skipped and logged.
    pub fn build(
        people: Arc<People>,
        rows: crate::store::EnvironmentRows,
        connection_owners: &FastMap<(String, String), String>,
        stored: Vec<((String, String), StoredConnection)>,
    ) -> Self {
        let mut names = Interner::default();
        let mut directory = Directory { people, ..Directory::default() };
        for (principal, role) in rows.memberships {
            match Role::parse(&role) {
                Some(role) => {
                    directory.roles.insert(names.get(&principal), role);
                }
                None => tracing::error!(%principal, %role, "membership with an unknown role skipped"),
            }
        }
        for (connector, owner) in rows.connector_owners {
            directory.connector_owners.insert(connector, names.get(&owner));
        }
        for (connector, principal, access) in rows.connector_shares {
            match Right::parse(&access) {
                Some(right) => {
                    directory.connector_shares.entry(connector).or_default().push((names.get(&principal), right))
                }
                None => {
                    tracing::error!(%connector, %principal, %access, "connector share with an unknown right skipped")
                }
            }
        }
        for ((connector, connection), owner) in connection_owners {
            directory.connection_owners.insert((connector.clone(), connection.clone()), names.get(owner));
        }
        for (key, connection) in stored {
            directory.connection_owners.insert(key.clone(), names.get(&connection.owner));
            directory.stored.insert(key, Arc::new(connection));
        }
        for (connector, connection, principal) in rows.connection_shares {
            directory.connection_shares.entry((connector, connection)).or_default().push(names.get(&principal));
        }
        directory
    }

    /// The gateway-wide part of the snapshot.
    pub fn people(&self) -> &People {
        &self.people
    }

    /// A connection made through the gateway.
    pub fn stored_connection(&self, connector: &str, connection: &str) -> Option<&Arc<StoredConnection>> {
        self.stored.get(&(connector.to_string(), connection.to_string()))
    }

    /// Every connection made through the gateway: `(connector, id)`.
    pub fn stored_connections(&self) -> impl Iterator<Item = (&str, &str)> {
        self.stored.keys().map(|(connector, id)| (connector.as_str(), id.as_str()))
    }

    /// The shares of a connector: who, with which right.
    pub fn connector_shares(&self, connector: &str) -> &[(Arc<str>, Right)] {
        self.connector_shares.get(connector).map(Vec::as_slice).unwrap_or_default()
    }

    /// Who a connection is shared with.
    pub fn connection_shares(&self, connector: &str, connection: &str) -> &[Arc<str>] {
        self.connection_shares
            .get(&(connector.to_string(), connection.to_string()))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    fn subjects<'a>(&'a self, caller: &'a Caller) -> impl Iterator<Item = &'a str> + 'a {
        self.people.subjects(caller)
    }

    /// The caller's role in the environment: the highest of its own and its
    /// groups'; `None` for a caller who is not a member.
    pub fn role(&self, caller: &Caller) -> Option<Role> {
        self.subjects(caller).filter_map(|id| self.roles.get(id).copied()).max()
    }

    /// What the caller may do with a connector: `can-edit` for admins and
    /// the owner, else the best of its shares; `None` when it may not see it.
    pub fn connector_right(&self, caller: &Caller, connector: &str) -> Option<Right> {
        let role = self.role(caller)?;
        if role == Role::Admin || self.connector_owner(connector) == Some(&*caller.id) {
            return Some(Right::CanEdit);
        }
        let shares = self.connector_shares.get(connector)?;
        let subjects: Vec<&str> = self.subjects(caller).collect();
        shares.iter().filter(|(principal, _)| subjects.contains(&&**principal)).map(|(_, right)| *right).max()
    }

    /// The owner of a connector, if one is recorded (else its admins own it).
    pub fn connector_owner(&self, connector: &str) -> Option<&str> {
        self.connector_owners.get(connector).map(|o| &**o)
    }

    /// The owner of a connection, if the settings file names one (else its
    /// admins own it).
    pub fn connection_owner(&self, connector: &str, connection: &str) -> Option<&str> {
        self.connection_owners.get(&(connector.to_string(), connection.to_string())).map(|o| &**o)
    }

    /// Whether the caller owns the connection (admins own every connection
    /// of the environment).
    pub fn owns_connection(&self, caller: &Caller, connector: &str, connection: &str) -> bool {
        self.role(caller) == Some(Role::Admin) || self.connection_owner(connector, connection) == Some(&*caller.id)
    }

    /// Whether the caller may call operations through a connection: it may
    /// use the connector, and owns the connection or has it shared with it.
    /// A connector or connection it may not see is reported missing.
    pub fn may_call(&self, caller: &Caller, connector: &str, connection: &str) -> Result<(), Denied> {
        if self.connector_right(caller, connector).is_none() {
            return Err(Denied::NoConnector { connector: connector.to_string() });
        }
        if self.owns_connection(caller, connector, connection) {
            return Ok(());
        }
        let key = (connector.to_string(), connection.to_string());
        let shared = self.connection_shares.get(&key).is_some_and(|shares| {
            let subjects: Vec<&str> = self.subjects(caller).collect();
            shares.iter().any(|principal| subjects.contains(&&**principal))
        });
        if shared {
            Ok(())
        } else {
            Err(Denied::NoConnection { connector: connector.to_string(), connection: connection.to_string() })
        }
    }

    /// Whether the caller may start a connection's sign-in: only its owner
    /// (or an admin) may; one it may only use is [`Denied::Forbidden`].
    pub fn may_sign_in(&self, caller: &Caller, connector: &str, connection: &str) -> Result<(), Denied> {
        self.may_call(caller, connector, connection)?;
        if self.owns_connection(caller, connector, connection) {
            Ok(())
        } else {
            Err(Denied::Forbidden {
                action: format!("signing in connection `{connection}`"),
                needed: "the connection's owner",
            })
        }
    }

    /// Whether the caller may update a connector's package or share it.
    pub fn may_edit_connector(&self, caller: &Caller, connector: &str) -> Result<(), Denied> {
        match self.connector_right(caller, connector) {
            None => Err(Denied::NoConnector { connector: connector.to_string() }),
            Some(Right::CanUse) => {
                Err(Denied::Forbidden { action: format!("changing connector `{connector}`"), needed: "can-edit" })
            }
            Some(Right::CanEdit) => Ok(()),
        }
    }

    /// Whether the caller is an admin of the environment.
    pub fn require_admin(&self, caller: &Caller, action: &str) -> Result<(), Denied> {
        if self.role(caller) == Some(Role::Admin) {
            Ok(())
        } else {
            Err(Denied::Forbidden { action: action.to_string(), needed: "admin" })
        }
    }
}

/// Checks an id a connection is made with: 1 to 128 letters, digits, `.`,
/// `_`, `-` or `~` (it is a URL path segment).
pub fn valid_connection_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'~'))
}

/// Checks a principal id: 1 to 256 printable ASCII characters, no spaces.
/// Ids are compared as they are, case-sensitively.
pub fn valid_principal_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 256 && id.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EnvironmentRows, PeopleRows, PrincipalRow};

    fn caller(id: &str, groups: &[&str]) -> Caller {
        Caller {
            id: id.into(),
            groups: groups.iter().map(|g| Arc::from(*g)).collect(),
            credential: Credential::ApiKey { id: "k".into() },
        }
    }

    fn directory() -> Directory {
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        let people = People::build(PeopleRows {
            principals: vec![PrincipalRow { id: "sales".into(), kind: "group".into(), display_name: "Sales".into() }],
            group_members: vec![pair("sales", "bob")],
            ..PeopleRows::default()
        });
        let rows = EnvironmentRows {
            memberships: vec![
                pair("root", "admin"),
                pair("alice", "maker"),
                pair("bob", "user"),
                pair("carol", "user"),
                pair("entra:staff", "user"),
            ],
            connector_owners: vec![pair("Shop", "alice")],
            connector_shares: vec![
                ("Shop".into(), "sales".into(), "can-use".into()),
                ("Shop".into(), "entra:staff".into(), "can-edit".into()),
            ],
            connection_shares: vec![("Shop".into(), "main".into(), "sales".into())],
            ..EnvironmentRows::default()
        };
        let owners = [(("Shop".to_string(), "main".to_string()), "alice".to_string())].into_iter().collect();
        Directory::build(Arc::new(people), rows, &owners, Vec::new())
    }

    #[test]
    fn a_share_with_a_group_reaches_its_members() {
        let directory = directory();
        assert_eq!(directory.connector_right(&caller("bob", &[]), "Shop"), Some(Right::CanUse));
        assert_eq!(directory.connector_right(&caller("carol", &[]), "Shop"), None);
        assert_eq!(directory.connector_right(&caller("alice", &[]), "Shop"), Some(Right::CanEdit));
        assert_eq!(directory.connector_right(&caller("root", &[]), "Shop"), Some(Right::CanEdit));
        // A token's group counts like the gateway's own.
        assert_eq!(directory.connector_right(&caller("entra:dan", &["entra:staff"]), "Shop"), Some(Right::CanEdit));
    }

    #[test]
    fn calling_needs_the_connector_and_the_connection() {
        let directory = directory();
        assert_eq!(directory.may_call(&caller("bob", &[]), "Shop", "main"), Ok(()));
        assert_eq!(directory.may_call(&caller("alice", &[]), "Shop", "main"), Ok(()));
        assert_eq!(
            directory.may_call(&caller("carol", &[]), "Shop", "main"),
            Err(Denied::NoConnector { connector: "Shop".into() })
        );
        assert_eq!(
            directory.may_call(&caller("bob", &[]), "Shop", "other"),
            Err(Denied::NoConnection { connector: "Shop".into(), connection: "other".into() })
        );
        // A connection nobody was named for is its admins'.
        assert_eq!(directory.may_call(&caller("root", &[]), "Shop", "other"), Ok(()));
    }

    #[test]
    fn a_non_member_sees_nothing_even_when_shared_with() {
        let rows = EnvironmentRows {
            connector_shares: vec![("Shop".into(), "eve".into(), "can-edit".into())],
            ..EnvironmentRows::default()
        };
        let directory = Directory::build(Arc::default(), rows, &FastMap::default(), Vec::new());
        assert_eq!(directory.connector_right(&caller("eve", &[]), "Shop"), None);
    }

    #[test]
    fn using_is_not_editing_nor_owning() {
        let directory = directory();
        let bob = caller("bob", &[]);
        assert_eq!(
            directory.may_edit_connector(&bob, "Shop"),
            Err(Denied::Forbidden { action: "changing connector `Shop`".into(), needed: "can-edit" })
        );
        assert!(matches!(directory.may_sign_in(&bob, "Shop", "main"), Err(Denied::Forbidden { .. })));
        assert_eq!(directory.may_sign_in(&caller("alice", &[]), "Shop", "main"), Ok(()));
        assert!(directory.require_admin(&caller("alice", &[]), "x").is_err());
        assert!(directory.require_admin(&caller("root", &[]), "x").is_ok());
    }
}
