-- Who may do what: principals (users and groups), their roles in the
-- environment, the gateway's API keys, and the owners and shares of
-- connectors and connections. Principals that an OpenID Connect issuer
-- vouches for need no row of their own: their ids (`{issuer name}:{subject}`)
-- appear in memberships and shares as they are.

CREATE TABLE principals (
    id           TEXT    PRIMARY KEY,
    kind         TEXT    NOT NULL CHECK (kind IN ('user', 'group')),
    display_name TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL
);

-- Members of the gateway's own groups (an issuer's groups come in its tokens).
CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    member   TEXT NOT NULL,
    PRIMARY KEY (group_id, member)
);

CREATE TABLE environments (
    id           TEXT PRIMARY KEY,
    display_name TEXT NOT NULL
);

INSERT INTO environments (id, display_name) VALUES ('default', 'Default');

CREATE TABLE memberships (
    environment TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    principal   TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'maker', 'user')),
    PRIMARY KEY (environment, principal)
);

-- Only the SHA-256 of a key's secret is kept; the key is shown once.
CREATE TABLE api_keys (
    id          TEXT    PRIMARY KEY,
    principal   TEXT    NOT NULL,
    label       TEXT    NOT NULL,
    secret_hash BYTEA   NOT NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT,
    revoked_at  BIGINT
);

CREATE TABLE connector_owners (
    environment TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    connector   TEXT NOT NULL,
    owner       TEXT NOT NULL,
    PRIMARY KEY (environment, connector)
);

CREATE TABLE connector_shares (
    environment TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    connector   TEXT NOT NULL,
    principal   TEXT NOT NULL,
    access      TEXT NOT NULL CHECK (access IN ('can-use', 'can-edit')),
    PRIMARY KEY (environment, connector, principal)
);

CREATE TABLE connection_shares (
    environment TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    connector   TEXT NOT NULL,
    connection  TEXT NOT NULL,
    principal   TEXT NOT NULL,
    PRIMARY KEY (environment, connector, connection, principal)
);

-- Connections made through the gateway (those of the settings file are not
-- here). Their parameter values are one blob, sealed under the gateway's
-- key and bound to the row; the store never sees a secret.
CREATE TABLE connections (
    environment TEXT    NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    connector   TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    owner       TEXT    NOT NULL,
    sealed      BYTEA   NOT NULL,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (environment, connector, id)
);
