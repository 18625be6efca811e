package localdeps

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// killAndWait SIGKILLs a server's process, as a crash would, and waits for Exited.
func killAndWait(t *testing.T, what string, pid int, exited <-chan struct{}) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s: %v", what, err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s pid %d: Exited not closed 10 s after SIGKILL", what, pid)
	}
}

// TestRestartRedis kills a persistent Redis and restarts it: same socket and port, its
// data reloaded from the append-only file.
func TestRestartRedis(t *testing.T) {
	requireBinaries(t)
	ctx := testCtx(t)
	r, err := StartRedis(ctx, RedisOptions{Dir: filepath.Join(devDir(t), "redis"), Persistent: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	if err := r.Restart(ctx); err == nil || !strings.Contains(err.Error(), "still running") {
		t.Errorf("Restart of a running server: %v", err)
	}
	sockURL, port, pid := r.SocketURL(), r.Port(), r.Pid()
	c := redisClient(t, sockURL)
	if err := c.Set(ctx, "k", "survives", 0).Err(); err != nil {
		t.Fatal(err)
	}
	killAndWait(t, "redis", pid, r.Exited())
	if err := r.Restart(ctx); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if r.SocketURL() != sockURL || r.Port() != port || r.Pid() == pid {
		t.Errorf("after Restart: socket %s port %d pid %d; before %s %d %d", r.SocketURL(), r.Port(), r.Pid(), sockURL, port, pid)
	}
	// The client made before the crash reconnects by itself.
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "survives" {
		t.Errorf("GET after restart = %q, %v", got, err)
	}
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := r.Restart(ctx); !errors.Is(err, errStopped) {
		t.Errorf("Restart after Stop: %v", err)
	}
}

// TestRestartPostgres kills the postmaster and restarts it: its old backends go first,
// then the same socket and port serve the same data.
func TestRestartPostgres(t *testing.T) {
	requireBinaries(t)
	ctx := testCtx(t)
	pg, err := StartPostgres(ctx, PostgresOptions{Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	sockURL, pid := pg.SocketURL(""), pg.Pid()
	conn := pgConnect(t, ctx, sockURL) // a backend alive when the postmaster dies
	for _, sql := range []string{"CREATE TABLE kv (k text)", "INSERT INTO kv VALUES ('kept')", "CHECKPOINT"} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	killAndWait(t, "postgres", pid, pg.Exited())
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := pg.Restart(rctx); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if pg.SocketURL("") != sockURL || pg.Pid() == pid {
		t.Errorf("after Restart: %s pid %d; before %s pid %d", pg.SocketURL(""), pg.Pid(), sockURL, pid)
	}
	conn = pgConnect(t, ctx, sockURL)
	var k string
	if err := conn.QueryRow(ctx, "SELECT k FROM kv").Scan(&k); err != nil || k != "kept" {
		t.Errorf("after restart: %q, %v", k, err)
	}
	closeConn(conn)
	port := pg.Port()
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	checkGone(t, "postgres", pg.proc.pid(), port)
}
