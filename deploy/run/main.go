// Command run boots the whole Oven stack on one machine: PostgreSQL, Redis, the
// Couchbase dev server and a single-node etcd for membership (each unless an OVEN_*_URL or
// OVEN_ETCD_ENDPOINTS points elsewhere), the migrations, three application shards and
// OVEN_PRESENTATION_COUNT (default 1) presentation processes talking real gRPC over
// loopback. The presentation processes listen on free ports behind haproxy, which owns
// OVEN_HTTP_ADDR; only when haproxy is neither installed nor installable does a single
// presentation process listen on OVEN_HTTP_ADDR itself.
// `make run` builds the binaries and starts it; Ctrl-C stops everything in order.
// `run scale N` (make scale SHARDS=N), from a second terminal, asks the running stack
// through its control socket for N shards; POST /presentations on the same socket sets
// the presentation floor (pre-warming: application/prewarm.Runner).
//
// The application and presentation binaries are expected next to this one (make run puts
// them in .oven/bin).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/shard"
	"github.com/ovengames/oven/deploy/couchbasedev"
	"github.com/ovengames/oven/deploy/localdeps"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "scale" {
		if err := scaleCommand(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "oven run:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(ctx, configFromEnv(), log); err != nil {
		fmt.Fprintln(os.Stderr, "oven run:", err)
		os.Exit(1)
	}
}

// Config is the dev stack's settings.
type Config struct {
	StateDir     string // OVEN_STATE_DIR, default .oven
	HTTPAddr     string // OVEN_HTTP_ADDR, default 127.0.0.1:8080
	Shards       int    // OVEN_SHARD_COUNT, default 3
	DatabaseURL  string // OVEN_DATABASE_URL: use this PostgreSQL instead of starting one
	RedisURL     string // OVEN_REDIS_URL: use this Redis instead of starting one
	CouchbaseURL string // OVEN_COUCHBASE_URL: use this cluster instead of the dev server
	// EtcdEndpoints is OVEN_ETCD_ENDPOINTS: use this etcd cluster for membership instead
	// of the single node the runner embeds.
	EtcdEndpoints string
	BinDir        string // where the application and presentation binaries are

	// Presentations is OVEN_PRESENTATION_COUNT, default 1: the fewest presentation
	// copies. More than one needs haproxy.
	Presentations int
	// PresentationMax is OVEN_PRESENTATION_MAX, default 4: the most copies a raised
	// floor (POST /presentations) gets.
	PresentationMax int
}

func configFromEnv() Config {
	exe, _ := os.Executable()
	n := 3
	if v := os.Getenv("OVEN_SHARD_COUNT"); v != "" {
		fmt.Sscan(v, &n)
	}
	np, pmax := 1, defaultPresentationMax
	if v := os.Getenv("OVEN_PRESENTATION_COUNT"); v != "" {
		fmt.Sscan(v, &np)
	}
	if v := os.Getenv("OVEN_PRESENTATION_MAX"); v != "" {
		fmt.Sscan(v, &pmax)
	}
	return Config{
		StateDir:      envOr("OVEN_STATE_DIR", ".oven"),
		HTTPAddr:      envOr("OVEN_HTTP_ADDR", "127.0.0.1:8080"),
		Shards:        max(n, 1),
		DatabaseURL:   os.Getenv("OVEN_DATABASE_URL"),
		RedisURL:      os.Getenv("OVEN_REDIS_URL"),
		CouchbaseURL:  os.Getenv("OVEN_COUCHBASE_URL"),
		EtcdEndpoints: os.Getenv("OVEN_ETCD_ENDPOINTS"),
		BinDir:        filepath.Dir(exe),

		Presentations:   max(np, 1),
		PresentationMax: max(pmax, 1),
	}
}

