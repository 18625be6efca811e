package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovengames/oven/loadtest/audit"
	"github.com/ovengames/oven/loadtest/vp"
)

// workload is a few players playing through the public API while a test breaks things:
// each starts a play, reads and renames itself while it runs (a play lasts 5 s of real
// time, the shortest plausible), settles it (retrying until an answer: a settle is
// idempotent), and starts again. It records every write the server acknowledged, for the
// audit afterwards, and every answer that was neither a success nor a game outcome (409,
// 422): the errors a client would see.
type workload struct {
	g       *game
	players []player

	mu      sync.Mutex
	calls   int
	errs    []string               // "<since start> <what>", in order
	settled []vp.Settled           // acknowledged settlements
	names   map[string]*nameRecord // by player id
	start   time.Time
}

// nameRecord is what a player's renames left: the last one acknowledged, and the ones
// after it whose answer never came (they may or may not have been applied).
type nameRecord struct {
	acked   string
	unknown []string
}

// startWorkload makes n players and starts them playing until stop.
func startWorkload(t *testing.T, g *game, n int) (w *workload, stop func()) {
	t.Helper()
	w = &workload{g: g, names: map[string]*nameRecord{}, start: time.Now()}
	for range n {
		p, err := g.newPlayer()
		if err != nil {
			t.Fatal(err)
		}
		w.players = append(w.players, p)
		w.names[p.id] = &nameRecord{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i, p := range w.players {
		wg.Go(func() { w.play(ctx, i, p) })
	}
	return w, func() { cancel(); wg.Wait() }
}

// call makes one request and classifies its answer: ok (2xx), a game outcome (409, 422),
// or an error the client sees (recorded).
func (w *workload) call(method, path string, p player, body string, out any) (status int, ok bool) {
	req, _ := http.NewRequest(method, w.g.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+p.token)
	req.Header.Set("Content-Type", "application/json")
	status, err := w.g.send(req, out)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls++
	if err != nil || (status/100 != 2 && status != 409 && status != 422) {
		w.errs = append(w.errs, fmt.Sprintf("%5.1fs %s %s: %d %v", time.Since(w.start).Seconds(), method, path, status, err))
		return status, false
	}
	return status, status/100 == 2
}

func (w *workload) play(ctx context.Context, i int, p player) {
	for n := 0; ctx.Err() == nil; n++ {
		var started struct {
			PlayID string `json:"play_id"`
		}
		status, _ := w.call("POST", "/v1/plays", p, `{"cookie_id":"brave"}`, &started)
		t0 := time.Now()
		for k := 0; ctx.Err() == nil && time.Since(t0) < 5200*time.Millisecond; k++ {
			if k%2 == 0 {
				w.call("GET", "/v1/me", p, "", nil)
			} else {
				w.rename(p, fmt.Sprintf("p%d-%d-%d", i, n, k))
			}
			sleep(ctx, 300*time.Millisecond)
		}
		if status == 201 {
			w.settle(p, started.PlayID, int64(4000+n), 20)
		}
	}
}

func (w *workload) rename(p player, name string) {
	_, ok := w.call("PATCH", "/v1/me", p, `{"name":"`+name+`"}`, nil)
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.names[p.id]
	if ok {
		r.acked, r.unknown = name, nil
	} else {
		r.unknown = append(r.unknown, name)
	}
}

// settle settles a play that was acknowledged started, retrying until the server
// answers (even after the workload is stopped: every acknowledged start gets settled).
func (w *workload) settle(p player, playID string, score, coins int64) {
	body := fmt.Sprintf(`{"score":%d,"coins":%d,"distance":500,"duration_ms":5000}`, score, coins)
	for try := 0; try < 100; try++ {
		status, _ := w.call("POST", "/v1/plays/"+playID+"/settle", p, body, nil)
		if status == 200 || status == 422 {
			w.mu.Lock()
			w.settled = append(w.settled, vp.Settled{PlayerID: p.id, PlayID: playID, Score: score, Coins: coins, Accepted: status == 200})
			w.mu.Unlock()
			return
		}
		if status == 409 || status == 410 || status == 404 {
			return // a game answer: nothing acknowledged
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// errors returns the errors seen so far and the number of calls.
func (w *workload) errors() ([]string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.errs), w.calls
}

// audit checks what the workload saw acknowledged against the stores: every acknowledged
// settlement has its play_records row (and one only), every wallet balances, no lives
// count is below zero, and every player's name is its last acknowledged one (or one
// whose answer was lost after it).
func (w *workload) audit(t *testing.T, st *runningStack) {
	t.Helper()
	var f struct {
		DatabaseURL string `json:"database_url"`
		RedisURL    string `json:"redis_url"`
	}
	st.readStackJSON(t, &f)
	w.mu.Lock()
	settled := slices.Clone(w.settled)
	w.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res := audit.Run(ctx, audit.Config{DatabaseURL: f.DatabaseURL, RedisURL: f.RedisURL, Settled: settled})
	for _, c := range res.Checks {
		if c.Invariant < 2 || c.Invariant > 4 {
			continue
		}
		if c.Status != audit.Pass {
			t.Errorf("invariant %d (%s): %s, %d violations: %v %s", c.Invariant, c.Title, c.Status, c.Violations, c.Examples, c.Note)
		} else {
			t.Logf("invariant %d (%s): PASS over %d", c.Invariant, c.Title, c.Checked)
		}
	}
	for _, p := range w.players {
		var me struct{ Name string }
		if err := w.g.call("GET", "/v1/me", p.token, "", 200, &me); err != nil {
			t.Errorf("player %s: %v", p.id, err)
			continue
		}
		r := w.names[p.id]
		if r.acked != "" && me.Name != r.acked && !slices.Contains(r.unknown, me.Name) {
			t.Errorf("player %s is named %q; the last rename acknowledged was %q (unanswered after it: %v)", p.id, me.Name, r.acked, r.unknown)
		}
	}
	t.Logf("audit: %d acknowledged settlements, %d players", len(settled), len(w.players))
}

// send does req and decodes a 2xx JSON answer into out.
func (g *game) send(req *http.Request, out any) (int, error) {
	r, err := g.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer r.Body.Close()
	if r.StatusCode/100 == 2 && out != nil {
		return r.StatusCode, decodeJSON(r, out)
	}
	return r.StatusCode, nil
}

func decodeJSON(r *http.Response, out any) error { return json.NewDecoder(r.Body).Decode(out) }

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// metricSum sums the samples of metric (every label set) on the /metrics at addr.
func metricSum(t *testing.T, addr, metric string) float64 {
	t.Helper()
	v, err := scrapeSum(addr, metric)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// scrapeSum is metricSum for a process that may not be up (yet).
func scrapeSum(addr, metric string) (float64, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	r, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(metric) + `(?:\{[^}]*\})? (\S+)$`)
	var sum float64
	for _, m := range re.FindAllStringSubmatch(readAll(r), -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		sum += v
	}
	return sum, nil
}

// medianMax returns the median and the maximum of xs.
func medianMax(xs []float64) (median, maximum float64) {
	s := slices.Clone(xs)
	sort.Float64s(s)
	n := len(s)
	if n == 0 {
		return 0, 0
	}
	median = s[n/2]
	if n%2 == 0 {
		median = (s[n/2-1] + s[n/2]) / 2
	}
	return median, s[n-1]
}
