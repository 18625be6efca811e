package localdeps

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func requireBinaries(t *testing.T) {
	t.Helper()
	if err := EnsureBinaries(testCtx(t)); err != nil {
		if os.Geteuid() != 0 {
			t.Skip(err)
		}
		t.Fatal(err)
	}
}

func pgConnect(t *testing.T, ctx context.Context, url string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnectTimeout = 5 * time.Second
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { closeConn(conn) })
	return conn
}

func redisClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opt.DialTimeout = 5 * time.Second
	opt.ReadTimeout = 5 * time.Second
	opt.WriteTimeout = 5 * time.Second
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// checkGone verifies that pid (and its process group) no longer exist and
// that port can be bound again.
func checkGone(t *testing.T, what string, pid, port int) {
	t.Helper()
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("%s pid %d still exists after Stop (kill 0: %v)", what, pid, err)
	}
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("%s process group %d still exists after Stop (kill 0: %v)", what, pid, err)
	}
	l, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Errorf("%s port %d not released after Stop: %v", what, port, err)
		return
	}
	_ = l.Close()
}

func checkPortSafe(t *testing.T, port int) {
	t.Helper()
	if port == 5432 || port == 6379 || port <= 0 {
		t.Fatalf("server uses forbidden port %d", port)
	}
}

func TestPostgres(t *testing.T) {
	requireBinaries(t)
	ctx := testCtx(t)

	start := time.Now()
	pg, err := StartPostgres(ctx, PostgresOptions{Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("StartPostgres (ephemeral, template may have been built): %v", time.Since(start))
	defer pg.Stop()
	checkPortSafe(t, pg.Port())
	want := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/app?sslmode=disable", pg.Port())
	if got := pg.URL("app"); got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}

	var one int
	if err := pgConnect(t, ctx, pg.SocketURL("postgres")).QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Errorf("SELECT 1 over %s: %d, %v", pg.SocketURL("postgres"), one, err)
	}

	// Listens on loopback only.
	admin := pgConnect(t, ctx, pg.URL("postgres"))
	var listen, fsync string
	var maxConns int
	if err := admin.QueryRow(ctx, "SELECT current_setting('listen_addresses'), current_setting('fsync'), current_setting('max_connections')::int").Scan(&listen, &fsync, &maxConns); err != nil {
		t.Fatal(err)
	}
	if listen != "127.0.0.1" || fsync != "off" || maxConns != 200 {
		t.Errorf("listen_addresses=%q fsync=%q max_connections=%d", listen, fsync, maxConns)
	}

	// Build a template database, then clone it.
	if err := pg.CreateDatabase(ctx, "tmpl", ""); err != nil {
		t.Fatal(err)
	}
	tc := pgConnect(t, ctx, pg.URL("tmpl"))
	if _, err := tc.Exec(ctx, `CREATE TABLE players (id int PRIMARY KEY, name text NOT NULL);
		INSERT INTO players VALUES (1, 'ada'), (2, 'bob')`); err != nil {
		t.Fatal(err)
	}
	closeConn(tc) // a template must have no sessions (CreateDatabase retries meanwhile)

	if err := pg.CreateDatabase(ctx, "game test-1", "tmpl"); err != nil {
		t.Fatal(err)
	}
	gc := pgConnect(t, ctx, pg.URL("game test-1"))
	var n int
	var names string
	if err := gc.QueryRow(ctx, "SELECT count(*), string_agg(name, ',' ORDER BY id) FROM players").Scan(&n, &names); err != nil {
		t.Fatal(err)
	}
	if n != 2 || names != "ada,bob" {
		t.Errorf("got %d rows %q", n, names)
	}
	if err := pg.CreateDatabase(ctx, "game test-1", ""); err == nil {
		t.Error("creating an existing database succeeded")
	}
	closeConn(gc)
	closeConn(admin)

	pid, port, root := pg.Pid(), pg.Port(), filepath.Dir(pg.DataDir())
	start = time.Now()
	if err := pg.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	t.Logf("Stop: %v", time.Since(start))
	if err := pg.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	checkGone(t, "postgres", pid, port)
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("temporary dir %s not removed: %v", root, err)
	}
}

