package plays

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/deadline"
	"github.com/ovengames/oven/application/lives"
)

// MaxKeyLen is the longest idempotency key a start accepts.
const MaxKeyLen = 128

// CheckKey validates an idempotency key: empty (none), or 1 to MaxKeyLen visible ASCII
// characters. Errors: invalid_argument.
func CheckKey(key string) error {
	if len(key) > MaxKeyLen {
		return oven.Errorf(oven.EInvalid, "an idempotency key has at most %d characters", MaxKeyLen)
	}
	for i := range len(key) {
		if key[i] <= ' ' || key[i] > '~' {
			return oven.Errorf(oven.EInvalid, "an idempotency key is visible ASCII characters only")
		}
	}
	return nil
}

// startKey is the Redis key naming the play a player's idempotency key started. It is
// built on the play key, so it shares the player's hash tag and slot (start.lua writes
// both atomically), and expires with the play's record.
func (s *Service) startKey(playerID, key string) string {
	return s.playKey(playerID, "idem:"+key)
}

// replayStart answers a start repeated with key: the play the key started, when it
// still stands. Otherwise (no key, a key never used, or a start that was voided) it
// returns nil and the play id the key names now (or ""), which the new start's script
// expects to find there. A start that died between its steps is decided first, as
// recovery would. The caller holds the player's lock.
func (s *Service) replayStart(ctx context.Context, playerID, key, cookieID, petID string, boosts []string) (*Started, string, error) {
	if key == "" {
		return nil, "", nil
	}
	playID, err := s.Redis.Client.Get(ctx, s.startKey(playerID, key)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("plays: idempotency key: %w", err)
	}
	p, err := s.load(ctx, playerID, playID)
	if err == nil && p != nil && p.status == "pending" {
		if err = deadline.Check(ctx); err == nil {
			if err = s.recoverPlay(ctx, playerID, playID); err == nil {
				p, err = s.load(ctx, playerID, playID)
			}
		}
	}
	switch {
	case err != nil:
		return nil, "", err
	case p == nil: // voided (or long gone): this is a new start
		return nil, playID, nil
	case p.cookie != cookieID || p.pet != petID || !slices.Equal(p.boosts, boosts):
		return nil, "", oven.Errorf(oven.EConflict, "this idempotency key started a play with other items")
	}
	return s.answer(ctx, playerID, playID, p)
}

// answer is a repeated start's answer: the play as first started, with the player's
// lives and coins as they are now.
func (s *Service) answer(ctx context.Context, playerID, playID string, p *play) (*Started, string, error) {
	pl, err := s.Players.Get(ctx, playerID)
	if err != nil {
		return nil, "", err
	}
	now := s.Clock.Now()
	lv, err := lives.NewStore(s.Redis).Get(ctx, playerID, s.LifeRules(now), now)
	if err != nil {
		return nil, "", err
	}
	seed, _ := strconv.ParseInt(p.seed, 10, 64)
	return &Started{PlayID: playID, StartedAt: p.t0, Seed: seed, Lives: lv, Coins: pl.Coins}, playID, nil
}
