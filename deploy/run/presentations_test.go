package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ovengames/oven/deploy/localdeps"
)

// TestStackPresentationFloor boots the stack with the default single presentation
// (behind haproxy, since haproxy is there), raises the presentation floor to 3 on the
// control socket and checks that three copies serve and haproxy spreads requests over
// them; then lowers it back to 1 while players keep playing, renaming themselves and
// reading their profile, and checks that no request failed and that the two newest
// copies are gone.
func TestStackPresentationFloor(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the whole stack")
	}
	ictx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := localdeps.EnsureHAProxy(ictx); err != nil {
		t.Skipf("haproxy is missing and cannot be installed here, so the floor cannot move: %v", err)
	}
	st := bootStack(t, "OVEN_SHARD_COUNT=2")
	stack := st.floorStack(t)
	if len(stack.Presentations) != 1 || stack.Presentations["presentation-1"] == "" || stack.Presentations["presentation-1"] == stack.HTTP {
		t.Fatalf("stack.json does not show one presentation behind haproxy: %+v", stack)
	}
	if got := st.presentations(t, "GET", nil, 200); got.Current != 1 || !slices.Equal(got.Copies, []string{"p1"}) {
		t.Fatalf("GET /presentations at start: %+v", got)
	}
	st.presentations(t, "POST", map[string]any{"floor": 0}, 400)

	t.Run("floor 3: three copies serve, haproxy spreads requests over them", func(t *testing.T) {
		if got := st.presentations(t, "POST", map[string]any{"floor": 3}, 202); got.Floor != 3 {
			t.Fatalf("POST /presentations {floor: 3}: %+v", got)
		}
		began := time.Now()
		st.waitCopies(t, 3)
		t.Logf("3 copies in rotation %.1f s after the floor was raised", time.Since(began).Seconds())
		stack = st.floorStack(t)
		if len(stack.Presentations) != 3 {
			t.Fatalf("stack.json lists presentations %v, want 3", stack.Presentations)
		}
		for name, addr := range stack.Presentations {
			if !healthy(addr) || stack.PIDs[name] == 0 {
				t.Errorf("%s (%s, pid %d) does not serve", name, addr, stack.PIDs[name])
			}
		}
		waitServersUp(t, stack.LB.Stats, 3)
		c := &client{t: t, base: st.base}
		var toks []string
		for i := range 6 {
			toks = append(toks, c.guest(fmt.Sprintf("e2e-floor-device-%d", i)))
		}
		before := scrapePresentations(t, stack)
		for i := range 30 {
			c.do("GET", "/v1/me", toks[i%len(toks)], "", 200)
		}
		after := scrapePresentations(t, stack)
		total := 0.0
		for name := range stack.Presentations {
			d := after[name] - before[name]
			if d == 0 {
				t.Errorf("%s served none of 30 requests (before %v, after %v)", name, before, after)
			}
			total += d
		}
		if total != 30 {
			t.Errorf("the presentations served %v requests, want 30", total)
		}
	})

	t.Run("floor 1 under load: no request fails, the newest copies go", func(t *testing.T) {
		g := &game{base: st.base, http: &http.Client{Timeout: 10 * time.Second}}
		w, stopLoad := startWorkload(t, g, 3)
		stopFast := fastClients(t, g, w, 6)
		time.Sleep(time.Second)
		gone := []int{stack.PIDs["presentation-2"], stack.PIDs["presentation-3"]}
		before := backendTrouble(t, stack.LB.Stats)
		if got := st.presentations(t, "POST", map[string]any{"floor": 1}, 202); got.Floor != 1 {
			t.Fatalf("POST /presentations {floor: 1}: %+v", got)
		}
		began := time.Now()
		st.waitCopies(t, 1)
		t.Logf("down to 1 copy %.1f s after the floor was lowered", time.Since(began).Seconds())
		time.Sleep(time.Second) // load on the one left
		stopFast()
		stopLoad()

		// Clients would see nothing even from copies stopped without a drain: each
		// finishes what it has, and haproxy retries a refused connection on another.
		// But a drained copy gets no request it would refuse: haproxy retried none.
		after := backendTrouble(t, stack.LB.Stats)
		for k, v := range after {
			if d := v - before[k]; d != 0 {
				t.Errorf("haproxy's %s grew by %v while the copies left (before %v, after %v)", k, d, before, after)
			}
		}

		errs, calls := w.errors()
		t.Logf("client-visible errors while two copies left: %d of %d calls", len(errs), calls)
		if len(errs) > 0 {
			t.Errorf("clients saw errors:\n%s", strings.Join(errs, "\n"))
		}
		s := st.floorStack(t)
		if _, ok := s.Presentations["presentation-1"]; len(s.Presentations) != 1 || !ok {
			t.Errorf("stack.json lists presentations %v, want presentation-1 only", s.Presentations)
		}
		for _, pid := range gone {
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("a removed copy (pid %d) still runs: %v", pid, err)
			}
		}
		if up, csv := serversUp(s.LB.Stats); up != 1 {
			t.Errorf("haproxy shows %d copies up, want 1:\n%s", up, csv)
		}
	})
	st.interrupt()
}

