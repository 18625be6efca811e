package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/gamedata"
	"github.com/ovengames/oven/application/lives"
	"github.com/ovengames/oven/application/periodic"
)

// Audit writes the audit row of a change inside its transaction (before is nil for a
// new event).
type Audit func(ctx context.Context, tx pgx.Tx, before, after *Event) error

// Problems is the error of a change that did not validate: nothing was written.
type Problems []gamedata.Problem

func (p Problems) Error() string { return fmt.Sprintf("events: %d problems", len(p)) }

// Calendar is the events in PostgreSQL and a copy in memory that Rules reads.
type Calendar struct {
	db   *pgxpool.Pool
	list atomic.Pointer[[]Event]
}

// NewCalendar returns the calendar of db (empty until Refresh).
func NewCalendar(db *pgxpool.Pool) *Calendar {
	c := &Calendar{db: db}
	c.list.Store(&[]Event{})
	return c
}

const columns = `event_id, kind, title, starts_at, ends_at, value, message, audience, expected_load,
	cancelled_at, created_by, updated_by`

func scan(r pgx.CollectableRow) (Event, error) {
	var e Event
	var ends, cancelled *time.Time
	err := r.Scan(&e.ID, &e.Kind, &e.Title, &e.StartsAt, &ends, &e.Value, &e.Message, &e.Audience,
		&e.ExpectedLoad, &cancelled, &e.CreatedBy, &e.UpdatedBy)
	if ends != nil {
		e.EndsAt = *ends
	}
	if cancelled != nil {
		e.CancelledAt = *cancelled
	}
	e.StartsAt = e.StartsAt.UTC()
	e.EndsAt, e.CancelledAt = e.EndsAt.UTC(), e.CancelledAt.UTC()
	return e, err
}

// querier is the pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func query(ctx context.Context, q querier, where string, args ...any) ([]Event, error) {
	rows, err := q.Query(ctx, `SELECT `+columns+` FROM live_events `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	return pgx.CollectRows(rows, scan)
}

// List returns the most recent events (by start), newest first.
func (c *Calendar) List(ctx context.Context) ([]Event, error) {
	return query(ctx, c.db, `ORDER BY starts_at DESC, event_id DESC LIMIT 500`)
}

// Get returns one event; ErrNotFound when the calendar does not hold it.
func (c *Calendar) Get(ctx context.Context, id string) (Event, error) {
	list, err := query(ctx, c.db, `WHERE event_id = $1`, id)
	if err != nil {
		return Event{}, err
	}
	if len(list) == 0 {
		return Event{}, ErrNotFound
	}
	return list[0], nil
}

// Refresh reloads the events that still matter at now: those not over for more than a
// day (a dev clock may step back that far), soonest first.
func (c *Calendar) Refresh(ctx context.Context, now time.Time) error {
	list, err := query(ctx, c.db, `WHERE coalesce(least(ends_at, cancelled_at), ends_at, starts_at) > $1
		ORDER BY starts_at, event_id LIMIT 1000`, now.Add(-24*time.Hour))
	if err != nil {
		return err
	}
	c.list.Store(&list)
	return nil
}

// Run refreshes every interval until ctx ends: a change made through another shard
// applies here within the interval. A failed refresh keeps the last list.
func (c *Calendar) Run(ctx context.Context, interval time.Duration, clock oven.Clock, log *slog.Logger) {
	periodic.Run(ctx, interval, interval+2*time.Second, log, "event calendar refresh", func(ctx context.Context) error {
		return c.Refresh(ctx, clock.Now())
	})
}

// Events returns the events in memory, soonest first.
func (c *Calendar) Events() []Event { return *c.list.Load() }

// LifeRules returns the source of the life rules in force at an instant that every
// service reading or changing lives takes: the game data's (doc), as the events change
// them.
func (c *Calendar) LifeRules(doc func() *gamedata.Document) func(now time.Time) lives.Rules {
	return func(now time.Time) lives.Rules {
		d := doc()
		return ModifierAt(c.Events(), now).Apply(lives.Rules{Max: d.Lives.Max, Regen: oven.Seconds(d.Lives.RegenSeconds)})
	}
}

// Upcoming returns the player-visible events running at now or starting within
// horizon, soonest first (push campaigns are not listed).
func (c *Calendar) Upcoming(now time.Time, horizon time.Duration) []Event {
	return slices.DeleteFunc(slices.Clone(c.Events()), func(e Event) bool {
		return e.Kind == KindPush || e.Over(now) || e.StartsAt.After(now.Add(horizon))
	})
}

