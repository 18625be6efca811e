// Package shop sells cookies and pets for coins.
package shop

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/economy"
	"github.com/ovengames/oven/application/fence/pgfence"
	"github.com/ovengames/oven/application/gamedata"
	"github.com/ovengames/oven/application/players"
	"github.com/ovengames/oven/application/wallet"
)

// Shop sells the published game data's items.
type Shop struct {
	DB      *pgxpool.Pool
	Players *players.Store // its cached profile is invalidated by every purchase
	Metrics *economy.Metrics
}

// Buy buys a cookie or pet: the item, the debit and the ledger row in one transaction,
// fenced by the player's token.
// Errors: invalid_argument (unknown item, or a boost: boosts are bought with a play),
// conflict (already owned), insufficient_coins.
func (s *Shop) Buy(ctx context.Context, doc *gamedata.Document, playerID, itemID string) error {
	pid, err := players.ParseID(playerID)
	if err != nil {
		return err
	}
	kind := "cookie"
	item, ok := doc.Cookie(itemID)
	if !ok {
		kind = "pet"
		if item, ok = doc.Pet(itemID); !ok {
			return oven.Errorf(oven.EInvalid, "no cookie or pet %q for sale", itemID)
		}
	}
	err = pgfence.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO inventory (player_id, item_id, kind) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING`, pid, itemID, kind)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return oven.Errorf(oven.EConflict, "you already own %q", itemID)
		}
		_, err = wallet.Change(ctx, tx, pid, -item.Price, wallet.ReasonShop, itemID)
		return err
	})
	s.Players.Invalidate(playerID)
	if err != nil {
		return fmt.Errorf("shop: buy: %w", err)
	}
	s.Metrics.CoinsSpent.WithLabelValues(wallet.ReasonShop).Add(float64(item.Price))
	return nil
}
