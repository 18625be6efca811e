package plays

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/fence/pgfence"
	"github.com/ovengames/oven/application/players"
	"github.com/ovengames/oven/application/wallet"
)

// checkOwned verifies the cookie and pet are owned and returns the balance, from the
// owner's cached profile (a PostgreSQL read only on a miss).
func (s *Service) checkOwned(ctx context.Context, playerID, cookieID, petID string) (*players.Player, error) {
	p, err := s.Players.Get(ctx, playerID)
	if err != nil {
		return nil, err
	}
	doc := s.GameData()
	if _, ok := doc.Cookie(cookieID); !ok || !slices.Contains(p.Cookies, cookieID) {
		return nil, oven.Errorf(oven.EInvalid, "cookie %q is unknown or not owned", cookieID)
	}
	if petID != "" {
		if _, ok := doc.Pet(petID); !ok || !slices.Contains(p.Pets, petID) {
			return nil, oven.Errorf(oven.EInvalid, "pet %q is unknown or not owned", petID)
		}
	}
	return p, nil
}

// charge is step 2 of a play with boosts: debit, ledger row and the 'charged' arbiter
// row, in one transaction. It fails (changing nothing) if recovery already voided the play.
func (s *Service) charge(ctx context.Context, playerID, playID string, cost int64) (int64, error) {
	pid, err := players.ParseID(playerID)
	if err != nil {
		return 0, err
	}
	started, ok := playTime(playID)
	if !ok {
		return 0, fmt.Errorf("plays: bad play id %q", playID)
	}
	// One statement after the fence, in one implicit transaction and one round trip. No
	// coins, no rows. A 'void' row already there (recovery got in first) violates the
	// primary key, which aborts the debit with it.
	var coins int64
	gen := s.Players.Generation(playerID)
	err = pgfence.QueryRow(ctx, s.Writes, `
		WITH w AS (
			UPDATE wallets SET coins = coins - $4, updated_at = now()
			WHERE player_id = $3 AND coins >= $4 RETURNING coins
		), c AS (
			INSERT INTO play_charges (play_id, started_at, player_id, outcome, cost)
			SELECT $1, $2, $3, 'charged', $4 FROM w
		), l AS (
			INSERT INTO coin_ledger (player_id, amount, reason, ref)
			SELECT $3, -$4::bigint, $5, $1 FROM w
		)
		SELECT coins FROM w`, playID, started, pid, cost, wallet.ReasonPlayBoosts).Scan(&coins)
	if err == nil {
		s.Players.Update(playerID, gen, func(p *players.Player) { p.Coins = coins })
	} else {
		s.Players.Invalidate(playerID)
	}
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, oven.Errorf(oven.EInsufficientCoins, "not enough coins for the boosts")
	case errors.As(err, &pgErr) && pgErr.Code == "23505":
		return 0, oven.Errorf(oven.EConflict, "the play was voided")
	case err != nil:
		return 0, fmt.Errorf("plays: charge: %w", err)
	}
	return coins, nil
}

// arbitrate decides a pending play found by recovery: it tries to insert 'void'; if a
// 'charged' row is there first, the play was paid for and opens.
func (s *Service) arbitrate(ctx context.Context, playerID, playID string) (string, error) {
	pid, err := players.ParseID(playerID)
	if err != nil {
		return "", err
	}
	started, ok := playTime(playID)
	if !ok {
		return "void", nil
	}
	// Two statements, not one: after waiting out a concurrent 'charged' insert, only a
	// new statement's snapshot sees that row. Only the insert writes, so only it is fenced.
	var outcome string
	err = pgfence.QueryRow(ctx, s.Writes, `
		INSERT INTO play_charges (play_id, started_at, player_id, outcome, cost)
		VALUES ($1, $2, $3, 'void', 0) ON CONFLICT DO NOTHING RETURNING outcome`, playID, started, pid).Scan(&outcome)
	if errors.Is(err, pgx.ErrNoRows) {
		err = s.DB.QueryRow(ctx, `SELECT outcome FROM play_charges WHERE play_id = $1 AND started_at = $2`,
			playID, started).Scan(&outcome)
	}
	if err != nil {
		return "", fmt.Errorf("plays: arbitrate: %w", err)
	}
	if outcome == "charged" {
		return "open", nil
	}
	return "void", nil
}
