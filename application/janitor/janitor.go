// Package janitor keeps the time-partitioned tables healthy: it creates each day's
// partition ahead of time and drops whole partitions once they are past retention.
// Rows never leave by DELETE. Every shard runs it; a transaction-level advisory lock
// makes one pass at a time do the work and the others skip.
package janitor

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Table is one day-partitioned table.
type Table struct {
	Name      string
	Retention time.Duration
	// BeforeDrop runs in the dropping transaction (the ledger folds its sums into the
	// wallets here, so invariant 4 survives).
	BeforeDrop func(ctx context.Context, tx pgx.Tx, partition string) error
}

// Config configures a Janitor.
type Config struct {
	Tables    []Table
	AheadDays int // partitions created ahead of today (default 3)
	Logger    *slog.Logger
}

// Janitor creates and drops partitions.
type Janitor struct {
	db  *pgxpool.Pool
	cfg Config
}

// lockKey is the advisory lock id of a janitor pass ("oven-jan").
const lockKey = 0x6f76656e2d6a616e

// New returns a Janitor.
func New(db *pgxpool.Pool, cfg Config) *Janitor {
	if cfg.AheadDays == 0 {
		cfg.AheadDays = 3
	}
	return &Janitor{db: db, cfg: cfg}
}

// Defaults are Oven's partitioned tables with the given retentions (settings
// OVEN_RETENTION_PLAYS and OVEN_RETENTION_LEDGER; 30 and 90 days by default). The GMS
// audit log keeps DefaultAuditRetention unless WithRetention changes it
// (OVEN_RETENTION_AUDIT).
func Defaults(plays, ledger time.Duration) []Table {
	return []Table{
		{Name: "play_records", Retention: plays},
		{Name: "play_charges", Retention: plays},
		// Claims must outlive every mail and broadcast they guard (both at most 30 days).
		{Name: "mail_claims", Retention: max(plays, 60*24*time.Hour)},
		{Name: "coin_ledger", Retention: ledger, BeforeDrop: foldLedger},
		{Name: "audit_log", Retention: DefaultAuditRetention},
		{Name: "push_outbox", Retention: DefaultPushRetention},
	}
}

// DefaultPushRetention is how long push deliveries are kept by default (the GMS shows
// them; OVEN_RETENTION_PUSHES changes it).
const DefaultPushRetention = 7 * 24 * time.Hour

// DefaultAuditRetention is how long the GMS audit log is kept by default.
const DefaultAuditRetention = 180 * 24 * time.Hour

// WithRetention returns tables with the named table's retention set to d; d = 0 leaves
// it as it is.
func WithRetention(tables []Table, name string, d time.Duration) []Table {
	out := slices.Clone(tables)
	for i := range out {
		if out[i].Name == name && d > 0 {
			out[i].Retention = d
		}
	}
	return out
}

// foldLedger carries a ledger partition's per-player sums into the wallets before it goes.
// It is not fenced: it is no owner's write (whichever shard holds the janitor's lock runs
// it, for every player at once), and it changes no balance: the sums move from the
// dropped partition into carried_coins in one transaction, so invariant 4 holds
// whoever runs it.
func foldLedger(ctx context.Context, tx pgx.Tx, partition string) error {
	_, err := tx.Exec(ctx, `
		UPDATE wallets w SET carried_coins = w.carried_coins + s.total
		FROM (SELECT player_id, sum(amount) AS total FROM `+pgx.Identifier{partition}.Sanitize()+` GROUP BY player_id) s
		WHERE w.player_id = s.player_id`)
	return err
}

// Pass runs once at real time now: create the partitions from yesterday to AheadDays
// ahead, drop those that ended before now minus retention. It reports whether this call
// held the lock (false: another shard's pass was running).
func (j *Janitor) Pass(ctx context.Context, now time.Time) (bool, error) {
	held := false
	err := pgx.BeginFunc(ctx, j.db, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, int64(lockKey)).Scan(&held); err != nil || !held {
			return err
		}
		// Partition DDL locks the parent table; never queue behind (and so stall) the
		// game's writes for long.
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '2s'`); err != nil {
			return err
		}
		for _, t := range j.cfg.Tables {
			existing, err := partitions(ctx, tx, t.Name)
			if err != nil {
				return err
			}
			if err := j.create(ctx, tx, t, now, existing); err != nil {
				return err
			}
			if err := j.drop(ctx, tx, t, now, existing); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return held, fmt.Errorf("janitor: %w", err)
	}
	return held, nil
}

func day(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func partitionName(table string, d time.Time) string { return table + "_p" + d.Format("20060102") }

// partitions lists the partitions of table.
func partitions(ctx context.Context, tx pgx.Tx, table string) ([]string, error) {
	rows, err := tx.Query(ctx, `
		SELECT c.relname FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid
		JOIN pg_class p ON p.oid = i.inhparent
		WHERE p.relname = $1`, table)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (j *Janitor) create(ctx context.Context, tx pgx.Tx, t Table, now time.Time, existing []string) error {
	for d := day(now).AddDate(0, 0, -1); !d.After(day(now).AddDate(0, 0, j.cfg.AheadDays)); d = d.AddDate(0, 0, 1) {
		if d.Add(24 * time.Hour).Before(now.Add(-t.Retention)) {
			continue // already past retention: do not recreate what drop removes
		}
		name := partitionName(t.Name, d)
		if slices.Contains(existing, name) {
			continue
		}
		_, err := tx.Exec(ctx, fmt.Sprintf(`CREATE TABLE %s PARTITION OF %s FOR VALUES FROM ('%s') TO ('%s')`,
			pgx.Identifier{name}.Sanitize(), pgx.Identifier{t.Name}.Sanitize(),
			d.Format(time.RFC3339), d.AddDate(0, 0, 1).Format(time.RFC3339)))
		if err != nil {
			return fmt.Errorf("create %s: %w", name, err)
		}
	}
	return nil
}

func (j *Janitor) drop(ctx context.Context, tx pgx.Tx, t Table, now time.Time, existing []string) error {
	for _, name := range existing {
		d, err := time.Parse("20060102", strings.TrimPrefix(name, t.Name+"_p"))
		if err != nil {
			continue // not one of ours
		}
		if !d.AddDate(0, 0, 1).Before(now.Add(-t.Retention)) {
			continue
		}
		if t.BeforeDrop != nil {
			if err := t.BeforeDrop(ctx, tx, name); err != nil {
				return fmt.Errorf("before dropping %s: %w", name, err)
			}
		}
		if _, err := tx.Exec(ctx, `DROP TABLE `+pgx.Identifier{name}.Sanitize()); err != nil {
			return fmt.Errorf("drop %s: %w", name, err)
		}
		if j.cfg.Logger != nil {
			j.cfg.Logger.Info("dropped partition past retention", "partition", name)
		}
	}
	return nil
}

// Run makes a pass now and then every interval until ctx ends.
func (j *Janitor) Run(ctx context.Context, interval time.Duration) {
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		if _, err := j.Pass(pctx, time.Now()); err != nil && ctx.Err() == nil && j.cfg.Logger != nil {
			j.cfg.Logger.Warn("janitor pass failed", "err", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
