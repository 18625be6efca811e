// The game's own triggers
//
// A life received queues life_received, at most one per player per CoalesceWindow. A
// life taken from a player with device tokens puts the player in the slot's lives-full
// index (redisdb's plays/start.lua) at the instant the lives are full again; the owner
// sweeps the index on the game clock and queues lives_full for the players whose
// instant came.

package push

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/fence"
	"github.com/ovengames/oven/application/lives"
	"github.com/ovengames/oven/application/periodic"
	"github.com/ovengames/oven/application/players"
	"github.com/ovengames/oven/application/redisdb"
)

// CoalesceWindow is the least time between two life_received pushes to one player.
const CoalesceWindow = 10 * time.Minute

// The texts of the game's own pushes.
var (
	lifeReceived = Note{Kind: KindLifeReceived, Title: "A life for you", Body: "A friend sent you a life. Open your mailbox!"}
	livesFull    = Note{Kind: KindLivesFull, Title: "Lives full", Body: "Your lives are full again. Time to play!"}
)

// lockClass namespaces the advisory locks that serialise one player's life_received
// pushes ("push").
const lockClass = 0x70757368

// Notifier queues the game's own pushes.
type Notifier struct {
	DB      *pgxpool.Pool
	Redis   *redisdb.DB
	Lives   *lives.Store
	Rules   func(now time.Time) lives.Rules
	Clock   oven.Clock
	Metrics *Metrics // optional
	Log     *slog.Logger
	// Sweep is how many players of a slot one lives-full sweep takes (default 500).
	Sweep int
}

// LifeReceived queues life_received for the player (its live tokens), unless one was
// queued less than CoalesceWindow ago. One round trip: the advisory lock that makes
// the check and the insert atomic lives as long as the batch's implicit transaction.
func (n *Notifier) LifeReceived(ctx context.Context, playerID string) error {
	pid, err := players.ParseID(playerID)
	if err != nil {
		return err
	}
	due := n.Clock.Now()
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock($1, $2)`, int32(lockClass), int32(pid))
	b.Queue(`INSERT INTO push_outbox (player_id, slot, kind, platform, token, title, body, due_at)
		SELECT t.player_id, $2, $3, t.platform, t.token, $4, $5, $6 FROM push_tokens t
		WHERE t.player_id = $1 AND t.removed_at IS NULL AND t.disabled_at IS NULL
		AND NOT EXISTS (SELECT 1 FROM push_outbox o WHERE o.player_id = $1 AND o.kind = $3
			AND o.due_at > $6::timestamptz - $7::bigint * interval '1 millisecond' AND o.created_at > now() - interval '1 day')`,
		pid, cluster.SlotOf(playerID), lifeReceived.Kind, lifeReceived.Title, lifeReceived.Body, due, CoalesceWindow.Milliseconds())
	br := n.DB.SendBatch(ctx, b)
	_, err = br.Exec()
	var tag pgconn.CommandTag
	if err == nil {
		tag, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("push: queue life_received: %w", err)
	}
	n.counted(KindLifeReceived, tag.RowsAffected())
	return nil
}

func (n *Notifier) counted(kind string, rows int64) {
	if n.Metrics != nil && rows > 0 {
		n.Metrics.Queued.WithLabelValues(kind).Add(float64(rows))
	}
}

// due is one entry of a lives-full index whose instant came.
type due struct {
	tok    fence.Token
	player string
	score  float64
}

// SweepLivesFull queues lives_full for the players of the owned slots whose lives are
// full by now, and takes them out of the index. It returns how many players it took.
func (n *Notifier) SweepLivesFull(ctx context.Context, owned []fence.Token) (int, error) {
	if len(owned) == 0 {
		return 0, nil
	}
	now := n.Clock.Now()
	entries, err := n.dueEntries(ctx, owned, now)
	if err != nil || len(entries) == 0 {
		return 0, err
	}
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.player
	}
	full, err := n.full(ctx, ids, now)
	if err != nil {
		return 0, err
	}
	var pids []int64
	var dues []time.Time
	for i, e := range entries {
		pid, err := players.ParseID(e.player)
		if err != nil || !full[i] {
			continue // not a player id, or the maximum rose meanwhile (an event): no push
		}
		pids, dues = append(pids, pid), append(dues, time.UnixMilli(int64(e.score)))
	}
	rows, err := Queue(ctx, n.DB, pids, dues, livesFull)
	if err != nil {
		return 0, err
	}
	n.counted(KindLivesFull, rows)
	return len(entries), n.pop(ctx, entries)
}

// dueEntries reads every owned slot's index up to now in one pipeline.
func (n *Notifier) dueEntries(ctx context.Context, owned []fence.Token, now time.Time) ([]due, error) {
	limit := int64(n.Sweep)
	if limit <= 0 {
		limit = 500
	}
	by := &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: limit}
	pipe := n.Redis.Client.Pipeline()
	cmds := make([]*redis.ZSliceCmd, len(owned))
	for i, tok := range owned {
		cmds[i] = pipe.ZRangeByScoreWithScores(ctx, n.Redis.LivesFull(tok.Slot), by)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("push: lives-full index: %w", err)
	}
	var out []due
	for i, tok := range owned {
		for _, z := range cmds[i].Val() {
			if id, ok := z.Member.(string); ok {
				out = append(out, due{tok: tok, player: id, score: z.Score})
			}
		}
	}
	return out, nil
}

// LivesFull reports, for each player, whether the player's lives are full now (a
// LivesFullFunc, for the campaigns' lives_full audience).
func (n *Notifier) LivesFull(ctx context.Context, playerIDs []string) ([]bool, error) {
	return n.full(ctx, playerIDs, n.Clock.Now())
}

// full reads the players' lives at now in one pipeline.
func (n *Notifier) full(ctx context.Context, playerIDs []string, now time.Time) ([]bool, error) {
	r := n.Rules(now)
	pipe := n.Redis.Pipeline()
	gets := make([]func() (lives.State, error), len(playerIDs))
	for i, id := range playerIDs {
		gets[i] = n.Lives.QueueGet(ctx, pipe, id, r, now)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("push: lives: %w", err)
	}
	out := make([]bool, len(playerIDs))
	for i, get := range gets {
		st, err := get()
		if err != nil {
			return nil, err
		}
		out[i] = st.Count >= st.Max
	}
	return out, nil
}

// pop takes the entries out of their slots' indexes, each slot under its token.
func (n *Notifier) pop(ctx context.Context, entries []due) error {
	bySlot := map[fence.Token][]any{}
	for _, e := range entries {
		bySlot[e.tok] = append(bySlot[e.tok], e.player, e.score)
	}
	for tok, args := range bySlot {
		err := n.Redis.Run(fence.With(ctx, tok), redisdb.PushPopFull, []string{n.Redis.LivesFull(tok.Slot)}, args...).Err()
		if _, refused := fence.Refused(err); err != nil && !refused {
			return fmt.Errorf("push: lives-full index: %w", err)
		}
	}
	return nil
}

// RunLivesFull sweeps every interval until ctx ends.
func (n *Notifier) RunLivesFull(ctx context.Context, interval time.Duration, owned Owned) {
	periodic.Run(ctx, interval, interval+5*time.Second, n.Log, "push: lives-full sweep", func(ctx context.Context) error {
		_, err := n.SweepLivesFull(ctx, owned())
		return err
	})
}
