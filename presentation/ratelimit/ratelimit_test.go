package ratelimit_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovengames/oven/application/redisdb"
	"github.com/ovengames/oven/deploy/localdeps"
	"github.com/ovengames/oven/presentation/ratelimit"
)

var (
	redisURL string
	seq      atomic.Int64
	t0       = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
)

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	r, err := localdeps.StartRedis(ctx, localdeps.RedisOptions{})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	redisURL = r.URL()
	code := m.Run()
	r.Stop()
	os.Exit(code)
}

// clock is a settable real-time clock shared by the copies of a test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// copies returns n limiters as n presentation copies run them: each its own Redis
// client, all with one prefix (a fresh one per test) and name.
func copies(t *testing.T, n int, lim ratelimit.Limit, clk *clock) []*ratelimit.Limiter {
	t.Helper()
	prefix := fmt.Sprintf("rl%d:", seq.Add(1))
	var ls []*ratelimit.Limiter
	for range n {
		c, err := redisdb.OpenDeadlines(redisURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		ls = append(ls, ratelimit.New(ratelimit.Config{Redis: c, Prefix: prefix, Name: "player", Limit: lim,
			Timeout: 2 * time.Second, Now: clk.Now}))
	}
	return ls
}

type decision struct {
	Allowed bool
	Retry   time.Duration
}

func TestGCRA(t *testing.T) {
	t.Parallel()
	type step struct {
		advance time.Duration
		copy    int // which copy asks
		want    decision
	}
	tests := []struct {
		name  string
		limit ratelimit.Limit
		steps []step
	}{
		{"burst then pace", ratelimit.PerSecond(1, 3), []step{
			{0, 0, decision{true, 0}}, {0, 0, decision{true, 0}}, {0, 0, decision{true, 0}},
			{0, 0, decision{false, time.Second}},
			{999 * time.Millisecond, 0, decision{false, time.Millisecond}},
			{time.Millisecond, 0, decision{true, 0}},
			{0, 0, decision{false, time.Second}},
			// Idle long enough, the whole burst is back, and no more.
			{10 * time.Second, 0, decision{true, 0}}, {0, 0, decision{true, 0}}, {0, 0, decision{true, 0}},
			{0, 0, decision{false, time.Second}},
		}},
		{"two copies share one budget", ratelimit.PerSecond(2, 4), []step{
			{0, 0, decision{true, 0}}, {0, 1, decision{true, 0}}, {0, 0, decision{true, 0}}, {0, 1, decision{true, 0}},
			{0, 0, decision{false, 500 * time.Millisecond}}, {0, 1, decision{false, 500 * time.Millisecond}},
			{250 * time.Millisecond, 1, decision{false, 250 * time.Millisecond}},
			{250 * time.Millisecond, 1, decision{true, 0}},
			{0, 0, decision{false, 500 * time.Millisecond}},
		}},
		{"minutes, fractional interval", ratelimit.PerMinute(7, 1), []step{
			{0, 0, decision{true, 0}},
			{0, 1, decision{false, 8572 * time.Millisecond}}, // 60 s / 7 = 8571.43 ms, rounded up
			{8571 * time.Millisecond, 0, decision{false, time.Millisecond}},
			{time.Millisecond, 1, decision{true, 0}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := &clock{now: t0}
			ls := copies(t, 2, tt.limit, clk)
			var got, want []decision
			for _, s := range tt.steps {
				clk.Advance(s.advance)
				ok, retry := ls[s.copy].Allow(context.Background(), "p1")
				got = append(got, decision{ok, retry})
				want = append(want, s.want)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("decisions (-want +got)\n%s", diff)
			}
		})
	}
}

func TestKeysAreIndependent(t *testing.T) {
	t.Parallel()
	clk := &clock{now: t0}
	l := copies(t, 1, ratelimit.PerSecond(1, 1), clk)[0]
	if ok, _ := l.Allow(context.Background(), "p1"); !ok {
		t.Fatal("p1's first request refused")
	}
	if ok, _ := l.Allow(context.Background(), "p1"); ok {
		t.Fatal("p1's second request allowed")
	}
	if ok, _ := l.Allow(context.Background(), "p2"); !ok {
		t.Error("p2 is limited by p1's requests")
	}
}

// TestSharedBudgetRace hammers one key from many goroutines on four copies while the
// clock stands still: exactly the burst gets through, whatever the interleaving.
func TestSharedBudgetRace(t *testing.T) {
	t.Parallel()
	const burst = 25
	clk := &clock{now: t0}
	ls := copies(t, 4, ratelimit.PerMinute(1, burst), clk)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := range 40 {
		wg.Go(func() {
			for range 5 {
				if ok, _ := ls[g%len(ls)].Allow(context.Background(), "hot"); ok {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != burst {
		t.Errorf("%d of 200 requests allowed, want the burst, %d", got, burst)
	}
}

// TestFailOpen: with Redis unreachable every request is allowed, quickly, and counted.
func TestFailOpen(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "redis://" + ln.Addr().String() + "/0"
	ln.Close() // nothing listens there now: connections are refused
	c, err := redisdb.OpenDeadlines(dead)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	reg := prometheus.NewRegistry()
	l := ratelimit.New(ratelimit.Config{Redis: c, Name: "player", Limit: ratelimit.PerSecond(1, 1), Metrics: ratelimit.NewMetrics(reg)})
	start := time.Now()
	for i := range 3 {
		if ok, retry := l.Allow(context.Background(), "p1"); !ok || retry != 0 {
			t.Fatalf("request %d on a dead Redis: %v, %v; want allowed", i+1, ok, retry)
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("three checks took %v", d)
	}
	if got := counter(t, reg, "player", "failed_open"); got != 3 {
		t.Errorf("failed_open = %v, want 3", got)
	}
}

// TestHungRedis: a Redis that accepts and never answers costs a check its Timeout.
func TestHungRedis(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	c, err := redisdb.OpenDeadlines("redis://" + ln.Addr().String() + "/0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	reg := prometheus.NewRegistry()
	l := ratelimit.New(ratelimit.Config{Redis: c, Name: "guest_addr", Limit: ratelimit.PerSecond(1, 1),
		Timeout: 50 * time.Millisecond, Metrics: ratelimit.NewMetrics(reg)})
	start := time.Now()
	if ok, _ := l.Allow(context.Background(), "10.0.0.1"); !ok {
		t.Fatal("refused on a hung Redis")
	}
	// Far below go-redis's 2 s read timeout; generous for a busy machine.
	if d := time.Since(start); d > time.Second {
		t.Errorf("the check took %v, want about its 50 ms timeout", d)
	}
	if got := counter(t, reg, "guest_addr", "failed_open"); got != 1 {
		t.Errorf("failed_open = %v, want 1", got)
	}
}

// counter reads oven_ratelimit_requests_total{limit, result} from reg.
func counter(t *testing.T, reg *prometheus.Registry, limit, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "oven_ratelimit_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["limit"] == limit && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
