-- +goose Up
-- Players' device tokens for push notifications (APNs or FCM), up to 5 live per player.
-- Removing one sets removed_at; a token the provider reports unregistered gets disabled_at
-- (never sent to again until the app registers it anew). No DELETE: a handful of rows per
-- player, kept.
CREATE TABLE push_tokens (
    player_id       bigint      NOT NULL REFERENCES players (player_id),
    platform        text        NOT NULL CHECK (platform IN ('apns', 'fcm')),
    token           text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz,
    disabled_at     timestamptz,
    disabled_reason text        NOT NULL DEFAULT '',
    PRIMARY KEY (player_id, platform, token)
);

-- +goose Down
DROP TABLE push_tokens;
