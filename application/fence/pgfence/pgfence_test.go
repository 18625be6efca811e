package pgfence_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/fence"
	"github.com/ovengames/oven/application/fence/pgfence"
	"github.com/ovengames/oven/application/shard/shardtest"
	"github.com/ovengames/oven/application/wallet"
	"github.com/ovengames/oven/proto/ovenv1"
)

var env *shardtest.Env

func TestMain(m *testing.M) { shardtest.Main(m, &env) }

var bg = context.Background()

// newPlayer returns a fresh database (its one shard has raised every slot to epoch 1,
// the static map's) and a player in it.
func newPlayer(t *testing.T, device string) (*shardtest.Cluster, int64, int) {
	t.Helper()
	c := env.Start(t, shardtest.Options{Shards: 1})
	r, err := c.Game.AuthGuest(bg, &ovenv1.AuthGuestRequest{DeviceId: device})
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.ParseInt(r.PlayerId, 10, 64)
	return c, pid, cluster.SlotOf(r.PlayerId)
}

// wallet returns the player's coins and ledger row count.
func walletOf(t *testing.T, c *shardtest.Cluster, pid int64) (coins, rows int64) {
	t.Helper()
	if err := c.DB.QueryRow(bg, `SELECT coins, (SELECT count(*) FROM coin_ledger WHERE player_id = $1) FROM wallets WHERE player_id = $1`,
		pid).Scan(&coins, &rows); err != nil {
		t.Fatal(err)
	}
	return coins, rows
}

const creditSQL = `WITH w AS (UPDATE wallets SET coins = coins + 1 WHERE player_id = $1 RETURNING coins)
	INSERT INTO coin_ledger (player_id, amount, reason, ref) SELECT $1, 1, 'test', $2 FROM w RETURNING amount`

// writes are the three ways a write is fenced; each credits one coin with its ledger row.
var writes = map[string]func(ctx context.Context, c *shardtest.Cluster, pid int64) error{
	"Exec": func(ctx context.Context, c *shardtest.Cluster, pid int64) error {
		_, err := pgfence.Exec(ctx, c.DB, creditSQL, pid, "exec")
		return err
	},
	"QueryRow": func(ctx context.Context, c *shardtest.Cluster, pid int64) error {
		var n int64
		return pgfence.QueryRow(ctx, c.DB, creditSQL, pid, "row").Scan(&n)
	},
	"BeginFunc": func(ctx context.Context, c *shardtest.Cluster, pid int64) error {
		return pgfence.BeginFunc(ctx, c.DB, func(tx pgx.Tx) error {
			_, err := wallet.Change(ctx, tx, pid, 1, "test", "tx")
			return err
		})
	},
}

func TestStaleTokenIsRefusedAndWritesNothing(t *testing.T) {
	t.Parallel()
	c, pid, slot := newPlayer(t, "pgfence-stale")
	if err := (pgfence.Raiser{DB: c.DB}).RaiseFences(bg, []int{slot}, 3); err != nil {
		t.Fatal(err)
	}
	for name, write := range writes {
		t.Run(name, func(t *testing.T) {
			coins, rows := walletOf(t, c, pid)
			for _, epoch := range []uint64{1, 2, 4} { // older, and newer than the slot's 3
				err := write(fence.With(bg, fence.Token{Slot: slot, Epoch: epoch}), c, pid)
				want := &fence.Error{Store: fence.StorePostgres, Slot: slot, Epoch: epoch}
				if fe, ok := fence.Refused(err); !ok || *fe != *want {
					t.Errorf("epoch %d: %v, want %v", epoch, err, want)
				}
			}
			if c2, r2 := walletOf(t, c, pid); c2 != coins || r2 != rows {
				t.Fatalf("refused writes changed the wallet: coins %d→%d, ledger rows %d→%d", coins, c2, rows, r2)
			}
			if err := write(bg, c, pid); !errors.Is(err, fence.ErrNoToken) {
				t.Errorf("no token: %v, want ErrNoToken", err)
			}
			if err := write(fence.With(bg, fence.Token{Slot: slot, Epoch: 3}), c, pid); err != nil {
				t.Fatalf("current token: %v", err)
			}
			if c2, r2 := walletOf(t, c, pid); c2 != coins+1 || r2 != rows+1 {
				t.Errorf("current token's write: coins %d→%d, ledger rows %d→%d, want one more each", coins, c2, rows, r2)
			}
		})
	}
	// A statement's own error still comes through the batch, and rolls the fence back.
	_, err := pgfence.Exec(fence.With(bg, fence.Token{Slot: slot, Epoch: 3}), c.DB, `SELECT 1/0`)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "22012" {
		t.Errorf("division by zero: %v", err)
	}
}

