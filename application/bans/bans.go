// Package bans keeps which players are banned. The flag lives in players.banned; each
// shard caches it in memory for the players it serves, because every one of their game
// calls checks it. The owner shard bans (SetBanned is routed to it) and updates its
// cache at once, so a ban holds from the moment the call returns; a notification on
// Channel tells the other shards, and a TTL bounds what a lost one could leave behind.
package bans

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/pgnotify"
	"github.com/ovengames/oven/application/players"
)

// Channel is the PostgreSQL notification channel of ban changes; the payload is the
// player id.
const Channel = "oven_bans"

// DefaultTTL is how long a cached flag is trusted. Changes made through Set reach every
// shard at once (directly on the owner, by notification elsewhere); the TTL only covers
// changes made behind Oven's back, such as a manual UPDATE.
const DefaultTTL = 10 * time.Second

// Cache is the shard's view of banned flags. It is safe for concurrent use.
type Cache struct {
	db  *pgxpool.Pool
	ttl time.Duration
	log *slog.Logger

	mu  sync.RWMutex
	m   map[string]entry
	gen uint64 // bumped by every change, so that a slow load cannot store a stale flag
}

type entry struct {
	banned bool
	at     time.Time // real time of the load
}

// New returns a Cache over db; ttl 0 means DefaultTTL.
func New(db *pgxpool.Pool, ttl time.Duration, log *slog.Logger) *Cache {
	if ttl == 0 {
		ttl = DefaultTTL
	}
	return &Cache{db: db, ttl: ttl, log: log, m: map[string]entry{}}
}

// Check returns a banned error when the player is banned, nil when not (or when there is
// no such player: the call itself will say not_found).
func (c *Cache) Check(ctx context.Context, playerID string) error {
	banned, err := c.Banned(ctx, playerID)
	if err != nil {
		return err
	}
	if banned {
		return oven.Errorf(oven.EBanned, "this player is banned")
	}
	return nil
}

// Banned reports whether the player is banned, from memory when the flag is fresh. When
// the database fails, a stale flag is better than none.
func (c *Cache) Banned(ctx context.Context, playerID string) (bool, error) {
	c.mu.RLock()
	e, ok := c.m[playerID]
	gen := c.gen
	c.mu.RUnlock()
	if ok && time.Since(e.at) < c.ttl {
		return e.banned, nil
	}
	pid, err := players.ParseID(playerID)
	if err != nil {
		return false, nil
	}
	var banned bool
	err = c.db.QueryRow(ctx, `SELECT banned FROM players WHERE player_id = $1`, pid).Scan(&banned)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case err != nil && ok:
		return e.banned, nil
	case err != nil:
		return false, fmt.Errorf("bans: load: %w", err)
	}
	c.mu.Lock()
	if c.gen == gen {
		c.m[playerID] = entry{banned: banned, at: time.Now()}
	}
	c.mu.Unlock()
	return banned, nil
}

// AuditFunc records the change inside its transaction.
type AuditFunc func(ctx context.Context, tx pgx.Tx, before, after any) error

// Set bans or unbans a player, records it (in the same transaction) and updates this
// shard's cache; the other shards hear of it on Channel. It reports whether the flag
// changed (setting it to what it is records nothing). Errors: not_found.
func (c *Cache) Set(ctx context.Context, playerID string, banned bool, record AuditFunc) (changed bool, err error) {
	pid, err := players.ParseID(playerID)
	if err != nil {
		return false, err
	}
	err = pgx.BeginFunc(ctx, c.db, func(tx pgx.Tx) error {
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
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, Channel, playerID); err != nil {
			return err
		}
		return record(ctx, tx, map[string]bool{"banned": was}, map[string]bool{"banned": banned})
	})
	if err != nil {
		return false, fmt.Errorf("bans: set: %w", err)
	}
	c.mu.Lock()
	c.gen++
	c.m[playerID] = entry{banned: banned, at: time.Now()}
	c.mu.Unlock()
	return changed, nil
}

// forget drops one cached flag (nil: all of them).
func (c *Cache) forget(playerID *string) {
	c.mu.Lock()
	c.gen++
	if playerID == nil {
		clear(c.m)
	} else {
		delete(c.m, *playerID)
	}
	c.mu.Unlock()
}

// Run follows Channel until ctx ends: a notified player's flag is reloaded on its next
// call, and every flag is after a reconnect (notifications may have been lost). It also
// sweeps out expired flags so the map does not grow with every player ever seen.
func (c *Cache) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		t := time.NewTicker(max(c.ttl, time.Minute))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				c.sweep()
			}
		}
	})
	pgnotify.Listen(ctx, c.db.Config().ConnConfig, []string{Channel}, pgnotify.Handler{
		Notify:    func(_, payload string) { c.forget(&payload) },
		Connected: func(context.Context) { c.forget(nil) },
	}, c.log)
}

func (c *Cache) sweep() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, e := range c.m {
		if time.Since(e.at) >= c.ttl {
			delete(c.m, id)
		}
	}
}
