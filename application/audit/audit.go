// Package audit is the log of every admin action: who did what to which target, when,
// and the state before and after, as JSON. Rows are only ever inserted, preferably in
// the same transaction as the change they describe, and leave only when the janitor
// drops their day's partition past retention.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Table is the partitioned table of the log (janitor.Defaults keeps its partitions).
const Table = "audit_log"

// Entry is one admin action. Before and After are any JSON-encodable values (nil for
// none); they must never hold secrets such as password hashes.
type Entry struct {
	Actor  string
	Action string
	Target string
	Before any
	After  any
}

// Execer is what Record writes through: a pool, a connection or a transaction.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Record inserts e through db, typically the transaction of the change it describes,
// so that the change and its audit row commit together or not at all.
func Record(ctx context.Context, db Execer, e Entry) error {
	before, err := encode(e.Before)
	if err != nil {
		return fmt.Errorf("audit: before: %w", err)
	}
	after, err := encode(e.After)
	if err != nil {
		return fmt.Errorf("audit: after: %w", err)
	}
	_, err = db.Exec(ctx, `INSERT INTO audit_log (actor, action, target, before, after) VALUES ($1, $2, $3, $4, $5)`,
		e.Actor, e.Action, e.Target, before, after)
	if err != nil {
		return fmt.Errorf("audit: record %s: %w", e.Action, err)
	}
	return nil
}

// encode renders v as JSON for a jsonb column; nil stays SQL NULL. Raw JSON passes as is.
func encode(v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		if len(x) == 0 {
			return nil, nil
		}
		return x, nil
	}
	return json.Marshal(v)
}

// Row is a stored entry with its JSON as stored.
type Row struct {
	ID     int64
	At     time.Time
	Actor  string
	Action string
	Target string
	Before json.RawMessage
	After  json.RawMessage
}

// MaxList bounds one List call.
const MaxList = 500

// List returns the newest entries first, at most limit (1..MaxList; 0 means 100).
func List(ctx context.Context, db *pgxpool.Pool, limit int) ([]Row, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, MaxList)
	rows, err := db.Query(ctx, `SELECT id, created_at, actor, action, target, before, after
		FROM audit_log ORDER BY created_at DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Row, error) {
		var e Row
		var before, after []byte
		err := r.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Target, &before, &after)
		e.Before, e.After = before, after
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	return out, nil
}
