-- The PostgreSQL schema follows SQLite's (migrations/sqlite) version for
-- version, in PostgreSQL's types: BYTEA for blobs, BIGINT for integers.
--
-- OAuth tokens of signed-in connections, and sign-ins waiting for the
-- provider's redirect. Secret values are sealed by the gateway above the
-- store (XChaCha20-Poly1305, bound to their row); the store keeps blobs.

CREATE TABLE tokens (
    connector    TEXT   NOT NULL,
    connection   TEXT   NOT NULL,
    sealed       BYTEA  NOT NULL,
    -- Set when a refresh was refused: the connection needs a new sign-in.
    needs_signin TEXT,
    -- Bumped on every write, for compare-and-set between refreshes and sign-ins.
    version      BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (connector, connection)
);

CREATE TABLE pending_signins (
    -- SHA-256 of the `state`, never the state itself.
    state_hash   TEXT   PRIMARY KEY,
    connector    TEXT   NOT NULL,
    -- The redirect URI the sign-in must come back on.
    redirect_uri TEXT   NOT NULL,
    sealed       BYTEA  NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE INDEX pending_signins_created_at ON pending_signins (created_at);
