package audit_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ovengames/oven/application/leaderboard"
	"github.com/ovengames/oven/loadtest/audit"
	"github.com/ovengames/oven/loadtest/vp"
)

func TestDecodeRoundTripsAcrossTheWeek(t *testing.T) {
	seoul := time.FixedZone("KST", 9*3600)
	for _, at := range []time.Time{
		time.Date(2026, 11, 23, 0, 0, 0, 0, seoul),     // Monday 00:00, first second of the week
		time.Date(2026, 11, 29, 23, 59, 59, 0, seoul),  // Sunday, last second of the week
		time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), // midweek
	} {
		for _, score := range []int64{0, 1, 13999, 1<<33 - 1} {
			if got := leaderboard.Decode(leaderboard.Encode(score, at)); got != score {
				t.Errorf("Decode(Encode(%d, %v)) = %d", score, at, got)
			}
		}
	}
}

func TestCompareWeekly(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	enc := func(score int64) float64 { return leaderboard.Encode(score, at) }
	tests := []struct {
		name    string
		board   audit.Boards[float64]
		best    audit.Boards[int64]
		checked int64
		want    []string
	}{
		{
			name:    "agree",
			board:   audit.Boards[float64]{"2026-11-23": {"1": enc(900), "2": enc(0)}},
			best:    audit.Boards[int64]{"2026-11-23": {"1": 900, "2": 0}},
			checked: 2,
		},
		{
			name:    "board above the best accepted play (a rejected score got in)",
			board:   audit.Boards[float64]{"2026-11-23": {"1": enc(5000)}},
			best:    audit.Boards[int64]{"2026-11-23": {"1": 900}},
			checked: 1,
			want:    []string{"week 2026-11-23 player 1: 5000 on the board, best accepted play 900"},
		},
		{
			name:    "on the board without any accepted play",
			board:   audit.Boards[float64]{"2026-11-23": {"7": enc(10)}},
			best:    audit.Boards[int64]{},
			checked: 1,
			want:    []string{"week 2026-11-23 player 7: 10 on the board, no accepted play"},
		},
		{
			name:    "accepted best missing from the board",
			board:   audit.Boards[float64]{"2026-11-23": {}},
			best:    audit.Boards[int64]{"2026-11-23": {"3": 42}},
			checked: 1,
			want:    []string{"week 2026-11-23 player 3: best accepted play 42 is not on the board"},
		},
		{
			name:    "a whole week's board missing within retention",
			board:   audit.Boards[float64]{},
			best:    audit.Boards[int64]{"2026-11-16": {"3": 42}},
			checked: 1,
			want:    []string{"week 2026-11-16 player 3: best accepted play 42 is not on the board"},
		},
		{
			name:  "an expired week is not held against the board",
			board: audit.Boards[float64]{},
			best:  audit.Boards[int64]{"2026-09-07": {"3": 42}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checked, got := audit.CompareWeekly(tc.board, tc.best, "2026-10-19")
			if checked != tc.checked {
				t.Errorf("checked %d, want %d", checked, tc.checked)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSettledMatches(t *testing.T) {
	s := vp.Settled{PlayerID: "12", PlayID: "p", Score: 9000, Coins: 40, Accepted: true}
	row := audit.Recorded{PlayID: "p", PlayerID: 12, Score: 9000, Coins: 40, Outcome: "accepted"}
	tests := []struct {
		name  string
		s     vp.Settled
		row   audit.Recorded
		found bool
		want  string
	}{
		{"same", s, row, true, ""},
		{"lost", s, audit.Recorded{}, false, "acknowledged to the client but not in play_records"},
		{"other score", s, audit.Recorded{PlayID: "p", PlayerID: 12, Score: 1, Coins: 40, Outcome: "accepted"}, true,
			"client sent score 9000 coins 40, recorded 1 and 40"},
		{"rejected in SQL", s, audit.Recorded{PlayID: "p", PlayerID: 12, Score: 9000, Coins: 40, Outcome: "rejected:score_too_high"}, true,
			`client saw accepted=true, recorded "rejected:score_too_high"`},
		{"other player", s, audit.Recorded{PlayID: "p", PlayerID: 13, Score: 9000, Coins: 40, Outcome: "accepted"}, true,
			"recorded for player 13"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := audit.SettledMatches(tc.s, tc.row, tc.found); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLivesCount(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{{"3", 3, true}, {"-1", -1, true}, {"", 0, false}, {"x", 0, false}} {
		if got, ok := audit.LivesCount(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("LivesCount(%q) = %d, %v", tc.in, got, ok)
		}
	}
}

func TestClientOnlyFailsOnAClientViolation(t *testing.T) {
	res := audit.ClientOnly([]vp.Check{{Name: vp.CheckResettle, Checked: 10, Violations: 1}})
	if res.Pass || res.Checks[0].Status != audit.Fail {
		t.Errorf("a client-side violation passed: %+v", res)
	}
	if res := audit.ClientOnly([]vp.Check{{Name: vp.CheckResettle, Checked: 10}}); !res.Pass {
		t.Errorf("clean checks failed: %+v", res)
	}
}
