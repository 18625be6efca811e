package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/ovengames/oven/deploy/localdeps"
)

// gms is a logged-in GMS session on a running stack.
type gms struct {
	t    *testing.T
	base string
	http *http.Client
	csrf string
}

func gmsLogin(t *testing.T, base, password string) *gms {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	g := &gms{t: t, base: base, http: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
	var s struct {
		CSRFToken string `json:"csrf_token"`
	}
	g.call("POST", "/gms/api/login", fmt.Sprintf(`{"username":"admin","password":%q}`, password), 200, &s)
	g.csrf = s.CSRFToken
	return g
}

func (g *gms) call(method, path, body string, want int, out any) {
	g.t.Helper()
	req, _ := http.NewRequest(method, g.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", g.csrf)
	resp, err := g.http.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		g.t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			g.t.Fatal(err)
		}
	}
}

// TestStackPrewarmTimeline drives pre-warming end to end in the dev runner: the shards'
// controller raises the presentation floor 10 minutes before a scheduled event with an
// expected load (on the dev clock), at once when a GMS broadcast's campaign starts sending,
// and lets it fall after the hold once the load was quiet; the runner really starts and
// stops presentation copies behind haproxy. The timeline is logged (-v).
func TestStackPrewarmTimeline(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the whole stack")
	}
	ictx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := localdeps.EnsureHAProxy(ictx); err != nil {
		t.Skipf("haproxy is missing and cannot be installed here: %v", err)
	}
	st := bootStack(t, "OVEN_DEV_CLOCK=1", "OVEN_SHARD_COUNT=2", "OVEN_ADMIN_PASSWORD=prewarm-test-pw",
		"OVEN_PREWARM_BASE=1", "OVEN_PREWARM_MAX=3")
	g := gmsLogin(t, st.base, "prewarm-test-pw")
	c := &client{t: t, base: st.base}
	tok := c.guest("e2e-prewarm-device")
	began := time.Now()
	var now time.Time // the game's clock
	advance := func(d time.Duration) {
		var r struct {
			Now string `json:"now"`
		}
		c.json(c.do("POST", "/v1/dev/clock", tok, fmt.Sprintf(`{"advance_s":%d}`, int(d.Seconds())), 200), &r)
		now, _ = time.Parse(time.RFC3339, r.Now)
	}
	advance(time.Second)
	copies := func(want int, why string) {
		t.Helper()
		st.waitCopies(t, want)
		var capacity struct {
			Presentation struct {
				Floor  int    `json:"floor"`
				Reason string `json:"reason"`
			} `json:"presentation"`
		}
		g.call("GET", "/gms/api/capacity", "", 200, &capacity)
		t.Logf("t=%5.1fs game %s: %d presentation copies (%s; GMS: floor %d, %q)", time.Since(began).Seconds(),
			now.Format("15:04:05"), want, why, capacity.Presentation.Floor, capacity.Presentation.Reason)
	}
	copies(1, "base floor")

	starts := now.Add(30 * time.Minute).Truncate(time.Second)
	g.call("POST", "/gms/api/events", fmt.Sprintf(`{"kind":"infinite_lives","title":"Weekend","starts_at":%q,"ends_at":%q,"expected_load":2}`,
		starts.Format(time.RFC3339), starts.Add(2*time.Hour).Format(time.RFC3339)), 201, nil)
	advance(19 * time.Minute)
	time.Sleep(6 * time.Second) // a controller tick or more: nothing yet, 11 minutes ahead
	if got := st.presentations(t, "GET", nil, 200); got.Current != 1 || got.Floor > 1 {
		t.Fatalf("11 minutes before the event: %+v, want the base floor", got)
	}
	advance(2 * time.Minute) // 9 minutes ahead: inside the lead
	copies(2, "9 minutes before a scheduled event expecting ×2")

	g.call("POST", "/gms/api/gifts/broadcast", `{"kind":"coins","amount":10,"message":"Coins on us","duration_s":3600}`, 200, nil)
	copies(3, "a GMS broadcast: its campaign sends now")

	advance(45 * time.Minute) // past both holds (30 minutes after each start); the load stayed quiet
	copies(1, "after the holds, the load quiet")
}
