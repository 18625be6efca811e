package prewarm_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ovengames/oven/application/events"
	"github.com/ovengames/oven/application/prewarm"
)

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

// scaler records the floors set.
type scaler struct {
	floors []int
	fail   error
}

func (s *scaler) SetFloor(_ context.Context, n int) error {
	if s.fail != nil {
		return s.fail
	}
	s.floors = append(s.floors, n)
	return nil
}

func (s *scaler) Current(context.Context) (int, error) {
	if len(s.floors) == 0 {
		return 1, nil
	}
	return s.floors[len(s.floors)-1], nil
}

type fixture struct {
	clock   *clock
	scaler  *scaler
	load    float64
	events  []events.Event
	sending []prewarm.Sending
	c       *prewarm.Controller
}

var t0 = time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC)

func newFixture(leader bool) *fixture {
	f := &fixture{clock: &clock{t0}, scaler: &scaler{}}
	f.c = prewarm.New(prewarm.Deps{
		Scaler:  f.scaler,
		Events:  func() []events.Event { return f.events },
		Sending: func(context.Context, time.Time) ([]prewarm.Sending, error) { return f.sending, nil },
		Load:    func(context.Context) (float64, error) { return f.load, nil },
		Leader:  func() bool { return leader },
		Clock:   f.clock,
	}, prewarm.Config{Base: 2, Max: 12, CopyRPS: 100})
	return f
}

// at ticks at t0+d and returns the status.
func (f *fixture) at(t *testing.T, d time.Duration) prewarm.Status {
	t.Helper()
	f.clock.t = t0.Add(d)
	st, err := f.c.Tick(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (f *fixture) want(t *testing.T, d time.Duration, floor int) prewarm.Status {
	t.Helper()
	st := f.at(t, d)
	if st.Floor != floor {
		t.Fatalf("at %v the floor is %d (%s), want %d", d, st.Floor, st.Reason, floor)
	}
	return st
}

// A scheduled event raises the floor its lead ahead, holds it 30 minutes after its
// start, and lets it fall only once the load was quiet for 10 minutes.
func TestFloorAroundAScheduledEvent(t *testing.T) {
	f := newFixture(true)
	f.events = []events.Event{{ID: "e1", Kind: events.KindInfiniteLives, Title: "Weekend", StartsAt: t0.Add(time.Hour),
		EndsAt: t0.Add(49 * time.Hour), ExpectedLoad: 4}}
	st := f.want(t, 0, 2)
	if len(st.Upcoming) != 1 || st.Upcoming[0] != (prewarm.Raise{EventID: "e1", At: t0.Add(50 * time.Minute), Floor: 8}) {
		t.Fatalf("upcoming %+v, want e1 at its start minus 10 minutes to 8", st.Upcoming)
	}
	f.want(t, 49*time.Minute, 2)
	st = f.want(t, 50*time.Minute, 8) // base 2 × load 4
	if st.Until != t0.Add(90*time.Minute) || len(st.Upcoming) != 0 {
		t.Fatalf("until %v upcoming %v, want 30 minutes after the start and none", st.Until, st.Upcoming)
	}
	f.load = 500 // the crowd came, and stays past the hold
	f.want(t, 85*time.Minute, 8)
	f.load = 50
	f.want(t, 91*time.Minute, 8) // the hold is over but the load was busy 6 minutes ago
	st = f.want(t, 94*time.Minute, 8)
	if st.Until != t0.Add(95*time.Minute) {
		t.Fatalf("holding until %v, want 10 quiet minutes after the last busy tick", st.Until)
	}
	f.want(t, 95*time.Minute, 2)
	if want := []int{2, 8, 2}; !slices.Equal(f.scaler.floors, want) {
		t.Fatalf("floors set %v, want %v", f.scaler.floors, want)
	}
}

// A campaign that starts sending unannounced raises the floor at once; a push event
// that names no load still counts as a crowd.
func TestFloorRisesAtOnceWhenACampaignStartsSending(t *testing.T) {
	f := newFixture(true)
	f.want(t, 0, 2)
	f.sending = []prewarm.Sending{{EventID: "b1", Title: "Come back", Since: t0.Add(time.Minute), Load: 1}}
	st := f.want(t, time.Minute, 12) // base 2 × the default campaign load 10, capped at 12
	if st.Reason == "" || st.Until != t0.Add(31*time.Minute) {
		t.Fatalf("reason %q until %v", st.Reason, st.Until)
	}
	f.want(t, 31*time.Minute, 2) // quiet all along
}

// An event cancelled before it began asks for nothing; only the leader moves the floor,
// though every shard knows the plan.
func TestCancelledEventsAndFollowers(t *testing.T) {
	f := newFixture(false)
	f.events = []events.Event{
		{ID: "c", Kind: events.KindLivesMax, StartsAt: t0.Add(5 * time.Minute), ExpectedLoad: 3, CancelledAt: t0},
		{ID: "p", Kind: events.KindPush, StartsAt: t0.Add(5 * time.Minute), ExpectedLoad: 2},
	}
	f.want(t, 0, 12)
	if len(f.scaler.floors) != 0 {
		t.Fatalf("a follower set floors %v", f.scaler.floors)
	}
}

// A scaler that fails is retried on the next tick; the decision stands.
func TestFailedScalerIsRetried(t *testing.T) {
	f := newFixture(true)
	f.scaler.fail = errors.New("apiserver down")
	f.clock.t = t0
	if _, err := f.c.Tick(context.Background()); err == nil {
		t.Fatal("a failed SetFloor was not reported")
	}
	f.scaler.fail = nil
	f.want(t, time.Second, 2)
	if !slices.Equal(f.scaler.floors, []int{2}) {
		t.Fatalf("floors %v, want the base floor set once the scaler answers", f.scaler.floors)
	}
}
