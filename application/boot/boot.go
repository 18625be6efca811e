// Package boot is the application tier's composition root: it opens a shard's stores,
// wires the domain services over them, joins membership (etcd, or a static list), runs
// the background chores and serves the shard's gRPC server (package shard) and its ops
// port, then shuts all of it down in order. application/main.go fills its Config from
// OVEN_ settings; application/shard/shardtest boots it in tests.
package boot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/admins"
	"github.com/ovengames/oven/application/bans"
	"github.com/ovengames/oven/application/client"
	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/economy"
	"github.com/ovengames/oven/application/events"
	"github.com/ovengames/oven/application/fence"
	"github.com/ovengames/oven/application/fence/pgfence"
	"github.com/ovengames/oven/application/friends"
	"github.com/ovengames/oven/application/gamedata"
	"github.com/ovengames/oven/application/janitor"
	"github.com/ovengames/oven/application/leaderboard"
	"github.com/ovengames/oven/application/lives"
	"github.com/ovengames/oven/application/mailbox"
	"github.com/ovengames/oven/application/pggroup"
	"github.com/ovengames/oven/application/players"
	"github.com/ovengames/oven/application/plays"
	"github.com/ovengames/oven/application/prewarm"
	"github.com/ovengames/oven/application/push"
	"github.com/ovengames/oven/application/redisdb"
	shardsrv "github.com/ovengames/oven/application/shard"
	"github.com/ovengames/oven/application/shop"
	"github.com/ovengames/oven/application/social"
	"github.com/ovengames/oven/proto/ovenv1"
)

// Config is everything a shard needs; only main fills it (from OVEN_ variables).
type Config struct {
	ID       string
	GRPCAddr string       // listen address, used when Listener is nil
	Listener net.Listener // optional pre-opened gRPC listener (tests)
	HTTPAddr string       // /metrics and /healthz; "" serves none
	// Advertise is the address other processes reach the shard at, registered in etcd
	// (e.g. a StatefulSet pod's DNS name while GRPCAddr listens on 0.0.0.0); "" means
	// GRPCAddr.
	Advertise string
	// Members is the static member list, used only when Etcd is nil (tests, one process).
	Members cluster.Source
	// Etcd, when set, is the membership store: the shard registers on a lease, follows
	// the others and takes and hands over slots by itself (cluster.Coordinator).
	Etcd        *clientv3.Client
	EtcdPrefix  string        // default "/oven"
	LeaseTTL    time.Duration // default 6 s
	DatabaseURL string
	RedisURL    string
	RedisPrefix string // namespaces every Redis key (tests)
	// PGGroups is how many group commits may be in flight at once (pggroup.Options.InFlight);
	// default 2.
	PGGroups int
	// RedisGroups is how many grouped Redis pipelines may be in flight at once
	// (redisdb.OpenGrouped); 0, the default, sends every command on its own (measured
	// faster next to Redis on loopback: BENCHMARKS.md, session 4).
	RedisGroups int
	Couchbase   mailbox.Config
	DevClock    bool
	Logger      *slog.Logger
	// GameDataRefresh is how often the published game data is re-read (default 1 s).
	GameDataRefresh time.Duration
	// Crash, when closed, stops the shard as a killed process would stop: no drain, no
	// lease revoked, in-flight calls cut off (tests of failover only).
	Crash <-chan struct{}
	// OnReady, when set, is called once the shard serves.
	OnReady func(grpcAddr string)

	// RetentionPlays and RetentionLedger are how long play records and ledger rows are
	// kept before their partitions are dropped (defaults 30 and 90 days).
	RetentionPlays, RetentionLedger time.Duration
	// RetentionAudit is how long GMS audit rows are kept (default 180 days).
	RetentionAudit time.Duration
	// RetentionPushes is how long push deliveries are kept (default 7 days).
	RetentionPushes time.Duration
	// BanRefresh is how often the banned set is reloaded in full as a safety net
	// (default bans.DefaultRefresh; changes made through the GMS apply at once).
	BanRefresh time.Duration
	// RecoveryInterval is how often pending plays are swept (default 5 s); RecoverAfter
	// how old one must be (default 30 s).
	RecoveryInterval, RecoverAfter time.Duration
	// PlayHooks inject failures into plays (tests only).
	PlayHooks plays.Hooks
	// AfterClaimMarked injects a failure between the steps of accepting mail (tests only).
	AfterClaimMarked func() error
	AfterCredit      func() error
	// FriendLimit is the most friends a player may have (default 200).
	FriendLimit int
	// Intercept, when set, wraps every call before the shard's own interceptor (tests
	// only: it can stall a call as a stopped process would).
	Intercept grpc.UnaryServerInterceptor
	// Registry receives the shard's metrics (tests read it); nil: one of its own.
	Registry *prometheus.Registry

	// Push is the push providers and the sender's limits (push.ConfigFromEnv); without
	// providers nothing is delivered (the rows fail, saying so).
	Push push.Config
	// Prewarm tunes pre-warming; Scaler moves the presentation tier's floor (nil: the
	// shard plans, and the GMS shows the plan, but nothing scales).
	Prewarm prewarm.Config
	Scaler  prewarm.Scaler
	// PushInterval is how often the lives-full index and the calendar's campaigns are
	// swept (default 1 s).
	PushInterval time.Duration
}

