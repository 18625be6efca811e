// Package pgfence is the PostgreSQL side of fencing (see package fence): every
// transaction that writes a player's rows starts by calling oven_fence(slot, epoch)
// (migrations/00005_slot_fences.sql) with the token its ctx carries, and a new owner
// raises the slots' epochs before it serves them.
//
// The mechanism is two row locks on slot_fences that conflict in exactly one direction:
//
//   - a write takes FOR KEY SHARE on its slot's row where the epoch matches, and holds it
//     until it commits. KEY SHARE does not conflict with itself, so writers to one slot
//     never wait for one another on the fence;
//   - a raise takes FOR UPDATE on the slots' rows (in slot order, so raises never
//     deadlock) and sets epoch = GREATEST(epoch, new). FOR UPDATE conflicts with KEY
//     SHARE, so the raise waits for every write in flight at the old epoch to commit or
//     roll back; a write that comes while the raise holds the row waits for the raise,
//     then re-reads the row, sees the new epoch and is refused (SQLSTATE OVF01).
//
// (A plain UPDATE would not do for the raise: it takes FOR NO KEY UPDATE, which does not
// conflict with KEY SHARE, and so would not wait for the writes in flight.)
//
// The fence adds no round trip: a one-statement write goes out as a pgx.Batch of the
// fence and the statement (one implicit transaction, one round trip), and a transaction
// sends its BEGIN and the fence together (Batch.BeginTx).
package pgfence

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ovengames/oven/application/fence"
)

// staleEpoch is the SQLSTATE oven_fence raises: class "OV" is Oven's own (SQL leaves
// classes starting I-Z to implementations, and PostgreSQL uses none of them).
const staleEpoch = "OVF01"

const checkSQL = `SELECT oven_fence($1, $2)`

// DB sends batches: a *pgxpool.Pool (BeginFunc needs one), or a pgx.Tx for Exec and
// QueryRow.
type DB interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// refusal turns oven_fence's error into the *fence.Error the shard answers: the one
// place the SQLSTATE is read. Other errors pass through.
func refusal(err error, tok fence.Token) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == staleEpoch {
		return &fence.Error{Store: fence.StorePostgres, Slot: tok.Slot, Epoch: tok.Epoch}
	}
	return err
}

// Exec runs one statement after the fence of the token ctx carries, in one implicit
// transaction and one round trip. A stale token is a *fence.Error and nothing is
// written; no token is fence.ErrNoToken.
func Exec(ctx context.Context, db DB, sql string, args ...any) (pgconn.CommandTag, error) {
	tok, err := fence.Must(ctx)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	br := db.SendBatch(ctx, batch(tok, sql, args))
	var tag pgconn.CommandTag
	if _, err = br.Exec(); err == nil {
		tag, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, refusal(err, tok)
}

// QueryRow is Exec for a statement that returns one row: the row's Scan returns the
// fence's refusal, pgx.ErrNoRows, or the statement's error. Scan must be called: it
// releases the connection.
func QueryRow(ctx context.Context, db DB, sql string, args ...any) pgx.Row {
	tok, err := fence.Must(ctx)
	if err != nil {
		return errRow{err}
	}
	return &row{br: db.SendBatch(ctx, batch(tok, sql, args)), tok: tok}
}

func batch(tok fence.Token, sql string, args []any) *pgx.Batch {
	b := &pgx.Batch{}
	b.Queue(checkSQL, tok.Slot, int64(tok.Epoch))
	b.Queue(sql, args...)
	return b
}

type row struct {
	br  pgx.BatchResults
	tok fence.Token
}

func (r *row) Scan(dest ...any) error {
	_, err := r.br.Exec()
	if err == nil {
		err = r.br.QueryRow().Scan(dest...)
	}
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return refusal(err, r.tok)
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// BeginFunc runs fn in a transaction fenced by the token ctx carries, and commits it
// unless fn fails (like pgx.BeginFunc). BEGIN and the fence go out in one round trip, so
// it costs what pgx.BeginFunc does. A stale token is a *fence.Error before fn runs.
func BeginFunc(ctx context.Context, db DB, fn func(pgx.Tx) error) (err error) {
	tok, err := fence.Must(ctx)
	if err != nil {
		return err
	}
	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{})
	b.Queue(checkSQL, tok.Slot, int64(tok.Epoch))
	br := db.SendBatch(ctx, b)
	tx := br.Tx()
	defer func() {
		// Also returns a pool's connection; a no-op (ErrTxClosed) after a commit.
		if rerr := tx.Rollback(ctx); rerr != nil && !errors.Is(rerr, pgx.ErrTxClosed) && err == nil {
			err = rerr
		}
	}()
	if err := br.Close(); err != nil {
		return refusal(err, tok)
	}
	if err := fn(tx); err != nil {
		return refusal(err, tok)
	}
	return refusal(tx.Commit(ctx), tok)
}

// raiseTimeout bounds a raise whose ctx has no deadline: long enough to wait out the
// writes in flight (and a paused writer's idle timeout, 5 s), short of forever.
const raiseTimeout = 30 * time.Second

// Raiser raises slots' epochs in PostgreSQL (a fence.Raiser).
type Raiser struct{ DB DB }

var _ fence.Raiser = Raiser{}

// RaiseFences sets each slot's epoch to max(current, epoch). It locks the slots' rows
// FOR UPDATE in slot order, which waits for the writes in flight under their KEY SHARE
// locks, then updates them. Both statements go out as one batch, one implicit
// transaction that the server runs to its end without waiting on this process, so a
// raiser paused mid-way never leaves the rows locked.
func (r Raiser) RaiseFences(ctx context.Context, slots []int, epoch uint64) error {
	if len(slots) == 0 {
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, raiseTimeout)
		defer cancel()
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT slot FROM slot_fences WHERE slot = ANY($1::integer[]) ORDER BY slot FOR UPDATE`, slots)
	upd := b.Queue(`UPDATE slot_fences SET epoch = GREATEST(epoch, $2) WHERE slot = ANY($1::integer[])`, slots, int64(epoch))
	var n int64
	upd.Exec(func(tag pgconn.CommandTag) error { n = tag.RowsAffected(); return nil })
	if err := r.DB.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("pgfence: raise: %w", err)
	}
	if n != int64(len(slots)) {
		return fmt.Errorf("pgfence: raise: %d of %d slots found", n, len(slots))
	}
	return nil
}
