-- +goose Up
-- A ban revokes the player's tokens: tokens issued before tokens_valid_after are
-- refused by the player's owner shard, even after an unban (application/bans). NULL:
-- none ever were. Adding a nullable column without a default rewrites no rows.
ALTER TABLE players ADD COLUMN tokens_valid_after timestamptz;

-- Every shard keeps the (few) players with a ban or revoked tokens in memory and
-- reloads them now and then; this index is exactly that reload's WHERE.
CREATE INDEX players_bans_idx ON players (player_id) WHERE banned OR tokens_valid_after IS NOT NULL;

-- +goose Down
DROP INDEX players_bans_idx;
ALTER TABLE players DROP COLUMN tokens_valid_after;
