// Package events is the live-operations calendar: timed life modifiers for every player
// (infinite lives, a raised maximum, faster regeneration) and push campaigns, scheduled
// by operators from the GMS and stored in PostgreSQL (live_events).
//
// A modifier costs no write per player. Every shard keeps the calendar in memory
// (Calendar, refreshed every second) and computes the life rules of each call at the
// call's instant on the game clock (Calendar.Rules), so a modifier applies exactly from
// its start to its end, and an operator's change reaches every shard within the refresh
// interval.
package events

import (
	"time"

	"github.com/ovengames/oven/application/lives"
)

// Event kinds.
const (
	KindInfiniteLives = "infinite_lives" // plays take no life
	KindLivesMax      = "lives_max"      // Value: the maximum lives
	KindLivesRegen    = "lives_regen"    // Value: seconds per regenerated life
	KindPush          = "push"           // a campaign: Message to Audience at StartsAt
)

// Push audiences.
const (
	AudienceAll       = "all"
	AudienceLivesFull = "lives_full"
)

// Statuses, as the GMS shows them.
const (
	StatusScheduled = "scheduled"
	StatusRunning   = "running"
	StatusEnded     = "ended"
	StatusCancelled = "cancelled"
)

// Event is one calendar entry. Times are on the game clock.
type Event struct {
	ID       string
	Kind     string
	Title    string
	StartsAt time.Time
	EndsAt   time.Time // zero for a push sent at StartsAt
	Value    int64
	Message  string
	Audience string
	// ExpectedLoad is the traffic the event is expected to bring, as a multiple of normal
	// (≥ 1; above 1 asks for pre-warming).
	ExpectedLoad float64
	CancelledAt  time.Time // zero unless cancelled
	CreatedBy    string
	UpdatedBy    string
}

// End is when the event stops applying: its end, or its cancellation if earlier. A push
// without an end ends when it is sent.
func (e Event) End() time.Time {
	end := e.EndsAt
	if end.IsZero() {
		end = e.StartsAt
	}
	if !e.CancelledAt.IsZero() && e.CancelledAt.Before(end) {
		end = e.CancelledAt
	}
	return end
}

// Applies reports whether the event is in force at now: from StartsAt (included) to
// End (excluded).
func (e Event) Applies(now time.Time) bool {
	return !now.Before(e.StartsAt) && now.Before(e.End())
}

// Status is the event's status at now.
func (e Event) Status(now time.Time) string {
	switch {
	case !e.CancelledAt.IsZero():
		return StatusCancelled
	case !now.Before(e.End()): // a push without an end ends when it is sent
		return StatusEnded
	case !now.Before(e.StartsAt):
		return StatusRunning
	}
	return StatusScheduled
}

// Over reports whether the event can no longer change: ended or cancelled.
func (e Event) Over(now time.Time) bool {
	s := e.Status(now)
	return s == StatusEnded || s == StatusCancelled
}

// Modifier is what the events in force at one instant change in the life rules.
type Modifier struct {
	// InfiniteUntil is when infinite lives stop (zero: not in force). Overlapping and
	// back-to-back infinite-lives events count as one stretch.
	InfiniteUntil time.Time
	Max           int64         // 0: the game data's; else the highest lives_max in force
	Regen         time.Duration // 0: the game data's; else the fastest lives_regen in force
}

// ModifierAt folds the events in force at now.
func ModifierAt(list []Event, now time.Time) Modifier {
	var m Modifier
	for _, e := range list {
		if !e.Applies(now) {
			continue
		}
		switch e.Kind {
		case KindInfiniteLives:
			if e.End().After(m.InfiniteUntil) {
				m.InfiniteUntil = e.End()
			}
		case KindLivesMax:
			m.Max = max(m.Max, e.Value)
		case KindLivesRegen:
			if d := time.Duration(e.Value) * time.Second; m.Regen == 0 || d < m.Regen {
				m.Regen = d
			}
		}
	}
	// An infinite stretch continues into any infinite event that starts before it ends.
	for grew := !m.InfiniteUntil.IsZero(); grew; {
		grew = false
		for _, e := range list {
			if e.Kind == KindInfiniteLives && !e.StartsAt.After(m.InfiniteUntil) && e.End().After(m.InfiniteUntil) {
				m.InfiniteUntil, grew = e.End(), true
			}
		}
	}
	return m
}

// Apply returns base with the modifier applied.
func (m Modifier) Apply(base lives.Rules) lives.Rules {
	r := base
	if m.Max > 0 {
		r.Max = m.Max
	}
	if m.Regen > 0 {
		r.Regen = m.Regen
	}
	r.InfiniteUntil = m.InfiniteUntil
	return r
}