func TestRedis(t *testing.T) {
	requireBinaries(t)
	ctx := testCtx(t)
	start := time.Now()
	r, err := StartRedis(ctx, RedisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("StartRedis: %v", time.Since(start))
	defer r.Stop()
	checkPortSafe(t, r.Port())
	if want := fmt.Sprintf("redis://127.0.0.1:%d/0", r.Port()); r.URL() != want {
		t.Errorf("URL = %q, want %q", r.URL(), want)
	}
	if want := fmt.Sprintf("127.0.0.1:%d", r.Port()); r.Addr() != want {
		t.Errorf("Addr = %q, want %q", r.Addr(), want)
	}
	c := redisClient(t, r.URL())
	if err := c.Set(ctx, "greeting", "hello", 0).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, "greeting").Result()
	if err != nil || got != "hello" {
		t.Fatalf("GET = %q, %v", got, err)
	}
	if got, err := redisClient(t, r.SocketURL()).Get(ctx, "greeting").Result(); err != nil || got != "hello" {
		t.Errorf("GET over %s = %q, %v", r.SocketURL(), got, err)
	}
	bind, err := c.ConfigGet(ctx, "bind").Result()
	if err != nil || !strings.HasPrefix(bind["bind"], "127.0.0.1") {
		t.Errorf("bind = %v, %v", bind, err)
	}
	_ = c.Close()

	pid, port := r.Pid(), r.Port()
	if err := r.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	checkGone(t, "redis", pid, port)
}

func TestTestEnv(t *testing.T) {
	requireBinaries(t)
	ctx := testCtx(t)
	start := time.Now()
	env, err := StartTestEnv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("StartTestEnv: %v", time.Since(start))
	defer env.Close()

	conn := pgConnect(t, ctx, env.PG.URL("postgres"))
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
	closeConn(conn)
	c := redisClient(t, env.Redis.URL())
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	_ = c.Close()

	pgPid, pgPort := env.PG.Pid(), env.PG.Port()
	rPid, rPort := env.Redis.Pid(), env.Redis.Port()
	dir := env.dir
	env.Close()
	checkGone(t, "postgres", pgPid, pgPort)
	checkGone(t, "redis", rPid, rPort)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("dir %s not removed: %v", dir, err)
	}
}

// TestParallelEphemeral starts several clusters at once, as several test
// packages do, and reports warm start times.
func TestParallelEphemeral(t *testing.T) {
	requireBinaries(t)
	ctx := testCtx(t)
	// Make sure the template exists so the timings below are warm.
	pg0, err := StartPostgres(ctx, PostgresOptions{Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := pg0.Stop(); err != nil {
		t.Fatal(err)
	}

	const n = 4
	var wg sync.WaitGroup
	pgs := make([]*Postgres, n)
	errs := make([]error, n)
	durs := make([]time.Duration, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := time.Now()
			pgs[i], errs[i] = StartPostgres(ctx, PostgresOptions{Ephemeral: true})
			durs[i] = time.Since(s)
		}()
	}
	wg.Wait()
	ports := map[int]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Error(errs[i])
			continue
		}
		t.Logf("parallel warm StartPostgres #%d: %v (port %d)", i, durs[i], pgs[i].Port())
		if ports[pgs[i].Port()] {
			t.Errorf("port %d used twice", pgs[i].Port())
		}
		ports[pgs[i].Port()] = true
		conn := pgConnect(t, ctx, pgs[i].URL("postgres"))
		if _, err := conn.Exec(ctx, "CREATE TABLE t (x int)"); err != nil {
			t.Error(err)
		}
		closeConn(conn)
	}
	for _, p := range pgs {
		if p != nil {
			if err := p.Stop(); err != nil {
				t.Error(err)
			}
		}
	}

	// Sequential warm starts.
	for i := range 3 {
		s := time.Now()
		p, err := StartPostgres(ctx, PostgresOptions{Ephemeral: true})
		if err != nil {
			t.Fatal(err)
		}
		d := time.Since(s)
		s = time.Now()
		if err := p.Stop(); err != nil {
			t.Fatal(err)
		}
		t.Logf("sequential warm StartPostgres #%d: %v, Stop: %v", i, d, time.Since(s))
	}
}

// devDir returns a directory whose parents the unprivileged postgres user
// can traverse (t.TempDir's parent is 0700).
func devDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "oven-localdeps-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, ".oven")
}

