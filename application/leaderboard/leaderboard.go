// Package leaderboard keeps weekly leaderboards in Redis sorted sets, one per week.
//
// The week starts Monday 00:00 Asia/Seoul on the game clock. A member's sorted-set score
// packs the game score and how early in the week it was reached, so that ZADD GT only
// ever raises a player's best and, among equal scores, whoever reached it first ranks
// higher: composite = score<<20 | (2^20-1 - secondsIntoWeek).
package leaderboard

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ovengames/oven/application/redisdb"
)

// seoul is Asia/Seoul: UTC+9 without daylight saving since 1988, so a fixed zone is exact
// and needs no tzdata on the machine.
var seoul = time.FixedZone("Asia/Seoul", 9*60*60)

const (
	tieBits  = 20 // a week has 604800 s < 2^20
	tieMask  = 1<<tieBits - 1
	maxScore = 1<<33 - 1 // composite stays below 2^53, exact in a float64

	// MaxScore is the highest score a board keeps; higher ones count as this.
	MaxScore = maxScore
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
	rdb redis.UniversalClient
	db  *redisdb.DB
}

// NewStore returns a Store.
func NewStore(db *redisdb.DB) *Store { return &Store{rdb: db.Client, db: db} }

func (s *Store) key(w Week) string { return s.db.Board(w.ID) }

// Encode packs a score reached at t into a sorted-set score.
func Encode(score int64, t time.Time) float64 {
	w := WeekOf(t)
	into := int64(t.Sub(w.Start) / time.Second)
	return float64(min(max(score, 0), maxScore)<<tieBits | (tieMask - into))
}

// Decode returns the game score of a sorted-set score.
func Decode(v float64) int64 { return int64(v) >> tieBits }

// QueueRecord queues on pipe the offer of a settled score reached at t: the week's best
// only ever rises, and a retried settlement may offer it again. The best is not read
// back: the caller knows it as max(previous best, score) when it is the only writer of
// the player's entry (the owner, under the player's lock).
//
// The write is not fenced, and need not be: a week's board is one global sorted set
// (no slot's fence shares its hash slot), ZADD GT only ever raises a member to a score
// the player really reached, and the caller writes it only after the fenced SQL
// settle committed. A stale owner can at worst offer again a score already settled.
func (s *Store) QueueRecord(ctx context.Context, pipe redis.Pipeliner, playerID string, score int64, t time.Time) (zadd *redis.IntCmd, expire *redis.BoolCmd) {
	w := WeekOf(t)
	key := s.key(w)
	return pipe.ZAddGT(ctx, key, redis.Z{Score: Encode(score, t), Member: playerID}), pipe.ExpireAt(ctx, key, w.End.Add(keepFor))
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

// Entry is one ranked player.
type Entry struct {
	Rank     int64
	PlayerID string
	Score    int64
}

// Friends ranks ids (the player and friends) by this week's best, best first, ties to
// whoever reached the score first. Players without a score this week are left out.
func (s *Store) Friends(ctx context.Context, ids []string, now time.Time) ([]Entry, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	scores, err := s.rdb.ZMScore(ctx, s.key(WeekOf(now)), ids...).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("leaderboard: friends: %w", err)
	}
	type scored struct {
		id string
		v  float64
	}
	var list []scored
	for i, v := range scores {
		if v > 0 {
			list = append(list, scored{ids[i], v})
		}
	}
	slices.SortFunc(list, func(a, b scored) int {
		if c := cmp.Compare(b.v, a.v); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	out := make([]Entry, len(list))
	for i, e := range list {
		out[i] = Entry{Rank: int64(i + 1), PlayerID: e.id, Score: Decode(e.v)}
	}
	return out, nil
}

// Top returns this week's top n.
func (s *Store) Top(ctx context.Context, n int, now time.Time) ([]Entry, error) {
	return s.rangeFrom(ctx, WeekOf(now), 0, int64(n)-1)
}

func (s *Store) rangeFrom(ctx context.Context, w Week, from, to int64) ([]Entry, error) {
	zs, err := s.rdb.ZRevRangeWithScores(ctx, s.key(w), from, to).Result()
	if err != nil {
		return nil, fmt.Errorf("leaderboard: range: %w", err)
	}
	out := make([]Entry, len(zs))
	for i, z := range zs {
		out[i] = Entry{Rank: from + int64(i) + 1, PlayerID: z.Member.(string), Score: Decode(z.Score)}
	}
	return out, nil
}

// Around returns the player's rank and score (rank 0 when unranked) with up to span
// players above and below.
func (s *Store) Around(ctx context.Context, playerID string, span int64, now time.Time) (int64, int64, []Entry, error) {
	w := WeekOf(now)
	rank, err := s.rdb.ZRevRank(ctx, s.key(w), playerID).Result()
	if errors.Is(err, redis.Nil) {
		return 0, 0, nil, nil
	}
	if err != nil {
		return 0, 0, nil, fmt.Errorf("leaderboard: rank: %w", err)
	}
	entries, err := s.rangeFrom(ctx, w, max(rank-span, 0), rank+span)
	if err != nil {
		return 0, 0, nil, err
	}
	var score int64
	for _, e := range entries {
		if e.PlayerID == playerID {
			score = e.Score
		}
	}
	return rank + 1, score, entries, nil
}

// QueueBest queues Best on pipe; the returned func gives the result after pipe.Exec.
func (s *Store) QueueBest(ctx context.Context, pipe redis.Pipeliner, playerID string, now time.Time) func() (int64, error) {
	cmd := pipe.ZScore(ctx, s.key(WeekOf(now)), playerID)
	return func() (int64, error) {
		v, err := cmd.Result()
		if errors.Is(err, redis.Nil) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("leaderboard: best: %w", err)
		}
		return Decode(v), nil
	}
}
