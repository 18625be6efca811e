package pggroup

import (
	"context"
	"errors"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/prometheus/client_golang/prometheus"
)

// unit is one caller's batch waiting for its group.
type unit struct {
	ctx     context.Context
	queries []*pgx.QueuedQuery
	out     []result
	err     error
	done    bool
}

// finish hands the unit its outcome: its results (up to the failed one) and error.
func (u *unit) finish(out []result, err error) {
	u.out, u.err, u.done = out, err, true
}

// results is what the caller reads once its group ran.
func (u *unit) results() *batchResults {
	if !u.done {
		return failed(errors.New("pggroup: the group ended without this unit's outcome"))
	}
	return &batchResults{out: u.out, err: u.err}
}

// result is one statement's outcome, buffered.
type result struct {
	tag    pgconn.CommandTag
	fields []pgconn.FieldDescription
	rows   [][][]byte
	err    error
}

// batchResults reads a unit's buffered results in order, like pgx.BatchResults.
type batchResults struct {
	out  []result
	next int
	err  error // the unit's error, also every result's past the failed one
}

var _ pgx.BatchResults = (*batchResults)(nil)

func failed(err error) *batchResults { return &batchResults{err: err} }

var errNoResult = errors.New("pggroup: no more results in the batch")

// read returns the next result; past the unit's failed statement, its error.
func (br *batchResults) read() result {
	if br.next < len(br.out) {
		br.next++
		return br.out[br.next-1]
	}
	if br.err != nil {
		return result{err: br.err}
	}
	return result{err: errNoResult}
}

// Exec returns the next statement's command tag.
func (br *batchResults) Exec() (pgconn.CommandTag, error) {
	r := br.read()
	return r.tag, r.err
}

// Query returns the next statement's rows.
func (br *batchResults) Query() (pgx.Rows, error) {
	r := br.read()
	return &rows{r: r, at: -1}, r.err
}

// QueryRow returns the next statement's first row.
func (br *batchResults) QueryRow() pgx.Row {
	return firstRow{br.read()}
}

// Close returns the unit's error, if it had one.
func (br *batchResults) Close() error { return br.err }

// Tx is nil: a unit is part of its group's transaction, not one of its own.
func (br *batchResults) Tx() pgx.Tx { return nil }

// typeMaps decode buffered rows; a pgtype.Map is not safe for concurrent use.
var typeMaps = sync.Pool{New: func() any { return pgtype.NewMap() }}

// rows is a buffered result read as pgx.Rows or pgx.Row.
type rows struct {
	r  result
	at int
}

var _ pgx.Rows = (*rows)(nil)

func (rs *rows) Close()                                       {}
func (rs *rows) Err() error                                   { return rs.r.err }
func (rs *rows) CommandTag() pgconn.CommandTag                { return rs.r.tag }
func (rs *rows) FieldDescriptions() []pgconn.FieldDescription { return rs.r.fields }
func (rs *rows) RawValues() [][]byte                          { return rs.r.rows[rs.at] }
func (rs *rows) Conn() *pgx.Conn                              { return nil }

// TypeMap is a map of its own (the decoding maps are pooled and shared).
func (rs *rows) TypeMap() *pgtype.Map { return pgtype.NewMap() }

func (rs *rows) Next() bool {
	if rs.r.err != nil || rs.at+1 >= len(rs.r.rows) {
		return false
	}
	rs.at++
	return true
}

func (rs *rows) Scan(dest ...any) error {
	m := typeMaps.Get().(*pgtype.Map)
	defer typeMaps.Put(m)
	return pgx.ScanRow(m, rs.r.fields, rs.r.rows[rs.at], dest...)
}

func (rs *rows) Values() ([]any, error) {
	m := typeMaps.Get().(*pgtype.Map)
	defer typeMaps.Put(m)
	vals := make([]any, len(rs.r.fields))
	for i, f := range rs.r.fields {
		raw := rs.r.rows[rs.at][i]
		if raw == nil {
			continue
		}
		if t, ok := m.TypeForOID(f.DataTypeOID); ok {
			v, err := t.Codec.DecodeValue(m, f.DataTypeOID, f.Format, raw)
			if err != nil {
				return nil, err
			}
			vals[i] = v
		} else {
			vals[i] = append([]byte{}, raw...)
		}
	}
	return vals, nil
}

// firstRow is a buffered result read as pgx.Row: its first row, pgx.ErrNoRows without one.
type firstRow struct{ r result }

func (fr firstRow) Scan(dest ...any) error {
	if fr.r.err != nil {
		return fr.r.err
	}
	if len(fr.r.rows) == 0 {
		return pgx.ErrNoRows
	}
	return (&rows{r: fr.r}).Scan(dest...)
}

type metrics struct {
	units  prometheus.Observer
	reruns prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) metrics {
	units := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "oven_pg_group_units",
		Help:    "Writes (units) committed together in one PostgreSQL transaction by the owner's group commit.",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128}})
	reruns := prometheus.NewCounter(prometheus.CounterOpts{Name: "oven_pg_group_reruns_total",
		Help: "Units run again because another unit of their group failed (its transaction rolled back) or it conflicted."})
	if reg != nil {
		reg.MustRegister(units, reruns)
	}
	return metrics{units: units, reruns: reruns}
}
