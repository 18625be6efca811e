// Package pggroup is group commit for the owner shard's PostgreSQL writes. A shard owns
// its players, so it sees all of their writes; instead of one transaction, one round
// trip and one durable commit (an fsync) per request, the Committer sends the writes
// that came in together as one pipelined batch: one implicit transaction, one round
// trip, one commit for the whole group.
//
// A unit is one caller's pgx.Batch (for Oven, a fenced write: pgfence's fence and its
// statement). Its outcome stays its own:
//
//   - the group commits, and every unit gets its own results, only after the commit;
//   - a unit whose statement fails (a fence refusal, a unique violation) gets its error;
//     the group's transaction is rolled back, and the other units run again at once in
//     the next group, so one player's refused write never fails another's and none is
//     applied twice (the rolled-back attempt left nothing);
//   - a transaction conflict (class 40: deadlock, serialization) runs the whole group
//     again, a few times;
//   - a lost connection or a failed commit fails every unit of the group with that
//     error, exactly as it would fail a lone write: the outcome is unknown, and Oven's
//     writes are idempotent by key (play records, mail claims) for the retry.
//
// There is no timer (package grouping): at most Options.InFlight groups are in flight,
// each led by one of its callers, and the next takes everything queued meanwhile, so at
// low load a write goes alone, at once, and at high load groups grow by themselves.
package pggroup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovengames/oven/application/grouping"
)

// DB sends batches; a *pgxpool.Pool.
type DB interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Options tune a Committer; the zero value is the defaults.
type Options struct {
	// InFlight is how many groups may be in flight at once (each on its own
	// connection): while one commits, the next forms and runs. Default 2.
	InFlight int
	// MaxUnits caps a group's units, so one round trip stays bounded. Default 128.
	MaxUnits int
	// Timeout bounds a group none of whose callers set a deadline. Default 10 s.
	Timeout time.Duration
	// Registerer receives the group metrics (nil: none).
	Registerer prometheus.Registerer
}

// conflictRetries is how often a whole group runs again after a transaction conflict.
const conflictRetries = 3

// Committer groups units into shared transactions. Safe for concurrent use; it has no
// goroutine of its own (see package grouping), so nothing to stop.
type Committer struct {
	db      DB
	opt     Options
	metrics metrics
	groups  *grouping.Group[*unit]
}

var _ DB = (*Committer)(nil)

// New returns a Committer over db.
func New(db DB, opt Options) *Committer {
	if opt.InFlight <= 0 {
		opt.InFlight = 2
	}
	if opt.MaxUnits <= 0 {
		opt.MaxUnits = 128
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 10 * time.Second
	}
	c := &Committer{db: db, opt: opt, metrics: newMetrics(opt.Registerer)}
	// group observes the sizes itself: each round trip, reruns included.
	c.groups = grouping.New(c.commit, opt.InFlight, opt.MaxUnits, nil)
	return c
}

// SendBatch queues b as one unit and waits until its group has committed (or failed);
// the results are b's own, in b's order. b must not open a transaction (Batch.BeginTx):
// the group is the transaction. If ctx ends while b still waits in the queue, b is
// not sent and the results fail with ctx's error; once sent, b waits for its group.
func (c *Committer) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if len(b.QueuedQueries) > 0 && isBegin(b.QueuedQueries[0].SQL) {
		return failed(errors.New("pggroup: a grouped batch cannot open its own transaction"))
	}
	u := &unit{ctx: ctx, queries: b.QueuedQueries}
	if !c.groups.Do(ctx, u) {
		return failed(ctx.Err())
	}
	return u.results()
}

// QueryRow sends one statement as a unit and returns its row (see SendBatch).
func (c *Committer) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	return c.SendBatch(ctx, b).QueryRow()
}

func isBegin(sql string) bool {
	s := strings.ToLower(strings.TrimSpace(sql))
	return strings.HasPrefix(s, "begin") || strings.HasPrefix(s, "start transaction")
}

