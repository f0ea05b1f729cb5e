-- Several environments in one gateway: a connection's tokens and a pending
-- sign-in belong to an environment, since connector and connection ids are
-- only unique inside one. Rows from before belong to the default
-- environment. (SQLite rebuilds the table; PostgreSQL alters it.)

ALTER TABLE tokens ADD COLUMN environment TEXT NOT NULL DEFAULT 'default';
ALTER TABLE tokens DROP CONSTRAINT tokens_pkey;
ALTER TABLE tokens ADD PRIMARY KEY (environment, connector, connection);

ALTER TABLE pending_signins ADD COLUMN environment TEXT NOT NULL DEFAULT 'default';
