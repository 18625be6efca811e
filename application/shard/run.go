package shard

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
	"google.golang.org/grpc/keepalive"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/bans"
	"github.com/ovengames/oven/application/client"
	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/economy"
	"github.com/ovengames/oven/application/fence"
	"github.com/ovengames/oven/application/fence/pgfence"
	"github.com/ovengames/oven/application/friends"
	"github.com/ovengames/oven/application/gamedata"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/application/janitor"
	"github.com/ovengames/oven/application/leaderboard"
	"github.com/ovengames/oven/application/lives"
	"github.com/ovengames/oven/application/mailbox"
	"github.com/ovengames/oven/application/players"
	"github.com/ovengames/oven/application/plays"
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
}

// Run serves a shard until ctx ends, then shuts down in order: stop accepting, drain
// in-flight calls, close the stores.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger.With("shard", cfg.ID)
	cfg.defaults()
	st, err := openStores(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.close()

	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	clock := &oven.OffsetClock{}
	var watcher *cluster.Watcher
	if cfg.Etcd != nil {
		if watcher, err = cluster.NewWatcher(ctx, cfg.Etcd, cfg.EtcdPrefix, log); err != nil {
			return err
		}
		cfg.Members = watcher
	}
	router := client.New(client.Config{Members: cfg.Members,
		DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(grpcerr.UnaryClientInterceptor)}})
	defer router.Close()

	gd, err := gamedata.NewCache(ctx, gamedata.NewStore(st.db), cfg.GameDataRefresh, log)
	if err != nil {
		return fmt.Errorf("shard: game data: %w", err)
	}
	econ := economy.New(reg)
	board := leaderboard.NewStore(st.rdb, cfg.RedisPrefix)
	routed := ovenv1.NewGameClient(router)
	doc := func() *gamedata.Document { return gd.Current().Doc }
	playerStore := players.NewStore(st.db)
	friendStore := friends.New(st.db, cfg.FriendLimit, 10*time.Second)
	if err := lives.LoadScripts(ctx, st.rdb); err != nil {
		return fmt.Errorf("shard: load scripts: %w", err)
	}
	broadcasts := mailbox.NewBroadcasts(st.db, cfg.RedisPrefix)
	if err := broadcasts.Refresh(ctx, clock.Now()); err != nil {
		return err
	}
	deps := Deps{
		ID:          cfg.ID,
		Members:     cfg.Members,
		Clock:       clock,
		GameData:    gd,
		Players:     playerStore,
		Lives:       lives.NewStore(st.rdb, cfg.RedisPrefix),
		Leaderboard: board,
		Shop:        &shop.Shop{DB: st.db, Players: playerStore, Metrics: econ},
		Plays: plays.New(plays.Deps{
			DB: st.db, Redis: st.rdb, Prefix: cfg.RedisPrefix, Clock: clock,
			GameData:    doc,
			Leaderboard: board, Players: playerStore, Metrics: econ, Log: log, Hooks: cfg.PlayHooks, RecoverAfter: cfg.RecoverAfter,
		}),
		Friends: friendStore,
		Social: social.New(social.Deps{Redis: st.rdb, Prefix: cfg.RedisPrefix, Clock: clock, GameData: doc,
			Friends: friendStore, Deliver: routed, Metrics: econ}),
		Mailbox: mailbox.NewService(mailbox.Deps{Couchbase: st.cb, Broadcasts: broadcasts, Players: playerStore, DB: st.db, Redis: st.rdb, Prefix: cfg.RedisPrefix,
			Clock: clock, GameData: doc, Metrics: econ, Log: log, AfterClaimMarked: cfg.AfterClaimMarked, AfterCredit: cfg.AfterCredit}),
		Game:  routed,
		Redis: st.rdb,
		Log:   log,
		Ready: st.problems,
	}
	jan := janitor.New(st.db, janitor.Config{Tables: janitor.WithRetention(janitor.Defaults(cfg.RetentionPlays, cfg.RetentionLedger), "audit_log", cfg.RetentionAudit), Logger: log})
	banned, err := bans.New(ctx, st.db, cfg.BanRefresh, log)
	if err != nil {
		return err
	}
	// Each store that fences writes raises a slot's epoch before this shard serves it.
	var raisers []fence.Raiser
	raisers = append(raisers, pgfence.Raiser{DB: st.db})
	table := cluster.NewTable()
	if watcher == nil {
		if err := cluster.ServeStatic(ctx, table, cfg.Members.Current(), cfg.ID, raisers); err != nil {
			return err
		}
	}
	owns := func(playerID string) (fence.Token, bool) { return table.Token(cluster.SlotOf(playerID)) }
	var wg sync.WaitGroup
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer func() { stopBG(); wg.Wait() }()
	if watcher != nil {
		wg.Go(func() { watcher.Run(bg) })
	}
	if cfg.DevClock {
		deps.DevClock = NewDevClock(clock, st.rdb, cfg.RedisPrefix, router, log)
		if err := deps.DevClock.Sync(ctx); err != nil {
			return err
		}
		wg.Go(func() { deps.DevClock.Run(bg, 2*time.Second) })
	}
	wg.Go(func() { gd.Run(bg) })
	wg.Go(func() { gd.Follow(bg) })
	wg.Go(func() { banned.Run(bg) })
	wg.Go(func() { jan.Run(bg, time.Hour) })
	wg.Go(func() { broadcasts.Run(bg, time.Second, clock, log) })
	wg.Go(func() { deps.Plays.RunRecovery(bg, cfg.RecoveryInterval, owns) })

	chain := []grpc.UnaryServerInterceptor{unary(ownership{self: cfg.ID, members: cfg.Members, table: table}, banned.Check, newRPCMetrics(reg), log)}
	if cfg.Intercept != nil {
		chain = append([]grpc.UnaryServerInterceptor{cfg.Intercept}, chain...)
	}
	srv := grpc.NewServer(
		grpc.ForceServerCodecV2(grpcerr.ServerCodec()),
		grpc.ChainUnaryInterceptor(chain...),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 5 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.MaxRecvMsgSize(1<<20),
	)
	game := NewServer(deps)
	ovenv1.RegisterGameServer(srv, game)
	ovenv1.RegisterAdminServer(srv, newAdmin(cfg, st, game, gd, banned, log))

	lis := cfg.Listener
	if lis == nil {
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
	}
	var coord *cluster.Coordinator
	if watcher != nil {
		forget := func(slots []int) {
			left := make(map[int]bool, len(slots))
			for _, s := range slots {
				left[s] = true
			}
			match := func(id string) bool { return left[cluster.SlotOf(id)] }
			playerStore.ForgetPlayers(match)
			friendStore.ForgetPlayers(match)
		}
		coord, err = cluster.StartCoordinator(ctx, cluster.CoordinatorConfig{
			Client: cfg.Etcd, Prefix: cfg.EtcdPrefix, Watcher: watcher,
			Self: cluster.Member{ID: cfg.ID, Addr: advertised(lis.Addr().String(), cfg.GRPCAddr)}, MetricsAddr: cfg.HTTPAddr,
			Table: table, Raisers: raisers, OnRelease: forget, LeaseTTL: cfg.LeaseTTL,
			Registerer: reg, Log: log,
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

	select {
	case <-ctx.Done():
	case err = <-errc:
		log.Error("shard server failed", "err", err)
	case <-cfg.Crash:
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
	if httpSrv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		httpSrv.Shutdown(sctx)
		cancel()
	}
	return err
}

// advertised is the address other processes reach the shard at: the configured one,
// unless it named port 0 (tests), then the one the listener got.
func advertised(bound, configured string) string {
	if configured == "" || strings.HasSuffix(configured, ":0") {
		return bound
	}
	return configured
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
	cb  *mailbox.Couchbase
}

func openStores(ctx context.Context, cfg Config) (*stores, error) {
	var st stores
	pcfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("shard: database url: %w", err)
	}
	// A reachable PostgreSQL connects and authenticates in milliseconds; a dead one must
	// cost a call a fast 503 (storeOutage), not seconds. connect_timeout in the URL wins.
	if pcfg.ConnConfig.ConnectTimeout == 0 {
		pcfg.ConnConfig.ConnectTimeout = time.Second
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
	ropt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		st.close()
		return nil, fmt.Errorf("shard: redis url: %w", err)
	}
	var dial func(ctx context.Context, network, addr string) (net.Conn, error)
	if ropt.Network == "unix" { // unix:///path/redis.sock
		dial = func(ctx context.Context, _, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", addr)
		}
	}
	st.rdb = redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs: []string{ropt.Addr}, DB: ropt.DB, Username: ropt.Username, Password: ropt.Password, Dialer: dial,
		ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second, PoolSize: 64,
		// A dead Redis must cost a call a fast 503 (storeOutage), not go-redis's default
		// five dial attempts times four tries (~2 s). No command retries either: a
		// script whose reply was lost must not run twice (a start would take two lives);
		// retrying is the caller's, with an idempotency key. Dead pooled connections are
		// dropped by the pool's health check before use, so a healthy Redis never needs one.
		DialTimeout: 500 * time.Millisecond, DialerRetries: 1, MaxRetries: -1,
		// RESP2: RESP3's push-notification check before every command read cost ~6 % of
		// a shard's CPU, and Oven subscribes to nothing.
		Protocol: 2,
	})
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
	if st.cb != nil {
		st.cb.Close()
	}
	if st.rdb != nil {
		st.rdb.Close()
	}
	if st.db != nil {
		st.db.Close()
	}
}
