-- +goose Up
-- The GMS: admin accounts, the audit log, and immutable game-data versions.

-- Admin accounts. Passwords are bcrypt hashes; sessions live in Redis with a TTL (they
-- are ephemeral), so this table only changes when an account does.
CREATE TABLE admins (
    username      text        PRIMARY KEY CHECK (username ~ '^[a-z0-9][a-z0-9._-]{0,31}$'),
    password_hash text        NOT NULL,
    role          text        NOT NULL CHECK (role IN ('viewer', 'editor', 'publisher', 'operator')),
    disabled      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Every admin action: who, what, when, and the state before and after. Partitioned by
-- day like the other time series; the janitor drops partitions past retention
-- (OVEN_RETENTION_AUDIT), and nothing else ever removes or changes a row.
CREATE SEQUENCE audit_log_id_seq AS bigint;
CREATE TABLE audit_log (
    id         bigint      NOT NULL DEFAULT nextval('audit_log_id_seq'),
    created_at timestamptz NOT NULL DEFAULT now(),
    actor      text        NOT NULL,
    action     text        NOT NULL,
    target     text        NOT NULL DEFAULT '',
    before     jsonb,
    after      jsonb,
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
ALTER SEQUENCE audit_log_id_seq OWNED BY audit_log.id;
CREATE INDEX audit_log_newest_idx ON audit_log (created_at DESC, id DESC);

-- Every shard keeps the (few) banned players in memory and reloads them now and then.
CREATE INDEX players_banned_idx ON players (player_id) WHERE banned;

-- A rollback publishes an old version's document again as a new version; this records
-- which one, for the version history.
ALTER TABLE gamedata_versions ADD COLUMN source_version bigint REFERENCES gamedata_versions (version);

-- Published versions and audit rows are immutable: refuse any UPDATE or DELETE, so a bug
-- cannot rewrite history (partitions past retention leave by DROP, which this allows).
-- +goose StatementBegin
CREATE FUNCTION oven_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are immutable', TG_TABLE_NAME;
END $$;
-- +goose StatementEnd
CREATE TRIGGER gamedata_versions_immutable BEFORE UPDATE OR DELETE ON gamedata_versions
    FOR EACH ROW EXECUTE FUNCTION oven_refuse_change();
CREATE TRIGGER audit_log_immutable BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION oven_refuse_change();

-- +goose Down
DROP TRIGGER audit_log_immutable ON audit_log;
DROP TRIGGER gamedata_versions_immutable ON gamedata_versions;
DROP FUNCTION oven_refuse_change();
ALTER TABLE gamedata_versions DROP COLUMN source_version;
DROP INDEX players_banned_idx;
DROP TABLE audit_log;
DROP TABLE admins;
