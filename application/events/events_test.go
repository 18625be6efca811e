package events

import (
	"strings"
	"testing"
	"time"

	"github.com/ovengames/oven/application/lives"
)

var t0 = time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)

func ev(kind string, from, to time.Duration, value int64) Event {
	return Event{ID: kind, Kind: kind, Title: kind, StartsAt: t0.Add(from), EndsAt: t0.Add(to), Value: value, ExpectedLoad: 1}
}

// A modifier applies from its start instant (included) to its end instant (excluded).
func TestModifiersApplyExactlyAtTheirEdges(t *testing.T) {
	base := lives.Rules{Max: 5, Regen: 30 * time.Minute}
	list := []Event{ev(KindInfiniteLives, 0, time.Hour, 0), ev(KindLivesMax, 0, time.Hour, 8), ev(KindLivesRegen, 0, time.Hour, 60)}
	for _, tc := range []struct {
		at   time.Duration
		want lives.Rules
	}{
		{-time.Millisecond, base},
		{0, lives.Rules{Max: 8, Regen: time.Minute, InfiniteUntil: t0.Add(time.Hour)}},
		{time.Hour - time.Millisecond, lives.Rules{Max: 8, Regen: time.Minute, InfiniteUntil: t0.Add(time.Hour)}},
		{time.Hour, base},
	} {
		now := t0.Add(tc.at)
		got := ModifierAt(list, now).Apply(base)
		if got != tc.want {
			t.Errorf("at %v: %+v, want %+v", tc.at, got, tc.want)
		}
		if got.Infinite(now) != (tc.want.InfiniteUntil != time.Time{}) {
			t.Errorf("at %v: Infinite = %v", tc.at, got.Infinite(now))
		}
	}
}

// Overlapping events: the highest maximum, the fastest regeneration, and infinite lives
// until the end of the whole chain of overlapping or adjoining infinite events.
func TestOverlappingEventsCombine(t *testing.T) {
	list := []Event{
		ev(KindLivesMax, 0, 2*time.Hour, 7), ev(KindLivesMax, time.Hour, 3*time.Hour, 9),
		ev(KindLivesRegen, 0, 2*time.Hour, 600), ev(KindLivesRegen, time.Hour, 3*time.Hour, 300),
		ev(KindInfiniteLives, 0, time.Hour, 0), ev(KindInfiniteLives, time.Hour, 2*time.Hour, 0),
		ev(KindInfiniteLives, 90*time.Minute, 4*time.Hour, 0), ev(KindInfiniteLives, 5*time.Hour, 6*time.Hour, 0),
	}
	m := ModifierAt(list, t0.Add(90*time.Minute))
	if m.Max != 9 || m.Regen != 5*time.Minute || !m.InfiniteUntil.Equal(t0.Add(4*time.Hour)) {
		t.Errorf("at 1h30: %+v", m)
	}
	if m := ModifierAt(list, t0.Add(30*time.Minute)); !m.InfiniteUntil.Equal(t0.Add(4 * time.Hour)) {
		t.Errorf("at 0h30: infinite until %v, want the chain's end (4h), not the next gap's", m.InfiniteUntil)
	}
}

// A cancelled event stops at its cancellation; one cancelled before its start never runs.
func TestCancelledEventsStopAtTheCancellation(t *testing.T) {
	e := ev(KindLivesMax, 0, time.Hour, 9)
	e.CancelledAt = t0.Add(10 * time.Minute)
	if !e.Applies(t0.Add(9*time.Minute)) || e.Applies(t0.Add(10*time.Minute)) {
		t.Error("a cancelled event applies past its cancellation")
	}
	if s := e.Status(t0.Add(time.Minute)); s != StatusCancelled {
		t.Errorf("status %s", s)
	}
	early := ev(KindInfiniteLives, time.Hour, 2*time.Hour, 0)
	early.CancelledAt = t0
	if m := ModifierAt([]Event{early}, t0.Add(90*time.Minute)); !m.InfiniteUntil.IsZero() {
		t.Errorf("an event cancelled before its start runs: %+v", m)
	}
}

