package leaderboard_test

import (
	"testing"
	"time"

	"github.com/ovengames/oven/application/leaderboard"
)

func TestWeekOf(t *testing.T) {
	tests := []struct {
		name string
		at   string
		want string
	}{
		{"monday 00:00 Seoul is the new week", "2026-11-22T15:00:00Z", "2026-11-23"},
		{"a second before is the old week", "2026-11-22T14:59:59Z", "2026-11-16"},
		{"sunday evening Seoul", "2026-11-29T14:00:00Z", "2026-11-23"},
		{"wednesday", "2026-11-25T03:00:00Z", "2026-11-23"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, _ := time.Parse(time.RFC3339, tt.at)
			if got := leaderboard.WeekOf(at).ID; got != tt.want {
				t.Errorf("WeekOf(%s) = %s, want %s", tt.at, got, tt.want)
			}
		})
	}
}

func TestEncodeOrdersByScoreThenEarliest(t *testing.T) {
	mon := time.Date(2026, 11, 23, 0, 0, 0, 0, time.FixedZone("KST", 9*3600))
	early, late := mon.Add(time.Hour), mon.Add(50*time.Hour)
	if !(leaderboard.Encode(100, early) > leaderboard.Encode(100, late)) {
		t.Error("equal scores: the earlier must rank higher")
	}
	if !(leaderboard.Encode(101, late) > leaderboard.Encode(100, early)) {
		t.Error("a higher score must rank higher whenever it came")
	}
	for _, s := range []int64{0, 1, 123456789, 1<<33 - 1} {
		if got := leaderboard.Decode(leaderboard.Encode(s, late)); got != s {
			t.Errorf("round trip %d -> %d", s, got)
		}
	}
}