func (cfg *Config) defaults() {
	if cfg.GameDataRefresh == 0 {
		cfg.GameDataRefresh = time.Second
	}
	if cfg.RetentionPlays == 0 {
		cfg.RetentionPlays = 30 * 24 * time.Hour
	}
	if cfg.RetentionLedger == 0 {
		cfg.RetentionLedger = 90 * 24 * time.Hour
	}
	if cfg.RecoveryInterval == 0 {
		cfg.RecoveryInterval = 5 * time.Second
	}
	if cfg.RecoverAfter == 0 {
		cfg.RecoverAfter = 30 * time.Second
	}
	if cfg.FriendLimit == 0 {
		cfg.FriendLimit = 200
	}
	if cfg.PGGroups == 0 {
		cfg.PGGroups = 2
	}
	if cfg.PushInterval == 0 {
		cfg.PushInterval = time.Second
	}
}

// Run serves a shard until ctx ends, then shuts down in order: hand the slots over
// (etcd), stop accepting, drain in-flight calls, stop background work, close the stores.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger.With("shard", cfg.ID)
	cfg.defaults()
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	st, err := openStores(ctx, cfg, reg)
	if err != nil {
		return err
	}
	defer st.close()
	var watcher *cluster.Watcher
	if cfg.Etcd != nil {
		if watcher, err = cluster.NewWatcher(ctx, cfg.Etcd, cfg.EtcdPrefix, log); err != nil {
			return err
		}
		cfg.Members = watcher
	}
	router := client.New(client.Config{Members: cfg.Members})
	defer router.Close()
	sh, err := wire(ctx, cfg, st, router, reg, log)
	if err != nil {
		return err
	}
	if watcher == nil {
		if err := cluster.ServeStatic(ctx, sh.table, cfg.Members.Current(), cfg.ID, sh.raisers); err != nil {
			return err
		}
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	defer func() { stopBG(); wg.Wait() }()
	if watcher != nil {
		wg.Go(func() { watcher.Run(bg) })
	}
	if err := sh.background(ctx, bg, &wg, cfg, router, log); err != nil {
		return err
	}
	return serve(ctx, cfg, sh, watcher, reg, log)
}

// shard is one shard's wired parts.
type shard struct {
	group   *pggroup.Committer
	game    *shardsrv.Server
	admin   *shardsrv.AdminServer
	table   *cluster.Table
	raisers []fence.Raiser // each store that fences writes raises a slot's epoch before it is served
	banned  *bans.Cache
	jan     *janitor.Janitor
	bcasts  *mailbox.Broadcasts
	gd      *gamedata.Cache
	players *players.Store
	friends *friends.Store

	notifier  *push.Notifier
	sender    *push.Sender
	campaigns *push.Campaigns
	meter     *prewarm.Meter
	prewarm   *prewarm.Controller
}

