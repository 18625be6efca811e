package mailbox

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/periodic"
	"github.com/ovengames/oven/application/redisdb"
)

// Broadcast is a gift to every player, stored once. Each player's mailbox shows it from
// StartsAt until EndsAt (game clock) unless that player claimed it; claiming goes through
// the same exactly-once path as any mail, keyed by the broadcast's id.
type Broadcast struct {
	ID        string
	Kind      string
	Amount    int64
	Message   string
	StartsAt  time.Time
	EndsAt    time.Time
	CreatedBy string
	Claims    int64 // filled by List
}

// CheckGift checks a mail item's kind, amount, duration and message as Deliver would.
// Infinite lives are a gift to one player only (not a broadcast): amount 1, for
// oven.MinGiftInfinite to oven.MaxGiftInfinite.
func CheckGift(it Item) error {
	if it.Kind == KindInfiniteLives {
		if d := oven.Seconds(it.DurationS); it.Amount != 1 || d < oven.MinGiftInfinite || d > oven.MaxGiftInfinite {
			return oven.Errorf(oven.EInvalid, "infinite lives are amount 1, for %d s to %d days",
				int64(oven.MinGiftInfinite/time.Second), int64(oven.MaxGiftInfinite/(24*time.Hour)))
		}
	} else if err := validGift(it.Kind, it.Amount); err != nil {
		return err
	} else if it.DurationS != 0 {
		return oven.Errorf(oven.EInvalid, "only infinite lives have a duration")
	}
	if len(it.Message) > 200 {
		return oven.Errorf(oven.EInvalid, "message must be at most 200 bytes")
	}
	return nil
}

// validGift checks a gift's kind and amount: 1-10 lives or 1-1,000,000 coins (oven's limits).
func validGift(kind string, amount int64) error {
	switch {
	case kind == KindLife && amount >= 1 && amount <= oven.MaxGiftLives:
	case kind == KindCoins && amount >= 1 && amount <= oven.MaxGiftCoins:
	default:
		return oven.Errorf(oven.EInvalid, "a gift is 1-%d lives or 1-%d coins", oven.MaxGiftLives, oven.MaxGiftCoins)
	}
	return nil
}

func (b Broadcast) item() Item {
	return Item{ID: b.ID, Kind: b.Kind, Amount: b.Amount, Message: b.Message,
		SentAt: b.StartsAt.UnixMilli(), ExpiresAt: b.EndsAt.UnixMilli()}
}

// Broadcasts keeps the live broadcasts in memory, refreshed from PostgreSQL, so a mailbox
// read costs no query for them.
type Broadcasts struct {
	db   *pgxpool.Pool
	live atomic.Pointer[[]Broadcast]
	keys redisdb.Keys
}

// NewBroadcasts returns the broadcasts of db; claim counters live under prefix in Redis.
func NewBroadcasts(db *pgxpool.Pool, prefix string) *Broadcasts {
	b := &Broadcasts{db: db, keys: redisdb.Keys{Prefix: prefix}}
	b.live.Store(&[]Broadcast{})
	return b
}

// Create stores a broadcast that starts at now and lasts d; audit, when set, runs in the
// same transaction.
func (b *Broadcasts) Create(ctx context.Context, kind string, amount int64, message string, d time.Duration, by string,
	now time.Time, audit func(context.Context, pgx.Tx, Broadcast) error) (Broadcast, error) {
	if err := validGift(kind, amount); err != nil {
		return Broadcast{}, err
	}
	if d < oven.MinBroadcast || d > oven.MaxBroadcast {
		return Broadcast{}, oven.Errorf(oven.EInvalid, "duration must be %d s to %d days",
			int64(oven.MinBroadcast/time.Second), int64(oven.MaxBroadcast/(24*time.Hour)))
	}
	if len(message) > 200 {
		return Broadcast{}, oven.Errorf(oven.EInvalid, "message must be at most 200 bytes")
	}
	bc := Broadcast{ID: oven.NewID(time.Now()), Kind: kind, Amount: amount, Message: message,
		StartsAt: now, EndsAt: now.Add(d), CreatedBy: by}
	err := pgx.BeginFunc(ctx, b.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO broadcasts (broadcast_id, kind, amount, message, starts_at, ends_at, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, bc.ID, bc.Kind, bc.Amount, bc.Message, bc.StartsAt, bc.EndsAt, bc.CreatedBy); err != nil {
			return err
		}
		if audit != nil {
			return audit(ctx, tx, bc)
		}
		return nil
	})
	if err != nil {
		return Broadcast{}, fmt.Errorf("mailbox: create broadcast: %w", err)
	}
	return bc, b.Refresh(ctx, now)
}

func (b *Broadcasts) query(ctx context.Context, where string, args ...any) ([]Broadcast, error) {
	rows, err := b.db.Query(ctx, `SELECT broadcast_id, kind, amount, message, starts_at, ends_at, created_by
		FROM broadcasts `+where+` ORDER BY starts_at DESC, broadcast_id DESC LIMIT 500`, args...)
	if err != nil {
		return nil, fmt.Errorf("mailbox: broadcasts: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Broadcast, error) {
		var bc Broadcast
		err := r.Scan(&bc.ID, &bc.Kind, &bc.Amount, &bc.Message, &bc.StartsAt, &bc.EndsAt, &bc.CreatedBy)
		return bc, err
	})
}

// Refresh reloads the broadcasts not yet ended at now.
func (b *Broadcasts) Refresh(ctx context.Context, now time.Time) error {
	list, err := b.query(ctx, `WHERE ends_at > $1`, now)
	if err != nil {
		return err
	}
	b.live.Store(&list)
	return nil
}

// Active returns the broadcasts running at now.
func (b *Broadcasts) Active(now time.Time) []Broadcast {
	return slices.DeleteFunc(slices.Clone(*b.live.Load()), func(bc Broadcast) bool {
		return now.Before(bc.StartsAt) || !now.Before(bc.EndsAt)
	})
}

// Run refreshes every interval until ctx ends (a broadcast made on another shard shows
// here within the interval).
// A failed refresh keeps the last list.
func (b *Broadcasts) Run(ctx context.Context, interval time.Duration, clock oven.Clock, log *slog.Logger) {
	periodic.Run(ctx, interval, interval+2*time.Second, log, "broadcast refresh", func(ctx context.Context) error {
		return b.Refresh(ctx, clock.Now())
	})
}

// countKey is the Redis counter of a broadcast's claims.
func (b *Broadcasts) countKey(id string) string { return b.keys.BroadcastClaims(id) }

// counted reports whether id is a broadcast's (its claims are counted).
func (b *Broadcasts) counted(id string) bool {
	return slices.ContainsFunc(*b.live.Load(), func(bc Broadcast) bool { return bc.ID == id })
}

// claimsOf reads the claim counters of list.
func (s *Service) claimsOf(ctx context.Context, list []Broadcast) error {
	for i := range list {
		n, err := s.Redis.Client.Get(ctx, s.Broadcasts.countKey(list[i].ID)).Result()
		if err == nil {
			list[i].Claims, _ = strconv.ParseInt(n, 10, 64)
		}
	}
	return nil
}

// ListBroadcasts returns recent broadcasts, newest first, with how many claimed each.
func (s *Service) ListBroadcasts(ctx context.Context) ([]Broadcast, error) {
	list, err := s.Broadcasts.query(ctx, ``)
	if err != nil {
		return nil, err
	}
	return list, s.claimsOf(ctx, list)
}
