package vp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ovengames/oven/application/gamedata"
	"github.com/ovengames/oven/loadtest/profile"
	"github.com/ovengames/oven/loadtest/relay"
	"github.com/ovengames/oven/loadtest/stats"
	"github.com/ovengames/oven/loadtest/vp"
)

func TestRouteMissing(t *testing.T) {
	tests := []struct {
		status int
		msg    string
		want   bool
	}{
		{404, "no route for GET /v1/friends", true},
		{405, "PUT is not allowed on /v1/friends", true},
		{404, "no such mail", false}, // a real not_found of a route that exists
		{409, "no route for", false},
	}
	for _, tc := range tests {
		if got := vp.RouteMissing(tc.status, tc.msg); got != tc.want {
			t.Errorf("RouteMissing(%d, %q) = %v", tc.status, tc.msg, got)
		}
	}
}

func TestClassification(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusOK)
		case "/conflict":
			w.WriteHeader(http.StatusConflict)
			w.Write([]byte(`{"error":{"code":"already_settled","message":"x"}}`))
		case "/unavailable":
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":{"code":"unavailable","message":"x"}}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":{"code":"not_found","message":"no route for GET ` + r.URL.Path + `"}}`))
		}
	}))
	defer srv.Close()
	c := vp.NewClient(vp.ClientConfig{BaseURL: srv.URL, Timeout: time.Second})
	defer c.Close()
	rec := stats.NewRecorder("t", time.Now())
	c.SetRecorder(rec)
	tests := []struct {
		call vp.Call
		want stats.Outcome
		code string
	}{
		{vp.Call{Route: "ok", Method: "GET", Path: "/ok"}, stats.OK, ""},
		{vp.Call{Route: "expected", Method: "POST", Path: "/conflict", Expect: []vp.Refusal{{Status: 409, Code: "already_settled"}}}, stats.Expected, "already_settled"},
		{vp.Call{Route: "unexpected", Method: "POST", Path: "/conflict"}, stats.Error, "already_settled"},
		{vp.Call{Route: "503", Method: "GET", Path: "/unavailable"}, stats.Error, "unavailable"},
		{vp.Call{Route: "social", Method: "GET", Path: "/v1/friends", Social: true}, stats.Missing, "not_found"},
		{vp.Call{Route: "not social", Method: "GET", Path: "/v1/nope"}, stats.Error, "not_found"},
	}
	for _, tc := range tests {
		res, err := c.Do(context.Background(), tc.call)
		if err != nil {
			t.Fatalf("%s: %v", tc.call.Route, err)
		}
		if res.Outcome != tc.want || res.Code != tc.code {
			t.Errorf("%s: outcome %v code %q, want %v %q", tc.call.Route, res.Outcome, res.Code, tc.want, tc.code)
		}
	}
	s := rec.Summary(time.Now()).Total
	if s.Count != 6 || s.OK != 1 || s.Expected != 1 || s.Missing != 1 || s.Errors != 3 {
		t.Errorf("recorded %+v", s)
	}
}

func TestBudgetStopsRequests(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	c := vp.NewClient(vp.ClientConfig{BaseURL: srv.URL, Timeout: time.Second, Budget: vp.NewBudget(2)})
	defer c.Close()
	for i := range 3 {
		_, err := c.Do(context.Background(), vp.Call{Route: "r", Method: "GET", Path: "/"})
		if (i < 2) != (err == nil) {
			t.Errorf("request %d: err = %v", i, err)
		}
	}
}

func TestGateBoundsAndCloses(t *testing.T) {
	g := vp.NewGate(2)
	ctx := context.Background()
	r1, _ := g.Acquire(ctx)
	r2, _ := g.Acquire(ctx)
	got := make(chan error, 1)
	go func() {
		r, err := g.Acquire(ctx)
		if err == nil {
			r()
		}
		got <- err
	}()
	for {
		if _, waiting := g.State(); waiting == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if inFlight, _ := g.State(); inFlight != 2 {
		t.Errorf("in flight %d, want 2", inFlight)
	}
	r1()
	r1() // releasing twice must not free two slots
	if err := <-got; err != nil {
		t.Errorf("waiter: %v", err)
	}
	g.Close()
	if _, err := g.Acquire(ctx); err == nil {
		t.Error("Acquire succeeded on a closed gate")
	}
	r2()
	if inFlight, _ := g.State(); inFlight != 0 {
		t.Errorf("in flight %d after releases, want 0", inFlight)
	}
}

func TestDevicesAreUniqueAndExclusive(t *testing.T) {
	d := &vp.Devices{RunID: "t"}
	seen := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				id := d.New().ID
				mu.Lock()
				if seen[id] {
					t.Errorf("device %s handed out twice", id)
				}
				seen[id] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestSessionsAgainstTheRelay runs real VP sessions, open and closed loop, against an
// in-process relay whose game data allows 20 ms plays, so that it takes well under a
// second (without -race).
func TestSessionsAgainstTheRelay(t *testing.T) {
	doc := gamedata.Default()
	doc.Plays.MinDurationMS = 0
	raw, _ := json.Marshal(doc)
	r, err := relay.Start(context.Background(), relay.Config{Shards: 2, Document: raw})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b := vp.Behaviour{PlaysPerSession: 2, PlayMin: 20 * time.Millisecond, PlayMax: 30 * time.Millisecond,
		Returning: 0.5, Resettle: 0.5, Me: 0.3, Shop: 1, Rename: 0.5, Boost: 1, Stateless: true}
	obs := vp.NewObserved(1000)
	devices := &vp.Devices{RunID: "t"}

	// The relay runs in this process: its "server" tree is this process.
	open := &vp.Env{Client: vp.NewClient(vp.ClientConfig{BaseURL: r.URL, Timeout: 5 * time.Second, Gate: vp.NewGate(64)}),
		B: b, Obs: obs, Devices: devices, Players: &vp.Players{}, ServerPID: os.Getpid()}
	defer open.Client.Close()
	rec := stats.NewRecorder("open", time.Now())
	open.RunOpen(context.Background(), vp.OpenLoop{Profile: profile.Steady{PerSecond: 50}, Duration: 250 * time.Millisecond,
		Drain: time.Second, Seed: 1, MaxVPs: 100}, rec, nil)
	s := rec.Summary(time.Now())
	if s.Total.Errors != 0 || s.Total.Count == 0 {
		t.Fatalf("open loop: %+v", s.Total)
	}
	if s.CPU == nil || !s.CPU.ServerKnown || s.CPU.Requests == 0 {
		t.Errorf("open loop: CPU per request %+v, want one for the server's tree over the window's requests", s.CPU)
	}
	routes := map[string]int64{}
	for _, rt := range s.Routes {
		routes[rt.Route] = rt.Count
	}
	for _, want := range []string{"POST /v1/auth/guest", "GET /v1/gamedata", "GET /v1/me", "POST /v1/plays", "POST /v1/plays/{id}/settle"} {
		if routes[want] == 0 {
			t.Errorf("no %s in %v", want, routes)
		}
	}
	settled, _ := obs.Settlements()
	if len(settled) == 0 {
		t.Error("no settlement observed")
	}
	for _, c := range obs.Checks() {
		if c.Violations > 0 {
			t.Errorf("client check %s: %+v", c.Name, c)
		}
	}

	tap := &tapCounts{}
	closed := &vp.Env{Client: vp.NewClient(vp.ClientConfig{BaseURL: r.URL, Timeout: 5 * time.Second, Gate: vp.NewGate(4), ClosedLoop: true, Tap: tap}),
		B: b, Obs: obs, Devices: devices, Players: &vp.Players{}}
	defer closed.Client.Close()
	var recs []*stats.Recorder
	closed.RunClosed(context.Background(), vp.ClosedLoop{Steps: []vp.Step{{Clients: 4, Duration: 150 * time.Millisecond}, {Clients: 8, Duration: 150 * time.Millisecond}},
		Seed: 2, MaxVPs: 200}, func(_ int, start time.Time) *stats.Recorder {
		r := stats.NewRecorder("closed", start)
		recs = append(recs, r)
		return r
	}, nil)
	if len(recs) != 2 {
		t.Fatalf("%d step recorders, want 2", len(recs))
	}
	// The first step's window ends before any tick: the reading taken when the phase
	// stopped closes it.
	if c := recs[0].Summary(time.Now()).CPU; c == nil || c.ServerKnown || c.Requests == 0 {
		t.Errorf("closed loop step 0: CPU per request %+v, want the generator's over the window's requests", c)
	}
	for i, r := range recs {
		if s := r.Summary(time.Now()).Total; s.Count == 0 || s.Errors != 0 {
			t.Errorf("closed loop step %d: %+v", i, s)
		}
	}
	var answered int64
	for _, r := range recs {
		answered += r.Summary(time.Now()).Total.Count
	}
	// Every answer reaches the tap with its player: the device always, the player id
	// on every request after a new device's first guest auth.
	if tap.n != answered || tap.noDevice > 0 || tap.noPlayer > 0 || tap.auths == 0 {
		t.Errorf("tap saw %d answers of %d recorded: %d without a device, %d without a player id after auth, %d auths",
			tap.n, answered, tap.noDevice, tap.noPlayer, tap.auths)
	}
	if closed.Active() != 0 || open.Active() != 0 {
		t.Errorf("sessions still running: %d open, %d closed", open.Active(), closed.Active())
	}
}

// tapCounts checks what a vp.Tap is told.
type tapCounts struct {
	mu                           sync.Mutex
	n, auths, noDevice, noPlayer int64
}

func (c *tapCounts) Answered(call *vp.Call, res *vp.Response) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if call.Device == "" {
		c.noDevice++
	}
	switch {
	case call.Route == "POST /v1/auth/guest":
		c.auths++
	case call.Player == "" || call.Token == "":
		c.noPlayer++
	}
}