// defaultPresentationMax is OVEN_PRESENTATION_MAX unless set: a dev machine runs every
// copy itself.
const defaultPresentationMax = 4

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// Stack is what run started, written to <state>/stack.json for tools and tests.
type Stack struct {
	HTTP              string            `json:"http"`
	Shards            map[string]string `json:"shards"`        // id -> gRPC address
	ShardMetrics      map[string]string `json:"shard_metrics"` // id -> metrics address
	DatabaseURL       string            `json:"database_url"`
	RedisURL          string            `json:"redis_url"`
	CouchbaseURL      string            `json:"couchbase_url"`
	CouchbasePassword string            `json:"couchbase_password,omitempty"` // user "oven", bucket "game" (dev server)
	Etcd              string            `json:"etcd"`                         // membership: OVEN_ETCD_ENDPOINTS
	Control           string            `json:"control,omitempty"`            // the runner's control socket (run scale)
	PushSink          string            `json:"push_sink,omitempty"`          // the local APNs/FCM sink (GET /sink/stats)

	// Presentations maps each presentation process to its own address (its /metrics and
	// /healthz): presentation-N behind haproxy, or, without haproxy, the one process
	// "presentation" on HTTP itself. Copies added or removed at run time come and go here.
	Presentations map[string]string `json:"presentations"`
	LB            *LoadBalancer     `json:"lb,omitempty"` // haproxy, unless it could not be had
	// PIDs maps each supervised process (shard id, presentation name, "lb", and the
	// "postgres" and "redis" the runner started) to its pid; the file is rewritten when
	// the supervisor restarts one.
	PIDs map[string]int `json:"pids"`
}

// LoadBalancer is the haproxy in front of the presentation processes.
type LoadBalancer struct {
	Addr    string `json:"addr"`    // the public address, OVEN_HTTP_ADDR
	Stats   string `json:"stats"`   // haproxy's stats page at /stats
	Metrics string `json:"metrics"` // haproxy's Prometheus /metrics (same address; "" if not built in)
	Config  string `json:"config"`  // the generated haproxy.cfg
	Socket  string `json:"socket"`  // haproxy's runtime API (admin level)
}

