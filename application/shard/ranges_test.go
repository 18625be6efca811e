package shard_test

import (
	"math"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

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
	// Step by step, the clock stops short of its furthest offset instead of wrapping.
	step := int64(400 * 24 * time.Hour / time.Millisecond)
	steps := 0
	for ; steps < 100; steps++ {
		_, err := c.Game.AdvanceClock(bg, &ovenv1.AdvanceClockRequest{AdvanceMs: step})
		if code(err) == oven.EInvalid {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	end, err := c.Game.AdvanceClock(bg, &ovenv1.AdvanceClockRequest{AdvanceMs: 0})
	if err != nil {
		t.Fatal(err)
	}
	ahead := time.Duration(end.NowMs-after.NowMs) * time.Millisecond
	if steps != 91 || ahead < 99*365*24*time.Hour || ahead > 100*365*24*time.Hour {
		t.Errorf("%d steps of 400 days went %v ahead; want 91 steps, refused before 100 years", steps, ahead)
	}
}

// rawCodec sends bytes as they are, so that a test can put on the wire what no
// protobuf-go client would: a string that is not UTF-8.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

// TestTextThatIsNotUTF8IsInvalidArgument is issue 10's invalid UTF-8 at the shards: a
// string that protobuf refuses is invalid_argument, not internal, whether the routing
// client could not encode it or another client put it on the wire, and nothing changes.
func TestTextThatIsNotUTF8IsInvalidArgument(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{Shards: 1})
	id := guest(t, c, "device-utf8")
	count := func() (n int) {
		if err := c.DB.QueryRow(bg, `SELECT count(*) FROM players`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	players := count()

	// Through the routing client (as the presentation tier calls).
	for name, call := range map[string]func() error{
		"guest": func() error {
			_, err := c.Game.AuthGuest(bg, &ovenv1.AuthGuestRequest{DeviceId: "device-\xff\xfe-0001"})
			return err
		},
		"me": func() error { _, err := c.Game.GetMe(bg, &ovenv1.PlayerRequest{PlayerId: "\xff\xfe"}); return err },
		"rename": func() error {
			_, err := c.Game.UpdateMe(bg, &ovenv1.UpdateMeRequest{PlayerId: id, Name: "Bo\xc3"})
			return err
		},
		"accept": func() error {
			_, err := c.Game.AcceptMail(bg, &ovenv1.AcceptMailRequest{PlayerId: id, MailId: "\xff\xfe"})
			return err
		},
	} {
		if err := call(); code(err) != oven.EInvalid {
			t.Errorf("%s: %v, want invalid_argument", name, err)
		}
	}

	// Straight onto the wire: AuthGuestRequest{device_id: "device-\xff\xfe-0001"}.
	conn, err := grpc.NewClient(c.Members[0].Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "device-\xff\xfe-0001")
	var resp []byte
	err = conn.Invoke(bg, ovenv1.Game_AuthGuest_FullMethodName, &req, &resp, grpc.ForceCodecV2(rawCodec{}))
	if status.Code(err) != codes.InvalidArgument || code(err) != oven.EInvalid {
		t.Errorf("raw AuthGuest: %v, want InvalidArgument with invalid_argument", err)
	}
	if n := count(); n != players {
		t.Errorf("%d players, want %d: refused calls created one", n, players)
	}
	if p := me(t, c, id); p.Name == "Bo\uFFFD" {
		t.Errorf("rename went through as %q", p.Name)
	}
}
