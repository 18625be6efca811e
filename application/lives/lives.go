// Package lives keeps players' lives in Redis: a count and a regeneration anchor per
// player, changed only by Lua scripts so that every change is atomic and a count never
// goes below zero, however many requests race. The scripts are redisdb's (lua/lives/);
// a change is a fenced write, made under the player's slot token.
package lives

import (
	"context"
	"fmt"
	"time"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/redisdb"
)

// Rules are the life rules in force at one instant: the published game data's, as the
// live events change them (package events).
type Rules struct {
	Max   int64
	Regen time.Duration
	// InfiniteUntil is when infinite lives stop (zero: not in force): until then a play
	// takes no life.
	InfiniteUntil time.Time
}

// Infinite reports whether infinite lives are in force at now.
func (r Rules) Infinite(now time.Time) bool { return now.Before(r.InfiniteUntil) }

// State is a player's lives at one moment.
type State struct {
	Count  int64
	Max    int64
	NextAt time.Time // zero when Count >= Max
	// InfiniteUntil is when infinite lives stop (zero: not in force).
	InfiniteUntil time.Time
}

// Store is the Redis store of lives.
type Store struct {
	db *redisdb.DB
}

// NewStore returns a Store.
func NewStore(db *redisdb.DB) *Store { return &Store{db: db} }

// Get returns the player's lives at now.
func (s *Store) Get(ctx context.Context, playerID string, r Rules, now time.Time) (State, error) {
	res, err := s.db.Run(ctx, redisdb.LivesGet, s.readKeys(playerID),
		now.UnixMilli(), r.Max, r.Regen.Milliseconds()).Int64Slice()
	if err != nil {
		return State{}, fmt.Errorf("lives: %w", err)
	}
	return r.State(res[1], res[2]).Gifted(res[3]), nil
}

// Take removes one life (a write: ctx carries the player's fence token); no_lives (with the wait until the next one) when there is none.
func (s *Store) Take(ctx context.Context, playerID string, r Rules, now time.Time) (State, error) {
	st, ok, err := s.change(ctx, playerID, r, now, -1)
	if err == nil && !ok {
		return st, NoLives(st, now)
	}
	return st, err
}

// Add adds n lives (n > 0; a write, as Take); the count may exceed the max.
func (s *Store) Add(ctx context.Context, playerID string, n int64, r Rules, now time.Time) (State, error) {
	st, _, err := s.change(ctx, playerID, r, now, n)
	return st, err
}

func (s *Store) change(ctx context.Context, playerID string, r Rules, now time.Time, delta int64) (State, bool, error) {
	res, err := s.db.Run(ctx, redisdb.LivesChange, []string{s.db.Lives(playerID)},
		now.UnixMilli(), r.Max, r.Regen.Milliseconds(), delta).Int64Slice()
	if err != nil {
		return State{}, false, fmt.Errorf("lives: %w", err)
	}
	return r.State(res[1], res[2]), res[0] == 1, nil
}

// State builds the State a script answered (its count and next_life_at_ms) under r.
func (r Rules) State(count, nextMS int64) State {
	st := State{Count: count, Max: r.Max, InfiniteUntil: r.InfiniteUntil}
	if nextMS > 0 {
		st.NextAt = time.UnixMilli(nextMS)
	}
	return st
}

// Gifted returns st with a player's gifted infinite lives running until untilMS (0:
// none) folded in: infinite lives run until the later of the event's end and the gift's.
func (st State) Gifted(untilMS int64) State {
	if u := time.UnixMilli(untilMS); untilMS > 0 && u.After(st.InfiniteUntil) {
		st.InfiniteUntil = u
	}
	return st
}

// readKeys are the keys LivesGet reads: the lives and the gifted infinite lives.
func (s *Store) readKeys(playerID string) []string {
	return []string{s.db.Lives(playerID), s.db.Infinite(playerID)}
}

// NoLives is the no_lives error for st, telling how long until the next life.
func NoLives(st State, now time.Time) error {
	e := oven.Errorf(oven.ENoLives, "no lives left")
	if !st.NextAt.IsZero() {
		e.RetryAfter = st.NextAt.Sub(now)
	}
	return e
}

// QueueGet queues a read of the player's lives on pipe (saving a round trip when a
// caller reads several keys); the returned func gives the result after pipe.Exec.
func (s *Store) QueueGet(ctx context.Context, pipe *redisdb.Pipe, playerID string, r Rules, now time.Time) func() (State, error) {
	cmd := pipe.Run(ctx, redisdb.LivesGet, s.readKeys(playerID), now.UnixMilli(), r.Max, r.Regen.Milliseconds())
	return func() (State, error) {
		res, err := cmd.Int64Slice()
		if err != nil {
			return State{}, fmt.Errorf("lives: %w", err)
		}
		return r.State(res[1], res[2]).Gifted(res[3]), nil
	}
}
