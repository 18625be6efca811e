// Package prewarm raises the presentation tier's floor before the crowd comes: a lead
// time (default 10 minutes) before every calendar event that expects load, at once when
// a push campaign starts sending, and it lets the floor fall only after the event's
// hold (default 30 minutes after its start) and once the load has been quiet for a
// while (default 10 minutes). Everything runs on the game clock.
//
// Every shard runs a Controller, so every shard can answer GET /gms/api/capacity; only
// the one that owns slot 0 (one shard at a time, fenced like any owner) moves the
// floor through its Scaler.
package prewarm

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/events"
	"github.com/ovengames/oven/application/periodic"
)

// Config tunes a Controller; the zero value of each field means its default.
type Config struct {
	Base int // the floor without events (default 1)
	Max  int // the highest floor (default 8)
	// Lead is how long before an event's start the floor rises (default 10 min).
	Lead time.Duration
	// Hold is how long after an event's start the floor stays (default 30 min).
	Hold time.Duration
	// Quiet is how long the load must stay quiet before the floor falls (default 10 min).
	Quiet time.Duration
	// CopyRPS is the requests per second one copy carries: the load is quiet while it
	// stays within Base × CopyRPS (default 500).
	CopyRPS float64
	// CampaignLoad is the load a push campaign brings when its event names none
	// (expected_load 1): every campaign brings players back (default 10).
	CampaignLoad float64
}

func (c *Config) defaults() {
	if c.Base < 1 {
		c.Base = 1
	}
	if c.Max < c.Base {
		c.Max = max(8, c.Base)
	}
	if c.Lead <= 0 {
		c.Lead = 10 * time.Minute
	}
	if c.Hold <= 0 {
		c.Hold = 30 * time.Minute
	}
	if c.Quiet <= 0 {
		c.Quiet = 10 * time.Minute
	}
	if c.CopyRPS <= 0 {
		c.CopyRPS = 500
	}
	if c.CampaignLoad <= 1 {
		c.CampaignLoad = 10
	}
}

// Sending is a push campaign that started sending (the push sender's signal).
type Sending struct {
	EventID string
	Title   string
	Since   time.Time // game clock
	Load    float64   // its expected load (1: none named)
}

// Deps are what a Controller reads and moves.
type Deps struct {
	Scaler Scaler // nil: plan only (no tier to scale, e.g. one process)
	// Events are the calendar's events (events.Calendar.Events).
	Events func() []events.Event
	// Sending lists the campaigns that started sending at or after since (nil: none).
	Sending func(ctx context.Context, since time.Time) ([]Sending, error)
	// Load is the tier's requests per second now.
	Load func(ctx context.Context) (float64, error)
	// Leader reports whether this shard moves the floor (it owns slot 0).
	Leader func() bool
	Clock  oven.Clock
	Log    *slog.Logger
}

// Raise is a planned raise of the floor.
type Raise struct {
	EventID string
	At      time.Time
	Floor   int
}

// Status is the floor in force and the raises planned.
type Status struct {
	Floor    int
	Current  int // copies running, -1 when the scaler did not say
	Reason   string
	Until    time.Time // the earliest the floor may fall; zero at the base floor
	Upcoming []Raise
}

// Controller decides the floor and, as leader, applies it.
type Controller struct {
	cfg Config
	d   Deps

	mu       sync.Mutex
	status   Status
	lastBusy time.Time // game time the load was last above quiet
	applied  int       // the floor last applied (0: none yet)
}

// New returns a Controller.
func New(d Deps, cfg Config) *Controller {
	cfg.defaults()
	return &Controller{cfg: cfg, d: d, status: Status{Floor: cfg.Base, Current: -1, Reason: "base floor"}}
}

// need is one reason to hold a floor over [from, to).
type need struct {
	eventID, title string
	from, to       time.Time
	floor          int
}

// floorFor is the floor a load multiple asks for, within [Base, Max].
func (c *Controller) floorFor(load float64) int {
	return min(c.cfg.Max, max(c.cfg.Base, int(math.Ceil(float64(c.cfg.Base)*load))))
}

