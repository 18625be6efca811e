package plays

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/fence"
	"github.com/ovengames/oven/application/periodic"
)

// Owned returns the tokens of the slots this shard serves.
type Owned func() []fence.Token

// Recover resolves the pending plays older than RecoverAfter in the slots owned lists,
// and finishes the settlements a crash left half done there, each under its slot's
// token (a play is only ever resolved by its player's owner). It reads every owned
// slot's two indexes in one pipeline and returns how many plays it resolved.
func (s *Service) Recover(ctx context.Context, owned Owned) (int, error) {
	toks := owned()
	if len(toks) == 0 {
		return 0, nil
	}
	by := &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(time.Now().Add(-s.RecoverAfter).UnixMilli(), 10), Count: 100}
	pipe := s.Redis.Client.Pipeline()
	pending := make([]*redis.StringSliceCmd, len(toks))
	settling := make([]*redis.StringSliceCmd, len(toks))
	for i, tok := range toks {
		pending[i] = pipe.ZRangeByScore(ctx, s.Redis.Pending(tok.Slot), by)
		settling[i] = pipe.ZRangeByScore(ctx, s.Redis.Settling(tok.Slot), by)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("plays: recovery indexes: %w", err)
	}
	n := 0
	for i, tok := range toks {
		for _, step := range []struct {
			members []string
			resolve func(ctx context.Context, playerID, playID string) error
		}{{pending[i].Val(), s.recoverPlay}, {settling[i].Val(), s.finishRecorded}} {
			done, err := s.recoverEach(fence.With(ctx, tok), tok.Slot, step.members, step.resolve)
			n += done
			if err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// recoverEach runs resolve for every "player/play" member of slot, under the player's
// lock; a play whose slot has a newer owner is left to that owner.
func (s *Service) recoverEach(ctx context.Context, slot int, members []string, resolve func(ctx context.Context, playerID, playID string) error) (int, error) {
	n := 0
	for _, m := range members {
		playerID, playID, ok := strings.Cut(m, "/")
		if !ok || cluster.SlotOf(playerID) != slot {
			continue
		}
		unlock := s.locks.Lock(playerID)
		err := resolve(ctx, playerID, playID)
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
	s.Log.InfoContext(ctx, "recovered a pending play", "player", playerID, "play", playID, "outcome", outcome)
	return s.index(ctx, "del", playerID, playID, 0)
}

// RunRecovery calls Recover every interval until ctx ends.
func (s *Service) RunRecovery(ctx context.Context, interval time.Duration, owned Owned) {
	periodic.Run(ctx, interval, interval+5*time.Second, s.Log, "plays: recovery pass", func(ctx context.Context) error {
		_, err := s.Recover(ctx, owned)
		return err
	})
}