// commit runs units as groups until every one has its outcome.
func (c *Committer) commit(units []*unit) {
	for conflicts := 0; len(units) > 0; {
		again, conflict := c.group(units)
		if conflict != nil {
			if conflicts++; conflicts > conflictRetries {
				for _, u := range again {
					u.finish(nil, fmt.Errorf("pggroup: %d conflicts in a row: %w", conflicts, conflict))
				}
				return
			}
		}
		if len(again) > 0 {
			c.metrics.reruns.Add(float64(len(again)))
		}
		units = again
	}
}

// group sends units as one batch, one implicit transaction, and hands out the
// outcomes. It returns the units that must run again: the others of a group one unit
// failed, or all of them after a transaction conflict (then conflict is its error).
func (c *Committer) group(units []*unit) (again []*unit, conflict error) {
	c.metrics.units.Observe(float64(len(units)))
	ctx, cancel := c.groupContext(units)
	defer cancel()
	b := &pgx.Batch{}
	for _, u := range units {
		for _, q := range u.queries {
			b.Queue(q.SQL, q.Arguments...)
		}
	}
	br := c.db.SendBatch(ctx, b)
	bad, badResults, badErr := -1, []result(nil), error(nil)
	got := make([][]result, len(units))
	for i, u := range units {
		if got[i], badErr = readUnit(br, len(u.queries)); badErr != nil {
			bad, badResults = i, got[i]
			break
		}
	}
	closeErr := br.Close()
	switch {
	case bad < 0 && closeErr == nil: // committed
		for i, u := range units {
			u.finish(got[i], nil)
		}
		return nil, nil
	case bad < 0 || !ownError(badErr): // the commit or the connection failed: everyone's
		err := badErr
		if err == nil {
			err = closeErr
		}
		if isConflict(err) {
			return units, err
		}
		for _, u := range units {
			u.finish(nil, err)
		}
		return nil, nil
	}
	units[bad].finish(badResults, badErr)
	again = append(again, units[:bad]...)
	return append(again, units[bad+1:]...), nil
}

// groupContext bounds a group by the latest of its callers' deadlines (a unit must not
// be cut short before its caller's), or Timeout when one has none.
func (c *Committer) groupContext(units []*unit) (context.Context, context.CancelFunc) {
	latest := time.Now().Add(c.opt.Timeout)
	var end time.Time
	for _, u := range units {
		d, ok := u.ctx.Deadline()
		if !ok {
			end = latest
			break
		}
		if d.After(end) {
			end = d
		}
	}
	if end.After(latest) {
		end = latest
	}
	return context.WithDeadline(context.Background(), end)
}

// ownError reports whether err is a statement's own failure (a constraint, a fence
// refusal), which rolls back the group but says nothing about the other units. A
// conflict or a connection, resource or server failure is the group's.
func ownError(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code[:2] {
	case "08", "40", "53", "54", "57", "58", "XX":
		return false
	}
	return true
}

func isConflict(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "40")
}

// readUnit reads n results off br; it stops at the first error, which it returns
// (that result carries it too).
func readUnit(br pgx.BatchResults, n int) ([]result, error) {
	out := make([]result, 0, n)
	for range n {
		r := readOne(br)
		out = append(out, r)
		if r.err != nil {
			return out, r.err
		}
	}
	return out, nil
}

// readOne buffers one statement's rows, so its caller can scan them after the commit.
func readOne(br pgx.BatchResults) result {
	rows, err := br.Query()
	if err != nil {
		return result{err: err}
	}
	var r result
	for rows.Next() {
		raw := rows.RawValues()
		vals := make([][]byte, len(raw))
		for i, v := range raw {
			if v != nil {
				vals[i] = append([]byte{}, v...)
			}
		}
		r.rows = append(r.rows, vals)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return result{err: err}
	}
	r.tag = rows.CommandTag()
	r.fields = append([]pgconn.FieldDescription{}, rows.FieldDescriptions()...)
	return r
}
