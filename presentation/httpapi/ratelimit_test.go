package httpapi_test

import (
	"encoding/json"
	"testing"

	"github.com/ovengames/oven/presentation/httpapi"
)

func TestPerPlayerRateLimit(t *testing.T) {
	// The clock stands still, so the bucket never refills: 2/s allows a burst of 4.
	a := newAPI(t, func(c *httpapi.Config) { c.RatePerPlayer = 2 })
	tok := a.token("p1")
	for i := range 4 {
		if res := a.do(t, req{method: "GET", path: "/v1/me", token: tok}); res.status != 200 {
			t.Fatalf("request %d: %d", i+1, res.status)
		}
	}
	res := a.do(t, req{method: "GET", path: "/v1/me", token: tok})
	if res.status != 429 || res.header.Get("Retry-After") != "1" {
		t.Fatalf("5th request: %d, Retry-After %q", res.status, res.header.Get("Retry-After"))
	}
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	json.Unmarshal(res.body, &body)
	if body.Error.Code != "rate_limited" {
		t.Errorf("code %q", body.Error.Code)
	}
	if res := a.do(t, req{method: "GET", path: "/v1/me", token: a.token("p2")}); res.status != 200 {
		t.Errorf("another player was limited too: %d", res.status)
	}
	calls := 0
	for _, c := range a.game.Calls() {
		if c.Method == "GetMe" {
			calls++
		}
	}
	if calls != 5 {
		t.Errorf("%d GetMe calls reached the game, want 5 (4 + the other player's)", calls)
	}
}