// needs are the calendar's reasons, and the campaigns sending.
func (c *Controller) needs(evs []events.Event, sending []Sending) []need {
	var out []need
	for _, e := range evs {
		load := e.ExpectedLoad
		if e.Kind == events.KindPush {
			load = max(load, c.cfg.CampaignLoad)
		}
		if load <= 1 || !e.CancelledAt.IsZero() && !e.CancelledAt.After(e.StartsAt) {
			continue // no crowd expected, or cancelled before it began
		}
		out = append(out, need{e.ID, e.Title, e.StartsAt.Add(-c.cfg.Lead), e.StartsAt.Add(c.cfg.Hold), c.floorFor(load)})
	}
	for _, s := range sending {
		out = append(out, need{s.EventID, s.Title, s.Since, s.Since.Add(c.cfg.Hold), c.floorFor(max(s.Load, c.cfg.CampaignLoad))})
	}
	return out
}

// Tick decides the floor at now and, as leader, applies it. It returns the status.
func (c *Controller) Tick(ctx context.Context) (Status, error) {
	now := c.d.Clock.Now()
	var sending []Sending
	var err error
	if c.d.Sending != nil {
		if sending, err = c.d.Sending(ctx, now.Add(-c.cfg.Hold)); err != nil {
			return c.Status(), fmt.Errorf("prewarm: campaigns sending: %w", err)
		}
	}
	needs := c.needs(c.d.Events(), sending)
	load, lerr := c.d.Load(ctx)
	c.mu.Lock()
	if lerr != nil || load > float64(c.cfg.Base)*c.cfg.CopyRPS {
		c.lastBusy = now // an unknown load is not a quiet one
	}
	st := c.decide(needs, now)
	c.mu.Unlock()
	switch {
	case c.d.Scaler == nil:
	case c.d.Leader == nil || c.d.Leader():
		err = c.apply(ctx, st)
	default:
		c.mu.Lock()
		c.applied = 0 // leading again later, apply at once
		c.mu.Unlock()
	}
	if c.d.Scaler != nil {
		if cur, cerr := c.d.Scaler.Current(ctx); cerr == nil {
			st.Current = cur
		}
	}
	c.mu.Lock()
	c.status = st
	c.mu.Unlock()
	if lerr != nil && err == nil {
		err = fmt.Errorf("prewarm: load: %w", lerr)
	}
	return st, err
}

// decide computes the status at now; c.mu is held.
func (c *Controller) decide(needs []need, now time.Time) Status {
	st := Status{Floor: c.cfg.Base, Current: -1, Reason: "base floor"}
	var active []string
	for _, n := range needs {
		switch {
		case n.from.After(now):
			st.Upcoming = append(st.Upcoming, Raise{EventID: n.eventID, At: n.from, Floor: n.floor})
		case now.Before(n.to):
			if why := fmt.Sprintf("%s (%s)", n.title, n.eventID); !slices.Contains(active, why) {
				active = append(active, why) // a campaign is both on the calendar and sending
			}
			st.Floor = max(st.Floor, n.floor)
			st.Until = later(st.Until, n.to)
		}
	}
	slices.SortFunc(st.Upcoming, func(a, b Raise) int { return a.At.Compare(b.At) })
	if len(active) > 0 {
		st.Reason = "event: " + strings.Join(active, ", ")
	}
	held := c.status.Floor
	quietSince := c.lastBusy.Add(c.cfg.Quiet)
	if st.Floor < held && now.Before(quietSince) {
		st.Floor, st.Until = held, later(st.Until, quietSince)
		st.Reason = fmt.Sprintf("holding until the load has been quiet for %s", c.cfg.Quiet)
	}
	if st.Floor == c.cfg.Base {
		st.Until = time.Time{}
	}
	return st
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// apply sets the floor through the scaler when it changed (or was never set).
func (c *Controller) apply(ctx context.Context, st Status) error {
	floor := st.Floor
	c.mu.Lock()
	same := c.applied == floor
	c.mu.Unlock()
	if same {
		return nil
	}
	if err := c.d.Scaler.SetFloor(ctx, floor); err != nil {
		return fmt.Errorf("prewarm: set floor %d: %w", floor, err)
	}
	c.mu.Lock()
	c.applied = floor
	c.mu.Unlock()
	if c.d.Log != nil {
		c.d.Log.Info("presentation floor set", "floor", floor, "reason", st.Reason)
	}
	return nil
}

// Status is the last decision.
func (c *Controller) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.status
	st.Upcoming = slices.Clone(st.Upcoming)
	return st
}

// Run ticks every interval until ctx ends.
func (c *Controller) Run(ctx context.Context, interval time.Duration) {
	periodic.Run(ctx, interval, interval+10*time.Second, c.d.Log, "prewarm tick", func(ctx context.Context) error {
		_, err := c.Tick(ctx)
		return err
	})
}
