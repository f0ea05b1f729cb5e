//! The access service: authenticates callers, holds the snapshot decisions
//! are made from, and changes members, keys and shares. Every change is
//! checked against the acting caller's rights, written to the store, and
//! followed by a new snapshot, so that the next call sees it.
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::keys::{self, KeyRejected};
use super::oidc::{IssuerConfigError, TokenRejected, Verifier};
use super::{
    Caller, Credential, DEFAULT_ENVIRONMENT, Denied, Directory, OpenedConnection, People, Right, Role,
    StoredConnection, valid_connection_id, valid_principal_id,
};
use crate::FastMap;
use crate::config::{ConnectionConfig, IssuerConfig, MemberConfig};
use crate::network::Network;
use crate::registry::{ConnectionRefused, ConnectionState, LoadedConnector, Registry};
use crate::store::key::SecretKey;
use crate::store::{AccessStore, ApiKeyRow, ConnectionRow, ConnectionStatusRow, PrincipalRow, StoreError, now};

/// A connection's state, or why it was refused.
type ConnectionLookup = Result<Arc<ConnectionState>, Arc<ConnectionRefused>>;

/// A stored connection's state, with the package version and the stored
/// row it was built from.
type CachedState = (Arc<sluice_package::Package>, Arc<StoredConnection>, ConnectionLookup);

/// An access operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccessError {
    /// The acting caller may not do it, or may not see the resource.
    #[error(transparent)]
    Denied(#[from] Denied),
    /// A principal id that cannot be one.
    #[error("`{0}` is not a principal id: 1 to 256 printable characters, no spaces")]
    BadPrincipal(String),
    /// A member of the settings file has a role that is not one.
    #[error("environment `{environment}`: member `{principal}`: role `{role}` is not admin, maker or user")]
    BadRole {
        /// The environment.
        environment: String,
        /// The member.
        principal: String,
        /// The role given.
        role: String,
    },
    /// A group operation names a principal that is not one of the gateway's groups.
    #[error("`{0}` is not a group of this gateway")]
    NotAGroup(String),
    /// An issuer's settings are unusable.
    #[error("[access] {0}")]
    Issuer(#[from] IssuerConfigError),
    /// A connection with this id exists already.
    #[error("connector `{connector}` already has a connection `{connection}`")]
    ConnectionExists {
        /// The connector.
        connector: String,
        /// The connection id.
        connection: String,
    },
    /// A connection id that cannot be one.
    #[error("`{0}` is not a connection id: 1 to 128 letters, digits, `.`, `_`, `-` or `~`")]
    BadConnectionId(String),
    /// The values do not make a connection of the connector.
    #[error(transparent)]
    ConnectionRefused(#[from] ConnectionRefused),
    /// The connection comes from the settings file, which only its operator changes.
    #[error("connection `{0}` is set in the gateway's settings file and cannot be changed here")]
    ReadOnly(String),
    /// Connections cannot be stored without the key their values are sealed with.
    #[error(
        "the gateway has no secret key to seal connection values with; set `SLUICE_SECRET_KEY` or [oauth] key_file"
    )]
    NoSecretKey,
    /// The package folder of a deleted connector could not be removed.
    #[error("cannot remove the package folder of connector `{connector}`")]
    RemovePackage {
        /// The connector.
        connector: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A subnet of new network settings is not one.
    #[error(transparent)]
    BadSubnet(sluice_egress::SubnetError),
    /// The store failed.
    #[error("the access store failed")]
    Store(#[from] StoreError),
}

/// A caller could not be authenticated. The reason is for the log only:
/// the client is told no more than that its credential is missing or bad.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Unauthenticated {
    /// No `Authorization: Bearer` header.
    #[error("no bearer credential")]
    Missing,
    /// An API key that does not authenticate.
    #[error("API key: {0}")]
    Key(#[from] KeyRejected),
    /// A token that does not authenticate.
    #[error("bearer token: {0}")]
    Token(#[from] TokenRejected),
    /// A token, but no issuer is configured.
    #[error("bearer token, but no OpenID Connect issuer is configured")]
    NoIssuer,
}

impl Unauthenticated {
    /// The kind of credential the request carried, for metrics: `missing`,
    /// `api-key` or `token`.
    pub fn credential(&self) -> &'static str {
        match self {
            Unauthenticated::Missing => "missing",
            Unauthenticated::Key(_) => "api-key",
            Unauthenticated::Token(_) | Unauthenticated::NoIssuer => "token",
        }
    }
}

/// A key just issued: its text is shown once and never again.
pub struct IssuedKey {
    /// The key's visible id.
    pub id: String,
    /// The whole key, for the `Authorization: Bearer` header.
    pub key: String,
}

impl std::fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedKey").field("id", &self.id).finish_non_exhaustive()
    }
}

