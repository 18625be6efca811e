// Command presentation serves Oven's public HTTP API and the GMS console (/gms/). It is
// stateless: any number of copies can run behind a load balancer, each routing every
// player's calls to the shard that owns the player.
//
// Configuration comes from OVEN_ environment variables (see README.md).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ovengames/oven/application/client"
	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/logbuf"
	"github.com/ovengames/oven/application/redisdb"
	"github.com/ovengames/oven/application/reqid"
	"github.com/ovengames/oven/presentation/auth"
	"github.com/ovengames/oven/presentation/gms"
	"github.com/ovengames/oven/presentation/httpapi"
	"github.com/ovengames/oven/presentation/ratelimit"
	"github.com/ovengames/oven/proto/ovenv1"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// One JSON access log line per request: batched, not a write system call each.
	logs := logbuf.New(os.Stderr, 0, 0)
	// reqid.Handler: each line logged for a request carries its request_id.
	log := slog.New(reqid.NewHandler(slog.NewJSONHandler(logs, nil))).With("process", "presentation")
	if err := run(ctx, log); err != nil {
		log.Error("presentation failed", "err", err)
		logs.Close()
		os.Exit(1)
	}
	logs.Close()
}

func run(ctx context.Context, log *slog.Logger) error {
	members, membersText, err := shardMembers(ctx, log)
	if err != nil {
		return err
	}
	ring, err := tokenRing()
	if err != nil {
		return err
	}
	ttl, err := time.ParseDuration(env("OVEN_TOKEN_TTL", "720h"))
	if err != nil {
		return fmt.Errorf("OVEN_TOKEN_TTL: %w", err)
	}
	tokens, err := auth.NewRingSigner(ring, ttl)
	if err != nil {
		return err
	}
	log.Info("token keys", "signing", ring.SigningID(), "verifying", ring.IDs())
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	router := client.New(client.Config{Members: members})
	defer router.Close()

	players, addrs, closeLimits, err := rateLimits(reg, log)
	if err != nil {
		return err
	}
	defer closeLimits()
	h := httpapi.New(httpapi.Config{
		Game:         ovenv1.NewGameClient(router),
		Ready:        router.Ready,
		Tokens:       tokens,
		Registry:     reg,
		Logger:       log,
		DevClock:     os.Getenv("OVEN_DEV_CLOCK") == "1",
		PlayerLimit:  players,
		AddressLimit: addrs,
		ClientIP:     clientIP(),
	})
	gmsCfg := gms.Config{
		Admin:        ovenv1.NewAdminClient(router),
		Registry:     reg,
		Logger:       log,
		SecureCookie: os.Getenv("OVEN_GMS_SECURE_COOKIE") == "1",
	}
	if os.Getenv("OVEN_GMS_TRUST_FORWARDED") == "1" { // behind a proxy that sets X-Forwarded-For
		gmsCfg.ClientIP = gms.ForwardedClientIP
	}
	console := gms.New(gmsCfg)
	addr := env("OVEN_HTTP_ADDR", "127.0.0.1:8080")
	log.Info("presentation serving", "addr", addr, "shards", membersText)
	if debug := os.Getenv("OVEN_DEBUG_ADDR"); debug != "" {
		go serveDebug(ctx, debug, log)
	}
	return httpapi.Serve(ctx, addr, gms.Mount(console, h), log)
}

