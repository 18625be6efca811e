// Package lives keeps players' lives in Redis: a count and a regeneration anchor per
// player, changed only by Lua scripts so that every change is atomic and a count never
// goes below zero, however many requests race.
package lives

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ovengames/oven"
)

// Prelude is the Lua library of lives (lives_load, lives_add, lives_store, lives_next),
// for other scripts that must change lives atomically with their own keys.
//
//go:embed lives.lua
var Prelude string

//go:embed change.lua
var changeSrc string

var changeScript = redis.NewScript(Prelude + changeSrc)

// Rules are the published game data's life rules.
type Rules struct {
	Max   int64
	Regen time.Duration
}

// State is a player's lives at one moment.
type State struct {
	Count  int64
	Max    int64
	NextAt time.Time // zero when Count >= Max
}

// Store is the Redis store of lives.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewStore returns a Store. prefix namespaces every key (tests); production uses "".
func NewStore(rdb redis.UniversalClient, prefix string) *Store {
	return &Store{rdb: rdb, prefix: prefix}
}

// Key returns the Redis key of a player's lives. The {p:<id>} hash tag keeps every key
// of one player in one Redis Cluster slot, so scripts may touch several of them.
func Key(prefix, playerID string) string { return prefix + "{p:" + playerID + "}:lives" }

// Get returns the player's lives at now.
func (s *Store) Get(ctx context.Context, playerID string, r Rules, now time.Time) (State, error) {
	st, _, err := s.change(ctx, playerID, r, now, 0)
	return st, err
}

// Take removes one life; no_lives (with the wait until the next one) when there is none.
func (s *Store) Take(ctx context.Context, playerID string, r Rules, now time.Time) (State, error) {
	st, ok, err := s.change(ctx, playerID, r, now, -1)
	if err == nil && !ok {
		return st, NoLives(st, now)
	}
	return st, err
}

// Add adds n lives (n > 0); the count may exceed the max.
func (s *Store) Add(ctx context.Context, playerID string, n int64, r Rules, now time.Time) (State, error) {
	st, _, err := s.change(ctx, playerID, r, now, n)
	return st, err
}

func (s *Store) change(ctx context.Context, playerID string, r Rules, now time.Time, delta int64) (State, bool, error) {
	res, err := changeScript.Run(ctx, s.rdb, []string{Key(s.prefix, playerID)},
		now.UnixMilli(), r.Max, r.Regen.Milliseconds(), delta).Int64Slice()
	if err != nil {
		return State{}, false, fmt.Errorf("lives: %w", err)
	}
	return FromScript(res[1], res[2], r.Max), res[0] == 1, nil
}

// FromScript builds a State from a script's count and next_life_at_ms.
func FromScript(count, nextMS, max int64) State {
	st := State{Count: count, Max: max}
	if nextMS > 0 {
		st.NextAt = time.UnixMilli(nextMS)
	}
	return st
}

// NoLives is the no_lives error for st, telling how long until the next life.
func NoLives(st State, now time.Time) error {
	e := oven.Errorf(oven.ENoLives, "no lives left")
	if !st.NextAt.IsZero() {
		e.RetryAfter = st.NextAt.Sub(now)
	}
	return e
}

// QueueGet queues a read of the player's lives on pipe (saving a round trip when a caller
// reads several keys); the returned func gives the result after pipe.Exec. The script must
// be loaded (LoadScripts); on a NOSCRIPT error fall back to Get, which loads it.
func (s *Store) QueueGet(ctx context.Context, pipe redis.Pipeliner, playerID string, r Rules, now time.Time) func() (State, error) {
	cmd := changeScript.EvalSha(ctx, pipe, []string{Key(s.prefix, playerID)}, now.UnixMilli(), r.Max, r.Regen.Milliseconds(), 0)
	return func() (State, error) {
		res, err := cmd.Int64Slice()
		if err != nil {
			return State{}, fmt.Errorf("lives: %w", err)
		}
		return FromScript(res[1], res[2], r.Max), nil
	}
}

// LoadScripts loads the lives script into Redis so it can run in pipelines.
func LoadScripts(ctx context.Context, rdb redis.Scripter) error {
	return changeScript.Load(ctx, rdb).Err()
}
