package plays

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ovengames/oven/application/players"
)

// Record is one settled play as play_records keeps it (the GMS shows them).
type Record struct {
	PlayID     string
	StartedAt  time.Time
	SettledAt  time.Time
	Score      int64
	Coins      int64
	Distance   int64
	DurationMS int64
	CookieID   string
	PetID      string
	Boosts     []string
	Outcome    string // accepted, or rejected:<reason>
}

// Recent returns a player's latest settled plays, newest first (at most limit).
// Errors: not_found for a malformed player id.
func Recent(ctx context.Context, db *pgxpool.Pool, playerID string, limit int) ([]Record, error) {
	pid, err := players.ParseID(playerID)
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `
		SELECT play_id, started_at, settled_at, score, coins, distance, duration_ms, cookie_id, pet_id, boosts, outcome
		FROM play_records WHERE player_id = $1 ORDER BY started_at DESC LIMIT $2`, pid, limit)
	if err != nil {
		return nil, fmt.Errorf("plays: recent: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Record, error) {
		var p Record
		err := r.Scan(&p.PlayID, &p.StartedAt, &p.SettledAt, &p.Score, &p.Coins, &p.Distance, &p.DurationMS,
			&p.CookieID, &p.PetID, &p.Boosts, &p.Outcome)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("plays: recent: %w", err)
	}
	return out, nil
}
