-- +goose Up
-- Time-series tables are range-partitioned by day on the moment the row was written
-- (real time), and old rows leave only by dropping whole partitions: there is no DELETE
-- anywhere. The janitor (application/janitor) creates partitions ahead of time and drops
-- them past retention. A row whose day has no partition fails loudly rather than landing
-- in a catch-all partition that would block creating its real one later.

-- The coin ledger. Invariant 4: wallets.coins = starting_coins + carried_coins + the sum
-- of the player's ledger rows. Before a ledger partition is dropped the janitor folds its
-- sums into carried_coins in the same transaction, so the invariant survives retention.
ALTER TABLE wallets ADD COLUMN carried_coins bigint NOT NULL DEFAULT 0;

CREATE TABLE coin_ledger (
    player_id  bigint      NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    amount     bigint      NOT NULL CHECK (amount <> 0),
    reason     text        NOT NULL,  -- play, play_boosts, shop, mail, ...
    ref        text        NOT NULL   -- play id, item id, mail id
) PARTITION BY RANGE (created_at);
CREATE INDEX coin_ledger_player_idx ON coin_ledger (player_id, created_at);

-- The coin step of starting a play with boosts, and its arbiter: exactly one row per
-- play id, 'charged' by the play's own transaction or 'void' by recovery after a crash,
-- whichever commits first (see application/plays). started_at is the real time encoded
-- in the play id, so both writers compute the same partition key.
CREATE TABLE play_charges (
    play_id    text        NOT NULL,
    started_at timestamptz NOT NULL,
    player_id  bigint      NOT NULL,
    outcome    text        NOT NULL CHECK (outcome IN ('charged', 'void')),
    cost       bigint      NOT NULL CHECK (cost >= 0),
    PRIMARY KEY (play_id, started_at)
) PARTITION BY RANGE (started_at);

-- One row per settled play, accepted or rejected. The primary key makes settlement
-- idempotent in SQL too: a retried settle after a crash finds the stored result here.
CREATE TABLE play_records (
    play_id      text        NOT NULL,
    started_at   timestamptz NOT NULL,
    player_id    bigint      NOT NULL,
    settled_at   timestamptz NOT NULL DEFAULT now(),
    score        bigint      NOT NULL,
    coins        bigint      NOT NULL,
    distance     bigint      NOT NULL,
    duration_ms  bigint      NOT NULL,
    cookie_id    text        NOT NULL,
    pet_id       text        NOT NULL,
    boosts       text[]      NOT NULL,
    outcome      text        NOT NULL,  -- accepted, or rejected:<reason>
    body_hash    text        NOT NULL,
    result       jsonb       NOT NULL,
    PRIMARY KEY (play_id, started_at)
) PARTITION BY RANGE (started_at);
CREATE INDEX play_records_player_idx ON play_records (player_id, started_at DESC);

-- +goose Down
DROP TABLE play_records;
DROP TABLE play_charges;
DROP TABLE coin_ledger;
ALTER TABLE wallets DROP COLUMN carried_coins;
