// Package wallet changes coin balances. Every change is a wallet update plus a ledger
// row in the caller's SQL transaction, so invariant 4 holds at every commit:
// coins = starting_coins + carried_coins + sum(ledger rows).
package wallet

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ovengames/oven"
)

// Reasons name the sources and sinks of coins, for the ledger and the economy metrics.
const (
	ReasonPlay       = "play"        // coins earned in a settled play
	ReasonPlayBoosts = "play_boosts" // boosts bought when starting a play
	ReasonShop       = "shop"        // a cookie or pet bought
	ReasonMail       = "mail"        // a coin gift accepted from the mailbox
)

// Change adds amount (negative to spend) to the player's balance within tx and writes
// the ledger row. tx must be fenced by the player's token (pgfence.BeginFunc). Spending more than the balance fails with insufficient_coins and
// changes nothing. It returns the new balance.
func Change(ctx context.Context, tx pgx.Tx, playerID int64, amount int64, reason, ref string) (int64, error) {
	var coins int64
	err := tx.QueryRow(ctx, `
		UPDATE wallets SET coins = coins + $2, updated_at = now()
		WHERE player_id = $1 AND coins + $2 >= 0
		RETURNING coins`, playerID, amount).Scan(&coins)
	if err == pgx.ErrNoRows {
		return 0, oven.Errorf(oven.EInsufficientCoins, "not enough coins")
	}
	if err != nil {
		return 0, fmt.Errorf("wallet: update: %w", err)
	}
	if amount == 0 {
		return coins, nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO coin_ledger (player_id, amount, reason, ref) VALUES ($1, $2, $3, $4)`,
		playerID, amount, reason, ref); err != nil {
		return 0, fmt.Errorf("wallet: ledger: %w", err)
	}
	return coins, nil
}