// wire builds the domain services over the stores.
func wire(ctx context.Context, cfg Config, st *stores, router *client.Router, reg prometheus.Registerer, log *slog.Logger) (*shard, error) {
	clock := &oven.OffsetClock{}
	gd, err := gamedata.NewCache(ctx, gamedata.NewStore(st.db), cfg.GameDataRefresh, log)
	if err != nil {
		return nil, fmt.Errorf("shard: game data: %w", err)
	}
	rdb := redisdb.New(st.rdb, cfg.RedisPrefix)
	if err := rdb.LoadScripts(ctx); err != nil {
		return nil, fmt.Errorf("shard: load scripts: %w", err)
	}
	broadcasts := mailbox.NewBroadcasts(st.db, cfg.RedisPrefix)
	if err := broadcasts.Refresh(ctx, clock.Now()); err != nil {
		return nil, err
	}
	calendar := events.NewCalendar(st.db)
	if err := calendar.Refresh(ctx, clock.Now()); err != nil {
		return nil, err
	}
	banned, err := bans.New(ctx, st.db, cfg.BanRefresh, log)
	if err != nil {
		return nil, err
	}
	econ := economy.New(reg)
	// The owner's one-statement writes of many players commit together (pggroup).
	group := pggroup.New(st.db, pggroup.Options{InFlight: cfg.PGGroups, Registerer: reg})
	board := leaderboard.NewStore(rdb)
	routed := ovenv1.NewGameClient(router)
	doc := func() *gamedata.Document { return gd.Current().Doc }
	lifeRules := calendar.LifeRules(doc)
	sh := &shard{group: group, table: cluster.NewTable(), raisers: []fence.Raiser{pgfence.Raiser{DB: st.db}, rdb}, banned: banned,
		bcasts: broadcasts, gd: gd, players: players.NewStore(st.db, group), friends: friends.New(st.db, group, cfg.FriendLimit, 10*time.Second),
		jan: janitor.New(st.db, janitor.Config{Tables: janitor.WithRetention(janitor.WithRetention(janitor.Defaults(cfg.RetentionPlays, cfg.RetentionLedger),
			"audit_log", cfg.RetentionAudit), "push_outbox", cfg.RetentionPushes), Logger: log})}
	livesStore := lives.NewStore(rdb)
	tokens := &push.Tokens{DB: st.db, Players: sh.players}
	if err := sh.wirePush(cfg, st, rdb, tokens, livesStore, lifeRules, clock, reg, log); err != nil {
		return nil, err
	}
	sh.wirePrewarm(cfg, st, calendar, clock, log)
	sh.game = shardsrv.NewServer(shardsrv.Deps{
		ID: cfg.ID, Members: cfg.Members, Clock: clock, GameData: gd, LifeRules: lifeRules, Calendar: calendar, Players: sh.players,
		PushTokens: tokens, Notifier: sh.notifier,
		Lives: livesStore, Leaderboard: board,
		Shop: &shop.Shop{DB: st.db, Players: sh.players, Metrics: econ},
		Plays: plays.New(plays.Deps{DB: st.db, Writes: group, Redis: rdb, Clock: clock, GameData: doc, LifeRules: lifeRules, Leaderboard: board, Players: sh.players,
			Metrics: econ, Log: log, Hooks: cfg.PlayHooks, RecoverAfter: cfg.RecoverAfter}),
		Friends: sh.friends,
		Social:  social.New(social.Deps{Redis: rdb, Clock: clock, GameData: doc, Friends: sh.friends, Deliver: routed, Metrics: econ}),
		Mailbox: mailbox.NewService(mailbox.Deps{Couchbase: st.cb, Broadcasts: broadcasts, Players: sh.players, DB: st.db, Writes: group, Redis: rdb,
			Clock: clock, GameData: doc, LifeRules: lifeRules, Metrics: econ, Log: log, AfterClaimMarked: cfg.AfterClaimMarked, AfterCredit: cfg.AfterCredit}),
		Game: routed, Redis: rdb, Log: log, Ready: st.problems,
	})
	if cfg.DevClock {
		sh.game.DevClock = shardsrv.NewDevClock(clock, rdb, router, log)
	}
	sh.admin = shardsrv.NewAdminServer(shardsrv.AdminDeps{
		Admins: admins.New(admins.Config{DB: st.db, Redis: st.rdb, Prefix: cfg.RedisPrefix, Log: log}),
		DB:     st.db, GameData: gamedata.NewStore(st.db), Cache: gd, Bans: banned, Game: sh.game, Prewarm: sh.prewarm, Log: log,
	})
	return sh, nil
}

