// Package friends keeps the mutual friend graph in PostgreSQL, with a per-shard cache for
// the hot paths (sending lives, leaderboards).
//
// Two players befriending each other at the same moment must never deadlock or stall:
// Add takes no row locks on players at all. It serialises changes to one player's friend
// list with transaction-level advisory locks taken in ascending player id order, and
// writes both directions in ascending key order, so every transaction waits in the same
// global order and holds its locks only for its own few statements.
package friends

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/fence/pgfence"
	"github.com/ovengames/oven/application/players"
)

// Store is the friend graph.
type Store struct {
	db     *pgxpool.Pool
	writes pgfence.DB
	limit  int
	ttl    time.Duration

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	ids []string
	at  time.Time
}

// Friend-list advisory locks use the player id itself as the key; Oven's only other
// advisory lock (the janitor's) uses a key far above any player id.

// New returns a Store allowing at most limit friends per player; cached lists live ttl.
// One-statement writes go through writes (the owner's group commit; db when nil).
func New(db *pgxpool.Pool, writes pgfence.DB, limit int, ttl time.Duration) *Store {
	if writes == nil {
		writes = db
	}
	return &Store{db: db, writes: writes, limit: limit, ttl: ttl, cache: map[string]cached{}}
}

// Add makes a and b friends, fenced by the caller's token (a's slot: a is the player
// the call is for; b's rows are written by a's owner too). Errors: invalid_argument (a == b), not_found (no such
// player), conflict (either is at the friend limit). Adding an existing friend is a no-op.
func (s *Store) Add(ctx context.Context, a, b string) error {
	pa, pb, err := pair(a, b)
	if err != nil {
		return err
	}
	lo, hi := min(pa, pb), max(pa, pb)
	err = pgfence.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		// The limit check and the insert must not interleave with another change to
		// either list; advisory locks in id order give that without touching players rows.
		// The CTE chain makes the lo lock come before the hi lock.
		var found int
		if err := tx.QueryRow(ctx, `
			WITH a AS (SELECT pg_advisory_xact_lock($1::bigint) AS l),
			     b AS (SELECT pg_advisory_xact_lock($2::bigint) AS l FROM a)
			SELECT count(*) FROM b, players WHERE player_id IN ($1, $2)`, lo, hi).Scan(&found); err != nil {
			return err
		}
		if found != 2 {
			return oven.Errorf(oven.ENotFound, "no such player")
		}
		var full int
		if err := tx.QueryRow(ctx, `
			SELECT count(*) FROM (
				SELECT player_id FROM friendships
				WHERE player_id IN ($1, $2) AND removed_at IS NULL AND friend_id <> CASE WHEN player_id = $1 THEN $2 ELSE $1 END
				GROUP BY player_id HAVING count(*) >= $3) f`, lo, hi, s.limit).Scan(&full); err != nil {
			return err
		}
		if full > 0 {
			return oven.Errorf(oven.EConflict, "friend limit of %d reached", s.limit)
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO friendships (player_id, friend_id) VALUES ($1, $2), ($2, $1)
			ON CONFLICT (player_id, friend_id) DO UPDATE SET removed_at = NULL, created_at =
				CASE WHEN friendships.removed_at IS NULL THEN friendships.created_at ELSE now() END`, lo, hi)
		return err
	})
	if err != nil {
		return fmt.Errorf("friends: add: %w", err)
	}
	s.Forget(a)
	s.Forget(b)
	return nil
}

// Remove ends the friendship of a and b (both directions), fenced like Add; removing a
// non-friend is a no-op.
func (s *Store) Remove(ctx context.Context, a, b string) error {
	pa, pb, err := pair(a, b)
	if err != nil {
		return err
	}
	lo, hi := min(pa, pb), max(pa, pb)
	_, err = pgfence.Exec(ctx, s.writes, `UPDATE friendships SET removed_at = now()
		WHERE removed_at IS NULL AND ((player_id = $1 AND friend_id = $2) OR (player_id = $2 AND friend_id = $1))`, lo, hi)
	if err != nil {
		return fmt.Errorf("friends: remove: %w", err)
	}
	s.Forget(a)
	s.Forget(b)
	return nil
}

func pair(a, b string) (int64, int64, error) {
	pa, err := players.ParseID(a)
	if err != nil {
		return 0, 0, err
	}
	pb, err := players.ParseID(b)
	if err != nil {
		return 0, 0, err
	}
	if pa == pb {
		return 0, 0, oven.Errorf(oven.EInvalid, "you cannot befriend yourself")
	}
	return pa, pb, nil
}

// List returns the player's friends (cached for the store's ttl).
func (s *Store) List(ctx context.Context, playerID string) ([]string, error) {
	s.mu.Lock()
	c, ok := s.cache[playerID]
	s.mu.Unlock()
	if ok && time.Since(c.at) < s.ttl {
		return c.ids, nil
	}
	pid, err := players.ParseID(playerID)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT friend_id FROM friendships WHERE player_id = $1 AND removed_at IS NULL ORDER BY friend_id`, pid)
	if err != nil {
		return nil, fmt.Errorf("friends: list: %w", err)
	}
	nums, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("friends: list: %w", err)
	}
	ids := make([]string, len(nums))
	for i, n := range nums {
		ids[i] = strconv.FormatInt(n, 10)
	}
	s.mu.Lock()
	if len(s.cache) > 200_000 {
		clear(s.cache) // bound memory; entries are cheap to reload
	}
	s.cache[playerID] = cached{ids: ids, at: time.Now()}
	s.mu.Unlock()
	return ids, nil
}

// Forget drops the cached list of a player (its friends changed).
func (s *Store) Forget(playerID string) {
	s.mu.Lock()
	delete(s.cache, playerID)
	s.mu.Unlock()
}

// ForgetPlayers drops the cached lists of the players match selects (their slots left
// this shard).
func (s *Store) ForgetPlayers(match func(playerID string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.cache {
		if match(id) {
			delete(s.cache, id)
		}
	}
}

// IsFriend reports whether b is a's friend.
func (s *Store) IsFriend(ctx context.Context, a, b string) (bool, error) {
	ids, err := s.List(ctx, a)
	if err != nil {
		return false, err
	}
	for _, id := range ids {
		if id == b {
			return true, nil
		}
	}
	return false, nil
}
