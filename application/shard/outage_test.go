package shard_test

import (
	"context"
	"testing"
	"time"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/application/shard/shardtest"
	"github.com/ovengames/oven/proto/ovenv1"
)

// outageBound is how fast a call must fail once a store is down: a client retrying in a
// second must not find its earlier calls still waiting.
const outageBound = time.Second

// failsFast runs call with a generous deadline and asserts it fails as unavailable,
// with a retry hint, within outageBound.
func failsFast(t *testing.T, what string, call func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t0 := time.Now()
	err := call(ctx)
	took := time.Since(t0)
	api := grpcerr.FromStatus(err)
	t.Logf("%s: %v after %v", what, err, took.Round(time.Millisecond))
	if oven.ErrorCode(api) != oven.EUnavailable {
		t.Errorf("%s: code %q (%v), want unavailable", what, oven.ErrorCode(api), err)
	}
	if oven.RetryAfter(api) <= 0 {
		t.Errorf("%s: no retry hint", what)
	}
	if took > outageBound {
		t.Errorf("%s: failed after %v, want within %v", what, took, outageBound)
	}
}

func TestRedisDownIsUnavailableFast(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{StoreLinks: true})
	id := guest(t, c, "device-redis-down")
	me(t, c, id) // warm the profile cache and the pools
	c.RedisLink.Down()
	for range 3 { // the first call meets dead pooled connections, later ones fresh dials
		failsFast(t, "GetMe", func(ctx context.Context) error {
			_, err := c.Game.GetMe(ctx, &ovenv1.PlayerRequest{PlayerId: id})
			return err
		})
		failsFast(t, "StartPlay", func(ctx context.Context) error {
			_, err := c.Game.StartPlay(ctx, &ovenv1.StartPlayRequest{PlayerId: id, CookieId: "brave"})
			return err
		})
	}
	if err := c.RedisLink.Up(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, err := c.Game.GetMe(context.Background(), &ovenv1.PlayerRequest{PlayerId: id})
		return err == nil
	})
}

func TestPostgresDownIsUnavailableFast(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{StoreLinks: true})
	id := guest(t, c, "device-pg-down")
	me(t, c, id)
	c.PGLink.Down()
	for i := range 3 {
		failsFast(t, "AuthGuest", func(ctx context.Context) error {
			_, err := c.Game.AuthGuest(ctx, &ovenv1.AuthGuestRequest{DeviceId: "device-pg-down-new-" + string(rune('a'+i))})
			return err
		})
		failsFast(t, "StartPlay with boosts", func(ctx context.Context) error {
			_, err := c.Game.StartPlay(ctx, &ovenv1.StartPlayRequest{PlayerId: id, CookieId: "brave", Boosts: []string{"magnet"}})
			return err
		})
	}
	if err := c.PGLink.Up(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, err := c.Game.AuthGuest(context.Background(), &ovenv1.AuthGuestRequest{DeviceId: "device-pg-down-back"})
		return err == nil
	})
}
