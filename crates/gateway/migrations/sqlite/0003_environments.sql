-- Several environments in one gateway: a connection's tokens and a pending
-- sign-in belong to an environment, since connector and connection ids are
-- only unique inside one. Rows from before belong to the default
-- environment, which is what a single-environment gateway always was.

CREATE TABLE tokens_by_environment (
    environment  TEXT    NOT NULL DEFAULT 'default',
    connector    TEXT    NOT NULL,
    connection   TEXT    NOT NULL,
    sealed       BLOB    NOT NULL,
    needs_signin TEXT,
    version      INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (environment, connector, connection)
);

INSERT INTO tokens_by_environment (environment, connector, connection, sealed, needs_signin, version, updated_at)
SELECT 'default', connector, connection, sealed, needs_signin, version, updated_at FROM tokens;

DROP TABLE tokens;

ALTER TABLE tokens_by_environment RENAME TO tokens;

ALTER TABLE pending_signins ADD COLUMN environment TEXT NOT NULL DEFAULT 'default';
