// Command application runs one Oven application shard, applies the database
// migrations with `application migrate`, or adds a GMS admin with
// `application admin add -username U -role R` (password from OVEN_ADMIN_NEW_PASSWORD or stdin).
//
// Configuration comes from OVEN_ environment variables (see README.md).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ovengames/oven/application/admins"
	"github.com/ovengames/oven/application/boot"
	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/logbuf"
	"github.com/ovengames/oven/application/mailbox"
	"github.com/ovengames/oven/application/prewarm"
	"github.com/ovengames/oven/application/push"
	"github.com/ovengames/oven/application/reqid"
	"github.com/ovengames/oven/application/shard"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logs := logbuf.New(os.Stderr, 0, 0) // batched: few write system calls under load
	// reqid.Handler: each line logged while serving a call carries its request_id.
	log := slog.New(reqid.NewHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: logLevel()})))
	if err := run(ctx, os.Args[1:], log); err != nil {
		log.Error("application failed", "err", err)
		logs.Close()
		os.Exit(1)
	}
	logs.Close()
}

func run(ctx context.Context, args []string, log *slog.Logger) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "migrate":
		mctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if err := shard.Migrate(mctx, env("OVEN_DATABASE_URL", "")); err != nil {
			return err
		}
		log.Info("migrations applied")
		return nil
	case "serve":
		cfg, err := configFromEnv(log)
		if err != nil {
			return err
		}
		if cfg.Etcd != nil {
			defer cfg.Etcd.Close()
		}
		return boot.Run(ctx, cfg)
	case "admin":
		return admins.Command(ctx, args[1:], admins.CommandEnv{DatabaseURL: env("OVEN_DATABASE_URL", ""),
			Password: os.Getenv("OVEN_ADMIN_NEW_PASSWORD"), Stdin: os.Stdin, Stdout: os.Stdout})
	default:
		return fmt.Errorf("unknown command %q (want serve, migrate or admin)", cmd)
	}
}

// configFromEnv reads the shard's OVEN_ settings; the defaults run one shard on a laptop.
func configFromEnv(log *slog.Logger) (boot.Config, error) {
	id := env("OVEN_SHARD_ID", "s1")
	grpcAddr := env("OVEN_GRPC_ADDR", "127.0.0.1:7101")
	advertise := os.Getenv("OVEN_GRPC_ADVERTISE")
	var members cluster.Source
	var etcd *clientv3.Client
	if eps := os.Getenv("OVEN_ETCD_ENDPOINTS"); eps != "" {
		if err := reachable(grpcAddr, advertise); err != nil {
			return boot.Config{}, err
		}
		var err error
		if etcd, err = cluster.DialEtcd(eps); err != nil {
			return boot.Config{}, err
		}
	} else {
		ms, err := cluster.ParseMembers(env("OVEN_SHARDS", id+"="+grpcAddr))
		if err != nil {
			return boot.Config{}, err
		}
		static, err := cluster.NewStatic(ms)
		if err != nil {
			return boot.Config{}, err
		}
		if _, ok := static.Current().Member(id); !ok {
			return boot.Config{}, fmt.Errorf("OVEN_SHARD_ID %q is not in OVEN_SHARDS", id)
		}
		members = static
	}
	leaseTTL, err := time.ParseDuration(env("OVEN_LEASE_TTL", "6s"))
	if err != nil || leaseTTL < 2*time.Second {
		return boot.Config{}, fmt.Errorf("OVEN_LEASE_TTL must be a duration of at least 2s")
	}
	plays, err := days("OVEN_RETENTION_PLAYS", 30)
	if err != nil {
		return boot.Config{}, err
	}
	ledger, err := days("OVEN_RETENTION_LEDGER", 90)
	if err != nil {
		return boot.Config{}, err
	}
	auditDays, err := days("OVEN_RETENTION_AUDIT", 180)
	if err != nil {
		return boot.Config{}, err
	}
	pushDays, err := days("OVEN_RETENTION_PUSHES", 7)
	if err != nil {
		return boot.Config{}, err
	}
	friendLimit, err := strconv.Atoi(env("OVEN_FRIEND_LIMIT", "200"))
	if err != nil || friendLimit < 1 {
		return boot.Config{}, fmt.Errorf("OVEN_FRIEND_LIMIT must be a whole number ≥ 1")
	}
	pgGroups, err := strconv.Atoi(env("OVEN_PG_GROUPS", "2"))
	if err != nil || pgGroups < 1 || pgGroups > 64 {
		return boot.Config{}, fmt.Errorf("OVEN_PG_GROUPS must be a whole number from 1 to 64")
	}
	redisGroups, err := strconv.Atoi(env("OVEN_REDIS_GROUPS", "0"))
	if err != nil || redisGroups < 0 || redisGroups > 64 {
		return boot.Config{}, fmt.Errorf("OVEN_REDIS_GROUPS must be a whole number from 0 to 64")
	}
	pushCfg, err := push.ConfigFromEnv(os.Getenv)
	if err != nil {
		return boot.Config{}, err
	}
	prewarmCfg, scaler, err := prewarm.FromEnv(os.Getenv)
	if err != nil {
		return boot.Config{}, err
	}
	return boot.Config{
		Push:            pushCfg,
		Prewarm:         prewarmCfg,
		Scaler:          scaler,
		FriendLimit:     friendLimit,
		RetentionPlays:  plays,
		RetentionLedger: ledger,
		RetentionAudit:  auditDays,
		RetentionPushes: pushDays,
		ID:              id,
		GRPCAddr:        grpcAddr,
		Advertise:       advertise,
		HTTPAddr:        env("OVEN_METRICS_ADDR", ""),
		Members:         members,
		Etcd:            etcd,
		EtcdPrefix:      env("OVEN_ETCD_PREFIX", "/oven"),
		LeaseTTL:        leaseTTL,
		DatabaseURL:     env("OVEN_DATABASE_URL", ""),
		PGGroups:        pgGroups,
		RedisGroups:     redisGroups,
		RedisURL:        env("OVEN_REDIS_URL", ""),
		Couchbase: mailbox.Config{
			ConnString: env("OVEN_COUCHBASE_URL", ""),
			Username:   env("OVEN_COUCHBASE_USER", "oven"),
			Password:   env("OVEN_COUCHBASE_PASSWORD", ""),
			Bucket:     env("OVEN_COUCHBASE_BUCKET", "game"),
		},
		DevClock: os.Getenv("OVEN_DEV_CLOCK") == "1",
		Logger:   log,
	}, nil
}

// reachable checks the address a shard registers in etcd, OVEN_GRPC_ADVERTISE or else
// OVEN_GRPC_ADDR: other processes dial it, so it must name a host, not every interface.
func reachable(listen, advertise string) error {
	key, addr := "OVEN_GRPC_ADVERTISE", advertise
	if addr == "" {
		key, addr = "OVEN_GRPC_ADDR", listen
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q: want host:port", key, addr)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		return fmt.Errorf("%s %q names no host other processes can dial: set OVEN_GRPC_ADVERTISE to the host:port they reach this shard at", key, addr)
	}
	return nil
}

// days reads a whole number of days (at least 1).
func days(key string, def int) (time.Duration, error) {
	n, err := strconv.Atoi(env(key, strconv.Itoa(def)))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s must be a whole number of days ≥ 1", key)
	}
	return time.Duration(n) * 24 * time.Hour, nil
}

func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

func logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(env("OVEN_LOG_LEVEL", "info"))); err != nil {
		return slog.LevelInfo
	}
	return l
}