// Create stores e (its ID, CreatedBy and UpdatedBy set here) with its audit row, after
// Check at now; Problems when it does not validate.
func (c *Calendar) Create(ctx context.Context, e Event, by string, now time.Time, audit Audit) (Event, error) {
	err := pgx.BeginFunc(ctx, c.db, func(tx pgx.Tx) error {
		var err error
		if e, err = Insert(ctx, tx, e, by, now); err != nil {
			return err
		}
		return audit(ctx, tx, nil, &e)
	})
	var ps Problems
	if errors.As(err, &ps) {
		return Event{}, ps
	}
	if err != nil {
		return Event{}, fmt.Errorf("events: create: %w", err)
	}
	return e, c.Refresh(ctx, now)
}

// Insert stores e in tx (the transaction of its cause: an audited GMS change) after
// Check at now, and returns it with its ID, CreatedBy and UpdatedBy set; Problems when it
// does not validate. Shards see it at their next refresh.
func Insert(ctx context.Context, tx pgx.Tx, e Event, by string, now time.Time) (Event, error) {
	if e.Audience == "" {
		e.Audience = AudienceAll
	}
	if e.ExpectedLoad == 0 {
		e.ExpectedLoad = 1
	}
	if ps := Check(e, now); len(ps) > 0 {
		return Event{}, Problems(ps)
	}
	e.ID, e.CreatedBy, e.UpdatedBy = oven.NewID(time.Now()), by, by
	_, err := tx.Exec(ctx, `INSERT INTO live_events (event_id, kind, title, starts_at, ends_at, value, message,
		audience, expected_load, created_by, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)`,
		e.ID, e.Kind, e.Title, e.StartsAt, nullTime(e.EndsAt), e.Value, e.Message, e.Audience, e.ExpectedLoad, by)
	return e, err
}

// ErrNotFound is the error for an unknown event id.
var ErrNotFound = oven.Errorf(oven.ENotFound, "no such event")

// Update changes the event id with change, unless it is over at now, and stores it with
// its audit row after Check; Problems when the result does not validate.
func (c *Calendar) Update(ctx context.Context, id, by string, now time.Time, change func(*Event), audit Audit) (Event, error) {
	var after Event
	err := pgx.BeginFunc(ctx, c.db, func(tx pgx.Tx) error {
		before, err := c.lock(ctx, tx, id, now)
		if err != nil {
			return err
		}
		after = before
		change(&after)
		after.ID, after.UpdatedBy = id, by
		if ps := Check(after, now); len(ps) > 0 {
			return Problems(ps)
		}
		_, err = tx.Exec(ctx, `UPDATE live_events SET kind = $2, title = $3, starts_at = $4, ends_at = $5, value = $6,
			message = $7, audience = $8, expected_load = $9, updated_by = $10, updated_at = now() WHERE event_id = $1`,
			id, after.Kind, after.Title, after.StartsAt, nullTime(after.EndsAt), after.Value, after.Message,
			after.Audience, after.ExpectedLoad, by)
		if err != nil {
			return err
		}
		return audit(ctx, tx, &before, &after)
	})
	if err != nil {
		return Event{}, fmt.Errorf("events: update: %w", err)
	}
	return after, c.Refresh(ctx, now)
}

// Cancel ends the event id at now (one not started yet never runs), with its audit row.
func (c *Calendar) Cancel(ctx context.Context, id, by string, now time.Time, audit Audit) (Event, error) {
	var after Event
	err := pgx.BeginFunc(ctx, c.db, func(tx pgx.Tx) error {
		before, err := c.lock(ctx, tx, id, now)
		if err != nil {
			return err
		}
		after = before
		after.CancelledAt, after.UpdatedBy = now, by
		if _, err := tx.Exec(ctx, `UPDATE live_events SET cancelled_at = $2, updated_by = $3, updated_at = now()
			WHERE event_id = $1`, id, now, by); err != nil {
			return err
		}
		return audit(ctx, tx, &before, &after)
	})
	if err != nil {
		return Event{}, fmt.Errorf("events: cancel: %w", err)
	}
	return after, c.Refresh(ctx, now)
}

// lock reads the event id for a change, refusing one that is over at now.
func (c *Calendar) lock(ctx context.Context, tx pgx.Tx, id string, now time.Time) (Event, error) {
	list, err := query(ctx, tx, `WHERE event_id = $1 FOR UPDATE`, id)
	if err != nil {
		return Event{}, err
	}
	if len(list) == 0 {
		return Event{}, ErrNotFound
	}
	if list[0].Over(now) {
		return Event{}, oven.Errorf(oven.EConflict, "the event is %s: it can no longer change", list[0].Status(now))
	}
	return list[0], nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
