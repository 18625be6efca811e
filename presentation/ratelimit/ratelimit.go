// Package ratelimit is the presentation tier's request limits, shared by every copy:
// the budget of a player or of a client address lives in Redis, so a client spread over
// n copies by the load balancer gets the limit once, not n times.
//
// Each request costs one round trip: one script call (GCRA, redisdb.RateLimit) on one
// key, which works on a Redis Cluster as on one server.
//
// # Failing open
//
// When Redis does not answer in time, Allow allows, counts the request in
// oven_ratelimit_requests_total{result="failed_open"} and logs once per outage. The
// limits guard against runaway clients and scripted guest sign-ups; they are not what
// keeps the game correct (the owner shards check lives, coins and cooldowns). Refusing
// every request while Redis is away would turn a degraded guard into a full outage of
// the API, which is worse than a few minutes without limits.
package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/ovengames/oven/application/redisdb"
)

// DefaultTimeout bounds one check: a request waits at most this long for its limit.
const DefaultTimeout = 100 * time.Millisecond

// maxID bounds the id part of a key: a forged X-Forwarded-For must not make huge keys.
const maxID = 64

// Limit is a rate with a burst: Burst requests at once, then one per Every.
type Limit struct {
	Every time.Duration
	Burst int
}

// PerSecond is n requests a second on average, up to burst at once.
func PerSecond(n float64, burst int) Limit {
	return Limit{Every: time.Duration(float64(time.Second) / n), Burst: burst}
}

// PerMinute is n requests a minute on average, up to burst at once.
func PerMinute(n float64, burst int) Limit {
	return Limit{Every: time.Duration(float64(time.Minute) / n), Burst: burst}
}

// Metrics are the counters every Limiter of a process shares.
type Metrics struct {
	requests *prometheus.CounterVec
}

// NewMetrics registers the limiters' counters in reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "oven_ratelimit_requests_total",
		Help: "Requests checked against a shared rate limit, by limit and result (allowed, limited, failed_open: Redis did not answer and the request was allowed).",
	}, []string{"limit", "result"})}
	if reg != nil {
		reg.MustRegister(m.requests)
	}
	return m
}

// Config configures a Limiter.
type Config struct {
	Redis redis.UniversalClient
	// Prefix namespaces the keys (tests; production "").
	Prefix string
	// Name names the limit in its keys and metrics ("player", "guest_addr"). Copies
	// share a budget when they use the same Name and Prefix.
	Name  string
	Limit Limit
	// Timeout bounds one check (default DefaultTimeout).
	Timeout time.Duration
	// Now is real time (limits never follow the game clock); nil means time.Now.
	Now     func() time.Time
	Metrics *Metrics // nil: private, unregistered counters
	Log     *slog.Logger
}

// Limiter is one shared limit, keyed by whom it counts.
type Limiter struct {
	cfg      Config
	db       *redisdb.DB
	every    string // the interval in ms, as the script takes it
	burst    int
	failing  atomic.Bool // in an outage (logged once)
	allowed  prometheus.Counter
	limited  prometheus.Counter
	failOpen prometheus.Counter
}

// New returns a Limiter. It panics without Redis, a Name or a positive Limit: a wiring bug.
func New(cfg Config) *Limiter {
	if cfg.Redis == nil || cfg.Name == "" || cfg.Limit.Every <= 0 || cfg.Limit.Burst < 1 {
		panic("ratelimit: Config needs Redis, Name, and a Limit with Every > 0 and Burst ≥ 1")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	ms := float64(cfg.Limit.Every) / float64(time.Millisecond)
	return &Limiter{cfg: cfg, db: redisdb.New(cfg.Redis, cfg.Prefix),
		every: strconv.FormatFloat(ms, 'f', -1, 64), burst: cfg.Limit.Burst,
		allowed:  cfg.Metrics.requests.WithLabelValues(cfg.Name, "allowed"),
		limited:  cfg.Metrics.requests.WithLabelValues(cfg.Name, "limited"),
		failOpen: cfg.Metrics.requests.WithLabelValues(cfg.Name, "failed_open"),
	}
}

// Allow takes one request from id's budget. When the budget is spent it answers false
// and how long until the next request fits; nothing is taken then. When Redis does not
// answer within the Timeout it answers true (see the package comment).
func (l *Limiter) Allow(ctx context.Context, id string) (bool, time.Duration) {
	if len(id) > maxID {
		id = id[:maxID]
	}
	cctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	r, err := l.db.Run(cctx, redisdb.RateLimit, []string{l.db.RateLimit(l.cfg.Name, id)},
		l.cfg.Now().UnixMilli(), l.every, l.burst).Int64Slice()
	if err == nil && len(r) != 2 {
		err = errBadReply
	}
	if err != nil && ctx.Err() != nil {
		return true, 0 // the client left: no answer is needed, and Redis is not to blame
	}
	if err != nil {
		l.failOpen.Inc()
		if !l.failing.Swap(true) {
			l.cfg.Log.Warn("rate limit unavailable: allowing requests until Redis answers", "limit", l.cfg.Name, "err", err)
		}
		return true, 0
	}
	if l.failing.Swap(false) {
		l.cfg.Log.Info("rate limit available again", "limit", l.cfg.Name)
	}
	if r[0] == 1 {
		l.allowed.Inc()
		return true, 0
	}
	l.limited.Inc()
	return false, time.Duration(r[1]) * time.Millisecond
}

var errBadReply = errors.New("ratelimit: unexpected script reply")
