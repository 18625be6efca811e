// Package shardtest boots real application shards for tests: PostgreSQL and Redis
// started by the test binary itself (deploy/localdeps), the Couchbase dev server, and n
// shards serving gRPC on loopback, with one routing client in front of them.
//
// One Env serves a whole test binary (start it in TestMain); every Cluster gets its own
// database, Redis key prefix and Couchbase key prefix, so tests can run in parallel.
package shardtest

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"

	"github.com/ovengames/oven/application/client"
	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/application/mailbox"
	"github.com/ovengames/oven/application/plays"
	"github.com/ovengames/oven/application/shard"
	"github.com/ovengames/oven/deploy/couchbasedev"
	"github.com/ovengames/oven/deploy/localdeps"
	"github.com/ovengames/oven/proto/ovenv1"
)

const templateDB = "oven_template"

// Env is the stores of one test binary.
type Env struct {
	Deps *localdeps.TestEnv
	CB   *couchbasedev.Server
	cbPW string
	seq  atomic.Int64
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
	// AfterClaimMarked and FriendLimit: see shard.Config.
	AfterClaimMarked func() error
	AfterCredit      func() error
	FriendLimit      int
	// GameDataRefresh is the shards' periodic game-data refresh (default 200 ms); a
	// long one leaves publishes to the LISTEN/NOTIFY path alone.
	GameDataRefresh time.Duration
}

// Cluster is n running shards over one fresh database.
type Cluster struct {
	Router      *client.Router
	Game        ovenv1.GameClient
	Members     []cluster.Member
	DatabaseURL string
	RedisPrefix string
	DB          *pgxpool.Pool
	Redis       *redis.Client

	cancels map[string]context.CancelFunc
	done    map[string]chan error
	mu      sync.Mutex
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
	n := e.seq.Add(1)
	dbName := fmt.Sprintf("t%d_%d", os.Getpid(), n)
	ctx := context.Background()
	if err := e.Deps.PG.CreateDatabase(ctx, dbName, templateDB); err != nil {
		t.Fatal(err)
	}
	c := &Cluster{DatabaseURL: e.Deps.PG.URL(dbName), RedisPrefix: fmt.Sprintf("t%d:", n),
		cancels: map[string]context.CancelFunc{}, done: map[string]chan error{}}
	lis := make([]net.Listener, opt.Shards)
	for i := range lis {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lis[i] = l
		c.Members = append(c.Members, cluster.Member{ID: fmt.Sprintf("s%d", i+1), Addr: l.Addr().String()})
	}
	members, err := cluster.NewStatic(c.Members)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("OVEN_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	var ready sync.WaitGroup
	for i, m := range c.Members {
		ready.Add(1)
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		c.cancels[m.ID], c.done[m.ID] = cancel, done
		cfg := shard.Config{
			ID: m.ID, Listener: lis[i], Members: members, DatabaseURL: c.DatabaseURL,
			RedisURL: e.Deps.Redis.URL(), RedisPrefix: c.RedisPrefix,
			Couchbase: e.Couchbase(fmt.Sprintf("t%d:", n)), DevClock: opt.DevClock, Logger: log,
			GameDataRefresh:  opt.GameDataRefresh,
			PlayHooks:        opt.PlayHooks,
			AfterClaimMarked: opt.AfterClaimMarked,
			AfterCredit:      opt.AfterCredit,
			FriendLimit:      opt.FriendLimit,
			RecoverAfter:     opt.RecoverAfter,
			RecoveryInterval: 100 * time.Millisecond,
			OnReady:          func(string) { ready.Done() },
		}
		go func() { done <- shard.Run(sctx, cfg) }()
	}
	waitReady(t, &ready, c)
	// Dialled like presentation/main.go dials.
	c.Router = client.New(client.Config{Members: members,
		DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(grpcerr.UnaryClientInterceptor)}})
	c.Game = ovenv1.NewGameClient(c.Router)
	if c.DB, err = pgxpool.New(ctx, c.DatabaseURL); err != nil {
		t.Fatal(err)
	}
	c.Redis = redis.NewClient(&redis.Options{Addr: e.Deps.Redis.Addr()})
	t.Cleanup(c.stop)
	return c
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
