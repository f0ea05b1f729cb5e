-- Connectors published through the management API: every version of each
-- package as the archive it was uploaded as, content-addressed by its
-- SHA-256. The newest version is the one the gateway serves; its folder in
-- the packages directory is made from it. Connectors that only have a
-- folder (the GitOps way) have no row here and are read-only to the API.

CREATE TABLE packages (
    environment  TEXT    NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    connector    TEXT    NOT NULL,
    version      BIGINT  NOT NULL,
    sha256       TEXT    NOT NULL,
    archive      BYTEA   NOT NULL,
    published_by TEXT    NOT NULL,
    published_at BIGINT  NOT NULL,
    -- What validation found when it was published (JSON, warnings only:
    -- errors refuse a package).
    findings     TEXT    NOT NULL DEFAULT '[]',
    PRIMARY KEY (environment, connector, version)
);

-- Who changed what, and when, written in the transaction of the change.
CREATE TABLE audit_log (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    environment TEXT    NOT NULL,
    at          BIGINT  NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    before      TEXT,
    after       TEXT
);

CREATE INDEX audit_log_by_environment ON audit_log (environment, id);
