// Package leaderboard keeps weekly leaderboards in Redis sorted sets, one per week.
//
// The week starts Monday 00:00 Asia/Seoul on the game clock. A member's sorted-set score
// packs the game score and how early in the week it was reached, so that ZADD GT only
// ever raises a player's best and, among equal scores, whoever reached it first ranks
// higher: composite = score<<20 | (2^20-1 - secondsIntoWeek).
package leaderboard

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// seoul is Asia/Seoul: UTC+9 without daylight saving since 1988, so a fixed zone is exact
// and needs no tzdata on the machine.
var seoul = time.FixedZone("Asia/Seoul", 9*60*60)

const (
	tieBits  = 20 // a week has 604800 s < 2^20
	tieMask  = 1<<tieBits - 1
	maxScore = 1<<33 - 1 // composite stays below 2^53, exact in a float64
	keepFor  = 5 * 7 * 24 * time.Hour
)

// Week is one leaderboard week.
type Week struct {
	ID    string    // the Monday's date in Seoul, e.g. "2026-11-23"
	Start time.Time // Monday 00:00 Asia/Seoul
	End   time.Time // the next Monday 00:00
}

// WeekOf returns the week containing t.
func WeekOf(t time.Time) Week {
	s := t.In(seoul)
	back := (int(s.Weekday()) + 6) % 7 // days since Monday
	start := time.Date(s.Year(), s.Month(), s.Day()-back, 0, 0, 0, 0, seoul)
	return Week{ID: start.Format("2006-01-02"), Start: start, End: start.AddDate(0, 0, 7)}
}

// Store is the Redis store of weekly leaderboards.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewStore returns a Store; prefix namespaces the keys (tests).
func NewStore(rdb redis.UniversalClient, prefix string) *Store {
	return &Store{rdb: rdb, prefix: prefix}
}

func (s *Store) key(w Week) string { return s.prefix + "lb:week:" + w.ID }

// Encode packs a score reached at t into a sorted-set score.
func Encode(score int64, t time.Time) float64 {
	w := WeekOf(t)
	into := int64(t.Sub(w.Start) / time.Second)
	return float64(min(max(score, 0), maxScore)<<tieBits | (tieMask - into))
}

// Decode returns the game score of a sorted-set score.
func Decode(v float64) int64 { return int64(v) >> tieBits }

// Record offers a settled score reached at t; the week's best only ever rises. It is
// idempotent, so a retried settlement may record again. It returns the week's best.
func (s *Store) Record(ctx context.Context, playerID string, score int64, t time.Time) (int64, error) {
	w := WeekOf(t)
	key := s.key(w)
	pipe := s.rdb.Pipeline()
	pipe.ZAddGT(ctx, key, redis.Z{Score: Encode(score, t), Member: playerID})
	pipe.ExpireAt(ctx, key, w.End.Add(keepFor))
	best := pipe.ZScore(ctx, key, playerID)
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("leaderboard: record: %w", err)
	}
	return Decode(best.Val()), nil
}

// Best returns the player's best score in the week containing now (0 when none).
func (s *Store) Best(ctx context.Context, playerID string, now time.Time) (int64, error) {
	v, err := s.rdb.ZScore(ctx, s.key(WeekOf(now)), playerID).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("leaderboard: best: %w", err)
	}
	return Decode(v), nil
}
