-- +goose Up
-- The live-operations calendar: timed life modifiers for everyone and push campaigns,
-- scheduled from the GMS. Times are on the game clock. Cancelling sets cancelled_at (the
-- event ends then); nothing is deleted. A handful of rows a week: kept.
CREATE TABLE live_events (
    event_id      text             PRIMARY KEY,
    kind          text             NOT NULL CHECK (kind IN ('infinite_lives', 'lives_max', 'lives_regen', 'push')),
    title         text             NOT NULL,
    starts_at     timestamptz      NOT NULL,
    ends_at       timestamptz      CHECK (ends_at > starts_at),
    value         bigint           NOT NULL DEFAULT 0,
    message       text             NOT NULL DEFAULT '',
    audience      text             NOT NULL DEFAULT 'all',
    expected_load double precision NOT NULL DEFAULT 1 CHECK (expected_load >= 1),
    cancelled_at  timestamptz,
    created_by    text             NOT NULL,
    updated_by    text             NOT NULL,
    created_at    timestamptz      NOT NULL DEFAULT now(),
    updated_at    timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX live_events_starts_at ON live_events (starts_at);

-- +goose Down
DROP TABLE live_events;
