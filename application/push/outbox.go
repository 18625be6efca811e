// The outbox
//
// Every push is a row of push_outbox (migration 00008), one per device token, written
// by its trigger and sent by a Sender of the player's owner shard. A row is queued
// until the provider answers: sent, failed (permanent, or out of attempts) or
// unregistered (the token is disabled too). Rows stay for the GMS until their day's
// partition is dropped (janitor).

package push

import (
	"context"
	"fmt"
	"time"

	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/players"
)

// The kinds of push (API.md, "Live operations").
const (
	KindLifeReceived = "life_received"
	KindLivesFull    = "lives_full"
	KindCampaign     = "campaign"
)

// The statuses of a delivery.
const (
	StatusQueued       = "queued"
	StatusSent         = "sent"
	StatusFailed       = "failed"
	StatusUnregistered = "unregistered"
)

// Execer runs one statement: the pool, or the transaction of the push's cause.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Querier reads rows: the pool, or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Note is what a player's push says.
type Note struct {
	Kind    string
	EventID string // the campaign's event; "" for the other kinds
	Title   string
	Body    string
}

// Queue queues n for every live token of each of the players, player i's due at due[i]
// (game clock), in one statement on q (the cause's transaction, or the pool). It returns
// how many rows it queued: none for players without a live token.
func Queue(ctx context.Context, q Execer, players []int64, due []time.Time, n Note) (int64, error) {
	slots := make([]int32, len(players))
	for i, id := range players {
		slots[i] = int32(cluster.SlotOf(strconv.FormatInt(id, 10)))
	}
	tag, err := q.Exec(ctx, `INSERT INTO push_outbox (player_id, slot, kind, event_id, platform, token, title, body, due_at)
		SELECT t.player_id, s.slot, $4, nullif($5, ''), t.platform, t.token, $6, $7, s.due
		FROM unnest($1::bigint[], $2::int[], $3::timestamptz[]) AS s(player_id, slot, due)
		JOIN push_tokens t ON t.player_id = s.player_id
		WHERE t.removed_at IS NULL AND t.disabled_at IS NULL`, players, slots, due, n.Kind, n.EventID, n.Title, n.Body)
	if err != nil {
		return 0, fmt.Errorf("push: queue %s: %w", n.Kind, err)
	}
	return tag.RowsAffected(), nil
}

// Delivery is one row of the outbox, as the GMS shows it.
type Delivery struct {
	ID        int64
	Kind      string
	EventID   string
	Platform  string
	Status    string
	CreatedAt time.Time
	SentAt    time.Time // zero until sent
	Error     string
}

// MaxDeliveriesListed bounds a player's deliveries listed at once.
const MaxDeliveriesListed = 200

// Deliveries lists the player's deliveries kept, newest first (at most
// MaxDeliveriesListed).
func Deliveries(ctx context.Context, q Querier, playerID string) ([]Delivery, error) {
	pid, err := players.ParseID(playerID)
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT id, kind, coalesce(event_id, ''), platform, status, created_at, sent_at, error
		FROM push_outbox WHERE player_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, pid, MaxDeliveriesListed)
	if err != nil {
		return nil, fmt.Errorf("push: deliveries: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) {
		var d Delivery
		var sent *time.Time
		err := r.Scan(&d.ID, &d.Kind, &d.EventID, &d.Platform, &d.Status, &d.CreatedAt, &sent, &d.Error)
		if sent != nil {
			d.SentAt = sent.UTC()
		}
		d.CreatedAt = d.CreatedAt.UTC()
		return d, err
	})
}

// Counts are a campaign's deliveries by status.
type Counts struct {
	Queued, Sent, Failed, Unregistered int64
}

// CampaignCounts counts the deliveries of the push event eventID by status (all zero for
// an event that queued none, or none yet).
func CampaignCounts(ctx context.Context, q Querier, eventID string) (Counts, error) {
	rows, err := q.Query(ctx, `SELECT status, count(*) FROM push_outbox WHERE event_id = $1 GROUP BY status`, eventID)
	if err != nil {
		return Counts{}, fmt.Errorf("push: campaign counts: %w", err)
	}
	var c Counts
	by := map[string]*int64{StatusQueued: &c.Queued, StatusSent: &c.Sent, StatusFailed: &c.Failed, StatusUnregistered: &c.Unregistered}
	var status string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&status, &n}, func() error {
		if p, ok := by[status]; ok {
			*p = n
		}
		return nil
	})
	if err != nil {
		return Counts{}, fmt.Errorf("push: campaign counts: %w", err)
	}
	return c, nil
}