func TestRaiseOnlyGrowsAndCoversEverySlot(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{Shards: 1})
	var slots, below int
	if err := c.DB.QueryRow(bg, `SELECT count(*), count(*) FILTER (WHERE epoch <> 1) FROM slot_fences`).Scan(&slots, &below); err != nil {
		t.Fatal(err)
	}
	if slots != cluster.Slots || below != 0 {
		t.Fatalf("%d slot rows (%d not at the static epoch 1), want %d all at 1", slots, below, cluster.Slots)
	}
	r := pgfence.Raiser{DB: c.DB}
	if err := r.RaiseFences(bg, []int{7, 9}, 5); err != nil {
		t.Fatal(err)
	}
	if err := r.RaiseFences(bg, []int{9, 11}, 4); err != nil { // 9 stays at 5
		t.Fatal(err)
	}
	if err := r.RaiseFences(bg, []int{cluster.Slots}, 6); err == nil {
		t.Error("raising a slot that does not exist succeeded")
	}
	var got []int64
	if err := c.DB.QueryRow(bg, `SELECT array_agg(epoch ORDER BY slot) FROM slot_fences WHERE slot IN (6, 7, 9, 11)`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{1, 5, 5, 4}, got); diff != "" {
		t.Errorf("epochs (-want +got)\n%s", diff)
	}
}

// waitForRaiseBlocked waits until a raise's statement is waiting for a row lock.
func waitForRaiseBlocked(t *testing.T, c *shardtest.Cluster, raised <-chan error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := c.DB.QueryRow(bg, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%FROM slot_fences%FOR UPDATE%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		select {
		case err := <-raised:
			t.Fatalf("the raise returned (%v) while a write at the old epoch was in flight", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the raise never waited for the write in flight")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A raise waits for a write transaction in flight at the old epoch, which then commits;
// a write after the raise is refused.
func TestRaiseWaitsForTheWriteInFlight(t *testing.T) {
	t.Parallel()
	c, pid, slot := newPlayer(t, "pgfence-inflight")
	old := fence.With(bg, fence.Token{Slot: slot, Epoch: 1})
	coins, rows := walletOf(t, c, pid)

	inside, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	letGo := func() { releaseOnce.Do(func() { close(release) }) }
	defer letGo() // a failed check must not leave the transaction (and the test) hanging
	written := make(chan error, 1)
	go func() {
		written <- pgfence.BeginFunc(old, c.DB, func(tx pgx.Tx) error {
			if _, err := wallet.Change(old, tx, pid, 10, "test", "in-flight"); err != nil {
				return err
			}
			close(inside)
			<-release
			return nil
		})
	}()
	<-inside
	raised := make(chan error, 1)
	go func() { raised <- (pgfence.Raiser{DB: c.DB}).RaiseFences(bg, []int{slot}, 2) }()
	waitForRaiseBlocked(t, c, raised)
	letGo()
	if err := <-written; err != nil {
		t.Fatalf("the write in flight: %v", err)
	}
	if err := <-raised; err != nil {
		t.Fatal(err)
	}
	if c2, r2 := walletOf(t, c, pid); c2 != coins+10 || r2 != rows+1 {
		t.Fatalf("the write in flight did not commit: coins %d→%d, rows %d→%d", coins, c2, rows, r2)
	}
	for name, write := range writes {
		if _, ok := fence.Refused(write(old, c, pid)); !ok {
			t.Errorf("%s after the raise was not refused", name)
		}
	}
	if c2, r2 := walletOf(t, c, pid); c2 != coins+10 || r2 != rows+1 {
		t.Errorf("writes after the raise were applied: coins %d, rows %d", c2, r2)
	}
}

// Many writers hammer one player at the old epoch while the slot is raised: every write
// either commits or is refused, none that starts after the raise returned commits, and
// the wallet holds exactly the committed writes.
func TestRaiseUnderConcurrentWrites(t *testing.T) {
	t.Parallel()
	c, pid, slot := newPlayer(t, "pgfence-hammer")
	old := fence.With(bg, fence.Token{Slot: slot, Epoch: 1})
	coins, rows := walletOf(t, c, pid)
	names := []string{"Exec", "QueryRow", "BeginFunc"}

	const workers, each = 12, 30
	var done, ok, refused, lateCommits atomic.Int64
	var raisedAt atomic.Bool
	raised := make(chan error, 1)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				after := raisedAt.Load()
				err := writes[names[(w+i)%len(names)]](old, c, pid)
				switch _, fenced := fence.Refused(err); {
				case err == nil:
					ok.Add(1)
					if after {
						lateCommits.Add(1)
					}
				case fenced:
					refused.Add(1)
				default:
					t.Error(err)
				}
				if done.Add(1) == workers*each/3 {
					go func() {
						err := (pgfence.Raiser{DB: c.DB}).RaiseFences(bg, []int{slot}, 2)
						raisedAt.Store(true)
						raised <- err
					}()
				}
			}
		})
	}
	wg.Wait()
	if err := <-raised; err != nil {
		t.Fatal(err)
	}
	// However the raise and the writers interleaved, a write after it is refused.
	if _, fenced := fence.Refused(writes["QueryRow"](old, c, pid)); !fenced {
		t.Error("a write after the raise was not refused")
	}
	if lateCommits.Load() != 0 {
		t.Errorf("%d writes that started after the raise returned committed", lateCommits.Load())
	}
	c2, r2 := walletOf(t, c, pid)
	if c2 != coins+ok.Load() || r2 != rows+ok.Load() {
		t.Errorf("coins %d→%d, ledger rows %d→%d, but %d writes committed", coins, c2, rows, r2, ok.Load())
	}
	t.Logf("%d writes committed, %d refused", ok.Load(), refused.Load())
	if ok.Load() < workers*each/3 {
		t.Errorf("only %d writes committed before the raise", ok.Load())
	}
}