// wirePush builds the push triggers and sender over the configured providers.
func (sh *shard) wirePush(cfg Config, st *stores, rdb *redisdb.DB, tokens *push.Tokens, ls *lives.Store,
	rules func(time.Time) lives.Rules, clock oven.Clock, reg prometheus.Registerer, log *slog.Logger) error {
	providers, closeProviders, err := cfg.Push.Providers(context.Background())
	if err != nil {
		return fmt.Errorf("shard: push providers: %w", err)
	}
	st.closers = append(st.closers, closeProviders)
	m := push.NewMetrics(reg)
	sh.notifier = &push.Notifier{DB: st.db, Redis: rdb, Lives: ls, Rules: rules, Clock: clock, Metrics: m, Log: log}
	sh.sender = push.NewSender(push.SenderDeps{DB: st.db, Tokens: tokens, Providers: providers, Clock: clock, Log: log, Metrics: m}, cfg.Push.Sender)
	sh.campaigns = &push.Campaigns{DB: st.db, Clock: clock, LivesFull: sh.notifier.LivesFull, Metrics: m, Log: log}
	return nil
}

// wirePrewarm builds the pre-warming controller: the calendar and the campaigns that
// began sending ask for a floor, the shards' calls measure the load, the owner of slot
// 0 moves the floor.
func (sh *shard) wirePrewarm(cfg Config, st *stores, calendar *events.Calendar, clock oven.Clock, log *slog.Logger) {
	sh.meter = prewarm.NewMeter(st.rdb, cfg.RedisPrefix)
	sending := func(ctx context.Context, since time.Time) ([]prewarm.Sending, error) {
		started, err := push.StartedSince(ctx, st.db, since)
		out := make([]prewarm.Sending, len(started))
		for i, s := range started {
			out[i] = prewarm.Sending{EventID: s.EventID, Title: s.Title, Since: s.At, Load: s.ExpectedLoad}
		}
		return out, err
	}
	sh.prewarm = prewarm.New(prewarm.Deps{Scaler: cfg.Scaler, Events: calendar.Events, Sending: sending, Load: sh.meter.Rate,
		Leader: func() bool { _, ok := sh.table.Token(0); return ok }, Clock: clock, Log: log}, cfg.Prewarm)
}

// background starts the shard's chores on bg; wg waits for them.
func (sh *shard) background(ctx, bg context.Context, wg *sync.WaitGroup, cfg Config, router *client.Router, log *slog.Logger) error {
	if dc := sh.game.DevClock; dc != nil {
		if err := dc.Sync(ctx); err != nil {
			return err
		}
		wg.Go(func() { dc.Run(bg, 2*time.Second) })
	}
	owned := func() []fence.Token {
		var out []fence.Token
		for _, s := range sh.table.Serving() {
			if tok, ok := sh.table.Token(s); ok {
				out = append(out, tok)
			}
		}
		return out
	}
	wg.Go(func() { sh.gd.Run(bg) })
	wg.Go(func() { sh.gd.Follow(bg) })
	wg.Go(func() { sh.banned.Run(bg) })
	wg.Go(func() { sh.jan.Run(bg, time.Hour) })
	wg.Go(func() { sh.bcasts.Run(bg, time.Second, sh.game.Clock, log) })
	wg.Go(func() { sh.game.Calendar.Run(bg, time.Second, sh.game.Clock, log) })
	wg.Go(func() { sh.game.Plays.RunRecovery(bg, cfg.RecoveryInterval, owned) })
	wg.Go(func() { sh.sender.Run(bg, owned) })
	wg.Go(func() { sh.notifier.RunLivesFull(bg, cfg.PushInterval, owned) })
	wg.Go(func() { sh.campaigns.Run(bg, cfg.PushInterval) })
	wg.Go(func() { sh.meter.Run(bg, 5*time.Second, log) })
	wg.Go(func() { sh.prewarm.Run(bg, 5*time.Second) })
	return nil
}