/// What the access service keeps of one environment besides its snapshot.
#[derive(Debug)]
struct Scope {
    registry: Arc<Registry>,
    /// Owners the settings file gives its connections.
    connection_owners: FastMap<(String, String), String>,
    /// States of stored connections, built on first use per package version.
    states: std::sync::Mutex<FastMap<(String, String), CachedState>>,
}

/// One environment, as the access service opens it.
#[derive(Debug, Clone, Copy)]
pub struct EnvironmentSeed<'a> {
    /// Its id.
    pub id: &'a str,
    /// The name people read.
    pub display_name: &'a str,
    /// Its connectors.
    pub registry: &'a Arc<Registry>,
    /// Members the settings file gives it.
    pub members: &'a [MemberConfig],
    /// Owners the settings file gives its folder's connectors.
    pub owners: &'a indexmap::IndexMap<String, String>,
    /// Its connections in the settings file.
    pub connections: &'a [ConnectionConfig],
}

/// The whole snapshot: the gateway-wide part, and each environment's.
#[derive(Debug, Default)]
struct Snapshot {
    people: Arc<People>,
    directories: FastMap<String, Arc<Directory>>,
}

/// A backend's answer to a call, as [`Access::observe_answer`] reads it.
#[derive(Debug, Clone, Copy)]
pub struct ObservedAnswer<'a> {
    /// The call's environment.
    pub environment: &'a str,
    /// The connector.
    pub connector: &'a str,
    /// The connection.
    pub connection: &'a str,
    /// The operation called.
    pub operation: &'a str,
    /// The backend's status.
    pub status: http::StatusCode,
    /// Whether a policy marks the connection unauthenticated on it.
    pub marks: bool,
    /// Whether the operation is the connector's test-connection operation.
    pub tests_connection: bool,
}

/// The access service of the gateway and its environments.
///
/// Principals, the gateway's groups and API keys are gateway-wide; members,
/// owners, shares and connections belong to one environment. What is
/// gateway-wide is changed by the gateway's admins: the admins of the
/// default environment.
#[derive(Debug)]
pub struct Access {
    store: Arc<dyn AccessStore>,
    environments: FastMap<String, Scope>,
    snapshot: ArcSwap<Snapshot>,
    verifier: Verifier,
    /// The key connection values are sealed with, if the gateway has one.
    key: Option<SecretKey>,
    /// One snapshot rebuild at a time, so that an older one never replaces a newer.
    rebuilding: tokio::sync::Mutex<()>,
}

