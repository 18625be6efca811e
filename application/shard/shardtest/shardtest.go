// Package shardtest boots real application shards for tests: PostgreSQL and Redis
// started by the test binary itself (deploy/localdeps), the Couchbase dev server, and n
// shards serving gRPC on loopback, with one routing client in front of them.
//
// One Env serves a whole test binary (start it in TestMain); every Cluster gets its own
// database, Redis key prefix and Couchbase key prefix, so tests can run in parallel.
package shardtest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"github.com/ovengames/oven/application/boot"
	"github.com/ovengames/oven/application/client"
	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/mailbox"
	"github.com/ovengames/oven/application/plays"
	"github.com/ovengames/oven/application/push"
	"github.com/ovengames/oven/application/redisdb"
	"github.com/ovengames/oven/application/reqid"
	"github.com/ovengames/oven/application/shard"
	"github.com/ovengames/oven/deploy/couchbasedev"
	"github.com/ovengames/oven/deploy/localdeps"
	"github.com/ovengames/oven/proto/ovenv1"
)

const templateDB = "oven_template"

// Env is the stores of one test binary.
type Env struct {
	Deps    *localdeps.TestEnv
	CB      *couchbasedev.Server
	Etcd    *localdeps.Etcd
	cbPW    string
	seq     atomic.Int64
	etcdDir string
}

// Main starts an Env, runs the tests and stops it: call it from TestMain. A fuzzing
// worker process (go test -fuzz) runs only a fuzz target, so it starts no stores:
// fuzz targets must not use the Env.
func Main(m *testing.M, env **Env) {
	flag.Parse()
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		os.Exit(m.Run())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	e, err := NewEnv(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "shardtest:", err)
		os.Exit(1)
	}
	*env = e
	code := m.Run()
	e.Close()
	os.Exit(code)
}