// forget drops what the shard caches about the players of slots that left it.
func (sh *shard) forget(slots []int) {
	left := make(map[int]bool, len(slots))
	for _, s := range slots {
		left[s] = true
	}
	match := func(id string) bool { return left[cluster.SlotOf(id)] }
	sh.players.ForgetPlayers(match)
	sh.friends.ForgetPlayers(match)
}

// serve runs the gRPC and ops servers (and, with etcd, the membership coordinator)
// until ctx ends, then stops them in order.
func serve(ctx context.Context, cfg Config, sh *shard, watcher *cluster.Watcher, reg *prometheus.Registry, log *slog.Logger) error {
	srv := shardsrv.NewGRPCServer(shardsrv.GRPCDeps{ID: cfg.ID, Members: cfg.Members, Table: sh.table,
		CheckBan: sh.banned.Check, Registry: reg, Log: log, Intercept: cfg.Intercept, Count: sh.meter.Count}, sh.game, sh.admin)
	lis := cfg.Listener
	if lis == nil {
		var err error
		if lis, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
			return fmt.Errorf("shard: listen: %w", err)
		}
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(lis) }()
	var httpSrv *http.Server
	if cfg.HTTPAddr != "" {
		httpSrv = opsServer(cfg.HTTPAddr, reg)
		go func() {
			if err := httpSrv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			httpSrv.Shutdown(sctx)
			cancel()
		}()
	}
	var coord *cluster.Coordinator
	if watcher != nil {
		var err error
		coord, err = cluster.StartCoordinator(ctx, cluster.CoordinatorConfig{
			Client: cfg.Etcd, Prefix: cfg.EtcdPrefix, Watcher: watcher,
			Self: cluster.Member{ID: cfg.ID, Addr: advertised(lis.Addr().String(), cfg.Advertise, cfg.GRPCAddr)}, MetricsAddr: cfg.HTTPAddr,
			Table: sh.table, Raisers: sh.raisers, OnRelease: sh.forget, LeaseTTL: cfg.LeaseTTL, Registerer: reg, Log: log,
		})
		if err != nil {
			srv.Stop()
			return err
		}
	}
	log.Info("shard serving", "grpc", lis.Addr().String(), "http", cfg.HTTPAddr, "etcd", watcher != nil)
	if cfg.OnReady != nil {
		cfg.OnReady(lis.Addr().String())
	}
	return stop(ctx, errc, cfg.Crash, srv, coord, log)
}

// stop waits for the end (ctx, a failed server, or a test's crash) and stops in order.
func stop(ctx context.Context, errc chan error, crash <-chan struct{}, srv *grpc.Server, coord *cluster.Coordinator, log *slog.Logger) error {
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		log.Error("shard server failed", "err", err)
	case <-crash:
		log.Warn("shard crashing (test)")
		if coord != nil {
			coord.Abandon()
		}
		srv.Stop()
		return nil
	}
	log.Info("shard stopping")
	if coord != nil {
		// Hand every slot over before the server stops: calls that still arrive are
		// refused with the new owner's name, and the routing client retries there.
		dctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		if derr := coord.Drain(dctx); derr != nil {
			log.Warn("drain incomplete", "err", derr)
		}
		cancel()
		defer coord.Stop()
	}
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		srv.Stop()
	}
	return err
}

