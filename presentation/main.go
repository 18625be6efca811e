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
	"google.golang.org/grpc"

	"github.com/ovengames/oven/application/client"
	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/application/logbuf"
	"github.com/ovengames/oven/presentation/auth"
	"github.com/ovengames/oven/presentation/gms"
	"github.com/ovengames/oven/presentation/httpapi"
	"github.com/ovengames/oven/proto/ovenv1"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// One JSON access log line per request: batched, not a write system call each.
	logs := logbuf.New(os.Stderr, 0, 0)
	log := slog.New(slog.NewJSONHandler(logs, nil)).With("process", "presentation")
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
	key, err := tokenKey()
	if err != nil {
		return err
	}
	ttl, err := time.ParseDuration(env("OVEN_TOKEN_TTL", "720h"))
	if err != nil {
		return fmt.Errorf("OVEN_TOKEN_TTL: %w", err)
	}
	tokens, err := auth.NewSigner(key, ttl)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	router := client.New(client.Config{Members: members,
		DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(grpcerr.UnaryClientInterceptor)}})
	defer router.Close()

	rate, err := strconv.ParseFloat(env("OVEN_RATE_PLAYER", "20"), 64)
	if err != nil || rate < 0 {
		return fmt.Errorf("OVEN_RATE_PLAYER must be a number of requests per second ≥ 0 (0: no limit)")
	}
	h := httpapi.New(httpapi.Config{
		Game:     ovenv1.NewGameClient(router),
		Ready:    router.Ready,
		Tokens:   tokens,
		Registry: reg,
		Logger:   log,
		DevClock: os.Getenv("OVEN_DEV_CLOCK") == "1",
		// A real client makes a few calls a second; 20/s (burst 40) stops runaways.
		RatePerPlayer: rate,
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

// tokenKey is OVEN_TOKEN_KEY, or in dev a key generated once under OVEN_STATE_DIR.
func tokenKey() ([]byte, error) {
	if v := os.Getenv("OVEN_TOKEN_KEY"); v != "" {
		return auth.ParseKey(v)
	}
	return auth.LoadOrCreateKey(filepath.Join(env("OVEN_STATE_DIR", ".oven"), "token.key"))
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
