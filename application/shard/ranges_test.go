package shard_test

import (
	"math"
	"testing"
	"time"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/shard/shardtest"
	"github.com/ovengames/oven/proto/ovenv1"
)

// TestSettleRefusesNumbersOutOfRange is issue 10's minted coins: numbers past the
// documented caps are invalid_argument and change nothing (the play stays open and
// settles normally afterwards), and numbers within the caps but past the per-second
// limits are judged without overflow (rejected, never accepted).
func TestSettleRefusesNumbersOutOfRange(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{DevClock: true})
	id := guest(t, c, "device-ranges")
	const sane = 10_000 // ms: 10 s of play, 10 s after the start
	tests := []struct {
		name string
		body func(playID string) *ovenv1.SettlePlayRequest
		code string
	}{
		{"coins that overflow the per-second check", func(pid string) *ovenv1.SettlePlayRequest {
			return &ovenv1.SettlePlayRequest{PlayerId: id, PlayId: pid, Coins: 1 << 62, DurationMs: 5_000}
		}, oven.EInvalid},
		{"the largest coins", func(pid string) *ovenv1.SettlePlayRequest {
			return &ovenv1.SettlePlayRequest{PlayerId: id, PlayId: pid, Coins: math.MaxInt64, DurationMs: 5_000}
		}, oven.EInvalid},
		{"the largest score", func(pid string) *ovenv1.SettlePlayRequest {
			return &ovenv1.SettlePlayRequest{PlayerId: id, PlayId: pid, Score: math.MaxInt64, DurationMs: 5_000}
		}, oven.EInvalid},
		{"a duration that overflows nanoseconds", func(pid string) *ovenv1.SettlePlayRequest {
			return &ovenv1.SettlePlayRequest{PlayerId: id, PlayId: pid, Score: 1 << 62, DurationMs: 1 << 62}
		}, oven.EInvalid},
		{"the largest distance", func(pid string) *ovenv1.SettlePlayRequest {
			return &ovenv1.SettlePlayRequest{PlayerId: id, PlayId: pid, Score: 10, Distance: math.MaxInt64, DurationMs: sane}
		}, oven.EInvalid},
		// Within the caps, the per-second limits judge: 422 and settled, nothing earned.
		{"a huge but representable score", func(pid string) *ovenv1.SettlePlayRequest {
			return &ovenv1.SettlePlayRequest{PlayerId: id, PlayId: pid, Score: 1<<33 - 1, DurationMs: sane}
		}, oven.ERejected},
		{"a huge but representable coin count", func(pid string) *ovenv1.SettlePlayRequest {
			return &ovenv1.SettlePlayRequest{PlayerId: id, PlayId: pid, Coins: 1_000_000_000, DurationMs: sane}
		}, oven.ERejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			grantLife(t, c, id)
			p, err := start(c, id)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Game.AdvanceClock(bg, &ovenv1.AdvanceClockRequest{AdvanceMs: sane}); err != nil {
				t.Fatal(err)
			}
			before := me(t, c, id)
			body := tt.body(p.PlayId)
			if _, err := c.Game.SettlePlay(bg, body); code(err) != tt.code {
				t.Fatalf("err = %v, want %s", err, tt.code)
			}
			if again, err := c.Game.SettlePlay(bg, body); code(err) != tt.code {
				t.Fatalf("replay: %v %v, want %s again", again, err, tt.code)
			}
			if after := me(t, c, id); after.Coins != before.Coins || after.BestScore != before.BestScore ||
				after.WeeklyBest != before.WeeklyBest || after.Exp != before.Exp {
				t.Fatalf("the refused settle changed the player: %+v -> %+v", before, after)
			}
			// Invalid input leaves the play open: a plausible settle still works. A
			// rejected play is settled, so the same settle is already_settled.
			want := ""
			if tt.code == oven.ERejected {
				want = oven.EAlreadySettled
			}
			ok := &ovenv1.SettlePlayRequest{PlayerId: id, PlayId: p.PlayId, Score: 100, Coins: 10, DurationMs: sane}
			if _, err := c.Game.SettlePlay(bg, ok); code(err) != want {
				t.Fatalf("plausible settle after it: %v, want %q", err, want)
			}
		})
	}
	checkWallet(t, c, id)
	var records int
	if err := c.DB.QueryRow(bg, `SELECT count(*) FROM play_records WHERE player_id = $1`, id).Scan(&records); err != nil {
		t.Fatal(err)
	}
	if records != len(tests) {
		t.Errorf("%d play records, want one per play (%d)", records, len(tests))
	}
}

// TestDevClockRefusesAnAdvanceThatOverflows: the dev clock's step is range-checked
// before it becomes a time.Duration, so a huge one cannot wrap into a step back.
func TestDevClockRefusesAnAdvanceThatOverflows(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{DevClock: true, Shards: 1})
	before, err := c.Game.AdvanceClock(bg, &ovenv1.AdvanceClockRequest{AdvanceMs: 0})
	if err != nil {
		t.Fatal(err)
	}
	for _, ms := range []int64{math.MaxInt64, math.MaxInt64/1_000_000 + 1, int64(401 * 24 * time.Hour / time.Millisecond)} {
		if _, err := c.Game.AdvanceClock(bg, &ovenv1.AdvanceClockRequest{AdvanceMs: ms}); code(err) != oven.EInvalid {
			t.Errorf("advance %d ms: %v, want invalid_argument", ms, err)
		}
	}
	after, err := c.Game.AdvanceClock(bg, &ovenv1.AdvanceClockRequest{AdvanceMs: 0})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Duration(after.NowMs-before.NowMs) * time.Millisecond; d < 0 || d > time.Minute {
		t.Errorf("the refused advances moved the clock by %v", d)
	}
}
