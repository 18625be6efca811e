package pggroup_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovengames/oven/application/pggroup"
	"github.com/ovengames/oven/deploy/localdeps"
)

var pg *localdeps.Postgres

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	dir, err := os.MkdirTemp("", "oven-pggroup-")
	if err == nil {
		pg, err = localdeps.StartPostgres(ctx, localdeps.PostgresOptions{Dir: dir, Ephemeral: true})
	}
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	pg.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

var bg = context.Background()

// newDB returns a pool on a fresh database with an accounts table (balance never
// negative) and its ledger (one row per ref).
func newDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	name := fmt.Sprintf("g%d", time.Now().UnixNano())
	if err := pg.CreateDatabase(bg, name, ""); err != nil {
		t.Fatal(err)
	}
	db, err := pgxpool.New(bg, pg.URL(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if _, err := db.Exec(bg, `
		CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0));
		CREATE TABLE ledger (ref text PRIMARY KEY, id int NOT NULL, amount bigint NOT NULL);
		INSERT INTO accounts SELECT g, 0 FROM generate_series(1, 1000) g;`); err != nil {
		t.Fatal(err)
	}
	return db
}

// credit is one player's write, as the shards send them: a statement whose ledger
// primary key makes it happen at most once per ref.
const credit = `WITH a AS (UPDATE accounts SET balance = balance + $2 WHERE id = $1 RETURNING balance)
	INSERT INTO ledger (ref, id, amount) SELECT $3, $1, $2 FROM a RETURNING (SELECT balance FROM a)`

func creditBatch(id, amount int, ref string) *pgx.Batch {
	b := &pgx.Batch{}
	b.Queue(`SELECT 1`) // a second statement per unit, like pgfence's fence
	b.Queue(credit, id, amount, ref)
	return b
}

// send runs one unit through c and returns the balance its statement returned.
func send(ctx context.Context, c *pggroup.Committer, b *pgx.Batch) (int64, error) {
	br := c.SendBatch(ctx, b)
	var bal int64
	_, err := br.Exec()
	if err == nil {
		err = br.QueryRow().Scan(&bal)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return bal, err
}

func TestLoneWriteCommitsAndReturnsItsRow(t *testing.T) {
	db := newDB(t)
	c := pggroup.New(db, pggroup.Options{})
	bal, err := send(bg, c, creditBatch(7, 5, "a"))
	if err != nil || bal != 5 {
		t.Fatalf("credit = %d, %v; want 5", bal, err)
	}
	var n int64
	if err := db.QueryRow(bg, `SELECT balance FROM accounts WHERE id = 7`).Scan(&n); err != nil || n != 5 {
		t.Fatalf("balance = %d, %v", n, err)
	}
}

func TestAGroupedBatchCannotOpenItsOwnTransaction(t *testing.T) {
	c := pggroup.New(newDB(t), pggroup.Options{})
	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{})
	b.Queue(`SELECT 1`)
	if err := c.SendBatch(bg, b).Close(); err == nil {
		t.Fatal("a batch with BEGIN was accepted")
	}
}

// outcome is what a caller saw for its unit.
type outcome struct {
	balance int64
	code    string // SQLSTATE, "" on success
}

// hammer sends one credit per account from its own goroutine, all at once; bad
// accounts' credits are negative (refused by the CHECK), the others +1.
func hammer(c *pggroup.Committer, accounts int, bad map[int]bool) map[int]outcome {
	var mu sync.Mutex
	out := map[int]outcome{}
	var wg sync.WaitGroup
	for id := 1; id <= accounts; id++ {
		wg.Go(func() {
			amount := 1
			if bad[id] {
				amount = -1
			}
			bal, err := send(bg, c, creditBatch(id, amount, fmt.Sprint("ref-", id)))
			o := outcome{balance: bal}
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) {
				o.code = pgErr.Code
			} else if err != nil {
				o.code = err.Error()
			}
			mu.Lock()
			out[id] = o
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// A failure in the middle of groups: units whose statement fails get their own error
// and leave nothing; every other unit, rolled back with its group, runs again and is
// applied exactly once.
func TestAFailedUnitFailsAloneAndTheOthersApplyOnce(t *testing.T) {
	db := newDB(t)
	reg := prometheus.NewRegistry()
	c := pggroup.New(db, pggroup.Options{InFlight: 1, Registerer: reg})
	const n = 300
	bad := map[int]bool{}
	for id := 5; id <= n; id += 37 {
		bad[id] = true
	}
	// The only sender is busy, so the writers queue up and go as a few big groups, each
	// with failed units in its middle.
	busy := &pgx.Batch{}
	busy.Queue(`SELECT pg_sleep(0.5)`)
	go send(bg, c, busy)
	time.Sleep(50 * time.Millisecond)
	got := hammer(c, n, bad)
	want := map[int]outcome{}
	for id := 1; id <= n; id++ {
		want[id] = outcome{balance: 1}
		if bad[id] {
			want[id] = outcome{code: "23514"} // check_violation
		}
	}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(outcome{})); d != "" {
		t.Errorf("outcomes (-want +got):\n%s", d)
	}
	// What PostgreSQL kept: one ledger row and +1 for each good account, nothing else.
	var rows, sum, wrong int64
	if err := db.QueryRow(bg, `SELECT (SELECT count(*) FROM ledger), (SELECT sum(balance) FROM accounts),
		(SELECT count(*) FROM accounts a WHERE balance <> (SELECT count(*) FROM ledger l WHERE l.id = a.id))`).
		Scan(&rows, &sum, &wrong); err != nil {
		t.Fatal(err)
	}
	if good := int64(n - len(bad)); rows != good || sum != good || wrong != 0 {
		t.Errorf("ledger rows %d, balances %d, accounts off their ledger %d; want %d, %d, 0", rows, sum, wrong, good, good)
	}
	// Groups did form, and the failures made the other units of their groups run again.
	groups, reruns := gathered(t, reg)
	if groups >= n || reruns == 0 {
		t.Errorf("%v groups for %d units, %v reruns; want groups, and reruns", groups, n+1, reruns)
	}
}

// gathered reads the group count and the reruns off reg.
func gathered(t *testing.T, reg *prometheus.Registry) (groups, reruns float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		switch m := mf.GetMetric()[0]; mf.GetName() {
		case "oven_pg_group_units":
			groups = float64(m.GetHistogram().GetSampleCount())
		case "oven_pg_group_reruns_total":
			reruns = m.GetCounter().GetValue()
		}
	}
	return groups, reruns
}

// A unit applied once stays applied once when it is sent again (a client's retry):
// the ledger's key refuses the second, which fails alone.
func TestARetriedUnitIsRefusedByItsKey(t *testing.T) {
	db := newDB(t)
	c := pggroup.New(db, pggroup.Options{})
	if _, err := send(bg, c, creditBatch(1, 1, "once")); err != nil {
		t.Fatal(err)
	}
	var pgErr *pgconn.PgError
	if _, err := send(bg, c, creditBatch(1, 1, "once")); !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		t.Fatalf("second send: %v; want unique_violation", err)
	}
}

// A lost connection fails the whole group in flight, like a lone write's; nothing of
// it is half applied, and sending each again applies it once.
func TestALostConnectionFailsTheGroupAtomically(t *testing.T) {
	db := newDB(t)
	c := pggroup.New(db, pggroup.Options{InFlight: 1})
	// The first unit sleeps, so the group is in flight when its backend is killed.
	killed := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, err := db.Exec(bg, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()`)
		killed <- err
	}()
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_sleep(2)`)
	b.Queue(credit, 1, 1, "slow")
	errs := make(chan error, 1)
	go func() { _, err := send(bg, c, b); errs <- err }()
	time.Sleep(50 * time.Millisecond)
	if _, err := send(bg, c, creditBatch(2, 1, "behind")); err != nil {
		t.Errorf("a unit queued behind the killed group: %v", err) // it was in the next group
	}
	if err := <-errs; err == nil {
		t.Fatal("the killed group's unit succeeded")
	}
	if err := <-killed; err != nil {
		t.Fatal(err)
	}
	var slow int64
	if err := db.QueryRow(bg, `SELECT count(*) FROM ledger WHERE ref = 'slow'`).Scan(&slow); err != nil || slow != 0 {
		t.Fatalf("the killed group left %d rows (%v)", slow, err)
	}
	if _, err := send(bg, c, creditBatch(1, 1, "slow")); err != nil {
		t.Fatalf("sent again: %v", err)
	}
}

// A caller that gives up while its unit is still queued sends nothing.
func TestAnAbandonedUnitIsNotSent(t *testing.T) {
	db := newDB(t)
	c := pggroup.New(db, pggroup.Options{InFlight: 1})
	slow := &pgx.Batch{}
	slow.Queue(`SELECT pg_sleep(0.5)`)
	go send(bg, c, slow)
	time.Sleep(100 * time.Millisecond) // the only sender is busy
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	if _, err := send(ctx, c, creditBatch(3, 1, "gave-up")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("abandoned unit: %v", err)
	}
	if _, err := send(bg, c, creditBatch(4, 1, "after")); err != nil { // waits for the sleeper
		t.Fatal(err)
	}
	var n int64
	if err := db.QueryRow(bg, `SELECT count(*) FROM ledger WHERE ref = 'gave-up'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the abandoned unit was applied (%d rows, %v)", n, err)
	}
}
