package shard_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/application/leaderboard"
	"github.com/ovengames/oven/application/plays"
	"github.com/ovengames/oven/application/redisdb"
	"github.com/ovengames/oven/application/shard/shardtest"
	"github.com/ovengames/oven/proto/ovenv1"
)

var bg = context.Background()

func code(err error) string { return oven.ErrorCode(grpcerr.FromStatus(err)) }

// grant gives a player coins the way the ledger would, keeping invariant 4.
func grant(t *testing.T, c *shardtest.Cluster, id string, coins int64) {
	t.Helper()
	if _, err := c.DB.Exec(bg, `UPDATE wallets SET coins = coins + $2, starting_coins = starting_coins + $2 WHERE player_id = $1`,
		id, coins); err != nil {
		t.Fatal(err)
	}
}

// checkWallet asserts invariant 4 for one player and returns the balance.
func checkWallet(t *testing.T, c *shardtest.Cluster, id string) int64 {
	t.Helper()
	var coins, expected int64
	err := c.DB.QueryRow(bg, `SELECT w.coins, w.starting_coins + w.carried_coins + coalesce((SELECT sum(amount) FROM coin_ledger l WHERE l.player_id = w.player_id), 0)
		FROM wallets w WHERE player_id = $1`, id).Scan(&coins, &expected)
	if err != nil {
		t.Fatal(err)
	}
	if coins != expected {
		t.Fatalf("invariant 4 broken for %s: wallet %d, starting+ledger %d", id, coins, expected)
	}
	return coins
}

func me(t *testing.T, c *shardtest.Cluster, id string) *ovenv1.Profile {
	t.Helper()
	p, err := c.Game.GetMe(bg, &ovenv1.PlayerRequest{PlayerId: id})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func start(c *shardtest.Cluster, id string, boosts ...string) (*ovenv1.StartPlayResponse, error) {
	return c.Game.StartPlay(bg, &ovenv1.StartPlayRequest{PlayerId: id, CookieId: "brave", Boosts: boosts})
}

func TestConcurrentStartsTakeExactlyTheLives(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{})
	id := guest(t, c, "device-race-starts")
	grant(t, c, id, 5000) // 6000 coins: enough for every start that can get a life
	var ok, noLives atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			_, err := start(c, id, "fast-start") // 300 coins
			switch code(err) {
			case "":
				ok.Add(1)
			case oven.ENoLives:
				noLives.Add(1)
			default:
				t.Errorf("start: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 5 || noLives.Load() != 45 {
		t.Fatalf("%d started, %d no_lives; want 5 and 45", ok.Load(), noLives.Load())
	}
	var charges int
	if err := c.DB.QueryRow(bg, `SELECT count(*) FROM coin_ledger WHERE player_id = $1 AND reason = 'play_boosts'`, id).Scan(&charges); err != nil {
		t.Fatal(err)
	}
	if charges != 5 {
		t.Errorf("charged %d times, want 5", charges)
	}
	if coins := checkWallet(t, c, id); coins != 6000-5*300 {
		t.Errorf("coins = %d, want %d", coins, 6000-5*300)
	}
	if l := me(t, c, id).Lives; l.Count != 0 {
		t.Errorf("lives = %d, want 0", l.Count)
	}
}

func TestShortOfCoinsTakesNoLife(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{})
	id := guest(t, c, "device-short-coins")
	if _, err := start(c, id, "extra-heart"); err != nil { // 800 of 1000
		t.Fatal(err)
	}
	_, err := start(c, id, "extra-heart")
	if code(err) != oven.EInsufficientCoins {
		t.Fatalf("err = %v, want insufficient_coins", err)
	}
	p := me(t, c, id)
	if p.Lives.Count != 4 || p.Coins != 200 {
		t.Errorf("lives %d coins %d, want 4 and 200", p.Lives.Count, p.Coins)
	}
	checkWallet(t, c, id)
}