// advertised is the address other processes reach the shard at: the advertise address
// when set, else the listen address, unless that named port 0 (tests), then the one the
// listener got.
func advertised(bound, advertise, listen string) string {
	switch {
	case advertise != "":
		return advertise
	case listen == "" || strings.HasSuffix(listen, ":0"):
		return bound
	}
	return listen
}

func opsServer(addr string, reg *prometheus.Registry) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	// Profiles for tuning under load; this port is internal (loopback or cluster-only).
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 90 * time.Second}
}

// stores are the shard's open connections.
type stores struct {
	db  *pgxpool.Pool
	rdb redis.UniversalClient
	// stopGroup stops the grouping of rdb's commands, after rdb closed.
	stopGroup func()
	cb        *mailbox.Couchbase
	// closers release what was opened over the stores (the push providers' connections).
	closers []func()
}

func openStores(ctx context.Context, cfg Config, reg prometheus.Registerer) (*stores, error) {
	var st stores
	pcfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("shard: database url: %w", err)
	}
	// A dead PostgreSQL refuses the connection at once (a fast 503, storeOutage); the
	// timeout only bounds an unreachable host. It must not be so short that a healthy
	// server busy forking backends in a stampede (seen: over 1 s on a loaded 2-core
	// machine) turns into errors. connect_timeout in the URL wins.
	if pcfg.ConnConfig.ConnectTimeout == 0 {
		pcfg.ConnConfig.ConnectTimeout = 3 * time.Second
	}
	// pgx defaults to max(4, cores) connections: far too few for a shard whose calls
	// mostly wait on the network. pool_max_conns in the URL still wins.
	if !strings.Contains(cfg.DatabaseURL, "pool_max_conns") {
		pcfg.MaxConns = 16
	}
	// Keep a few connections open: opening backends at the peak of a push-notification
	// burst is exactly when it hurts (seen in the load test as 150-470 ms stalls).
	if !strings.Contains(cfg.DatabaseURL, "pool_min_conns") {
		pcfg.MinConns = 4
	}
	if st.db, err = pgxpool.NewWithConfig(ctx, pcfg); err != nil {
		return nil, fmt.Errorf("shard: database: %w", err)
	}
	// One server or a Redis Cluster; the commands of many players go together (grouped).
	if st.rdb, st.stopGroup, err = redisdb.OpenGrouped(cfg.RedisURL, cfg.RedisGroups, reg); err != nil {
		st.close()
		return nil, fmt.Errorf("shard: redis url: %w", err)
	}
	octx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if st.cb, err = mailbox.Open(octx, cfg.Couchbase); err != nil {
		st.close()
		return nil, err
	}
	// A busy machine can be slow to answer the first pings: keep asking until the
	// start-up deadline rather than failing on the first slow one.
	for {
		p := st.problems(octx)
		if len(p) == 0 {
			break
		}
		select {
		case <-octx.Done():
			st.close()
			return nil, fmt.Errorf("shard: stores not ready: %v", p)
		case <-time.After(200 * time.Millisecond):
		}
	}
	return &st, nil
}

// problems pings every store and lists the ones that do not answer.
func (st *stores) problems(ctx context.Context) []string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var out []string
	if err := st.db.Ping(ctx); err != nil {
		out = append(out, "postgres: "+err.Error())
	}
	if err := st.rdb.Ping(ctx).Err(); err != nil {
		out = append(out, "redis: "+err.Error())
	}
	if err := st.cb.Ping(ctx); err != nil {
		out = append(out, "couchbase: "+err.Error())
	}
	return out
}

func (st *stores) close() {
	for _, c := range st.closers {
		c()
	}
	if st.cb != nil {
		st.cb.Close()
	}
	if st.rdb != nil {
		st.rdb.Close()
		st.stopGroup()
	}
	if st.db != nil {
		st.db.Close()
	}
}
