package shard_test

import (
	"context"
	"errors"
	"path"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/plays"
	"github.com/ovengames/oven/application/shard/shardtest"
	"github.com/ovengames/oven/proto/ovenv1"
)

// callerTimeout is the deadline the tests' callers give a play start.
const callerTimeout = 300 * time.Millisecond

// resumed runs a call the way a shard that was stopped (SIGSTOP, a long pause) before it
// read the request does when it resumes: with a fresh deadline computed from the
// relative grpc-timeout, and deaf to the caller's cancellation, which it never read.
func resumed(ctx context.Context, req any, handler grpc.UnaryHandler) (any, error) {
	fresh, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return handler(fresh, req)
}

// waitServed returns what the intercepted start answered. On a machine too busy to get
// the call to the shard within its caller's deadline it never arrives: fail, saying so,
// rather than wait for the whole package's timeout.
func waitServed(t *testing.T, served <-chan error) error {
	t.Helper()
	select {
	case err := <-served:
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("the start never reached the shard: the machine was too busy to deliver it within its caller's %v", callerTimeout)
		return nil
	}
}

// interceptStarts applies f to the shards' StartPlay calls while on is set.
func interceptStarts(on *atomic.Bool, f grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if path.Base(info.FullMethod) != "StartPlay" || !on.Load() {
			return handler(ctx, req)
		}
		return f(ctx, req, info, handler)
	}
}

// playKeys lists a player's play records in Redis (idempotency keys aside).
func playKeys(t *testing.T, c *shardtest.Cluster, id string) []string {
	t.Helper()
	keys, err := c.Redis.Keys(bg, c.Keys.Play(id, "*")).Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range keys {
		if !strings.Contains(k, ":idem:") {
			out = append(out, k)
		}
	}
	return out
}

// assertUntouched checks that a player still has 5 lives, coins, no play and no charge.
func assertUntouched(t *testing.T, c *shardtest.Cluster, id string, coins int64) {
	t.Helper()
	p := me(t, c, id)
	if p.Lives.Count != 5 || p.Coins != coins {
		t.Errorf("lives %d coins %d, want 5 and %d", p.Lives.Count, p.Coins, coins)
	}
	checkWallet(t, c, id)
	if keys := playKeys(t, c, id); len(keys) != 0 {
		t.Errorf("play records left: %v", keys)
	}
	var charged int
	if err := c.DB.QueryRow(bg, `SELECT count(*) FROM play_charges WHERE player_id = $1 AND outcome = 'charged'`, id).Scan(&charged); err != nil {
		t.Fatal(err)
	}
	if charged != 0 {
		t.Errorf("%d plays charged, want none", charged)
	}
}

// A start whose shard stalls before reading it, past its caller's deadline, must be
// refused when the shard resumes: the caller already answered 503.
func TestStartStalledPastTheCallersDeadlineTakesNothing(t *testing.T) {
	t.Parallel()
	var stalling atomic.Bool
	served := make(chan error, 1)
	c := env.Start(t, shardtest.Options{Intercept: interceptStarts(&stalling,
		func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			<-ctx.Done() // the caller gives up while the shard is stopped
			time.Sleep(50 * time.Millisecond)
			resp, err := resumed(ctx, req, handler)
			served <- err
			return resp, err
		})})
	for _, tc := range []struct {
		name   string
		boosts []string
	}{{"no boosts", nil}, {"boosts", []string{"magnet"}}} {
		t.Run(tc.name, func(t *testing.T) {
			id := guest(t, c, "device-stalled-start-"+strings.ReplaceAll(tc.name, " ", "-"))
			stalling.Store(true)
			ctx, cancel := context.WithTimeout(bg, callerTimeout)
			_, err := c.Game.StartPlay(ctx, &ovenv1.StartPlayRequest{PlayerId: id, CookieId: "brave", Boosts: tc.boosts})
			cancel()
			if code(err) != oven.EUnavailable {
				t.Fatalf("caller got %v, want unavailable", err)
			}
			err = waitServed(t, served)
			stalling.Store(false)
			if code(err) != oven.EUnavailable {
				t.Errorf("the resumed shard answered %v, want unavailable (refused)", err)
			}
			assertUntouched(t, c, id, 1000)
		})
	}
}

// A start that passes the shard's door in time but stalls after taking the life, past
// its caller's deadline, must not go on to charge the boosts, and gives the life back at
// once (not minutes later, at recovery).
func TestStartStalledBetweenStepsGivesTheLifeBack(t *testing.T) {
	t.Parallel()
	var on atomic.Bool
	served := make(chan error, 1)
	c := env.Start(t, shardtest.Options{
		RecoverAfter: time.Hour, // only the start itself may give the life back
		PlayHooks: plays.Hooks{AfterLifeTaken: func() error {
			if on.Load() {
				time.Sleep(callerTimeout + 100*time.Millisecond)
			}
			return nil
		}},
		Intercept: interceptStarts(&on, func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			resp, err := resumed(ctx, req, handler)
			served <- err
			return resp, err
		}),
	})
	id := guest(t, c, "device-stalled-between-steps")
	on.Store(true)
	ctx, cancel := context.WithTimeout(bg, callerTimeout)
	_, err := c.Game.StartPlay(ctx, &ovenv1.StartPlayRequest{PlayerId: id, CookieId: "brave", Boosts: []string{"magnet"}})
	cancel()
	if code(err) != oven.EUnavailable {
		t.Fatalf("caller got %v, want unavailable", err)
	}
	err = waitServed(t, served)
	on.Store(false)
	if code(err) != oven.EUnavailable {
		t.Errorf("the shard answered %v, want unavailable (refused)", err)
	}
	assertUntouched(t, c, id, 1000)
}

