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

-- Coin mail claimed from mailboxes: one row per mail id makes a coin gift credit exactly
-- once, in the transaction that credits it. Partitioned by the real time encoded in the
-- mail id (mail expires long before its partition is dropped).
CREATE TABLE mail_claims (
    mail_id    text        NOT NULL,
    sent_at    timestamptz NOT NULL,
    player_id  bigint      NOT NULL,
    amount     bigint      NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mail_id, sent_at)
) PARTITION BY RANGE (sent_at);

-- +goose Down
DROP TABLE mail_claims;
DROP TABLE friendships;
