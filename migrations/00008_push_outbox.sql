-- +goose Up
-- The push outbox: one row per notification per device token. A trigger writes its rows
-- in the same transaction as its cause where it has one in PostgreSQL (a campaign's
-- fan-out advances its cursor in live_events with the rows it adds); the senders claim
-- due rows and record what the provider answered. Rows are kept for the GMS (per-player
-- deliveries, per-campaign counts) and leave only by dropping whole day partitions past
-- retention (janitor, OVEN_RETENTION_PUSHES, default 7 days): no DELETE.
--
-- created_at (real time) is the partition key; due_at is when to send, on the game
-- clock: lives_full is due at the regeneration instant, a retry after its backoff.
-- A claimed row gets a lease (leased_until); a sender that dies leaves it to be claimed
-- again when the lease ends (at least once: a push may repeat, never vanish).
-- slot is the player's slot: a shard sends the rows of the slots it owns.
CREATE SEQUENCE push_outbox_id_seq AS bigint;
CREATE TABLE push_outbox (
    id         bigint      NOT NULL DEFAULT nextval('push_outbox_id_seq'),
    created_at timestamptz NOT NULL DEFAULT now(),
    player_id  bigint      NOT NULL,
    slot       int         NOT NULL,
    kind       text        NOT NULL CHECK (kind IN ('life_received', 'lives_full', 'campaign')),
    event_id   text,
    platform   text        NOT NULL CHECK (platform IN ('apns', 'fcm')),
    token      text        NOT NULL,
    title      text        NOT NULL DEFAULT '',
    body       text        NOT NULL,
    status     text        NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed', 'unregistered')),
    due_at     timestamptz NOT NULL,
    leased_until timestamptz,
    attempts   int         NOT NULL DEFAULT 0,
    sent_at    timestamptz,
    error      text        NOT NULL DEFAULT '',
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
ALTER SEQUENCE push_outbox_id_seq OWNED BY push_outbox.id;
CREATE INDEX push_outbox_due_idx ON push_outbox (due_at) WHERE status = 'queued';
CREATE INDEX push_outbox_player_idx ON push_outbox (player_id, created_at DESC);
CREATE INDEX push_outbox_event_idx ON push_outbox (event_id, status) WHERE event_id IS NOT NULL;

-- A push campaign's fan-out: started when its send time came (push_started_at, game
-- clock: the pre-warming controller reads it), advanced a batch of
-- players at a time (push_cursor: the last player_id queued), done when every player
-- was considered. One shard at a time fans a campaign out (a row lock).
ALTER TABLE live_events
    ADD COLUMN push_started_at timestamptz,
    ADD COLUMN push_cursor     bigint NOT NULL DEFAULT 0,
    ADD COLUMN push_done_at    timestamptz;

-- The live tokens of players in player_id order, for the fan-out's keyset pages.
CREATE INDEX push_tokens_live_idx ON push_tokens (player_id) WHERE removed_at IS NULL AND disabled_at IS NULL;

-- +goose Down
DROP INDEX push_tokens_live_idx;
ALTER TABLE live_events DROP COLUMN push_started_at, DROP COLUMN push_cursor, DROP COLUMN push_done_at;
DROP TABLE push_outbox;