func TestStartRefusesBadItemsAndChangesNothing(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{})
	id := guest(t, c, "device-bad-items")
	tests := []struct {
		name string
		req  *ovenv1.StartPlayRequest
	}{
		{"unknown cookie", &ovenv1.StartPlayRequest{PlayerId: id, CookieId: "nope"}},
		{"cookie not owned", &ovenv1.StartPlayRequest{PlayerId: id, CookieId: "ninja"}},
		{"pet not owned", &ovenv1.StartPlayRequest{PlayerId: id, CookieId: "brave", PetId: "choco-drop"}},
		{"unknown boost", &ovenv1.StartPlayRequest{PlayerId: id, CookieId: "brave", Boosts: []string{"rocket"}}},
		{"boost twice", &ovenv1.StartPlayRequest{PlayerId: id, CookieId: "brave", Boosts: []string{"magnet", "magnet"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.Game.StartPlay(bg, tt.req); code(err) != oven.EInvalid {
				t.Errorf("err = %v, want invalid_argument", err)
			}
		})
	}
	if p := me(t, c, id); p.Lives.Count != 5 || p.Coins != 1000 {
		t.Errorf("lives %d coins %d changed", p.Lives.Count, p.Coins)
	}
}

func TestCrashBetweenLifeAndCoinsLeavesBothAsTheyWere(t *testing.T) {
	t.Parallel()
	crash := errors.New("injected crash")
	var armed atomic.Bool
	armed.Store(true)
	c := env.Start(t, shardtest.Options{RecoverAfter: time.Second, PlayHooks: plays.Hooks{AfterLifeTaken: func() error {
		if armed.Load() {
			return crash
		}
		return nil
	}}})
	id := guest(t, c, "device-crash-1")
	if _, err := start(c, id, "magnet"); err == nil {
		t.Fatal("start succeeded despite the injected crash")
	}
	// The life was taken and no coins: until recovery (RecoverAfter, 1 s here) gives it back.
	if p := me(t, c, id); (p.Lives.Count != 4 && p.Lives.Count != 5) || p.Coins != 1000 {
		t.Fatalf("after the crash: lives %d coins %d, want 4 (or 5 once recovered) and 1000", p.Lives.Count, p.Coins)
	}
	// Recovery voids the pending play through the SQL arbiter and gives the life back.
	waitFor(t, func() bool { return me(t, c, id).Lives.Count == 5 })
	if coins := checkWallet(t, c, id); coins != 1000 {
		t.Errorf("coins = %d, want 1000", coins)
	}
	var outcome string
	if err := c.DB.QueryRow(bg, `SELECT outcome FROM play_charges WHERE player_id = $1`, id).Scan(&outcome); err != nil || outcome != "void" {
		t.Errorf("arbiter row = %q (%v), want void", outcome, err)
	}
	armed.Store(false)
	if _, err := start(c, id, "magnet"); err != nil {
		t.Fatalf("start after recovery: %v", err)
	}
}

