package lives_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/fence"
	"github.com/ovengames/oven/application/lives"
	"github.com/ovengames/oven/application/redisdb"
	"github.com/ovengames/oven/deploy/localdeps"
)

var (
	rdb *redis.Client
	seq atomic.Int64
)

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	r, err := localdeps.StartRedis(ctx, localdeps.RedisOptions{})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rdb = redis.NewClient(&redis.Options{Addr: r.Addr()})
	code := m.Run()
	rdb.Close()
	r.Stop()
	os.Exit(code)
}

var rules = lives.Rules{Max: 5, Regen: 720 * time.Second}

func newStore(t *testing.T) (*lives.Store, string) {
	return lives.NewStore(redisdb.New(rdb, fmt.Sprintf("lt%d:", seq.Add(1)))), "42"
}

// owner is the context of the player's owner: the slot's token at epoch 1.
func owner(playerID string) context.Context {
	return fence.With(context.Background(), fence.Token{Slot: cluster.SlotOf(playerID), Epoch: 1})
}

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func TestRegenerationAndTakes(t *testing.T) {
	t.Parallel()
	s, p := newStore(t)
	ctx := owner(p)
	type step struct {
		name   string
		at     time.Duration // after t0
		op     string        // get, take, add3
		want   lives.State
		errFor time.Duration // want no_lives with this retry_after
	}
	steps := []step{
		{name: "new player is full", at: 0, op: "get", want: lives.State{Count: 5, Max: 5}},
		{name: "take from full starts the clock", at: 0, op: "take", want: lives.State{Count: 4, Max: 5, NextAt: t0.Add(720 * time.Second)}},
		{name: "take again keeps the anchor", at: 100 * time.Second, op: "take", want: lives.State{Count: 3, Max: 5, NextAt: t0.Add(720 * time.Second)}},
		{name: "one regenerates exactly at the deadline", at: 720 * time.Second, op: "get", want: lives.State{Count: 4, Max: 5, NextAt: t0.Add(1440 * time.Second)}},
		{name: "just before the second", at: 1440*time.Second - time.Millisecond, op: "get", want: lives.State{Count: 4, Max: 5, NextAt: t0.Add(1440 * time.Second)}},
		{name: "full again later", at: 5 * time.Hour, op: "get", want: lives.State{Count: 5, Max: 5}},
		{name: "take 1", at: 5 * time.Hour, op: "take", want: lives.State{Count: 4, Max: 5, NextAt: t0.Add(5*time.Hour + 720*time.Second)}},
		{name: "take 2", at: 5 * time.Hour, op: "take", want: lives.State{Count: 3, Max: 5, NextAt: t0.Add(5*time.Hour + 720*time.Second)}},
		{name: "take 3", at: 5 * time.Hour, op: "take", want: lives.State{Count: 2, Max: 5, NextAt: t0.Add(5*time.Hour + 720*time.Second)}},
		{name: "take 4", at: 5 * time.Hour, op: "take", want: lives.State{Count: 1, Max: 5, NextAt: t0.Add(5*time.Hour + 720*time.Second)}},
		{name: "take 5", at: 5*time.Hour + 20*time.Second, op: "take", want: lives.State{Count: 0, Max: 5, NextAt: t0.Add(5*time.Hour + 720*time.Second)}},
		{name: "none left", at: 5*time.Hour + 21*time.Second, op: "take", want: lives.State{Count: 0, Max: 5, NextAt: t0.Add(5*time.Hour + 720*time.Second)}, errFor: 699 * time.Second},
		{name: "mail lifts above max", at: 5*time.Hour + 30*time.Second, op: "add7", want: lives.State{Count: 7, Max: 5}},
		{name: "above max regeneration pauses", at: 9 * time.Hour, op: "get", want: lives.State{Count: 7, Max: 5}},
		{name: "taking above max", at: 9 * time.Hour, op: "take", want: lives.State{Count: 6, Max: 5}},
		{name: "dropping below max restarts the clock", at: 9 * time.Hour, op: "take2", want: lives.State{Count: 4, Max: 5, NextAt: t0.Add(9*time.Hour + 720*time.Second)}},
	}
	for _, st := range steps {
		now := t0.Add(st.at)
		var got lives.State
		var err error
		switch st.op {
		case "get":
			got, err = s.Get(ctx, p, rules, now)
		case "take":
			got, err = s.Take(ctx, p, rules, now)
		case "take2":
			if _, err = s.Take(ctx, p, rules, now); err == nil {
				got, err = s.Take(ctx, p, rules, now)
			}
		case "add7":
			got, err = s.Add(ctx, p, 7, rules, now)
		}
		if st.errFor > 0 {
			if oven.ErrorCode(err) != oven.ENoLives || oven.RetryAfter(err) != st.errFor {
				t.Fatalf("%s: err = %v (retry %v), want no_lives after %v", st.name, err, oven.RetryAfter(err), st.errFor)
			}
		} else if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if diff := cmp.Diff(st.want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
			t.Fatalf("%s (-want +got)\n%s", st.name, diff)
		}
	}
}

func TestConcurrentTakesNeverGoBelowZero(t *testing.T) {
	t.Parallel()
	s, p := newStore(t)
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			_, err := s.Take(owner(p), p, rules, t0)
			switch oven.ErrorCode(err) {
			case "":
				ok.Add(1)
			case oven.ENoLives:
				refused.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 5 || refused.Load() != 45 {
		t.Fatalf("ok %d refused %d, want 5 and 45", ok.Load(), refused.Load())
	}
}

func BenchmarkTake(b *testing.B) {
	s := lives.NewStore(redisdb.New(rdb, "bench:"))
	ctx := owner("7")
	big := lives.Rules{Max: 1 << 40, Regen: time.Hour}
	for i := 0; b.Loop(); i++ {
		if _, err := s.Take(ctx, "7", big, t0); err != nil {
			b.Fatal(err)
		}
	}
}