func TestStatus(t *testing.T) {
	e := ev(KindInfiniteLives, time.Hour, 2*time.Hour, 0)
	for at, want := range map[time.Duration]string{0: StatusScheduled, time.Hour: StatusRunning, 2 * time.Hour: StatusEnded} {
		if got := e.Status(t0.Add(at)); got != want {
			t.Errorf("at %v: %s, want %s", at, got, want)
		}
	}
	push := Event{Kind: KindPush, StartsAt: t0.Add(time.Hour)}
	if push.Status(t0) != StatusScheduled || push.Status(t0.Add(time.Hour)) != StatusEnded {
		t.Errorf("push: %s then %s", push.Status(t0), push.Status(t0.Add(time.Hour)))
	}
}

func TestCheck(t *testing.T) {
	now := t0
	ok := []Event{
		ev(KindInfiniteLives, time.Hour, 2*time.Hour, 0),
		ev(KindLivesMax, -time.Hour, time.Hour, 10), // running already
		ev(KindLivesRegen, 0, time.Hour, 60),
		{Kind: KindPush, Title: "Come back", StartsAt: t0.Add(time.Hour), Message: "Lives are free this weekend", Audience: AudienceAll, ExpectedLoad: 50},
	}
	for _, e := range ok {
		if ps := Check(e, now); len(ps) > 0 {
			t.Errorf("%s: %v", e.Kind, ps)
		}
	}
	for name, tc := range map[string]struct {
		e    Event
		path string
	}{
		"no title":        {Event{Kind: KindInfiniteLives, StartsAt: t0, EndsAt: t0.Add(time.Hour), ExpectedLoad: 1}, "title"},
		"unknown kind":    {ev("double_coins", 0, time.Hour, 0), "kind"},
		"ends first":      {ev(KindInfiniteLives, time.Hour, 0, 0), "ends_at"},
		"already over":    {ev(KindInfiniteLives, -2*time.Hour, -time.Hour, 0), "ends_at"},
		"too long":        {ev(KindInfiniteLives, 0, 32*24*time.Hour, 0), "ends_at"},
		"no end":          {Event{Kind: KindLivesMax, Title: "x", StartsAt: t0, Value: 6, ExpectedLoad: 1}, "ends_at"},
		"too far ahead":   {ev(KindInfiniteLives, 400*24*time.Hour, 401*24*time.Hour, 0), "starts_at"},
		"max 0":           {ev(KindLivesMax, 0, time.Hour, 0), "value"},
		"max 101":         {ev(KindLivesMax, 0, time.Hour, 101), "value"},
		"regen 0":         {ev(KindLivesRegen, 0, time.Hour, 0), "value"},
		"push no message": {Event{Kind: KindPush, Title: "x", StartsAt: t0.Add(time.Hour), Audience: AudienceAll, ExpectedLoad: 1}, "message"},
		"push audience":   {Event{Kind: KindPush, Title: "x", StartsAt: t0.Add(time.Hour), Message: "m", Audience: "whales", ExpectedLoad: 1}, "audience"},
		"push in the past": {Event{Kind: KindPush, Title: "x", StartsAt: t0.Add(-time.Hour), Message: "m", Audience: AudienceAll,
			ExpectedLoad: 1}, "starts_at"},
		"message on a modifier": {Event{Kind: KindInfiniteLives, Title: "x", StartsAt: t0, EndsAt: t0.Add(time.Hour), Message: "m",
			ExpectedLoad: 1}, "message"},
		"load below 1": {Event{Kind: KindInfiniteLives, Title: "x", StartsAt: t0, EndsAt: t0.Add(time.Hour)}, "expected_load"},
		"long title":   {Event{Kind: KindInfiniteLives, Title: strings.Repeat("x", 101), StartsAt: t0, EndsAt: t0.Add(time.Hour), ExpectedLoad: 1}, "title"},
	} {
		ps := Check(tc.e, now)
		if len(ps) != 1 || ps[0].Path != tc.path {
			t.Errorf("%s: problems %v, want one at %s", name, ps, tc.path)
		}
	}
}
