-- +goose Up
-- Friendships are mutual: one row per direction, keyed by player first. Ending one sets
-- removed_at (no DELETE); befriending again revives the row.
CREATE TABLE friendships (
    player_id  bigint      NOT NULL REFERENCES players (player_id),
    friend_id  bigint      NOT NULL REFERENCES players (player_id),
    created_at timestamptz NOT NULL DEFAULT now(),
    removed_at timestamptz,
    PRIMARY KEY (player_id, friend_id),
    CHECK (player_id <> friend_id)
);

-- Coin mail claimed from mailboxes: one row per player and mail id makes a coin gift
-- credit exactly once, in the transaction that credits it (a broadcast's id is claimed
-- by many players, once each). Partitioned by the real time encoded in the mail id; the
-- janitor keeps these longer than any mail or broadcast can live.
CREATE TABLE mail_claims (
    player_id  bigint      NOT NULL,
    mail_id    text        NOT NULL,
    sent_at    timestamptz NOT NULL,
    amount     bigint      NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (player_id, mail_id, sent_at)
) PARTITION BY RANGE (sent_at);

-- GMS broadcasts: stored once, shown in every player's mailbox (including players who
-- join during the window) until claimed or ended. Sending one costs the same for ten
-- players or a million. Times are on the game clock. A handful of rows: kept.
CREATE TABLE broadcasts (
    broadcast_id text        PRIMARY KEY,
    kind         text        NOT NULL CHECK (kind IN ('life', 'coins')),
    amount       bigint      NOT NULL CHECK (amount > 0),
    message      text        NOT NULL,
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz NOT NULL CHECK (ends_at > starts_at),
    created_by   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE broadcasts;
DROP TABLE mail_claims;
DROP TABLE friendships;