impl Access {
    /// Opens the service: records the environments and the members the
    /// settings file gives them, and builds the first snapshot. The default
    /// environment must be among them. Connections made through the gateway
    /// are sealed with `key`; without one, none can be made or opened.
    pub async fn open(
        store: Arc<dyn AccessStore>,
        network: Arc<Network>,
        issuers: &[IssuerConfig],
        environments: &[EnvironmentSeed<'_>],
        key: Option<SecretKey>,
    ) -> Result<Self, AccessError> {
        let mut scopes = FastMap::default();
        for seed in environments {
            store.put_environment(seed.id, seed.display_name).await?;
            for member in seed.members {
                check_id(&member.principal)?;
                let role = Role::parse(&member.role).ok_or_else(|| AccessError::BadRole {
                    environment: seed.id.to_string(),
                    principal: member.principal.clone(),
                    role: member.role.clone(),
                })?;
                store.put_membership(seed.id, &member.principal, role.as_str()).await?;
            }
            for (connector, owner) in seed.owners {
                check_id(owner)?;
                store.put_connector_owner(seed.id, connector, owner).await?;
            }
            let mut connection_owners = FastMap::default();
            for connection in seed.connections {
                if let Some(owner) = &connection.owner {
                    check_id(owner)?;
                    connection_owners.insert((connection.connector.clone(), connection.id.clone()), owner.clone());
                }
            }
            let scope = Scope { registry: Arc::clone(seed.registry), connection_owners, states: Default::default() };
            scopes.insert(seed.id.to_string(), scope);
        }
        let verifier = Verifier::new(issuers.to_vec(), network)?;
        let access = Self {
            store,
            environments: scopes,
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
            verifier,
            key,
            rebuilding: tokio::sync::Mutex::new(()),
        };
        access.refresh().await?;
        Ok(access)
    }

    /// The gateway-wide part of the snapshot now: principals, groups, keys.
    pub fn people(&self) -> Arc<People> {
        Arc::clone(&self.snapshot.load().people)
    }

    /// The snapshot of `environment` decisions are made from now, if the
    /// environment exists.
    pub fn directory(&self, environment: &str) -> Option<Arc<Directory>> {
        self.snapshot.load().directories.get(environment).cloned()
    }

    /// The snapshot of `environment` for a caller who is one of its
    /// members; to anyone else the environment is [`Denied::NoEnvironment`],
    /// whether it exists or not.
    pub fn member_directory(&self, caller: &Caller, environment: &str) -> Result<Arc<Directory>, Denied> {
        self.directory(environment)
            .filter(|directory| directory.role(caller).is_some())
            .ok_or_else(|| Denied::NoEnvironment { environment: environment.to_string() })
    }

    /// Rebuilds the snapshot from the store.
    pub async fn refresh(&self) -> Result<(), AccessError> {
        let _one_at_a_time = self.rebuilding.lock().await;
        let people = Arc::new(People::build(self.store.people_rows().await?));
        let mut directories = FastMap::default();
        for (id, scope) in &self.environments {
            let mut rows = self.store.environment_rows(id).await?;
            let stored =
                std::mem::take(&mut rows.connections).into_iter().map(|row| self.open_connection(id, row)).collect();
            let directory = Directory::build(Arc::clone(&people), rows, &scope.connection_owners, stored);
            directories.insert(id.clone(), Arc::new(directory));
            scope.states.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
        self.snapshot.store(Arc::new(Snapshot { people, directories }));
        Ok(())
    }

    /// A stored connection's values, opened with the key.
    fn open_connection(&self, environment: &str, row: ConnectionRow) -> ((String, String), StoredConnection) {
        let values = match &self.key {
            None => Err("the gateway has no secret key to open it".to_string()),
            Some(key) => key
                .open(&row.sealed, &connection_aad(environment, &row.connector, &row.id))
                .map_err(|e| e.to_string())
                .and_then(|json| open_sealed(&json).ok_or_else(|| "its sealed values do not parse".to_string())),
        };
        if let Err(reason) = &values {
            tracing::error!(%environment, connector = %row.connector, connection = %row.id, %reason, "stored connection cannot be opened");
        }
        ((row.connector, row.id), StoredConnection { owner: row.owner.as_str().into(), values })
    }

    /// The connection `id` of a connector loaded in `environment`: one of
    /// the settings file, else one made through the gateway (its state built
    /// once per package version); `None` when there is none.
    pub fn connection(&self, environment: &str, loaded: &LoadedConnector, id: &str) -> Option<ConnectionLookup> {
        if let Some(found) = loaded.connections.get(id) {
            return Some(found.clone());
        }
        let scope = self.environments.get(environment)?;
        let directory = self.directory(environment)?;
        let stored = directory.stored_connection(&loaded.package.id, id)?;
        let key = (loaded.package.id.clone(), id.to_string());
        let mut states = scope.states.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((package, row, state)) = states.get(&key)
            && Arc::ptr_eq(package, &loaded.package)
            && Arc::ptr_eq(row, stored)
        {
            return Some(state.clone());
        }
        let state = match &stored.values {
            Ok(opened) => crate::registry::connection_state(
                &loaded.package,
                id,
                opened.parameter_set.as_deref(),
                opened.values.clone(),
            ),
            Err(reason) => Err(ConnectionRefused::Unreadable { connection: id.to_string(), reason: reason.clone() }),
        }
        .map(Arc::new)
        .map_err(Arc::new);
        states.insert(key, (Arc::clone(&loaded.package), Arc::clone(stored), state.clone()));
        Some(state)
    }

    /// Makes a connection of `connector` owned by `actor`, who must be able
    /// to use the connector. The values are checked against the connector's
    /// parameters and sealed before they are stored. A connector with
    /// parameter sets needs [`Access::create_connection_in_set`].
    pub async fn create_connection(
        &self,
        actor: &Caller,
        environment: &str,
        connector: &str,
        id: &str,
        values: indexmap::IndexMap<String, String>,
    ) -> Result<(), AccessError> {
        self.create_connection_in_set(actor, environment, (connector, id), None, values).await
    }

    /// Makes the connection `id` of `connector` owned by `actor`, who must
    /// be able to use the connector, choosing parameter set `set` (for a
    /// connector with sets). The values are checked against the parameters
    /// of that set (else the connector's) and sealed with the choice before
    /// they are stored.
    pub async fn create_connection_in_set(
        &self,
        actor: &Caller,
        environment: &str,
        (connector, id): (&str, &str),
        set: Option<&str>,
        values: indexmap::IndexMap<String, String>,
    ) -> Result<(), AccessError> {
        let (scope, directory) = self.visible(actor, environment)?;
        check_connector(scope, connector)?;
        if directory.connector_right(actor, connector).is_none() {
            return Err(Denied::NoConnector { connector: connector.to_string() }.into());
        }
        if !valid_connection_id(id) {
            return Err(AccessError::BadConnectionId(id.to_string()));
        }
        let exists = || AccessError::ConnectionExists { connector: connector.to_string(), connection: id.to_string() };
        let loaded =
            scope.registry.get(connector).map_err(|_| Denied::NoConnector { connector: connector.to_string() })?;
        if loaded.connections.contains_key(id) {
            return Err(exists());
        }
        let key = self.key.as_ref().ok_or(AccessError::NoSecretKey)?;
        let secrets = values.iter().map(|(k, v)| (k.clone(), sluice_package::Secret::new(v.clone()))).collect();
        crate::registry::connection_state(&loaded.package, id, set, secrets)?;
        let json = seal_form(set, values);
        let row = ConnectionRow {
            connector: connector.to_string(),
            id: id.to_string(),
            owner: actor.id.to_string(),
            sealed: key.seal(&json, &connection_aad(environment, connector, id)),
        };
        let audit = audit(actor, "connected", format!("connection {connector}/{id}"), None);
        if !self.store.put_connection(environment, &row, &audit).await? {
            return Err(exists());
        }
        tracing::info!(%environment, %connector, connection = %id, owner = %actor.id, "connection created");
        self.refresh().await
    }

    /// The status a backend's answer set on a connection
    /// (`setconnectionstatustounauthenticated`), read from the store: every
    /// gateway on the database sees the same.
    pub async fn connection_status(
        &self,
        environment: &str,
        connector: &str,
        connection: &str,
    ) -> Result<Option<ConnectionStatusRow>, AccessError> {
        Ok(self.store.connection_status(environment, connector, connection).await?)
    }

    /// Records what a backend's answer to a call says of its connection:
    /// `marks` (a `setconnectionstatustounauthenticated` policy names the
    /// status) marks it unauthenticated; a success of the connector's
    /// test-connection operation clears that. Anything else changes nothing
    /// and touches no database. A store that fails is logged: the call's
    /// answer does not depend on it.
    pub async fn observe_answer(&self, answer: &ObservedAnswer<'_>) {
        let ObservedAnswer { environment, connector, connection, operation, status, .. } = *answer;
        let outcome = if answer.marks {
            let row = ConnectionStatusRow {
                status: "unauthenticated".into(),
                reason: format!(
                    "the backend answered {} to `{operation}`; check the connection's credentials and make it again",
                    status.as_u16()
                ),
                since: now() as i64,
            };
            tracing::info!(%environment, %connector, %connection, %operation, status = status.as_u16(), "connection marked unauthenticated");
            self.store.set_connection_status(environment, connector, connection, Some(&row)).await
        } else if answer.tests_connection && status.is_success() {
            self.store.set_connection_status(environment, connector, connection, None).await
        } else {
            return;
        };
        if let Err(error) = outcome {
            tracing::warn!(%environment, %connector, %connection, %error, "the connection's status could not be recorded");
        }
    }

    /// Deletes a connection made through the gateway, with its tokens and
    /// shares: its owner or an admin may.
    pub async fn delete_connection(
        &self,
        actor: &Caller,
        environment: &str,
        connector: &str,
        id: &str,
    ) -> Result<(), AccessError> {
        let (scope, directory) = self.visible(actor, environment)?;
        directory.may_call(actor, connector, id)?;
        if !directory.owns_connection(actor, connector, id) {
            return Err(Denied::Forbidden {
                action: format!("deleting connection `{id}`"),
                needed: "the connection's owner",
            }
            .into());
        }
        if directory.stored_connection(connector, id).is_none() {
            return Err(match scope.registry.get(connector) {
                Ok(loaded) if loaded.connections.contains_key(id) => AccessError::ReadOnly(id.to_string()),
                _ => Denied::NoConnection { connector: connector.to_string(), connection: id.to_string() }.into(),
            });
        }
        let audit = audit(actor, "deleted", format!("connection {connector}/{id}"), None);
        self.store.delete_connection(environment, connector, id, &audit).await?;
        tracing::info!(%environment, %connector, connection = %id, by = %actor.id, "connection deleted");
        self.refresh().await
    }

    /// Deletes a connector, as the platform does: its package, every
    /// connection of it made through the gateway, every token of its
    /// connections, and its shares. Needs `can-edit` on it.
    pub async fn delete_connector(
        &self,
        actor: &Caller,
        environment: &str,
        connector: &str,
    ) -> Result<(), AccessError> {
        let (scope, directory) = self.visible(actor, environment)?;
        check_connector(scope, connector)?;
        directory.may_edit_connector(actor, connector)?;
        let audit = audit(actor, "deleted", format!("connector {connector}"), None);
        let connections = self.store.delete_connector(environment, connector, Some(&audit)).await?;
        // The id is a folder name the registry listed, never a path from input.
        let folder = scope.registry.root().join(connector);
        if let Err(source) = std::fs::remove_dir_all(&folder)
            && source.kind() != std::io::ErrorKind::NotFound
        {
            return Err(AccessError::RemovePackage { connector: connector.to_string(), source });
        }
        scope.registry.reload().await;
        tracing::info!(%environment, %connector, connections, by = %actor.id, "connector deleted");
        self.refresh().await
    }

    /// The issuers people may sign in to the console with.
    pub async fn console_clients(&self) -> Vec<super::oidc::ConsoleClient> {
        self.verifier.console_clients().await
    }

    /// The caller a request's `Authorization` header value authenticates:
    /// `Bearer` and an API key of this gateway, or a token of a configured
    /// issuer.
    pub async fn authenticate(&self, authorization: Option<&[u8]>) -> Result<Caller, Unauthenticated> {
        let credential = authorization
            .and_then(|value| std::str::from_utf8(value).ok())
            .and_then(|value| {
                let (scheme, credential) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| credential.trim())
            })
            .filter(|credential| !credential.is_empty())
            .ok_or(Unauthenticated::Missing)?;
        if credential.starts_with(keys::PREFIX) {
            let (id, secret) = keys::parse(credential).ok_or(KeyRejected::Malformed)?;
            let snapshot = self.snapshot.load();
            let stored = snapshot.people.key(id).ok_or(KeyRejected::Unknown)?;
            stored.check(secret, now() as i64)?;
            return Ok(Caller {
                id: Arc::clone(&stored.principal),
                groups: Vec::new(),
                credential: Credential::ApiKey { id: id.to_string() },
            });
        }
        if self.verifier.is_empty() {
            return Err(Unauthenticated::NoIssuer);
        }
        // Boxed: the verification's future (a key set fetch inside) would
        // otherwise be carried, and copied, by every request's future.
        Ok(Box::pin(self.verifier.verify(credential, now())).await?)
    }

    /// Creates the first admin of the gateway (an admin of the default
    /// environment), or makes `id` one, and issues it a key, without an
    /// acting caller: for the operator's own set-up (the demo, `sluice`
    /// commands on the gateway's machine, tests).
    pub async fn bootstrap_admin(&self, id: &str, display_name: &str, label: &str) -> Result<IssuedKey, AccessError> {
        self.put_principal(id, "user", display_name).await?;
        self.store.put_membership(DEFAULT_ENVIRONMENT, id, Role::Admin.as_str()).await?;
        self.issue(id, label, None).await
    }

    /// Adds one of the gateway's own users or groups (the gateway's admins only).
    pub async fn add_principal(
        &self,
        actor: &Caller,
        id: &str,
        kind: PrincipalKind,
        display_name: &str,
    ) -> Result<(), AccessError> {
        self.require_gateway_admin(actor, "adding a principal")?;
        self.put_principal(id, kind.as_str(), display_name).await?;
        self.refresh().await
    }

    /// Gives `principal` a role in `environment`, or takes it away (the
    /// environment's admins only).
    pub async fn set_role(
        &self,
        actor: &Caller,
        environment: &str,
        principal: &str,
        role: Option<Role>,
    ) -> Result<(), AccessError> {
        self.visible(actor, environment)?.1.require_admin(actor, "changing roles")?;
        check_id(principal)?;
        match role {
            Some(role) => self.store.put_membership(environment, principal, role.as_str()).await?,
            None => {
                self.store.remove_membership(environment, principal).await?;
            }
        }
        self.refresh().await
    }

    /// Adds `member` to the gateway's group `group`, or removes it (the
    /// gateway's admins only).
    pub async fn set_group_member(
        &self,
        actor: &Caller,
        group: &str,
        member: &str,
        in_group: bool,
    ) -> Result<(), AccessError> {
        self.require_gateway_admin(actor, "changing a group")?;
        check_id(member)?;
        if !self.snapshot.load().people.is_group(group) {
            return Err(AccessError::NotAGroup(group.to_string()));
        }
        if in_group {
            self.store.put_group_member(group, member).await?;
        } else {
            self.store.remove_group_member(group, member).await?;
        }
        self.refresh().await
    }

    /// Issues an API key to `principal`: anyone to themselves, the gateway's
    /// admins to anyone.
    pub async fn issue_key(
        &self,
        actor: &Caller,
        principal: &str,
        label: &str,
        expires_at: Option<i64>,
    ) -> Result<IssuedKey, AccessError> {
        if *actor.id != *principal {
            self.require_gateway_admin(actor, "issuing a key to someone else")?;
        }
        check_id(principal)?;
        self.issue(principal, label, expires_at).await
    }

    /// Revokes a key: its holder or the gateway's admins may. A key the
    /// actor may not see is [`Denied::NotFound`].
    pub async fn revoke_key(&self, actor: &Caller, id: &str) -> Result<(), AccessError> {
        let holder = self.snapshot.load().people.key(id).map(|k| Arc::clone(&k.principal));
        let is_admin = self.is_gateway_admin(actor);
        if !is_admin && holder.as_deref() != Some(&*actor.id) {
            return Err(Denied::NotFound { kind: "API key", id: id.to_string() }.into());
        }
        if holder.is_none() || !self.store.revoke_api_key(id, now() as i64).await? {
            return Err(Denied::NotFound { kind: "API key", id: id.to_string() }.into());
        }
        tracing::info!(key = %id, by = %actor.id, "API key revoked");
        self.refresh().await
    }

    /// Makes `owner` the owner of a connector (the environment's admins only).
    pub async fn set_connector_owner(
        &self,
        actor: &Caller,
        environment: &str,
        connector: &str,
        owner: &str,
    ) -> Result<(), AccessError> {
        let (scope, directory) = self.visible(actor, environment)?;
        directory.require_admin(actor, "changing a connector's owner")?;
        check_connector(scope, connector)?;
        check_id(owner)?;
        self.store.put_connector_owner(environment, connector, owner).await?;
        self.refresh().await
    }

    /// Shares a connector with a user or group, or changes the right
    /// shared; `None` removes the share. Needs `can-edit` on it.
    pub async fn share_connector(
        &self,
        actor: &Caller,
        environment: &str,
        connector: &str,
        principal: &str,
        right: Option<Right>,
    ) -> Result<(), AccessError> {
        let (scope, directory) = self.visible(actor, environment)?;
        check_connector(scope, connector)?;
        directory.may_edit_connector(actor, connector)?;
        check_id(principal)?;
        let target = format!("connector {connector}");
        match right {
            Some(right) => {
                let audit = audit(actor, "shared", target, Some(format!("{principal} {right}")));
                self.store.put_connector_share(environment, connector, principal, right.as_str(), &audit).await?;
            }
            None => {
                let audit = audit(actor, "unshared", target, Some(principal.to_string()));
                self.store.remove_connector_share(environment, connector, principal, &audit).await?;
            }
        }
        tracing::info!(%environment, %connector, %principal, right = right.map(Right::as_str).unwrap_or("none"), by = %actor.id, "connector share changed");
        self.refresh().await
    }

    /// Shares a connection with a user or group (`can-use`), or stops
    /// sharing it. Only its owner (or an admin) may.
    pub async fn share_connection(
        &self,
        actor: &Caller,
        environment: &str,
        connector: &str,
        connection: &str,
        principal: &str,
        shared: bool,
    ) -> Result<(), AccessError> {
        let (scope, directory) = self.visible(actor, environment)?;
        let known = scope
            .registry
            .get(connector)
            .is_ok_and(|loaded| self.connection(environment, &loaded, connection).is_some());
        if !known {
            return Err(
                Denied::NoConnection { connector: connector.to_string(), connection: connection.to_string() }.into()
            );
        }
        directory.may_call(actor, connector, connection)?;
        if !directory.owns_connection(actor, connector, connection) {
            return Err(Denied::Forbidden {
                action: format!("sharing connection `{connection}`"),
                needed: "the connection's owner",
            }
            .into());
        }
        check_id(principal)?;
        let target = format!("connection {connector}/{connection}");
        if shared {
            let audit = audit(actor, "shared", target, Some(principal.to_string()));
            self.store.put_connection_share(environment, connector, connection, principal, &audit).await?;
        } else {
            let audit = audit(actor, "unshared", target, Some(principal.to_string()));
            self.store.remove_connection_share(environment, connector, connection, principal, &audit).await?;
        }
        tracing::info!(%environment, %connector, %connection, %principal, shared, by = %actor.id, "connection share changed");
        self.refresh().await
    }

    async fn put_principal(&self, id: &str, kind: &str, display_name: &str) -> Result<(), AccessError> {
        check_id(id)?;
        let row = PrincipalRow { id: id.to_string(), kind: kind.to_string(), display_name: display_name.to_string() };
        Ok(self.store.put_principal(&row).await?)
    }

    async fn issue(&self, principal: &str, label: &str, expires_at: Option<i64>) -> Result<IssuedKey, AccessError> {
        let key = keys::generate();
        let row = ApiKeyRow {
            id: key.id.clone(),
            principal: principal.to_string(),
            label: label.to_string(),
            secret_hash: key.secret_hash.to_vec(),
            created_at: now() as i64,
            expires_at,
            revoked_at: None,
        };
        self.store.put_api_key(&row).await?;
        tracing::info!(key = %key.id, %principal, "API key issued");
        self.refresh().await?;
        Ok(IssuedKey { id: key.id, key: key.text })
    }

    /// Sets an environment's linked subnets and public switch (its admins
    /// only): stored with its audit entry, then applied to every call from
    /// now on, no connector re-saved.
    pub async fn set_network(
        &self,
        actor: &Caller,
        environment: &crate::environment::Environment,
        settings: &crate::environment::NetworkSettings,
    ) -> Result<(), AccessError> {
        self.visible(actor, environment.id())?.1.require_admin(actor, "changing network settings")?;
        let current = environment.network().environment();
        let next = settings.apply_to((*current).clone()).map_err(AccessError::BadSubnet)?;
        let json = |settings: &crate::environment::NetworkSettings| serde_json::to_string(settings).unwrap_or_default();
        let audit = crate::store::AuditRow {
            before: Some(json(&crate::environment::NetworkSettings::of(&current))),
            ..audit(actor, "network-changed", format!("environment {}", environment.id()), Some(json(settings)))
        };
        self.store.put_environment_network(environment.id(), &json(settings), &audit).await?;
        environment.set_network_from_api(next);
        Ok(())
    }

    /// The environment's scope and snapshot, for a member of it.
    fn visible(&self, actor: &Caller, environment: &str) -> Result<(&Scope, Arc<Directory>), AccessError> {
        let directory = self.member_directory(actor, environment)?;
        let scope = self
            .environments
            .get(environment)
            .ok_or_else(|| Denied::NoEnvironment { environment: environment.to_string() })?;
        Ok((scope, directory))
    }

    /// Whether the actor is one of the gateway's admins: an admin of the
    /// default environment.
    fn is_gateway_admin(&self, actor: &Caller) -> bool {
        self.directory(DEFAULT_ENVIRONMENT).is_some_and(|directory| directory.role(actor) == Some(Role::Admin))
    }

    /// [`Denied::Forbidden`] unless the actor is one of the gateway's admins.
    fn require_gateway_admin(&self, actor: &Caller, action: &str) -> Result<(), Denied> {
        if self.is_gateway_admin(actor) {
            Ok(())
        } else {
            Err(Denied::Forbidden { action: action.to_string(), needed: "admin" })
        }
    }
}

/// A connector the environment's registry does not know is reported missing.
fn check_connector(scope: &Scope, connector: &str) -> Result<(), AccessError> {
    if scope.registry.knows(connector) {
        Ok(())
    } else {
        Err(Denied::NoConnector { connector: connector.to_string() }.into())
    }
}

/// The kinds of principal the gateway keeps itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A person or a service.
    User,
    /// A group of principals.
    Group,
}

