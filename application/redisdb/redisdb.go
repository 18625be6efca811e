// Package redisdb is Oven's Redis: the one key scheme (Keys), every Lua script
// (lua/, embedded), how scripts are loaded and run (the NOSCRIPT path, written once),
// the fence that refuses a stale slot owner's writes, and how to connect to one server
// or a Redis Cluster. The domain packages (lives, plays, social, mailbox, leaderboard)
// keep their rules and call into it.
//
// # The fence
//
// Every per-player key is hash-tagged by the player's slot (see Keys), so each slot
// has a fence key, <prefix>{s<slot>}:fence, in the same Redis Cluster hash slot as
// its players' keys. It holds the epoch of the slot's newest owner. Every script that
// writes a player's state starts with one shared preamble (lua/fence.lua, prepended at
// load): a writer whose epoch (fence.Must(ctx)) is older than the fence is refused and
// writes nothing, and its error is a *fence.Error; a newer one raises the fence (a new
// owner raises it before it serves, RaiseFences, so finding it lower means this Redis
// lost data) and goes on. Redis runs a script atomically, so a raise waits for no
// write in flight: every later script sees it.
//
// Writes outside scripts are not fenced; each says why where it is made (the weekly
// board's ZADD GT, a monotone max written after the fenced SQL settle commit; the
// broadcast claim statistic; the dev clock and GMS sessions, which are not player
// state).
package redisdb

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/ovengames/oven/application/fence"
)

// DB is a Redis client with Oven's key scheme under a prefix.
type DB struct {
	Client redis.UniversalClient
	Keys
}

// New returns a DB over client; prefix namespaces every key (tests; production "").
func New(client redis.UniversalClient, prefix string) *DB {
	return &DB{Client: client, Keys: Keys{Prefix: prefix}}
}

var _ fence.Raiser = (*DB)(nil)

// RaiseFences sets each slot's fence to max(its epoch, epoch), in one pipeline. Scripts
// are atomic, so once it returns no script at an older epoch can write these slots.
func (db *DB) RaiseFences(ctx context.Context, slots []int, epoch uint64) error {
	if len(slots) == 0 {
		return nil
	}
	pipe := db.Pipeline()
	e := strconv.FormatUint(epoch, 10)
	for _, s := range slots {
		pipe.Run(ctx, raise, []string{db.Fence(s)}, e)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redisdb: raise fences: %w", err)
	}
	return nil
}

// ParseURL reads a Redis setting (OVEN_REDIS_URL):
//
//	redis://[user:password@]host:port[/db]            one server (rediss:// for TLS)
//	unix:///path/redis.sock[?db=N]                    one server over a Unix socket
//	redis://[user:password@]h1:p1,h2:p2,h3:p3?cluster=true
//	                                                  a Redis Cluster: any of its nodes
//	                                                  (one is enough), database 0 only
//
// Query options go-redis understands (dial_timeout, read_timeout, write_timeout,
// pool_size, max_retries, client_name) override Open's defaults.
func ParseURL(raw string) (*redis.UniversalOptions, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, fmt.Errorf("redisdb: url %q has no scheme", raw)
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	userinfo, hosts := "", authority
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userinfo, hosts = authority[:i+1], authority[i+1:]
	}
	addrs := strings.Split(hosts, ",")
	path, query, _ := strings.Cut(tail, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("redisdb: url query: %w", err)
	}
	clusterMode, _ := strconv.ParseBool(q.Get("cluster"))
	q.Del("cluster")
	if len(addrs) > 1 && !clusterMode {
		return nil, fmt.Errorf("redisdb: several hosts in the Redis url need ?cluster=true")
	}
	one := scheme + "://" + userinfo + addrs[0] + path
	if len(q) > 0 {
		one += "?" + q.Encode()
	}
	o, err := redis.ParseURL(one)
	if err != nil {
		return nil, fmt.Errorf("redisdb: %w", err)
	}
	u := &redis.UniversalOptions{Addrs: []string{o.Addr}, DB: o.DB, Username: o.Username, Password: o.Password,
		TLSConfig: o.TLSConfig, ClientName: o.ClientName, MaxRetries: o.MaxRetries, PoolSize: o.PoolSize,
		DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout}
	if o.Network == "unix" {
		u.Dialer = func(ctx context.Context, _, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", addr)
		}
	}
	if clusterMode {
		if o.Network == "unix" || o.DB != 0 {
			return nil, fmt.Errorf("redisdb: a Redis Cluster is reached over TCP, database 0")
		}
		u.Addrs, u.IsClusterMode = addrs, true
	}
	return u, nil
}

// Open connects to the Redis of a setting (see ParseURL): a single-server client, or a
// cluster client that routes each command and script by its keys' hash slot.
func Open(rawURL string) (redis.UniversalClient, error) {
	o, err := options(rawURL)
	if err != nil {
		return nil, err
	}
	return redis.NewUniversalClient(o), nil
}

// OpenDeadlines is Open for a caller whose every call carries its own short deadline
// (the presentation tier's shared rate limits): the socket honours the context's
// deadline, so a hung Redis costs a call that deadline rather than ReadTimeout.
func OpenDeadlines(rawURL string) (redis.UniversalClient, error) {
	o, err := options(rawURL)
	if err != nil {
		return nil, err
	}
	o.ContextTimeoutEnabled = true
	return redis.NewUniversalClient(o), nil
}

// OpenGrouped is Open for an owner shard: its commands are grouped (see group.go),
// with senders pipelines in flight at once (none: not grouped). Call stop after
// closing the client: it closes the group's connections.
func OpenGrouped(rawURL string, senders int, reg prometheus.Registerer) (c redis.UniversalClient, stop func(), err error) {
	o, err := options(rawURL)
	if err != nil {
		return nil, nil, err
	}
	c = redis.NewUniversalClient(o)
	if senders <= 0 {
		return c, func() {}, nil
	}
	ro := *o
	ro.PoolSize = senders + 2 // the senders' connections, and a spare for a redial
	raw := redis.NewUniversalClient(&ro)
	c.AddHook(newGroup(raw, senders, reg))
	return c, func() { raw.Close() }, nil
}

// options are a setting's go-redis options with Oven's defaults.
func options(rawURL string) (*redis.UniversalOptions, error) {
	o, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	// A dead Redis must cost a call a fast 503 (the shard's storeOutage), not go-redis's
	// default five dial attempts times four tries (~2 s). No command retries either: a
	// script whose reply was lost must not run twice (a start would take two lives);
	// retrying is the caller's, with an idempotency key. Dead pooled connections are
	// dropped by the pool's health check before use, so a healthy Redis never needs one.
	if o.DialTimeout == 0 {
		o.DialTimeout = 500 * time.Millisecond
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = -1
	}
	o.DialerRetries = 1
	if o.ReadTimeout == 0 {
		o.ReadTimeout = 2 * time.Second
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = 2 * time.Second
	}
	if o.PoolSize == 0 {
		o.PoolSize = 64
	}
	// RESP2: RESP3's push-notification check before every command read cost ~6 % of a
	// shard's CPU, and Oven subscribes to nothing.
	o.Protocol = 2
	return o, nil
}