// TestPersistent covers the dev runner: state survives a restart.
func TestPersistent(t *testing.T) {
	requireBinaries(t)
	ctx := testCtx(t)
	dir := devDir(t)

	start := time.Now()
	pg, err := StartPostgres(ctx, PostgresOptions{Dir: filepath.Join(dir, "pg")})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("StartPostgres persistent, first (initdb): %v", time.Since(start))
	conn := pgConnect(t, ctx, pg.URL("postgres"))
	if _, err := conn.Exec(ctx, "CREATE TABLE kv (k text PRIMARY KEY, v text); INSERT INTO kv VALUES ('a', 'b')"); err != nil {
		t.Fatal(err)
	}
	closeConn(conn)
	r, err := StartRedis(ctx, RedisOptions{Dir: filepath.Join(dir, "redis"), Persistent: true})
	if err != nil {
		t.Fatal(err)
	}
	rc := redisClient(t, r.URL())
	if err := rc.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	_ = rc.Close()
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}

	start = time.Now()
	pg, err = StartPostgres(ctx, PostgresOptions{Dir: filepath.Join(dir, "pg")})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("StartPostgres persistent, restart: %v", time.Since(start))
	defer pg.Stop()
	conn = pgConnect(t, ctx, pg.URL("postgres"))
	var v string
	if err := conn.QueryRow(ctx, "SELECT v FROM kv WHERE k = 'a'").Scan(&v); err != nil || v != "b" {
		t.Fatalf("after restart: %q, %v", v, err)
	}
	closeConn(conn)
	r, err = StartRedis(ctx, RedisOptions{Dir: filepath.Join(dir, "redis"), Persistent: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	rc = redisClient(t, r.URL())
	if got, err := rc.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("redis after restart: %q, %v", got, err)
	}
	_ = rc.Close()
	if fi, err := os.Stat(filepath.Join(dir, "pg", "postgres.log")); err != nil || fi.Size() == 0 {
		t.Errorf("postgres.log missing or empty: %v", err)
	}
	if err := pg.Stop(); err != nil {
		t.Error(err)
	}
	if err := r.Stop(); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pg", "data", "PG_VERSION")); err != nil {
		t.Errorf("persistent data dir removed by Stop: %v", err)
	}
}

func TestReservedAndBusyPorts(t *testing.T) {
	requireBinaries(t)
	ctx := testCtx(t)
	if _, err := StartPostgres(ctx, PostgresOptions{Port: 5432, Ephemeral: true}); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("port 5432: err = %v", err)
	}
	if _, err := StartRedis(ctx, RedisOptions{Port: 6379}); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("port 6379: err = %v", err)
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	if _, err := StartRedis(ctx, RedisOptions{Port: busy}); err == nil {
		t.Errorf("busy port %d: no error", busy)
	}
	if _, err := StartPostgres(ctx, PostgresOptions{Port: busy, Ephemeral: true}); err == nil {
		t.Errorf("busy port %d: no error", busy)
	}

	// An explicit free port is used as given.
	l2, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l2.Addr().(*net.TCPAddr).Port
	_ = l2.Close()
	r, err := StartRedis(ctx, RedisOptions{Port: port})
	if err != nil {
		t.Fatal(err)
	}
	if r.Port() != port {
		t.Errorf("port = %d, want %d", r.Port(), port)
	}
	if err := r.Stop(); err != nil {
		t.Error(err)
	}
}

// TestPrivateDir starts PostgreSQL, as root, for a directory inside a 0700
// folder (a checkout under root's home): the unprivileged server user cannot
// reach it, so the cluster must live elsewhere, per directory, and survive a
// restart, while the folder's mode stays as it was.
func TestPrivateDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("PostgreSQL runs as another user only when the caller is root; as anyone else it can reach the caller's folders")
	}
	requireBinaries(t)
	ctx := testCtx(t)
	private, err := os.MkdirTemp("", "oven-localdeps-private-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(private) })
	if err := os.Chmod(private, 0o700); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(private, "checkout", ".oven", "pg")

	pg, err := StartPostgres(ctx, PostgresOptions{Dir: dir, Ephemeral: true})
	if err != nil {
		t.Fatalf("start from a 0700 folder: %v", err)
	}
	root := pg.root
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	if strings.HasPrefix(pg.DataDir(), private) {
		t.Errorf("data dir %s is inside the private folder the server user cannot reach", pg.DataDir())
	}
	conn := pgConnect(t, ctx, pg.SocketURL(""))
	if _, err := conn.Exec(ctx, "CREATE TABLE kv (k text PRIMARY KEY); INSERT INTO kv VALUES ('kept')"); err != nil {
		t.Fatal(err)
	}
	closeConn(conn)
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}

	pg, err = StartPostgres(ctx, PostgresOptions{Dir: dir, Ephemeral: true})
	if err != nil {
		t.Fatalf("second start: %v", err)
	}
	defer pg.Stop()
	if pg.root != root {
		t.Errorf("second start uses %s, the first used %s", pg.root, root)
	}
	conn = pgConnect(t, ctx, pg.URL(""))
	var k string
	if err := conn.QueryRow(ctx, "SELECT k FROM kv").Scan(&k); err != nil || k != "kept" {
		t.Errorf("after a restart: %q, %v", k, err)
	}
	closeConn(conn)

	fi, err := os.Stat(private)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("the private folder's mode changed to %v", fi.Mode().Perm())
	}
	fi, err = os.Stat(root)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != pg.user.uid || fi.Mode().Perm() != 0o700 {
		t.Errorf("%s: owner uid %d mode %v, want uid %d (%s) mode 0700", root, st.Uid, fi.Mode().Perm(), pg.user.uid, pg.user.name)
	}
	other, err := clusterRoot(filepath.Join(private, "other", ".oven", "pg"), pg.user)
	if err != nil {
		t.Fatal(err)
	}
	_ = os.RemoveAll(other)
	if other == root {
		t.Errorf("two checkouts share the cluster directory %s", root)
	}
}

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		in           string
		major, minor int
	}{{"15.20", 15, 20}, {"17beta1", 17, 0}, {"9.6.24", 96, 24}, {"16", 16, 0}} {
		if ma, mi := parseVersion(tc.in); ma != tc.major || mi != tc.minor {
			t.Errorf("parseVersion(%q) = %d, %d", tc.in, ma, mi)
		}
	}
}

