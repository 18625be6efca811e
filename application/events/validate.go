package events

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/gamedata"
)

// Check reports every problem of e as an event scheduled or changed at now (none means
// valid). An event must not have ended already; a push needs a message and sends at
// StartsAt (its EndsAt is optional).
func Check(e Event, now time.Time) []gamedata.Problem {
	var ps []gamedata.Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, gamedata.Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	if n := utf8.RuneCountInString(e.Title); n < 1 || n > 100 || !utf8.ValidString(e.Title) {
		add("title", "must be 1-100 characters")
	}
	if e.StartsAt.IsZero() {
		add("starts_at", "is required")
	} else if e.StartsAt.After(now.Add(oven.MaxEventLead)) {
		add("starts_at", "must be within %d days", int64(oven.MaxEventLead/(24*time.Hour)))
	}
	if e.Kind != KindPush && e.EndsAt.IsZero() {
		add("ends_at", "is required")
	}
	if !e.EndsAt.IsZero() && !e.StartsAt.IsZero() {
		switch d := e.EndsAt.Sub(e.StartsAt); {
		case d <= 0:
			add("ends_at", "must be after starts_at")
		case d > oven.MaxEventDuration:
			add("ends_at", "must be at most %d days after starts_at", int64(oven.MaxEventDuration/(24*time.Hour)))
		case !e.EndsAt.After(now):
			add("ends_at", "must be in the future")
		}
	}
	switch e.Kind {
	case KindInfiniteLives:
	case KindLivesMax:
		if e.Value < 1 || e.Value > oven.MaxEventLives {
			add("value", "must be the new maximum lives, 1-%d", oven.MaxEventLives)
		}
	case KindLivesRegen:
		if e.Value < 1 || e.Value > oven.MaxEventRegen {
			add("value", "must be the seconds per regenerated life, 1-%d", oven.MaxEventRegen)
		}
	case KindPush:
		if n := len(e.Message); n < 1 || n > 200 || !utf8.ValidString(e.Message) {
			add("message", "must be 1-200 bytes")
		}
		if e.Audience != AudienceAll && e.Audience != AudienceLivesFull {
			add("audience", "must be %q or %q", AudienceAll, AudienceLivesFull)
		}
		if e.EndsAt.IsZero() && !e.StartsAt.IsZero() && e.StartsAt.Before(now.Add(-oven.PushSendGrace)) {
			add("starts_at", "a push's send time must not be in the past")
		}
	default:
		add("kind", "must be one of %s, %s, %s, %s", KindInfiniteLives, KindLivesMax, KindLivesRegen, KindPush)
	}
	if e.Kind != KindPush && e.Message != "" {
		add("message", "only a push has a message")
	}
	if e.ExpectedLoad < 1 || e.ExpectedLoad > oven.MaxExpectedLoad {
		add("expected_load", "must be 1-%g (a multiple of normal traffic)", oven.MaxExpectedLoad)
	}
	return ps
}