impl PrincipalKind {
    fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Group => "group",
        }
    }
}

fn check_id(id: &str) -> Result<(), AccessError> {
    if valid_principal_id(id) { Ok(()) } else { Err(AccessError::BadPrincipal(id.to_string())) }
}

/// An audit entry of `actor` doing `action` to `target` now.
fn audit(actor: &Caller, action: &str, target: String, after: Option<String>) -> crate::store::AuditRow {
    crate::store::AuditRow::now(&actor.id, action, target, None, after)
}

/// A stored connection's sealed JSON when it chose a parameter set: the
/// choice is sealed with the values, so it is bound to the row as they are
/// (an altered choice does not open) and needs no column of its own. A
/// connection without a set is sealed as the map of its values alone, as
/// before sets were read, so that rows stay readable to older gateways.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SealedConnection {
    parameter_set: String,
    values: indexmap::IndexMap<String, String>,
}

/// The JSON sealed for a connection's set and values.
fn seal_form(set: Option<&str>, values: indexmap::IndexMap<String, String>) -> Vec<u8> {
    // Maps of strings always serialise.
    match set {
        Some(set) => serde_json::to_vec(&SealedConnection { parameter_set: set.to_string(), values }),
        None => serde_json::to_vec(&values),
    }
    .unwrap_or_default()
}

