-- Connections a policy marked unauthenticated (the platform's
-- setconnectionstatustounauthenticated): the backend answered a status the
-- package names. Kept for connections of the settings file too, so it is
-- not tied to the connections table. The row goes when the connection is
-- made again, deleted, or its test-connection operation succeeds.
CREATE TABLE connection_status (
    environment TEXT    NOT NULL,
    connector   TEXT    NOT NULL,
    connection  TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('unauthenticated')),
    reason      TEXT    NOT NULL,
    since       INTEGER NOT NULL,
    PRIMARY KEY (environment, connector, connection)
);