// A fenced transaction left idle by a paused process does not hold the slot for ever:
// the session ends after the idle limit oven_fence sets, and the raise goes through.
func TestPausedTransactionCannotBlockARaise(t *testing.T) {
	t.Parallel()
	c, pid, slot := newPlayer(t, "pgfence-paused")
	old := fence.With(bg, fence.Token{Slot: slot, Epoch: 1})
	var limit string
	err := pgfence.BeginFunc(old, c.DB, func(tx pgx.Tx) error {
		return tx.QueryRow(bg, `SHOW idle_in_transaction_session_timeout`).Scan(&limit)
	})
	if err != nil || limit != "5s" {
		t.Fatalf("idle limit in a fenced transaction = %q (%v), want 5s", limit, err)
	}
	if testing.Short() {
		t.Skip("the pause itself takes 5 s")
	}
	paused := make(chan error, 1)
	go func() {
		paused <- pgfence.BeginFunc(old, c.DB, func(tx pgx.Tx) error {
			if _, err := wallet.Change(old, tx, pid, 10, "test", "paused"); err != nil {
				return err
			}
			time.Sleep(7 * time.Second) // the process is stopped between two statements
			_, err := tx.Exec(old, `SELECT 1`)
			return err
		})
	}()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	if err := (pgfence.Raiser{DB: c.DB}).RaiseFences(bg, []int{slot}, 2); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited > 6*time.Second {
		t.Errorf("the raise waited %v for a paused transaction", waited)
	}
	if err := <-paused; err == nil {
		t.Error("the paused transaction committed after the raise")
	}
	if c2, _ := walletOf(t, c, pid); c2 != 1000 {
		t.Errorf("coins = %d: the paused transaction's write survived", c2)
	}
}

// countingConn counts what the client sends: each write is one request to the server,
// so with one connection the count is the round trips.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) { c.writes.Add(1); return c.Conn.Write(b) }

// The fence costs no round trip: a fenced write sends as many requests as the same write
// unfenced (statements already prepared on the connection, as on a warm pool).
func TestFenceAddsNoRoundTrip(t *testing.T) {
	t.Parallel()
	c, pid, slot := newPlayer(t, "pgfence-round-trips")
	cfg, err := pgxpool.ParseConfig(c.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	var writes atomic.Int64
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		return countingConn{conn, &writes}, err
	}
	db, err := pgxpool.NewWithConfig(bg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := fence.With(bg, fence.Token{Slot: slot, Epoch: 1})
	requests := func(f func() error) int64 {
		for range 2 { // prepare the statements
			if err := f(); err != nil {
				t.Fatal(err)
			}
		}
		before := writes.Load()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		return writes.Load() - before
	}
	var n int64
	change := func(tx pgx.Tx) error { _, err := wallet.Change(ctx, tx, pid, 1, "test", "rt"); return err }
	for _, tc := range []struct {
		name          string
		plain, fenced func() error
	}{
		{"one statement", func() error { return db.QueryRow(ctx, creditSQL, pid, "rt").Scan(&n) },
			func() error { return pgfence.QueryRow(ctx, db, creditSQL, pid, "rt").Scan(&n) }},
		{"exec", func() error { _, err := db.Exec(ctx, creditSQL, pid, "rt"); return err },
			func() error { _, err := pgfence.Exec(ctx, db, creditSQL, pid, "rt"); return err }},
		{"transaction", func() error { return pgx.BeginFunc(ctx, db, change) },
			func() error { return pgfence.BeginFunc(ctx, db, change) }},
	} {
		if plain, fenced := requests(tc.plain), requests(tc.fenced); plain != fenced {
			t.Errorf("%s: %d requests fenced, %d unfenced", tc.name, fenced, plain)
		} else {
			t.Logf("%s: %d requests, fenced or not", tc.name, fenced)
		}
	}
}
