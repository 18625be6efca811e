-- +goose Up
-- The PostgreSQL side of fencing (application/fence): each slot's epoch, which only grows.
-- A new owner raises it (application/fence/pgfence.Raiser) before it serves the slot;
-- every transaction that writes a player's rows first calls oven_fence with the slot
-- and the epoch its shard holds, so a shard that lost the slot gets its writes refused.
-- One row per slot (cluster.Slots = 4096), written only by raises: 4096 small rows.
CREATE TABLE slot_fences (
    slot  integer PRIMARY KEY CHECK (slot >= 0 AND slot < 4096),
    epoch bigint  NOT NULL DEFAULT 0 CHECK (epoch >= 0)
);
INSERT INTO slot_fences (slot) SELECT generate_series(0, 4095);

-- oven_fence admits the calling transaction's writes for slot at epoch, or raises
-- SQLSTATE OVF01. It takes FOR KEY SHARE on the slot's row, held until the transaction
-- ends: writers never block one another on it, but a raise (SELECT ... FOR UPDATE) waits
-- for them, and a writer that comes while a raise holds the row waits for the raise and
-- then re-reads the row (READ COMMITTED re-checks the WHERE on the new version), so it
-- sees the new epoch and is refused. The epoch must match exactly: a raise always comes
-- before the new owner's first write, so a writer's epoch is never above the row's.
--
-- It also bounds how long a fenced transaction may sit idle between statements (SET
-- LOCAL, this transaction only): a shard paused mid-transaction (SIGSTOP, a debugger)
-- would otherwise hold the row lock, and so block the new owner's raise, for as long as
-- it stays paused. After 5 s idle the server ends the session and the transaction rolls
-- back. Oven's fenced transactions never wait on the client that long.
-- +goose StatementBegin
CREATE FUNCTION oven_fence(fence_slot integer, fence_epoch bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM slot_fences WHERE slot = fence_slot AND epoch = fence_epoch FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'slot % is fenced: epoch % is not its current owner''s', fence_slot, fence_epoch
            USING ERRCODE = 'OVF01';
    END IF;
    PERFORM set_config('idle_in_transaction_session_timeout', '5s', true);
    RETURN true;
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION oven_fence(integer, bigint);
DROP TABLE slot_fences;