func run(ctx context.Context, cfg Config, log *slog.Logger) error {
	state, err := filepath.Abs(cfg.StateDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(state, 0o755); err != nil {
		return err
	}
	deps, err := startDeps(ctx, cfg, state, log)
	defer deps.stop() // last: after the processes that use the stores
	if err != nil {
		return err
	}
	env := deps.env
	mctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err = shard.Migrate(mctx, env["OVEN_DATABASE_URL"])
	cancel()
	if err != nil {
		return err
	}
	log.Info("migrations applied")
	if err := bootstrapAdmin(ctx, env["OVEN_DATABASE_URL"]); err != nil {
		return err
	}

	stack := Stack{HTTP: cfg.HTTPAddr, Shards: map[string]string{}, ShardMetrics: map[string]string{},
		DatabaseURL: env["OVEN_DATABASE_URL"], RedisURL: env["OVEN_REDIS_URL"], CouchbaseURL: env["OVEN_COUCHBASE_URL"],
		CouchbasePassword: env["OVEN_COUCHBASE_PASSWORD"], Etcd: env["OVEN_ETCD_ENDPOINTS"], PushSink: deps.pushSink}
	env["OVEN_STATE_DIR"] = state
	env["OVEN_HTTP_ADDR"] = cfg.HTTPAddr
	members, stopFollow, err := cluster.Follow(ctx, env["OVEN_ETCD_ENDPOINTS"], envOr("OVEN_ETCD_PREFIX", "/oven"), log.With("component", "membership"))
	if err != nil {
		return err
	}
	defer stopFollow()

	sup := newSupervisor(ctx, log)
	sw := newStackWriter(state, stack)
	sup.onStarted = sw.setPID
	for name, st := range deps.stores {
		sup.watch(name, st)
	}
	// The shards drive pre-warming through the control socket (application/prewarm).
	shardEnv := maps.Clone(env)
	shardEnv["OVEN_PREWARM"], shardEnv["OVEN_PREWARM_RUNNER"] = "runner", controlPath(state)
	if os.Getenv("OVEN_PREWARM_MAX") == "" {
		// The shards plan no more copies than the runner will start.
		shardEnv["OVEN_PREWARM_MAX"] = strconv.Itoa(cfg.PresentationMax)
	}
	shards := newFleet(sup, sw, filepath.Join(cfg.BinDir, "application"), shardEnv, members, log)
	for range cfg.Shards {
		shards.add()
	}
	if os.Getenv("OVEN_RATE_GUEST_ADDR") == "" {
		// Every player of a dev stack (tests, the load generator, an outside suite) signs in
		// from 127.0.0.1: a per-address limit on guest sign-in would refuse them.
		env["OVEN_RATE_GUEST_ADDR"] = "0"
	}
	pres, err := startPresentations(ctx, sup, cfg, state, env, sw, log)
	if err != nil {
		sup.stopAll(15 * time.Second)
		return err
	}
	stopControl, err := serveControl(ctx, controlPath(state), shards, pres, log)
	if err != nil {
		log.Warn("no control socket: neither make scale nor pre-warming will reach this stack", "err", err)
	} else {
		defer stopControl()
		sw.setControl(controlPath(state))
	}
	if err := sw.write(); err != nil {
		sup.stopAll(15 * time.Second)
		return err
	}
	fmt.Printf("\nOven is starting on http://%s  (GMS: http://%s/gms/)\n", cfg.HTTPAddr, cfg.HTTPAddr)
	if lb := sw.stack.LB; lb != nil {
		fmt.Printf("haproxy in front of %d presentation processes (up to %d with POST /presentations); stats: http://%s/stats\n",
			cfg.Presentations, pres.limit, lb.Stats)
	}
	fmt.Printf("shards: %s (membership in etcd %s; make scale SHARDS=N adds or drains)\nstate: %s   stop with Ctrl-C\n\n",
		strings.Join(shards.ids(), " "), env["OVEN_ETCD_ENDPOINTS"], state)
	<-ctx.Done()
	log.Info("stopping the stack")
	pres.wait() // no copy comes or goes from here on
	stopInOrder(sup, sw, shards)
	return nil
}

// stopInOrder stops the presentations (and haproxy) first, so no new calls come in, then
// every shard at once (each drains: with no one left active the slots simply go), then
// whatever is left. The runner stops etcd and the stores afterwards.
func stopInOrder(sup *supervisor, sw *stackWriter, shards *fleet) {
	front := append([]string{"lb"}, sw.presentationNames()...)
	sup.retire(15*time.Second, front...)
	sup.retire(drainGrace, shards.ids()...)
	sup.stopAll(5 * time.Second)
}

var (
	_ store = (*localdeps.Postgres)(nil)
	_ store = (*localdeps.Redis)(nil)
)

// deps is what startDeps started.
type deps struct {
	pushSink string            // the push sink's URL, when the runner started one
	env      map[string]string // the OVEN_* settings the processes need to reach the stores
	stores   map[string]store  // the servers to supervise, by their name in stack.json's pids
	stops    []func()
}

// stop stops whatever was started, in reverse order.
func (d *deps) stop() {
	for i := len(d.stops) - 1; i >= 0; i-- {
		d.stops[i]()
	}
}

// startDeps starts the stores that no OVEN_*_URL points at. On error, what it started
// is in the returned deps, to stop.
func startDeps(ctx context.Context, cfg Config, state string, log *slog.Logger) (*deps, error) {
	d := &deps{env: map[string]string{}, stores: map[string]store{}}
	env := d.env
	if cfg.DatabaseURL == "" || cfg.RedisURL == "" {
		if err := localdeps.EnsureBinaries(ctx); err != nil {
			return d, err
		}
	}
	env["OVEN_DATABASE_URL"] = cfg.DatabaseURL
	if cfg.DatabaseURL == "" {
		pg, err := localdeps.StartPostgres(ctx, localdeps.PostgresOptions{Dir: filepath.Join(state, "pg"), Log: logFile(state, "postgres.log"),
			StatStatements: os.Getenv("OVEN_PG_STAT_STATEMENTS") == "1"})
		if err != nil {
			return d, fmt.Errorf("postgres: %w", err)
		}
		// Stop is a fast shutdown (SIGINT, then SIGQUIT after a timeout): a smart one
		// would wait for every pooled connection of a shard that is not there to close it.
		d.stops = append(d.stops, func() { logErr(log, "postgres stop", pg.Stop()) })
		d.stores["postgres"] = pg
		if err := pg.CreateDatabase(ctx, "oven", ""); err != nil && !strings.Contains(err.Error(), "already exists") {
			return d, err
		}
		// Unix sockets: the shards share the machine with the stores here, and a round
		// trip over a socket costs less CPU than over loopback TCP.
		env["OVEN_DATABASE_URL"] = pg.SocketURL("oven")
		log.Info("postgres started", "url", env["OVEN_DATABASE_URL"], "data", pg.DataDir())
	}
	env["OVEN_REDIS_URL"] = cfg.RedisURL
	if cfg.RedisURL == "" {
		rd, err := localdeps.StartRedis(ctx, localdeps.RedisOptions{Dir: filepath.Join(state, "redis"), Persistent: true, Log: logFile(state, "redis.log")})
		if err != nil {
			return d, fmt.Errorf("redis: %w", err)
		}
		d.stops = append(d.stops, func() { logErr(log, "redis stop", rd.Stop()) })
		d.stores["redis"] = rd
		env["OVEN_REDIS_URL"] = rd.SocketURL()
		log.Info("redis started", "url", env["OVEN_REDIS_URL"])
	}
	env["OVEN_ETCD_ENDPOINTS"] = cfg.EtcdEndpoints
	if cfg.EtcdEndpoints == "" {
		e, err := startEtcd(ctx, state, log)
		if err != nil {
			return d, fmt.Errorf("etcd: %w", err)
		}
		d.stops = append(d.stops, e.Close)
		env["OVEN_ETCD_ENDPOINTS"] = e.Endpoint()
		log.Info("etcd started", "url", e.Endpoint(), "data", filepath.Join(state, "etcd"))
	}
	env["OVEN_COUCHBASE_URL"] = cfg.CouchbaseURL
	if cfg.CouchbaseURL == "" {
		pass := randomHex(16)
		cb, err := couchbasedev.Start(couchbasedev.Config{Addr: "127.0.0.1:0", MgmtAddr: "127.0.0.1:0",
			Bucket: "game", Username: "oven", Password: pass, Logger: log.With("component", "couchbasedev")})
		if err != nil {
			return d, fmt.Errorf("couchbase dev server: %w", err)
		}
		d.stops = append(d.stops, func() { logErr(log, "couchbase dev server stop", cb.Close()) })
		env["OVEN_COUCHBASE_URL"] = cb.ConnString()
		env["OVEN_COUCHBASE_USER"], env["OVEN_COUCHBASE_PASSWORD"], env["OVEN_COUCHBASE_BUCKET"] = "oven", pass, "game"
		log.Info("couchbase dev server started", "url", cb.ConnString())
	}
	var err error
	if d.pushSink, err = startPushSink(d, state, log); err != nil {
		return d, err
	}
	return d, nil
}

func logErr(log *slog.Logger, what string, err error) {
	if err != nil {
		log.Warn(what, "err", err)
	}
}

func logFile(state, name string) *os.File {
	f, err := os.OpenFile(filepath.Join(state, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil
	}
	return f
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func withEnv(base, extra map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, over := base[k]; over {
			continue
		}
		if _, over := extra[k]; over {
			continue
		}
		out = append(out, kv)
	}
	for _, m := range []map[string]string{base, extra} {
		for k, v := range m {
			out = append(out, k+"="+v)
		}
	}
	return out
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return errors.Join(os.WriteFile(path+".tmp", b, 0o644), os.Rename(path+".tmp", path))
}
