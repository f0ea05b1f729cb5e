-- Several gateways share this database, and each serves calls from an
-- in-memory snapshot of it. Every change that a snapshot holds is announced
-- on the `sluice_changes` channel when its transaction commits, whoever
-- made it (a replica, or an operator's own SQL): `people` for principals,
-- groups and keys, `access {environment}` for members, owners, shares and
-- connections, `packages {environment}` for published versions,
-- `environment {id}` for an environment's settings. PostgreSQL sends one
-- notification per distinct payload and transaction. Tokens are not
-- announced: they are read from here when a call needs them. (SQLite has
-- no counterpart: it serves one gateway.)

CREATE FUNCTION sluice_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed JSONB := to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END);
BEGIN
    PERFORM pg_notify('sluice_changes', CASE TG_ARGV[0]
        WHEN 'people' THEN 'people'
        WHEN 'environment' THEN 'environment ' || (changed ->> 'id')
        ELSE TG_ARGV[0] || ' ' || (changed ->> 'environment')
    END);
    RETURN NULL;
END
$$;

-- One trigger per table whose rows a snapshot holds, named `{table}_announce`.
DO $$
DECLARE
    announced RECORD;
BEGIN
    FOR announced IN SELECT * FROM (VALUES
        ('principals', 'people'), ('group_members', 'people'), ('api_keys', 'people'),
        ('environments', 'environment'),
        ('memberships', 'access'), ('connector_owners', 'access'), ('connector_shares', 'access'),
        ('connection_shares', 'access'), ('connections', 'access'),
        ('packages', 'packages')
    ) AS t (name, kind) LOOP
        EXECUTE format(
            'CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION sluice_announce_change(%L)',
            announced.name || '_announce', announced.name, announced.kind
        );
    END LOOP;
END
$$;
