// Campaigns
//
// A push event of the calendar is fanned out into the outbox when its send time comes
// (its starts_at, on the game clock): a page of players at a time, in player id order,
// each page's rows written in the same transaction that advances the event's cursor,
// so a crash neither skips nor repeats a player. One shard at a time works on an event
// (its row is locked FOR UPDATE SKIP LOCKED); any shard may. A campaign cancelled
// before its send time sends nothing; cancelled while fanning out, it stops there.

package push

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/periodic"
)

// The audiences of a campaign.
const (
	AudienceAll       = "all"
	AudienceLivesFull = "lives_full"
)

// LivesFullFunc reports, for each player, whether the player's lives are full now.
type LivesFullFunc func(ctx context.Context, playerIDs []string) ([]bool, error)

// Campaigns fans the calendar's push events out into the outbox.
type Campaigns struct {
	DB        *pgxpool.Pool
	Clock     oven.Clock
	LivesFull LivesFullFunc // for the lives_full audience
	Metrics   *Metrics      // optional
	Log       *slog.Logger
	// Page is how many players one transaction queues (default 2000).
	Page int
	// OnStart is told when this shard begins an event's fan-out (the pre-warming signal).
	OnStart func(eventID string)
}

// Pass fans out every push event whose send time came, until each is done or ctx ends.
func (c *Campaigns) Pass(ctx context.Context) error {
	rows, err := c.DB.Query(ctx, `SELECT event_id FROM live_events WHERE kind = 'push' AND push_done_at IS NULL
		AND starts_at <= $1 AND (cancelled_at IS NULL OR cancelled_at > starts_at) ORDER BY starts_at, event_id`, c.Clock.Now())
	if err != nil {
		return fmt.Errorf("push: due campaigns: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("push: due campaigns: %w", err)
	}
	for _, id := range ids {
		for {
			more, err := c.page(ctx, id)
			if err != nil {
				return err
			}
			if !more {
				break
			}
		}
	}
	return nil
}

// campaign is the part of a push event a page needs.
type campaign struct {
	title, message, audience string
	cursor                   int64
	started                  bool
}

// page queues one page of the event's players and reports whether more may follow
// (false: done, cancelled, or another shard holds it).
func (c *Campaigns) page(ctx context.Context, eventID string) (more bool, err error) {
	err = pgx.BeginFunc(ctx, c.DB, func(tx pgx.Tx) error {
		var e campaign
		err := tx.QueryRow(ctx, `SELECT title, message, audience, push_cursor, push_started_at IS NOT NULL FROM live_events
			WHERE event_id = $1 AND push_done_at IS NULL AND (cancelled_at IS NULL OR cancelled_at > $2)
			FOR UPDATE SKIP LOCKED`, eventID, c.Clock.Now()).Scan(&e.title, &e.message, &e.audience, &e.cursor, &e.started)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if !e.started && c.OnStart != nil {
			c.OnStart(eventID)
		}
		more, err = c.queuePage(ctx, tx, eventID, e)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("push: campaign %s: %w", eventID, err)
	}
	return more, nil
}

// queuePage queues the next page after e's cursor and advances it, in tx.
func (c *Campaigns) queuePage(ctx context.Context, tx pgx.Tx, eventID string, e campaign) (bool, error) {
	page := c.Page
	if page <= 0 {
		page = 2000
	}
	rows, err := tx.Query(ctx, `SELECT DISTINCT player_id FROM push_tokens WHERE player_id > $1
		AND removed_at IS NULL AND disabled_at IS NULL ORDER BY player_id LIMIT $2`, e.cursor, page)
	if err != nil {
		return false, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return false, err
	}
	chosen, err := c.audience(ctx, e.audience, ids)
	if err != nil {
		return false, err
	}
	due := make([]time.Time, len(chosen))
	for i := range due {
		due[i] = c.Clock.Now()
	}
	queued, err := Queue(ctx, tx, chosen, due, Note{Kind: KindCampaign, EventID: eventID, Title: e.title, Body: e.message})
	if err != nil {
		return false, err
	}
	done := len(ids) < page
	cursor := e.cursor
	if len(ids) > 0 {
		cursor = ids[len(ids)-1]
	}
	if _, err := tx.Exec(ctx, `UPDATE live_events SET push_cursor = $2, push_started_at = coalesce(push_started_at, $4),
		push_done_at = CASE WHEN $3 THEN now() END WHERE event_id = $1`, eventID, cursor, done, c.Clock.Now()); err != nil {
		return false, err
	}
	if c.Metrics != nil {
		c.Metrics.Queued.WithLabelValues(KindCampaign).Add(float64(queued))
	}
	return !done, nil
}

// audience keeps the players of ids the audience names.
func (c *Campaigns) audience(ctx context.Context, audience string, ids []int64) ([]int64, error) {
	if audience != AudienceLivesFull || len(ids) == 0 {
		return ids, nil
	}
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = strconv.FormatInt(id, 10)
	}
	full, err := c.LivesFull(ctx, names)
	if err != nil {
		return nil, err
	}
	var out []int64
	for i, id := range ids {
		if full[i] {
			out = append(out, id)
		}
	}
	return out, nil
}

// Run fans out every interval until ctx ends; one pass may take up to a minute (a
// million players).
func (c *Campaigns) Run(ctx context.Context, interval time.Duration) {
	periodic.Run(ctx, interval, 5*time.Minute, c.Log, "push: campaign fan-out", c.Pass)
}

// Started is a campaign that began sending.
type Started struct {
	EventID, Title string
	At             time.Time // game clock
	ExpectedLoad   float64
}

// StartedSince lists the campaigns that began sending at or after since (game clock).
func StartedSince(ctx context.Context, q Querier, since time.Time) ([]Started, error) {
	rows, err := q.Query(ctx, `SELECT event_id, title, push_started_at, expected_load FROM live_events
		WHERE kind = 'push' AND push_started_at >= $1 ORDER BY push_started_at`, since)
	if err != nil {
		return nil, fmt.Errorf("push: campaigns started: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Started, error) {
		var s Started
		err := r.Scan(&s.EventID, &s.Title, &s.At, &s.ExpectedLoad)
		return s, err
	})
}