// startWithKey starts a play with the brave cookie and an idempotency key.
func startWithKey(c *shardtest.Cluster, id, key string, boosts ...string) (*ovenv1.StartPlayResponse, error) {
	return c.Game.StartPlay(bg, &ovenv1.StartPlayRequest{PlayerId: id, CookieId: "brave", Boosts: boosts, IdempotencyKey: key})
}

// lifeAndCoins asserts a player's lives and coins, and invariant 4.
func lifeAndCoins(t *testing.T, c *shardtest.Cluster, id string, lives, coins int64) {
	t.Helper()
	p := me(t, c, id)
	if p.Lives.Count != lives || p.Coins != coins {
		t.Errorf("lives %d coins %d, want %d and %d", p.Lives.Count, p.Coins, lives, coins)
	}
	checkWallet(t, c, id)
}

// A start retried with its idempotency key after its answer was lost returns the play
// it started, and takes one life (and the boosts' coins once) in all.
func TestRetriedStartWithTheSameKeyTakesOneLife(t *testing.T) {
	t.Parallel()
	var losing atomic.Bool
	first := make(chan *ovenv1.StartPlayResponse, 1)
	c := env.Start(t, shardtest.Options{Intercept: interceptStarts(&losing,
		func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			losing.Store(false)
			resp, err := handler(ctx, req)
			if err != nil {
				return resp, err
			}
			first <- resp.(*ovenv1.StartPlayResponse)
			return nil, status.Error(codes.Unavailable, "the shard died before it answered")
		})})
	for _, tc := range []struct {
		name   string
		boosts []string
		cost   int64
	}{{"no boosts", nil, 0}, {"boosts", []string{"magnet"}, 500}} {
		t.Run(tc.name, func(t *testing.T) {
			id := guest(t, c, "device-retried-start-"+strings.ReplaceAll(tc.name, " ", "-"))
			grant(t, c, id, 2000)
			losing.Store(true)
			if _, err := startWithKey(c, id, "start-1", tc.boosts...); code(err) != oven.EUnavailable {
				t.Fatalf("first start: %v, want the lost answer's unavailable", err)
			}
			want := <-first
			for range 2 {
				got, err := startWithKey(c, id, "start-1", tc.boosts...)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff([]any{want.PlayId, want.StartedAtMs, want.Seed}, []any{got.PlayId, got.StartedAtMs, got.Seed}); diff != "" {
					t.Errorf("retried start (-first +retry):\n%s", diff)
				}
				if got.Lives.GetCount() != 4 || got.Coins != 3000-tc.cost {
					t.Errorf("retry answered lives %d coins %d, want 4 and %d", got.Lives.GetCount(), got.Coins, 3000-tc.cost)
				}
			}
			lifeAndCoins(t, c, id, 4, 3000-tc.cost)
			if _, err := startWithKey(c, id, "start-1", "fast-start"); code(err) != oven.EConflict {
				t.Errorf("same key, other boosts: %v, want conflict", err)
			}
			if _, err := startWithKey(c, id, "start-2", tc.boosts...); err != nil {
				t.Fatal(err)
			}
			if _, err := startWithKey(c, id, "", tc.boosts...); err != nil {
				t.Fatal(err)
			}
			if _, err := startWithKey(c, id, "", tc.boosts...); err != nil {
				t.Fatal(err)
			}
			lifeAndCoins(t, c, id, 1, 3000-4*tc.cost) // another key and no key: a start each
		})
	}
}

// A start that died between its steps is decided by its retry, at once: voided and
// started again when the coins were never charged, opened when they were.
func TestRetriedStartAfterACrashBetweenSteps(t *testing.T) {
	t.Parallel()
	crash := errors.New("crash")
	var afterLife, afterCharge atomic.Bool
	c := env.Start(t, shardtest.Options{
		RecoverAfter: time.Hour, // only the retry may decide the play
		PlayHooks: plays.Hooks{
			AfterLifeTaken: func() error {
				if afterLife.Swap(false) {
					return crash
				}
				return nil
			},
			AfterCharged: func() error {
				if afterCharge.Swap(false) {
					return crash
				}
				return nil
			},
		},
	})
	for _, tc := range []struct {
		name     string
		at       *atomic.Bool
		samePlay bool
	}{{"after the life", &afterLife, false}, {"after the charge", &afterCharge, true}} {
		t.Run(tc.name, func(t *testing.T) {
			id := guest(t, c, "device-crashed-start-"+strings.ReplaceAll(tc.name, " ", "-"))
			tc.at.Store(true)
			if _, err := startWithKey(c, id, "k", "magnet"); err == nil {
				t.Fatal("the crash hook did not fire")
			}
			keys := playKeys(t, c, id)
			if len(keys) != 1 {
				t.Fatalf("play records %v, want the pending one", keys)
			}
			got, err := startWithKey(c, id, "k", "magnet")
			if err != nil {
				t.Fatal(err)
			}
			if same := strings.HasSuffix(keys[0], ":"+got.PlayId); same != tc.samePlay {
				t.Errorf("retry answered play %s; the crashed one was %s; want same = %v", got.PlayId, keys[0], tc.samePlay)
			}
			lifeAndCoins(t, c, id, 4, 500)
			if keys := playKeys(t, c, id); len(keys) != 1 {
				t.Errorf("play records %v, want one", keys)
			}
		})
	}
}