func TestMissingErrorIsOneLine(t *testing.T) {
	for _, pk := range [][]string{{aptPostgresPkg}, {aptRedisPkg}, {aptPostgresPkg, aptRedisPkg}} {
		msg := missingError(pk...).Error()
		if strings.Contains(msg, "\n") || !strings.Contains(msg, "apt-get install -y "+strings.Join(pk, " ")) {
			t.Errorf("bad message %q", msg)
		}
	}
}

func TestRespCommandTimeout(t *testing.T) {
	// A listener that accepts but never answers: respCommand must time out.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := respCommand(ctx, "tcp", l.Addr().String(), "PING"); err == nil {
		t.Fatal("no error")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestLongDir exercises the fallback socket directory used when Dir is too
// long for a Unix socket path below it.
func TestLongDir(t *testing.T) {
	requireBinaries(t)
	ctx := testCtx(t)
	dir := filepath.Join(devDir(t), strings.Repeat("x", 90), "pg")
	pg, err := StartPostgres(ctx, PostgresOptions{Dir: dir, Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	sock := pg.sockDir
	if strings.HasPrefix(sock, dir) {
		t.Errorf("socket dir %s is below the long dir", sock)
	}
	conn := pgConnect(t, ctx, pg.URL(""))
	if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	closeConn(conn)
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket dir %s not removed: %v", sock, err)
	}
}

func TestSweepStale(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := strconv.Itoa(cmd.Process.Pid)
	base := t.TempDir()
	mk := func(owner, server string) string {
		d, err := os.MkdirTemp(base, "oven-pgtmp-")
		if err != nil {
			t.Fatal(err)
		}
		if owner != "" {
			if err := os.WriteFile(filepath.Join(d, ownerFile), []byte(owner+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if server != "" {
			if err := os.MkdirAll(filepath.Join(d, "pg"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, "pg", serversFile), []byte(server+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	stale := mk(dead, dead)
	live := mk(strconv.Itoa(os.Getpid()), "")
	noOwner := mk("", "")
	liveServer := mk(dead, strconv.Itoa(os.Getpid()))
	other, err := os.MkdirTemp(base, "something-else-")
	if err != nil {
		t.Fatal(err)
	}
	sweepStaleIn(base)
	for d, wantGone := range map[string]bool{stale: true, live: false, noOwner: false, liveServer: false, other: false} {
		_, err := os.Stat(d)
		if gone := os.IsNotExist(err); gone != wantGone {
			t.Errorf("%s: gone=%v, want %v", filepath.Base(d), gone, wantGone)
		}
	}
}

func TestFindPostgresMissing(t *testing.T) {
	binMu.Lock()
	savedRoot, savedPG := pgLibRoot, cachedPG
	pgLibRoot, cachedPG = t.TempDir(), nil
	binMu.Unlock()
	defer func() {
		binMu.Lock()
		pgLibRoot, cachedPG = savedRoot, savedPG
		binMu.Unlock()
	}()
	t.Setenv("PATH", t.TempDir())
	_, err := findPostgres(testCtx(t))
	if err == nil {
		t.Fatal("found postgres with empty PATH and lib root")
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "sudo apt-get install -y postgresql") {
		t.Errorf("message %q", msg)
	}
	t.Log(err)
}