// NewEnv starts PostgreSQL, Redis and the Couchbase dev server, and prepares a migrated
// template database.
func NewEnv(ctx context.Context) (*Env, error) {
	deps, err := localdeps.StartTestEnv(ctx)
	if err != nil {
		return nil, err
	}
	e := &Env{Deps: deps, cbPW: "test-password"}
	e.CB, err = couchbasedev.Start(couchbasedev.Config{Addr: "127.0.0.1:0", MgmtAddr: "127.0.0.1:0",
		Bucket: "game", Username: "oven", Password: e.cbPW})
	if err != nil {
		deps.Close()
		return nil, err
	}
	etcdDir, err := os.MkdirTemp("", "oven-etcd-")
	if err != nil {
		e.Close()
		return nil, err
	}
	if e.Etcd, err = localdeps.StartEtcd(ctx, etcdDir, 0, 0); err != nil {
		e.Close()
		return nil, err
	}
	e.etcdDir = etcdDir
	if err := deps.PG.CreateDatabase(ctx, templateDB, ""); err != nil {
		e.Close()
		return nil, err
	}
	if err := shard.Migrate(ctx, deps.PG.URL(templateDB)); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Close stops every server.
func (e *Env) Close() {
	if e.CB != nil {
		e.CB.Close()
	}
	if e.Etcd != nil {
		e.Etcd.Close()
		os.RemoveAll(e.etcdDir)
	}
	e.Deps.Close()
}

// Couchbase returns the dev server's connection settings with a key prefix.
func (e *Env) Couchbase(prefix string) mailbox.Config {
	return mailbox.Config{ConnString: e.CB.ConnString(), Username: "oven", Password: e.cbPW, Bucket: "game", KeyPrefix: prefix}
}

// Options tune a Cluster.
type Options struct {
	Shards    int  // default 3
	DevClock  bool // enable the dev clock
	PlayHooks plays.Hooks
	// RecoverAfter is how old a pending play must be before recovery decides it
	// (default 300 ms here: tests inject crashes and wait for recovery).
	RecoverAfter time.Duration
	// AfterClaimMarked and FriendLimit: see boot.Config.
	AfterClaimMarked func() error
	AfterCredit      func() error
	FriendLimit      int
	// GameDataRefresh is the shards' periodic game-data refresh (default 200 ms); a
	// long one leaves publishes to the LISTEN/NOTIFY path alone.
	GameDataRefresh time.Duration
	// Log, when set, receives the shards' log as JSON lines at debug level (with a line
	// per call served), through a reqid.Handler as application/main.go logs. It must be
	// safe for concurrent use.
	Log io.Writer
	// Intercept wraps every call before the shards' own interceptor (boot.Config).
	Intercept grpc.UnaryServerInterceptor
	// StoreLinks puts a Link between the shards and each of Redis and PostgreSQL
	// (Cluster.RedisLink, Cluster.PGLink), so that a test can take a store down.
	StoreLinks bool
	// Etcd runs the shards on etcd membership (their own prefix in the Env's etcd)
	// instead of a static list: shards can then be added, drained and crashed.
	Etcd bool
	// LeaseTTL is the shards' etcd lease (default 2 s here).
	LeaseTTL time.Duration
	// RedisURL is the Redis the shards use (see redisdb.ParseURL), e.g. a
	// localdeps.RedisCluster's; default the Env's single server.
	RedisURL string
	// Push is the shards' push providers (e.g. pointed at a pushsink); PushInterval
	// their sweeps (default 100 ms here).
	Push         push.Config
	PushInterval time.Duration
}

// Cluster is n running shards over one fresh database.
type Cluster struct {
	Router      *client.Router
	Game        ovenv1.GameClient
	Members     []cluster.Member
	DatabaseURL string
	RedisPrefix string
	Keys        redisdb.Keys // the shards' Redis keys (under RedisPrefix)
	DB          *pgxpool.Pool
	Redis       redis.UniversalClient
	// RedisLink and PGLink relay the shards' store connections (Options.StoreLinks).
	RedisLink, PGLink *Link
	Couchbase         mailbox.Config                  // the shards' bucket and key prefix
	Metrics           map[string]*prometheus.Registry // each shard's metrics, by member id

	shardDB, shardRedis string // the store URLs the shards use (through the links, if any)
	cancels             map[string]context.CancelFunc
	crash               map[string]chan struct{}
	done                map[string]chan error
	mu                  sync.Mutex

	env       *Env
	opt       Options
	n         int64
	log       *slog.Logger
	etcd      *clientv3.Client // nil with a static list
	prefix    string
	stopWatch func()
}

// Start boots a cluster; everything stops at the end of the test.
func (e *Env) Start(t testing.TB, opt Options) *Cluster {
	t.Helper()
	if opt.Shards == 0 {
		opt.Shards = 3
	}
	if opt.GameDataRefresh == 0 {
		opt.GameDataRefresh = 200 * time.Millisecond
	}
	if opt.RecoverAfter == 0 {
		opt.RecoverAfter = 300 * time.Millisecond
	}
	if opt.LeaseTTL == 0 {
		opt.LeaseTTL = 2 * time.Second
	}
	if opt.PushInterval == 0 {
		opt.PushInterval = 100 * time.Millisecond
	}
	n := e.seq.Add(1)
	dbName := fmt.Sprintf("t%d_%d", os.Getpid(), n)
	ctx := context.Background()
	if err := e.Deps.PG.CreateDatabase(ctx, dbName, templateDB); err != nil {
		t.Fatal(err)
	}
	c := &Cluster{DatabaseURL: e.Deps.PG.URL(dbName), RedisPrefix: fmt.Sprintf("t%d:", n),
		Couchbase: e.Couchbase(fmt.Sprintf("t%d:", n)), Metrics: map[string]*prometheus.Registry{},
		cancels: map[string]context.CancelFunc{}, crash: map[string]chan struct{}{}, done: map[string]chan error{},
		env: e, opt: opt, n: n, prefix: fmt.Sprintf("/t%d-%d", os.Getpid(), n)}
	if opt.RedisURL == "" {
		opt.RedisURL = e.Deps.Redis.URL()
	}
	c.opt = opt
	c.Keys = redisdb.Keys{Prefix: c.RedisPrefix}
	c.shardDB, c.shardRedis = c.DatabaseURL, opt.RedisURL
	if opt.StoreLinks {
		c.shardDB, c.shardRedis = c.link(t, e)
	}
	c.log = slog.New(slog.DiscardHandler)
	switch {
	case opt.Log != nil:
		c.log = slog.New(reqid.NewHandler(slog.NewJSONHandler(opt.Log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	case os.Getenv("OVEN_TEST_LOG") != "":
		c.log = slog.New(reqid.NewHandler(slog.NewTextHandler(os.Stderr, nil)))
	}
	lis := make([]net.Listener, opt.Shards)
	for i := range lis {
		lis[i] = listen(t)
		c.Members = append(c.Members, cluster.Member{ID: fmt.Sprintf("s%d", i+1), Addr: lis[i].Addr().String()})
	}
	var members cluster.Source
	var err error
	if opt.Etcd {
		if c.etcd, err = cluster.DialEtcd(e.Etcd.Endpoint()); err != nil {
			t.Fatal(err)
		}
		var w *cluster.Watcher
		if w, c.stopWatch, err = cluster.Follow(ctx, e.Etcd.Endpoint(), c.prefix, c.log); err != nil {
			t.Fatal(err)
		}
		members = w
	} else if members, err = cluster.NewStatic(c.Members); err != nil {
		t.Fatal(err)
	}
	var ready sync.WaitGroup
	for i, m := range c.Members {
		ready.Add(1)
		c.boot(m.ID, lis[i], members, func() { ready.Done() })
	}
	waitReady(t, &ready, c)
	// Dialled like presentation/main.go dials.
	c.Router = client.New(client.Config{Members: members})
	c.Game = ovenv1.NewGameClient(c.Router)
	if c.DB, err = pgxpool.New(ctx, c.DatabaseURL); err != nil {
		t.Fatal(err)
	}
	if c.Redis, err = redisdb.Open(opt.RedisURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.stop)
	if opt.Etcd {
		c.WaitServed(t, opt.Shards, 20*time.Second)
	}
	return c
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// boot starts shard id on lis; ready is called once it serves.
func (c *Cluster) boot(id string, lis net.Listener, members cluster.Source, ready func()) {
	sctx, cancel := context.WithCancel(context.Background())
	done, crash := make(chan error, 1), make(chan struct{})
	c.mu.Lock()
	c.cancels[id], c.done[id], c.crash[id] = cancel, done, crash
	reg := prometheus.NewRegistry()
	c.Metrics[id] = reg
	c.mu.Unlock()
	opt := c.opt
	cfg := boot.Config{
		ID: id, Listener: lis, Members: members, DatabaseURL: c.shardDB,
		RedisURL: c.shardRedis, RedisPrefix: c.RedisPrefix,
		Couchbase: c.Couchbase, DevClock: opt.DevClock, Logger: c.log.With("shard", id), Registry: reg,
		GameDataRefresh:  opt.GameDataRefresh,
		PlayHooks:        opt.PlayHooks,
		AfterClaimMarked: opt.AfterClaimMarked,
		AfterCredit:      opt.AfterCredit,
		FriendLimit:      opt.FriendLimit,
		RecoverAfter:     opt.RecoverAfter,
		Intercept:        opt.Intercept,
		Push:             opt.Push,
		PushInterval:     opt.PushInterval,
		// A pass reads the pending index of every slot a shard serves (a pipeline of
		// ~1365 commands, ~5 ms, ~12 ms under -race); crash tests wait for it.
		RecoveryInterval: 500 * time.Millisecond,
		OnReady:          func(string) { ready() },
		Crash:            crash,
	}
	if c.etcd != nil {
		cfg.Members, cfg.Etcd, cfg.EtcdPrefix, cfg.LeaseTTL = nil, c.etcd, c.prefix, opt.LeaseTTL
	}
	go func() { done <- boot.Run(sctx, cfg) }()
}

// AddShard boots one more shard (etcd clusters only) and returns its id once it serves.
func (c *Cluster) AddShard(t testing.TB) string {
	t.Helper()
	c.mu.Lock()
	id := fmt.Sprintf("s%d", len(c.done)+1)
	c.mu.Unlock()
	var ready sync.WaitGroup
	ready.Add(1)
	c.boot(id, listen(t), nil, ready.Done)
	waitReady(t, &ready, c)
	return id
}

// Crash stops shard id as SIGKILL would: no drain, its lease left to run out.
func (c *Cluster) Crash(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cancels[id]; ok {
		close(c.crash[id])
		<-c.done[id]
		c.cancels[id]()
		delete(c.cancels, id)
	}
}

// WaitServed waits until the routing map names n active shards and every shard answers
// for players it owns (etcd clusters).
func (c *Cluster) WaitServed(t testing.TB, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var why error
	for time.Now().Before(deadline) {
		if why = c.served(n); why == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the cluster did not converge on %d shards in %v (members %v): %v", n, within, c.Router.Members(), why)
}

// served says why the cluster does not yet serve every slot with n shards, or nil. It
// asks who owns a sample of players spread over all slots, all at once and each with its
// own timeout: the elastic tests run it beside a load that keeps the machine busy, where
// one call can take hundreds of milliseconds (a sweep of sequential calls under one
// deadline timed out while every shard served).
func (c *Cluster) served(n int) error {
	if got := len(c.Router.Members()); got != n {
		return fmt.Errorf("the routing map names %d shards", got)
	}
	if err := c.Router.Ready(context.Background()); err != nil {
		return fmt.Errorf("router not ready: %w", err)
	}
	errs := make([]error, 64)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			id := fmt.Sprint(i * 7919)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := c.Game.WhoOwns(ctx, &ovenv1.PlayerRequest{PlayerId: id}); err != nil {
				errs[i] = fmt.Errorf("player %s: %w", id, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// link starts the store links and returns the shards' database and Redis URLs through them.
func (c *Cluster) link(t testing.TB, e *Env) (dbURL, redisURL string) {
	t.Helper()
	var err error
	if c.RedisLink, err = newLink(e.Deps.Redis.Addr()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.RedisLink.close)
	u, err := url.Parse(c.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	if c.PGLink, err = newLink(u.Host); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.PGLink.close)
	u.Host = c.PGLink.Addr()
	return u.String(), "redis://" + c.RedisLink.Addr() + "/0"
}

func waitReady(t testing.TB, ready *sync.WaitGroup, c *Cluster) {
	t.Helper()
	ok := make(chan struct{})
	go func() { ready.Wait(); close(ok) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-ok:
			return
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("shards did not become ready in 30 s")
		}
		c.mu.Lock()
		for id, d := range c.done {
			select {
			case err := <-d:
				c.mu.Unlock()
				t.Fatalf("shard %s exited during start: %v", id, err)
			default:
			}
		}
		c.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
}

// Kill stops one shard at once (its listener closes; in-flight calls fail).
func (c *Cluster) Kill(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cancel, ok := c.cancels[id]; ok {
		cancel()
		<-c.done[id]
		delete(c.cancels, id)
	}
}

func (c *Cluster) stop() {
	defer func() {
		if c.stopWatch != nil {
			c.stopWatch()
		}
		if c.etcd != nil {
			c.etcd.Close()
		}
	}()
	c.Router.Close()
	c.mu.Lock()
	ids := make([]string, 0, len(c.cancels))
	for id := range c.cancels {
		ids = append(ids, id)
	}
	c.mu.Unlock()
	for _, id := range ids {
		c.Kill(id)
	}
	c.DB.Close()
	c.Redis.Close()
}