/// A stored connection's sealed JSON, opened: either form of
/// [`seal_form`]. They cannot be mistaken for each other: a values map
/// holds only strings, and the set's form holds a map under `values`.
fn open_sealed(json: &[u8]) -> Option<OpenedConnection> {
    let secrets = |values: indexmap::IndexMap<String, String>| {
        values.into_iter().map(|(k, v)| (k, sluice_package::Secret::new(v))).collect()
    };
    if let Ok(sealed) = serde_json::from_slice::<SealedConnection>(json) {
        return Some(OpenedConnection { parameter_set: Some(sealed.parameter_set), values: secrets(sealed.values) });
    }
    let values = serde_json::from_slice::<indexmap::IndexMap<String, String>>(json).ok()?;
    Some(OpenedConnection { parameter_set: None, values: secrets(values) })
}

/// What a stored connection's sealed values are bound to: its row.
fn connection_aad(environment: &str, connector: &str, id: &str) -> Vec<u8> {
    // JSON keeps the parts apart whatever they contain.
    serde_json::to_vec(&["connection", environment, connector, id]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_sealed_with_its_set_and_rows_without_one_read_as_before() {
        let values: indexmap::IndexMap<String, String> = [("api_key".to_string(), "k".to_string())].into();
        let with_set = open_sealed(&seal_form(Some("key"), values.clone())).unwrap();
        assert_eq!(with_set.parameter_set.as_deref(), Some("key"));
        assert_eq!(with_set.values["api_key"].expose(), "k");
        let without = seal_form(None, values);
        assert_eq!(without, br#"{"api_key":"k"}"#, "the form of rows written before sets");
        assert_eq!(open_sealed(&without).unwrap().parameter_set, None);
        // Parameters named like the set's form's keys are values still.
        let odd = open_sealed(br#"{"parameter_set":"x","values":"y"}"#).unwrap();
        assert_eq!((odd.parameter_set, odd.values.len()), (None, 2));
        assert!(open_sealed(b"[1]").is_none());
    }
}