// fastClients runs n more players of w that alternate reading and renaming themselves
// as fast as their rate limit (20 calls a second) allows, so that copies are busy when
// they leave; its errors are w's.
func fastClients(t *testing.T, g *game, w *workload, n int) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range n {
		p, err := g.newPlayer()
		if err != nil {
			t.Fatal(err)
		}
		w.mu.Lock()
		w.players = append(w.players, p)
		w.names[p.id] = &nameRecord{}
		w.mu.Unlock()
		wg.Go(func() {
			for k := 0; ctx.Err() == nil; k++ {
				if k%2 == 0 {
					w.call("GET", "/v1/me", p, "", nil)
				} else {
					w.rename(p, fmt.Sprintf("f%d-%d", i, k))
				}
				sleep(ctx, 70*time.Millisecond)
			}
		})
	}
	return func() { cancel(); wg.Wait() }
}

// floorStackFile is what the floor test reads of stack.json.
type floorStackFile struct {
	HTTP          string            `json:"http"`
	Presentations map[string]string `json:"presentations"`
	PIDs          map[string]int    `json:"pids"`
	Control       string            `json:"control"`
	LB            *struct {
		Addr, Stats, Socket string
	} `json:"lb"`
}

func (s *runningStack) floorStack(t *testing.T) lbStackFile {
	t.Helper()
	var f floorStackFile
	s.readStackJSON(t, &f)
	if f.LB == nil || f.LB.Addr != f.HTTP || f.Control == "" {
		t.Fatalf("stack.json shows no haproxy on the public address, or no control socket: %+v", f)
	}
	return lbStackFile{HTTP: f.HTTP, Presentations: f.Presentations, PIDs: f.PIDs,
		LB: &struct{ Addr, Stats, Config string }{Addr: f.LB.Addr, Stats: f.LB.Stats}}
}

// presentationsAnswer is the runner's answer on /presentations.
type presentationsAnswer struct {
	Floor   int      `json:"floor"`
	Current int      `json:"current"`
	Copies  []string `json:"copies"`
	Error   string   `json:"error"`
}

// presentations calls /presentations on the control socket and checks the status.
func (s *runningStack) presentations(t *testing.T, method string, body any, want int) presentationsAnswer {
	t.Helper()
	var f struct {
		Control string `json:"control"`
	}
	s.readStackJSON(t, &f)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", f.Control)
		},
	}}
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, "http://run/presentations", bytes.NewReader(b))
	r, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	text := readAll(r)
	var out presentationsAnswer
	if r.StatusCode != want || json.Unmarshal([]byte(text), &out) != nil {
		t.Fatalf("%s /presentations %s: %d, want %d: %s", method, b, r.StatusCode, want, text)
	}
	return out
}

// waitCopies waits until the runner has n copies in rotation and no failed step.
func (s *runningStack) waitCopies(t *testing.T, n int) {
	t.Helper()
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("p%d", i+1)
	}
	waitFor(t, 90*time.Second, func() error {
		got := s.presentations(t, "GET", nil, 200)
		if got.Current != n || !slices.Equal(got.Copies, want) || got.Error != "" {
			return fmt.Errorf("GET /presentations: %+v, want %d copies", got, n)
		}
		return nil
	})
}

// backendTrouble returns the presentation backend's connection errors, response errors,
// retries and redispatches from haproxy's stats (CSV).
func backendTrouble(t *testing.T, stats string) map[string]float64 {
	t.Helper()
	r, err := http.Get("http://" + stats + "/stats;csv")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(readAll(r), "\n")
	cols := strings.Split(strings.TrimPrefix(lines[0], "# "), ",")
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		if len(f) < len(cols) || f[0] != "presentation" || f[1] != "BACKEND" {
			continue
		}
		out := map[string]float64{}
		for _, k := range []string{"econ", "eresp", "wretr", "wredis"} {
			var v float64
			fmt.Sscan(f[slices.Index(cols, k)], &v)
			out[k] = v
		}
		return out
	}
	t.Fatalf("no presentation backend in haproxy's stats:\n%s", strings.Join(lines, "\n"))
	return nil
}
