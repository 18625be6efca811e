// Package push is Oven's push notifications: the players' device tokens (this file) and,
// as they are built, the outbox and the provider adapters.
package push

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/fence/pgfence"
	"github.com/ovengames/oven/application/players"
)

// Invalidator drops a player's cached profile (which counts the tokens).
type Invalidator interface{ Invalidate(playerID string) }

// Tokens is the players' device tokens in PostgreSQL. Every write is fenced by the
// player's slot token (its owner writes it).
type Tokens struct {
	DB      pgfence.DB
	Players Invalidator
}

// Register adds a token for the player, or revives it (removed, or disabled after the
// provider reported it unregistered). A player holds at most oven.MaxPushTokens live
// tokens: one more is conflict, and nothing changes.
func (t *Tokens) Register(ctx context.Context, playerID, platform, token string) error {
	pid, err := players.ParseID(playerID)
	if err != nil {
		return err
	}
	if err := oven.CheckPushToken(platform, token); err != nil {
		return err
	}
	err = pgfence.BeginFunc(ctx, t.DB, func(tx pgx.Tx) error {
		var others int
		// The player's row lock serialises one player's registrations.
		if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM push_tokens WHERE player_id = p.player_id
				AND removed_at IS NULL AND disabled_at IS NULL AND (platform, token) <> ($2, $3))
			FROM players p WHERE p.player_id = $1 FOR UPDATE`, pid, platform, token).Scan(&others); err != nil {
			return err
		}
		if others >= oven.MaxPushTokens {
			return oven.Errorf(oven.EConflict, "a player may hold at most %d device tokens; remove one first", oven.MaxPushTokens)
		}
		_, err := tx.Exec(ctx, `INSERT INTO push_tokens (player_id, platform, token) VALUES ($1, $2, $3)
			ON CONFLICT (player_id, platform, token) DO UPDATE
			SET removed_at = NULL, disabled_at = NULL, disabled_reason = '', updated_at = now()`, pid, platform, token)
		return err
	})
	if err != nil {
		return wrap("register", err)
	}
	t.Players.Invalidate(playerID)
	return nil
}

// Remove removes a token of the player (removing one it does not hold changes nothing).
func (t *Tokens) Remove(ctx context.Context, playerID, platform, token string) error {
	pid, err := players.ParseID(playerID)
	if err != nil {
		return err
	}
	if err := oven.CheckPushToken(platform, token); err != nil {
		return err
	}
	if _, err := pgfence.Exec(ctx, t.DB, `UPDATE push_tokens SET removed_at = now(), updated_at = now()
		WHERE player_id = $1 AND platform = $2 AND token = $3 AND removed_at IS NULL`, pid, platform, token); err != nil {
		return wrap("remove", err)
	}
	t.Players.Invalidate(playerID)
	return nil
}

// Disable disables a token the provider reported dead (reason: "unregistered"), unless
// the player registered it again after queued, when the push that failed was queued:
// that registration is newer news. A fenced write (ctx carries the slot's token).
func (t *Tokens) Disable(ctx context.Context, playerID int64, platform, token string, queued time.Time, reason string) error {
	tag, err := pgfence.Exec(ctx, t.DB, `UPDATE push_tokens SET disabled_at = now(), disabled_reason = $4, updated_at = now()
		WHERE player_id = $1 AND platform = $2 AND token = $3 AND disabled_at IS NULL AND updated_at <= $5`,
		playerID, platform, token, reason, queued)
	if err != nil {
		return wrap("disable", err)
	}
	if tag.RowsAffected() > 0 {
		t.Players.Invalidate(strconv.FormatInt(playerID, 10))
	}
	return nil
}

func wrap(op string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return oven.Errorf(oven.ENotFound, "no such player")
	}
	return fmt.Errorf("push: %s token: %w", op, err)
}
