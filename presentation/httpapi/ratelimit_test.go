package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/ovengames/oven/application/redisdb"
	"github.com/ovengames/oven/deploy/localdeps"
	"github.com/ovengames/oven/presentation/httpapi"
	"github.com/ovengames/oven/presentation/ratelimit"
)

// limitedCopies starts a Redis and returns two API copies that share its limits, as
// two presentation processes do: each its own Redis client, one key prefix.
func limitedCopies(t *testing.T, player, guest ratelimit.Limit, clientIP func(*http.Request) string) [2]*api {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rd, err := localdeps.StartRedis(ctx, localdeps.RedisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Stop() })
	var copies [2]*api
	for i := range copies {
		c, err := redisdb.OpenDeadlines(rd.URL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		lim := func(name string, l ratelimit.Limit) *ratelimit.Limiter {
			return ratelimit.New(ratelimit.Config{Redis: c, Prefix: "api:", Name: name, Limit: l,
				Timeout: 2 * time.Second, Now: func() time.Time { return t0 }})
		}
		copies[i] = newAPI(t, func(cfg *httpapi.Config) {
			cfg.PlayerLimit = lim("player", player)
			cfg.AddressLimit = lim("guest_addr", guest)
			cfg.ClientIP = clientIP
		})
	}
	return copies
}

func rateLimitedBody(t *testing.T, res response) {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(res.body, &e); err != nil || e.Error.Code != "rate_limited" {
		t.Errorf("body %s, want code rate_limited", res.body)
	}
}

func TestPerPlayerRateLimitAcrossCopies(t *testing.T) {
	t.Parallel()
	// The clock stands still, so the budget never refills: 2/s allows a burst of 4,
	// taken from both copies together.
	a := limitedCopies(t, ratelimit.PerSecond(2, 4), ratelimit.PerMinute(10, 20), nil)
	tok := a[0].token("p1")
	for i := range 4 {
		if res := a[i%2].do(t, req{method: "GET", path: "/v1/me", token: tok}); res.status != 200 {
			t.Fatalf("request %d: %d", i+1, res.status)
		}
	}
	for i := range a {
		res := a[i].do(t, req{method: "GET", path: "/v1/me", token: tok})
		if res.status != 429 || res.header.Get("Retry-After") != "1" {
			t.Fatalf("copy %d, 5th request: %d, Retry-After %q", i, res.status, res.header.Get("Retry-After"))
		}
		rateLimitedBody(t, res)
	}
	if res := a[1].do(t, req{method: "GET", path: "/v1/me", token: a[1].token("p2")}); res.status != 200 {
		t.Errorf("another player was limited too: %d", res.status)
	}
	calls := 0
	for _, c := range append(a[0].game.Calls(), a[1].game.Calls()...) {
		if c.Method == "GetMe" {
			calls++
		}
	}
	if calls != 5 {
		t.Errorf("%d GetMe calls reached the game, want 5 (4 + the other player's)", calls)
	}
}

func TestGuestAuthPerAddress(t *testing.T) {
	t.Parallel()
	// A header names the client's address, as a trusted proxy's X-Forwarded-For does.
	ip := func(r *http.Request) string { return r.Header.Get("X-Test-Client") }
	a := limitedCopies(t, ratelimit.PerSecond(100, 200), ratelimit.PerMinute(10, 3), ip)
	guest := func(copy int, addr string, n int) response {
		return a[copy].do(t, req{method: "POST", path: "/v1/auth/guest",
			body: body(fmt.Sprintf(`{"device_id":"device-%04d"}`, n)), header: map[string]string{"X-Test-Client": addr}})
	}
	for i := range 3 {
		if res := guest(i%2, "203.0.113.7", i); res.status != 200 {
			t.Fatalf("sign-in %d: %d %s", i+1, res.status, res.body)
		}
	}
	res := guest(1, "203.0.113.7", 3)
	if res.status != 429 || res.header.Get("Retry-After") != "6" { // one per 6 s
		t.Fatalf("4th sign-in from one address: %d, Retry-After %q", res.status, res.header.Get("Retry-After"))
	}
	rateLimitedBody(t, res)
	if res := guest(0, "203.0.113.8", 4); res.status != 200 {
		t.Errorf("another address was limited too: %d", res.status)
	}
	// Authenticated routes count per player, not per address.
	if res := a[0].do(t, req{method: "GET", path: "/v1/me", token: a[0].token("p1"),
		header: map[string]string{"X-Test-Client": "203.0.113.7"}}); res.status != 200 {
		t.Errorf("a player behind a limited address: %d", res.status)
	}
	// Probes are never limited.
	if res := a[0].do(t, req{method: "GET", path: "/healthz", header: map[string]string{"X-Test-Client": "203.0.113.7"}}); res.status != 200 {
		t.Errorf("/healthz: %d", res.status)
	}
}
