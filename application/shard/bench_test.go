package shard_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovengames/oven/application/shard/shardtest"
	"github.com/ovengames/oven/proto/ovenv1"
)

// BenchmarkStartSettle measures StartPlay+SettlePlay pairs through the gRPC service (routing
// client → 3 shards) against real Redis and PostgreSQL: b.N starts from 32 concurrent
// players, one dev-clock step past the minimum play duration, then b.N settles. ns/op is
// per pair; pairs/s is reported too.
//
//	go test -run '^$' -bench StartSettle -benchtime 3000x ./application/shard/
func BenchmarkStartSettle(b *testing.B) {
	for _, bc := range []struct {
		name   string
		boosts []string
	}{{"no-boost", nil}, {"one-boost", []string{"fast-start"}}} {
		b.Run(bc.name, func(b *testing.B) { benchStartSettle(b, bc.boosts) })
	}
}

func benchStartSettle(b *testing.B, boosts []string) {
	c := env.Start(b, shardtest.Options{DevClock: true})
	const workers = 32
	ids := make([]string, workers)
	for i := range ids {
		resp, err := c.Game.AuthGuest(bg, &ovenv1.AuthGuestRequest{DeviceId: fmt.Sprintf("bench-device-%d-%d", i, b.N)})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = resp.PlayerId
		// Enough lives and coins for the whole run, granted the way the ledger would.
		c.Redis.HSet(bg, c.Keys.Lives(ids[i]), "c", 1<<40, "t", 0)
		c.DB.Exec(bg, `UPDATE wallets SET coins = coins + 1e9, starting_coins = starting_coins + 1e9 WHERE player_id = $1`, ids[i])
	}
	playIDs := make([]string, b.N)
	owner := make([]string, b.N)
	b.ResetTimer()
	start := time.Now()
	parallel(b.N, workers, func(w, i int) error {
		p, err := c.Game.StartPlay(bg, &ovenv1.StartPlayRequest{PlayerId: ids[w], CookieId: "brave", Boosts: boosts})
		if err == nil {
			playIDs[i], owner[i] = p.PlayId, ids[w]
		}
		return err
	}, b)
	if _, err := c.Game.AdvanceClock(bg, &ovenv1.AdvanceClockRequest{AdvanceMs: 30_000}); err != nil {
		b.Fatal(err)
	}
	parallel(b.N, workers, func(_, i int) error {
		_, err := c.Game.SettlePlay(bg, &ovenv1.SettlePlayRequest{PlayerId: owner[i], PlayId: playIDs[i],
			Score: 30_000, Coins: 100, Distance: 500, DurationMs: 25_000})
		return err
	}, b)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pairs/s")
}

// parallel runs f for i in [0,n) on workers goroutines; worker w handles i ≡ w (mod workers).
func parallel(n, workers int, f func(w, i int) error, b *testing.B) {
	var wg sync.WaitGroup
	var failed atomic.Value
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if err := f(w, i); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
}
