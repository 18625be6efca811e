package plays

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ovengames/oven/application/fence"
	"github.com/ovengames/oven/application/periodic"
)

// Owns returns the ownership token of a player this shard serves.
type Owns func(playerID string) (fence.Token, bool)

// Recover resolves pending plays older than RecoverAfter whose players owns reports as
// ours (a play is only ever resolved by its player's owner, under its token). It returns
// how many it resolved.
func (s *Service) Recover(ctx context.Context, owns Owns) (int, error) {
	cutoff := time.Now().Add(-s.RecoverAfter).UnixMilli()
	members, err := s.Redis.ZRangeByScore(ctx, s.pendingKey(), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(cutoff, 10), Count: 500,
	}).Result()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range members {
		playerID, playID, ok := strings.Cut(m, "/")
		if !ok {
			continue
		}
		tok, mine := owns(playerID)
		if !mine {
			continue
		}
		unlock := s.locks.Lock(playerID)
		err := s.recoverPlay(fence.With(ctx, tok), playerID, playID)
		unlock()
		if _, refused := fence.Refused(err); refused {
			continue // the slot has a newer owner, whose recovery decides the play
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// recoverPlay decides one pending play through the SQL arbiter and applies the outcome.
// The caller holds the player's lock.
func (s *Service) recoverPlay(ctx context.Context, playerID, playID string) error {
	outcome, err := s.arbitrate(ctx, playerID, playID)
	if err != nil {
		return err
	}
	if _, err := s.resolve(ctx, playerID, playID, outcome); err != nil {
		return err
	}
	s.Log.Info("recovered a pending play", "player", playerID, "play", playID, "outcome", outcome)
	return s.Redis.ZRem(ctx, s.pendingKey(), playerID+"/"+playID).Err()
}

// RunRecovery calls Recover every interval until ctx ends.
func (s *Service) RunRecovery(ctx context.Context, interval time.Duration, owns Owns) {
	periodic.Run(ctx, interval, interval+5*time.Second, s.Log, "plays: recovery pass", func(ctx context.Context) error {
		_, err := s.Recover(ctx, owns)
		return err
	})
}