// rateLimits are the request limits every copy shares in the Redis of OVEN_REDIS_URL
// (package ratelimit; README "Rate limits"): per player OVEN_RATE_PLAYER requests a
// second (default 20, burst twice that: a real client makes a few a second), per client
// address OVEN_RATE_GUEST_ADDR guest sign-ins a minute (default 10, burst
// OVEN_RATE_GUEST_ADDR_BURST, default 20: a game reinstalled in a whole office or behind
// a carrier's NAT still gets through). 0 turns a limit off. Without OVEN_REDIS_URL there
// are no limits: a copy alone could only count its own share.
func rateLimits(reg prometheus.Registerer, log *slog.Logger) (players, addrs httpapi.Limiter, closeFn func(), err error) {
	perPlayer, err1 := strconv.ParseFloat(env("OVEN_RATE_PLAYER", "20"), 64)
	perAddr, err2 := strconv.ParseFloat(env("OVEN_RATE_GUEST_ADDR", "60"), 64)
	addrBurst, err3 := strconv.Atoi(env("OVEN_RATE_GUEST_ADDR_BURST", "120"))
	switch {
	case err1 != nil || perPlayer < 0:
		return nil, nil, nil, fmt.Errorf("OVEN_RATE_PLAYER must be a number of requests per second ≥ 0 (0: no limit)")
	case err2 != nil || perAddr < 0:
		return nil, nil, nil, fmt.Errorf("OVEN_RATE_GUEST_ADDR must be a number of guest sign-ins per minute ≥ 0 (0: no limit)")
	case err3 != nil || addrBurst < 1:
		return nil, nil, nil, fmt.Errorf("OVEN_RATE_GUEST_ADDR_BURST must be a whole number ≥ 1")
	}
	url := os.Getenv("OVEN_REDIS_URL")
	if url == "" || perPlayer == 0 && perAddr == 0 {
		log.Warn("no shared rate limits", "redis", url != "")
		return nil, nil, func() {}, nil
	}
	rdb, err := redisdb.OpenDeadlines(url)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("OVEN_REDIS_URL: %w", err)
	}
	m := ratelimit.NewMetrics(reg)
	if perPlayer > 0 {
		players = ratelimit.New(ratelimit.Config{Redis: rdb, Name: "player", Metrics: m, Log: log,
			Limit: ratelimit.PerSecond(perPlayer, max(1, int(2*perPlayer)))})
	}
	if perAddr > 0 {
		addrs = ratelimit.New(ratelimit.Config{Redis: rdb, Name: "guest_addr", Metrics: m, Log: log,
			Limit: ratelimit.PerMinute(perAddr, addrBurst)})
	}
	return players, addrs, func() { rdb.Close() }, nil
}

// clientIP is how both the API's address limit and the GMS login throttle find the
// client: behind a proxy that appends it to X-Forwarded-For (OVEN_GMS_TRUST_FORWARDED=1),
// from there; else nil, the connection's address.
func clientIP() func(r *http.Request) string {
	if os.Getenv("OVEN_GMS_TRUST_FORWARDED") == "1" {
		return gms.ForwardedClientIP
	}
	return nil
}

// shardMembers follows membership in etcd when OVEN_ETCD_ENDPOINTS is set (shards come
// and go without a restart), else serves the static OVEN_SHARDS list. The etcd watch
// ends with ctx.
func shardMembers(ctx context.Context, log *slog.Logger) (cluster.Source, string, error) {
	if eps := os.Getenv("OVEN_ETCD_ENDPOINTS"); eps != "" {
		w, _, err := cluster.Follow(ctx, eps, env("OVEN_ETCD_PREFIX", "/oven"), log)
		return w, "etcd " + eps, err
	}
	ms, err := cluster.ParseMembers(env("OVEN_SHARDS", "s1=127.0.0.1:7101"))
	if err != nil {
		return nil, "", err
	}
	static, err := cluster.NewStatic(ms)
	return static, cluster.FormatMembers(ms), err
}

// tokenRing is the key ring of guest tokens (README "Tokens"): OVEN_TOKEN_KEYS
// ("<id>:<key>,…", the first or OVEN_TOKEN_SIGNING_KID signing), or one key under
// auth.DefaultKeyID: OVEN_TOKEN_KEY, or in dev a key generated once under
// OVEN_STATE_DIR. Setting both variables is refused rather than guessed at.
func tokenRing() (*auth.Ring, error) {
	keys, key, signing := os.Getenv("OVEN_TOKEN_KEYS"), os.Getenv("OVEN_TOKEN_KEY"), os.Getenv("OVEN_TOKEN_SIGNING_KID")
	switch {
	case keys != "" && key != "":
		return nil, fmt.Errorf("OVEN_TOKEN_KEYS and OVEN_TOKEN_KEY are both set: put the key of OVEN_TOKEN_KEY in the ring as %s:<key>", auth.DefaultKeyID)
	case keys != "":
		ring, err := auth.ParseRing(keys, signing)
		if err != nil {
			return nil, fmt.Errorf("OVEN_TOKEN_KEYS: %w", err)
		}
		return ring, nil
	}
	var secret []byte
	var err error
	if key != "" {
		secret, err = auth.ParseKey(key)
	} else {
		secret, err = auth.LoadOrCreateKey(filepath.Join(env("OVEN_STATE_DIR", ".oven"), "token.key"))
	}
	if err != nil {
		return nil, err
	}
	return auth.NewRing(signing, auth.Key{ID: auth.DefaultKeyID, Secret: secret})
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// serveDebug serves pprof on a separate, internal address (never the public one).
func serveDebug(ctx context.Context, addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 90 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && ctx.Err() == nil {
		log.Warn("debug server stopped", "addr", addr, "err", err)
	}
}