func TestCrashAfterChargeOpensThePlay(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{PlayHooks: plays.Hooks{AfterCharged: func() error { return errors.New("injected crash") }}})
	id := guest(t, c, "device-crash-2")
	if _, err := start(c, id, "magnet"); err == nil {
		t.Fatal("start succeeded despite the injected crash")
	}
	var playID string
	if err := c.DB.QueryRow(bg, `SELECT play_id FROM play_charges WHERE player_id = $1 AND outcome = 'charged'`, id).Scan(&playID); err != nil {
		t.Fatal(err)
	}
	// The coins were taken, so recovery must open the play (not give the life back).
	waitFor(t, func() bool {
		n, _ := c.Redis.ZCard(bg, c.Keys.Pending(cluster.SlotOf(id))).Result()
		return n == 0
	})
	p := me(t, c, id)
	if p.Lives.Count != 4 || p.Coins != 500 {
		t.Fatalf("lives %d coins %d, want 4 and 500", p.Lives.Count, p.Coins)
	}
	checkWallet(t, c, id)
	st, err := c.Redis.HGet(bg, c.Keys.Play(id, playID), "st").Result()
	if err != nil || st != "open" {
		t.Errorf("play status %q (%v), want open", st, err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSettleIsIdempotent(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{DevClock: true})
	id := guest(t, c, "device-settle")
	p, err := start(c, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Game.AdvanceClock(bg, &ovenv1.AdvanceClockRequest{AdvanceMs: 60_000}); err != nil {
		t.Fatal(err)
	}
	body := &ovenv1.SettlePlayRequest{PlayerId: id, PlayId: p.PlayId, Score: 52_000, Coins: 300, Distance: 1200, DurationMs: 58_000}
	first, err := c.Game.SettlePlay(bg, body)
	if err != nil {
		t.Fatal(err)
	}
	want := &ovenv1.SettlePlayResponse{CoinsEarned: 300, Coins: 1300, ExpEarned: plays.ExpFor(52_000), Exp: plays.ExpFor(52_000),
		Level: 1, BestScore: 52_000, WeeklyBest: 52_000, NewRecord: true}
	if diff := cmp.Diff(want, first, cmpProto()); diff != "" {
		t.Fatalf("settle (-want +got)\n%s", diff)
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			again, err := c.Game.SettlePlay(bg, body)
			if err != nil {
				t.Error(err)
				return
			}
			if diff := cmp.Diff(first, again, cmpProto()); diff != "" {
				t.Errorf("repeat differs (-first +again)\n%s", diff)
			}
		})
	}
	wg.Wait()
	other := &ovenv1.SettlePlayRequest{PlayerId: id, PlayId: p.PlayId, Score: 1, Coins: 300, Distance: 1200, DurationMs: 58_000}
	if _, err := c.Game.SettlePlay(bg, other); code(err) != oven.EAlreadySettled {
		t.Errorf("different body: %v, want already_settled", err)
	}
	if coins := checkWallet(t, c, id); coins != 1300 {
		t.Errorf("coins = %d, want 1300 (paid once)", coins)
	}
	var rows int
	c.DB.QueryRow(bg, `SELECT count(*) FROM play_records WHERE player_id = $1`, id).Scan(&rows)
	if rows != 1 {
		t.Errorf("%d play records, want 1", rows)
	}
}

func TestSettleChecks(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{DevClock: true})
	id := guest(t, c, "device-checks")
	tests := []struct {
		name    string
		advance time.Duration
		body    func(playID string) *ovenv1.SettlePlayRequest
		code    string
	}{
		{"longer than the time since start", 10 * time.Second, func(pid string) *ovenv1.SettlePlayRequest {
			return &ovenv1.SettlePlayRequest{PlayerId: id, PlayId: pid, Score: 10, DurationMs: 60_000}
		}, oven.ERejected},
		{"shorter than the minimum", 10 * time.Second, func(pid string) *ovenv1.SettlePlayRequest {
			return &ovenv1.SettlePlayRequest{PlayerId: id, PlayId: pid, Score: 10, DurationMs: 4_000}
		}, oven.ERejected},
		{"score too high", 20 * time.Second, func(pid string) *ovenv1.SettlePlayRequest {
			return &ovenv1.SettlePlayRequest{PlayerId: id, PlayId: pid, Score: 20_001 * 10, DurationMs: 10_000}
		}, oven.ERejected},
		{"coins too high", 20 * time.Second, func(pid string) *ovenv1.SettlePlayRequest {
			return &ovenv1.SettlePlayRequest{PlayerId: id, PlayId: pid, Coins: 101, DurationMs: 10_000}
		}, oven.ERejected},
		{"after the play's ttl", 3601 * time.Second, func(pid string) *ovenv1.SettlePlayRequest {
			return &ovenv1.SettlePlayRequest{PlayerId: id, PlayId: pid, Score: 10, DurationMs: 10_000}
		}, oven.EPlayExpired},
		{"unknown play", 0, func(string) *ovenv1.SettlePlayRequest {
			return &ovenv1.SettlePlayRequest{PlayerId: id, PlayId: plays.NewPlayID(time.Now()), Score: 10, DurationMs: 10_000}
		}, oven.ENotFound},
		{"garbage play id", 0, func(string) *ovenv1.SettlePlayRequest {
			return &ovenv1.SettlePlayRequest{PlayerId: id, PlayId: "../../x", Score: 10, DurationMs: 10_000}
		}, oven.ENotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			grantLife(t, c, id)
			p, err := start(c, id)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Game.AdvanceClock(bg, &ovenv1.AdvanceClockRequest{AdvanceMs: tt.advance.Milliseconds()}); err != nil {
				t.Fatal(err)
			}
			body := tt.body(p.PlayId)
			if _, err := c.Game.SettlePlay(bg, body); code(err) != tt.code {
				t.Fatalf("err = %v, want %s", err, tt.code)
			}
			if tt.code == oven.ERejected {
				// A rejected play is settled with nothing earned: the same body is
				// rejected again, any other body is already_settled.
				if _, err := c.Game.SettlePlay(bg, body); code(err) != oven.ERejected {
					t.Errorf("repeat: %v, want rejected", err)
				}
				body.Distance++
				if _, err := c.Game.SettlePlay(bg, body); code(err) != oven.EAlreadySettled {
					t.Errorf("other body: %v, want already_settled", err)
				}
			}
		})
	}
	p := me(t, c, id)
	if p.Coins != 1000 || p.Exp != 0 || p.WeeklyBest != 0 || p.BestScore != 0 {
		t.Errorf("rejected plays earned something: %+v", p)
	}
	checkWallet(t, c, id)
}

