// Package bans keeps which players are banned. The flag lives in players.banned; every
// shard also holds the set of banned player ids in memory, because each game call checks
// it and banned players are few: the check costs no store round trip.
//
// The owner shard bans (SetBanned is routed to it) and updates its set before it
// answers, so a ban holds from that moment on the shard that serves the player. The
// change is announced on Channel in its transaction, and the other shards apply it at
// commit (they serve the player after an ownership move). A full reload after every
// (re)connect of the listener and every refresh interval covers notifications lost and
// changes made behind Oven's back, such as a manual UPDATE.
package bans

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/fence/pgfence"
	"github.com/ovengames/oven/application/periodic"
	"github.com/ovengames/oven/application/pgnotify"
	"github.com/ovengames/oven/application/players"
)

// Channel is the PostgreSQL notification channel of ban changes; the payload is
// "<player id>:1" for a ban and "<player id>:0" for an unban.
const Channel = "oven_bans"

// DefaultRefresh is how often the whole set is reloaded as a safety net.
const DefaultRefresh = 10 * time.Second

// Cache is a shard's set of banned players. It is safe for concurrent use.
type Cache struct {
	db      *pgxpool.Pool
	refresh time.Duration
	log     *slog.Logger

	mu     sync.RWMutex
	banned map[string]struct{}
	gen    uint64 // bumped by every change, so that a reload cannot store an older picture
}

// New loads the banned set from db and returns a Cache over it; refresh 0 means
// DefaultRefresh.
func New(ctx context.Context, db *pgxpool.Pool, refresh time.Duration, log *slog.Logger) (*Cache, error) {
	if refresh == 0 {
		refresh = DefaultRefresh
	}
	c := &Cache{db: db, refresh: refresh, log: log, banned: map[string]struct{}{}}
	if err := c.reload(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Check returns a banned error when the player is banned.
func (c *Cache) Check(_ context.Context, playerID string) error {
	if c.Banned(playerID) {
		return oven.Errorf(oven.EBanned, "this player is banned")
	}
	return nil
}

// Banned reports whether the player is banned.
func (c *Cache) Banned(playerID string) bool {
	c.mu.RLock()
	_, ok := c.banned[playerID]
	c.mu.RUnlock()
	return ok
}

// set records one player's flag.
func (c *Cache) set(playerID string, banned bool) {
	c.mu.Lock()
	c.gen++
	if banned {
		c.banned[playerID] = struct{}{}
	} else {
		delete(c.banned, playerID)
	}
	c.mu.Unlock()
}

// reload replaces the set with the database's, unless a change arrived meanwhile (the
// next reload will catch up then).
func (c *Cache) reload(ctx context.Context) error {
	c.mu.RLock()
	gen := c.gen
	c.mu.RUnlock()
	rows, err := c.db.Query(ctx, `SELECT player_id FROM players WHERE banned`)
	if err != nil {
		return fmt.Errorf("bans: load: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("bans: load: %w", err)
	}
	set := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		set[strconv.FormatInt(id, 10)] = struct{}{}
	}
	c.mu.Lock()
	if c.gen == gen {
		c.banned = set
	}
	c.mu.Unlock()
	return nil
}

// AuditFunc records the change inside its transaction; nil records nothing.
type AuditFunc func(ctx context.Context, tx pgx.Tx, before, after any) error

// Set bans or unbans a player, records it (in the same transaction), announces it on
// Channel and updates this shard's set. It runs on the player's owner, fenced by the
// player's token. It reports whether the flag changed (setting it to what it is records
// nothing). Errors: not_found.
func (c *Cache) Set(ctx context.Context, playerID string, banned bool, record AuditFunc) (changed bool, err error) {
	pid, err := players.ParseID(playerID)
	if err != nil {
		return false, err
	}
	err = pgfence.BeginFunc(ctx, c.db, func(tx pgx.Tx) error {
		var was bool
		err := tx.QueryRow(ctx, `SELECT banned FROM players WHERE player_id = $1 FOR UPDATE`, pid).Scan(&was)
		if errors.Is(err, pgx.ErrNoRows) {
			return oven.Errorf(oven.ENotFound, "no such player")
		}
		if err != nil || was == banned {
			return err
		}
		changed = true
		if _, err := tx.Exec(ctx, `UPDATE players SET banned = $2, updated_at = now() WHERE player_id = $1`, pid, banned); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, Channel, payload(playerID, banned)); err != nil {
			return err
		}
		if record == nil {
			return nil
		}
		return record(ctx, tx, map[string]bool{"banned": was}, map[string]bool{"banned": banned})
	})
	if err != nil {
		return false, fmt.Errorf("bans: set: %w", err)
	}
	c.set(playerID, banned)
	return changed, nil
}

func payload(playerID string, banned bool) string {
	if banned {
		return playerID + ":1"
	}
	return playerID + ":0"
}

// Run follows Channel and reloads the whole set after every (re)connect and every
// refresh interval, until ctx ends.
func (c *Cache) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	reload := func(ctx context.Context) {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := c.reload(rctx); err != nil && ctx.Err() == nil {
			c.log.Warn("ban list reload failed", "err", err)
		}
	}
	wg.Go(func() { periodic.Run(ctx, c.refresh, 10*time.Second, c.log, "ban list reload", c.reload) })
	pgnotify.Listen(ctx, c.db.Config().ConnConfig, []string{Channel}, pgnotify.Handler{
		Notify: func(_, p string) {
			id, flag, ok := strings.Cut(p, ":")
			if !ok {
				reload(ctx)
				return
			}
			c.set(id, flag == "1")
		},
		Connected: reload,
	}, c.log)
}
