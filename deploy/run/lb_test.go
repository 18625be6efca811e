package main_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ovengames/oven/deploy/localdeps"
)

// TestStackBehindLoadBalancer boots the stack with two presentation processes behind
// haproxy (OVEN_PRESENTATION_COUNT=2) and checks that haproxy spreads requests over both,
// keeps serving when one is killed with SIGKILL, and goes away with the rest on Ctrl-C.
func TestStackBehindLoadBalancer(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the whole stack")
	}
	ictx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := localdeps.EnsureHAProxy(ictx); err != nil {
		t.Skipf("haproxy is missing and cannot be installed here, so the load-balanced stack cannot run: %v", err)
	}
	st := bootStack(t, "OVEN_PRESENTATION_COUNT=2", "OVEN_SHARD_COUNT=2")
	base, exited := st.base, st.exited
	stackPath := st.stackFile()
	stack := readLBStack(t, stackPath)
	// /readyz answered through one copy; the other may still be connecting to the
	// shards, or marked down by haproxy.
	for _, addr := range stack.Presentations {
		waitReady(t, "http://"+addr, exited)
	}
	waitServersUp(t, stack.LB.Stats, 2)
	c := &client{t: t, base: base}
	// Several players, so that no one of them meets the per-player rate limit.
	var toks []string
	for i := range 8 {
		toks = append(toks, c.guest(fmt.Sprintf("e2e-lb-device-%d", i)))
	}
	getMe := func(n int) {
		t.Helper()
		for i := range n {
			c.do("GET", "/v1/me", toks[i%len(toks)], "", 200)
		}
	}

	t.Run("haproxy spreads requests over both presentations", func(t *testing.T) {
		before := scrapePresentations(t, stack)
		getMe(20)
		after := scrapePresentations(t, stack)
		total := 0.0
		for name := range stack.Presentations {
			d := after[name] - before[name]
			if d == 0 {
				t.Errorf("%s served none of 20 requests (before %v, after %v)", name, before, after)
			}
			total += d
		}
		if total != 20 {
			t.Errorf("the presentations served %v requests, want 20", total)
		}
	})

	t.Run("X-Request-Id passes through haproxy", func(t *testing.T) {
		req, _ := http.NewRequest("GET", base+"/healthz", nil)
		req.Header.Set("X-Request-Id", "e2e-lb-request-0001")
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if got := r.Header.Get("X-Request-Id"); got != "e2e-lb-request-0001" {
			t.Errorf("X-Request-Id = %q, want the client's", got)
		}
	})

	t.Run("haproxy keeps serving GETs when a presentation is SIGKILLed", func(t *testing.T) {
		victim := stack.PIDs["presentation-1"]
		if victim == 0 {
			t.Fatalf("stack.json has no pid for presentation-1: %v", stack.PIDs)
		}
		if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// At once, before any health check notices: haproxy must send them to the
		// survivor, whether the dead copy's port refuses them or a kept-alive connection
		// to it closes without an answer.
		getMe(40)
		// The supervisor restarts the dead copy and records its new pid.
		deadline := time.Now().Add(20 * time.Second)
		for {
			s := readLBStack(t, stackPath)
			if pid := s.PIDs["presentation-1"]; pid != victim && pid != 0 && healthy(s.Presentations["presentation-1"]) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("presentation-1 was not restarted within 20 s")
			}
			time.Sleep(200 * time.Millisecond)
		}
		getMe(10)
	})

	// Ctrl-C stops the load balancer with the rest.
	lbPID := readLBStack(t, stackPath).PIDs["lb"]
	st.interrupt()
	if err := syscall.Kill(lbPID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("haproxy (pid %d) still runs after shutdown: %v", lbPID, err)
	}
}

type lbStackFile struct {
	HTTP          string            `json:"http"`
	Presentations map[string]string `json:"presentations"`
	PIDs          map[string]int    `json:"pids"`
	LB            *struct {
		Addr, Stats, Config string
	} `json:"lb"`
}

func readLBStack(t *testing.T, path string) lbStackFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s lbStackFile
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Presentations) != 2 || s.LB == nil || s.LB.Addr != s.HTTP {
		t.Fatalf("stack.json does not show two presentations behind a load balancer:\n%s", b)
	}
	for name, addr := range s.Presentations {
		if addr == s.HTTP {
			t.Fatalf("%s listens on the public address %s itself", name, addr)
		}
	}
	return s
}

var getMeServed = regexp.MustCompile(`(?m)^oven_http_requests_total\{code="200",method="GET",route="/v1/me"\} (\S+)$`)

// scrapePresentations returns each presentation's count of GET /v1/me answered 200,
// from its own /metrics (on its own port, not through haproxy).
func scrapePresentations(t *testing.T, s lbStackFile) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for name, addr := range s.Presentations {
		r, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		if m := getMeServed.FindStringSubmatch(readAll(r)); m != nil {
			out[name], _ = strconv.ParseFloat(m[1], 64)
		}
	}
	return out
}

// waitServersUp waits until haproxy's stats (CSV) show n presentation copies UP.
func waitServersUp(t *testing.T, stats string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		up, csv := serversUp(stats)
		if up == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy shows %d of %d presentation copies up after 20 s:\n%s", up, n, csv)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func serversUp(stats string) (int, string) {
	r, err := http.Get("http://" + stats + "/stats;csv")
	if err != nil {
		return 0, err.Error()
	}
	csv := readAll(r)
	lines := strings.Split(csv, "\n")
	col := slices.Index(strings.Split(strings.TrimPrefix(lines[0], "# "), ","), "status")
	up := 0
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		if col > 0 && len(f) > col && f[0] == "presentation" && f[1] != "BACKEND" && f[col] == "UP" {
			up++
		}
	}
	return up, csv
}

func healthy(addr string) bool {
	r, err := (&http.Client{Timeout: time.Second}).Get(fmt.Sprintf("http://%s/healthz", addr))
	if err != nil {
		return false
	}
	r.Body.Close()
	return r.StatusCode == 200
}