// grantLife keeps a test player from running out of lives.
func grantLife(t *testing.T, c *shardtest.Cluster, id string) {
	t.Helper()
	if err := c.Redis.Del(bg, c.Keys.Lives(id)).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestShop(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{})
	id := guest(t, c, "device-shop")
	if _, err := c.Game.BuyItem(bg, &ovenv1.BuyItemRequest{PlayerId: id, ItemId: "choco-drop"}); code(err) != oven.EInsufficientCoins {
		t.Fatalf("buy 1500 with 1000: %v, want insufficient_coins", err)
	}
	grant(t, c, id, 2000)
	if _, err := c.Game.BuyItem(bg, &ovenv1.BuyItemRequest{PlayerId: id, ItemId: "choco-drop"}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Game.BuyItem(bg, &ovenv1.BuyItemRequest{PlayerId: id, ItemId: "choco-drop"})
	if code(err) != oven.EConflict {
		t.Errorf("second buy: %v, want conflict", err)
	}
	for _, tt := range []struct{ item, code string }{
		{"angel", oven.EInsufficientCoins}, {"magnet", oven.EInvalid}, {"nope", oven.EInvalid},
	} {
		if _, err := c.Game.BuyItem(bg, &ovenv1.BuyItemRequest{PlayerId: id, ItemId: tt.item}); code(err) != tt.code {
			t.Errorf("buy %s: %v, want %s", tt.item, err, tt.code)
		}
	}
	p := me(t, c, id)
	if diff := cmp.Diff([]string{"choco-drop"}, p.OwnedPets); diff != "" {
		t.Errorf("pets (-want +got)\n%s", diff)
	}
	if coins := checkWallet(t, c, id); coins != 1000-1500+2000 {
		t.Errorf("coins = %d", coins)
	}
	if _, err := c.Game.StartPlay(bg, &ovenv1.StartPlayRequest{PlayerId: id, CookieId: "brave", PetId: "choco-drop"}); err != nil {
		t.Errorf("start with the bought pet: %v", err)
	}
}

// The owner's cached profile takes each write's committed values (boost charge, settle,
// level-up) without a reload: after every step GET /me agrees with PostgreSQL. The
// weekly best each settle answers is the board's.
func TestProfileFollowsEveryWrite(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{DevClock: true})
	id := guest(t, c, "device-profile-cache")
	grant(t, c, id, 5000) // before the cache is warm: it bypasses the owner
	sqlProfile := func() (coins, exp, level, best int64) {
		t.Helper()
		err := c.DB.QueryRow(bg, `SELECT w.coins, p.exp, p.level, p.best_score FROM players p JOIN wallets w USING (player_id)
			WHERE player_id = $1`, id).Scan(&coins, &exp, &level, &best)
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	agree := func(step string) {
		t.Helper()
		got := me(t, c, id)
		coins, exp, level, best := sqlProfile()
		if got.Coins != coins || got.Exp != exp || got.Level != level || got.BestScore != best {
			t.Fatalf("%s: GET /me coins=%d exp=%d level=%d best=%d, PostgreSQL %d/%d/%d/%d", step,
				got.Coins, got.Exp, got.Level, got.BestScore, coins, exp, level, best)
		}
	}
	// Mid-week on the game clock, so that the plays below stay within one board week.
	midweek := leaderboard.WeekOf(time.Now()).Start.AddDate(0, 0, 9).Add(12 * time.Hour)
	if _, err := c.Game.AdvanceClock(bg, &ovenv1.AdvanceClockRequest{AdvanceMs: time.Until(midweek).Milliseconds()}); err != nil {
		t.Fatal(err)
	}
	agree("new player") // warms the cache
	var best int64
	for i, score := range []int64{52_000, 10_000, 90_000, 400_000} {
		if i == 2 { // settle's pipeline must survive a flushed script cache too
			if err := c.Redis.ScriptFlush(bg).Err(); err != nil {
				t.Fatal(err)
			}
		}
		p, err := start(c, id, "magnet")
		if err != nil {
			t.Fatal(err)
		}
		if got, _, _, _ := sqlProfile(); p.Coins != got {
			t.Fatalf("play %d: start answered coins=%d, PostgreSQL %d", i, p.Coins, got)
		}
		agree("after the boost charge")
		if _, err := c.Game.AdvanceClock(bg, &ovenv1.AdvanceClockRequest{AdvanceMs: 600_000}); err != nil {
			t.Fatal(err)
		}
		res, err := c.Game.SettlePlay(bg, &ovenv1.SettlePlayRequest{PlayerId: id, PlayId: p.PlayId, Score: score,
			Coins: 200, Distance: 1000, DurationMs: 590_000})
		if err != nil {
			t.Fatal(err)
		}
		best = max(best, score)
		if res.WeeklyBest != best {
			t.Errorf("play %d (score %d): weekly_best %d, want %d", i, score, res.WeeklyBest, best)
		}
		if got := me(t, c, id).WeeklyBest; got != best {
			t.Errorf("play %d: the board holds %d, want %d", i, got, best)
		}
		agree("after a settle")
	}
	if p := me(t, c, id); p.Level < 2 {
		t.Errorf("level %d after %d exp: the test meant to cover a level-up", p.Level, p.Exp)
	}
	checkWallet(t, c, id)
}

// A play started before the board week's end and settled after it counts for the week
// it started in.
func TestSettleAcrossTheWeekEnd(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{DevClock: true})
	id := guest(t, c, "device-week-end")
	end := leaderboard.WeekOf(time.Now()).End.AddDate(0, 0, 7) // a week end in the future
	if _, err := c.Game.AdvanceClock(bg, &ovenv1.AdvanceClockRequest{AdvanceMs: time.Until(end.Add(-30 * time.Second)).Milliseconds()}); err != nil {
		t.Fatal(err)
	}
	p, err := start(c, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Game.AdvanceClock(bg, &ovenv1.AdvanceClockRequest{AdvanceMs: 60_000}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Game.SettlePlay(bg, &ovenv1.SettlePlayRequest{PlayerId: id, PlayId: p.PlayId, Score: 40_000,
		Coins: 100, Distance: 500, DurationMs: 50_000})
	if err != nil {
		t.Fatal(err)
	}
	if res.WeeklyBest != 40_000 {
		t.Errorf("weekly_best %d, want 40000 (the play's week)", res.WeeklyBest)
	}
	if got := me(t, c, id).WeeklyBest; got != 0 {
		t.Errorf("the new week already holds %d", got)
	}
	ended := leaderboard.NewStore(redisdb.New(c.Redis, c.RedisPrefix))
	if best, err := ended.Best(bg, id, end.Add(-time.Minute)); err != nil || best != 40_000 {
		t.Errorf("the ended week's board holds %d (%v), want 40000", best, err)
	}
}

// A shard that dies after a settlement committed in PostgreSQL but before its Redis step
// leaves the board without the score; if the client never retries, recovery finishes it
// (invariant 6: the week's board holds the best settled score).
func TestCrashAfterSettleRecordedStillReachesTheBoard(t *testing.T) {
	t.Parallel()
	var crash atomic.Bool
	c := env.Start(t, shardtest.Options{DevClock: true, PlayHooks: plays.Hooks{AfterRecorded: func() error {
		if crash.Swap(false) {
			return errors.New("injected crash")
		}
		return nil
	}}})
	id := guest(t, c, "device-settle-crash")
	p, err := start(c, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Game.AdvanceClock(bg, &ovenv1.AdvanceClockRequest{AdvanceMs: 60_000}); err != nil {
		t.Fatal(err)
	}
	crash.Store(true)
	body := &ovenv1.SettlePlayRequest{PlayerId: id, PlayId: p.PlayId, Score: 41_000, Coins: 100, Distance: 900, DurationMs: 50_000}
	if _, err := c.Game.SettlePlay(bg, body); err == nil {
		t.Fatal("the crash hook did not fire")
	}
	// The client gives up; only recovery can finish the settlement.
	waitFor(t, func() bool { return me(t, c, id).WeeklyBest == 41_000 })
	again, err := c.Game.SettlePlay(bg, body)
	if err != nil {
		t.Fatal(err)
	}
	if again.WeeklyBest != 41_000 || again.CoinsEarned != 100 {
		t.Errorf("the settle after recovery answered %v, want the recorded result", again)
	}
	if coins := checkWallet(t, c, id); coins != 1100 {
		t.Errorf("coins = %d, want 1100 (paid once)", coins)
	}
}

// Many players settle at once, so their settlements commit in shared groups; some of
// them were recorded in PostgreSQL before a crash, so their statement fails (a
// duplicate play record) in the middle of a group, rolling the group back. Every
// settle still answers with its one result, and PostgreSQL holds exactly one record
// and one payment per play: no write lost, none applied twice.
func TestSettlesFailingInTheMiddleOfAGroupLoseAndDoubleNothing(t *testing.T) {
	t.Parallel()
	var crash atomic.Bool
	c := env.Start(t, shardtest.Options{DevClock: true, PlayHooks: plays.Hooks{AfterRecorded: func() error {
		if crash.Load() {
			return errors.New("injected crash")
		}
		return nil
	}}})
	const n = 60
	ids, bodies := make([]string, n), make([]*ovenv1.SettlePlayRequest, n)
	for i := range n {
		ids[i] = guest(t, c, fmt.Sprint("device-group-", i))
		p, err := start(c, ids[i])
		if err != nil {
			t.Fatal(err)
		}
		bodies[i] = &ovenv1.SettlePlayRequest{PlayerId: ids[i], PlayId: p.PlayId, Score: int64(10_000 + i), Coins: 100,
			Distance: 900, DurationMs: 50_000}
	}
	if _, err := c.Game.AdvanceClock(bg, &ovenv1.AdvanceClockRequest{AdvanceMs: 60_000}); err != nil {
		t.Fatal(err)
	}
	recorded := func(i int) bool { return i%4 == 1 }
	crash.Store(true)
	for i := range n {
		if recorded(i) {
			if _, err := c.Game.SettlePlay(bg, bodies[i]); err == nil {
				t.Fatal("the crash hook did not fire")
			}
		}
	}
	crash.Store(false)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res, err := c.Game.SettlePlay(bg, bodies[i])
			if err != nil || res.CoinsEarned != 100 || res.BestScore != bodies[i].Score {
				t.Errorf("player %d: settle = %v, %v", i, res, err)
			}
		})
	}
	wg.Wait()
	for i, id := range ids {
		var records, ledger int
		if err := c.DB.QueryRow(bg, `SELECT (SELECT count(*) FROM play_records WHERE player_id = $1),
			(SELECT count(*) FROM coin_ledger WHERE player_id = $1 AND reason = 'play')`, id).Scan(&records, &ledger); err != nil {
			t.Fatal(err)
		}
		if coins := checkWallet(t, c, id); records != 1 || ledger != 1 || coins != 1100 {
			t.Errorf("player %d: %d play records, %d ledger rows, %d coins; want 1, 1, 1100", i, records, ledger, coins)
		}
	}
	var reruns float64
	for _, reg := range c.Metrics {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "oven_pg_group_reruns_total" {
				reruns += mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
	}
	t.Logf("units run again after another unit of their group failed: %v", reruns)
}
