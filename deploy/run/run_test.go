package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStackEndToEnd builds the binaries, boots the whole stack the way `make run` does
// (PostgreSQL, Redis, the Couchbase dev server, three shards and one presentation, as
// separate processes), and plays through the public HTTP API.
func TestStackEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the whole stack")
	}
	st := bootStack(t, "OVEN_DEV_CLOCK=1")
	base := st.base
	stack := readStack(t, st.stackFile())
	c := &client{t: t, base: base}

	t.Run("calls for one player land on one shard; players spread over all three", func(t *testing.T) {
		landed := map[string]int{}
		for i := range 24 {
			tok := c.guest(fmt.Sprintf("e2e-device-%04d", i))
			before := scrapeAll(t, stack)
			for range 3 {
				c.do("GET", "/v1/me", tok, "", 200)
			}
			after := scrapeAll(t, stack)
			var got []string
			for id := range after {
				if d := after[id] - before[id]; d != 0 {
					if d != 3 {
						t.Fatalf("shard %s served %v of the player's 3 calls", id, d)
					}
					got = append(got, id)
				}
			}
			if len(got) != 1 {
				t.Fatalf("player %d's calls landed on %v, want exactly one shard", i, got)
			}
			landed[got[0]]++
		}
		if len(landed) != 3 {
			t.Errorf("24 players landed on %v, want all three shards", landed)
		}
	})

	t.Run("game data with ETag and 304", func(t *testing.T) {
		tok := c.guest("e2e-gamedata-device")
		resp := c.do("GET", "/v1/gamedata", tok, "", 200)
		etag := resp.Header.Get("ETag")
		if etag != `"1"` {
			t.Fatalf("ETag = %q", etag)
		}
		req, _ := http.NewRequest("GET", base+"/v1/gamedata", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("If-None-Match", etag)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 304 {
			t.Errorf("If-None-Match: %d, want 304", r.StatusCode)
		}
	})

	t.Run("a full play through HTTP", func(t *testing.T) {
		tok := c.guest("e2e-play-device")
		var started struct {
			PlayID string `json:"play_id"`
			Coins  int64  `json:"coins"`
		}
		c.json(c.do("POST", "/v1/plays", tok, `{"cookie_id":"brave","boosts":["magnet"]}`, 201), &started)
		if started.Coins != 500 {
			t.Errorf("coins after a 500-coin boost: %d", started.Coins)
		}
		c.do("POST", "/v1/dev/clock", tok, `{"advance_s":30}`, 200)
		body := `{"score":40000,"coins":100,"distance":700,"duration_ms":25000}`
		first := c.do("POST", "/v1/plays/"+started.PlayID+"/settle", tok, body, 200)
		again := c.do("POST", "/v1/plays/"+started.PlayID+"/settle", tok, body, 200)
		if a, b := readAll(first), readAll(again); a != b {
			t.Errorf("repeated settle differs:\n%s\n%s", a, b)
		}
		c.do("POST", "/v1/plays/"+started.PlayID+"/settle", tok, `{"score":1,"coins":0,"distance":0,"duration_ms":25000}`, 409)
	})

	t.Run("friends, a life through the mailbox, leaderboards", func(t *testing.T) {
		alice, bob := c.guest("e2e-alice-device"), c.guest("e2e-bob-device")
		var bobMe struct {
			PlayerID string `json:"player_id"`
		}
		c.json(c.do("GET", "/v1/me", bob, "", 200), &bobMe)
		c.do("PUT", "/v1/friends/"+bobMe.PlayerID, alice, "", 204)
		c.do("POST", "/v1/friends/"+bobMe.PlayerID+"/life", alice, "", 200)
		c.do("POST", "/v1/friends/"+bobMe.PlayerID+"/life", alice, "", 409)
		var box struct {
			Items []struct{ ID, Kind string } `json:"items"`
		}
		c.json(c.do("GET", "/v1/mailbox", bob, "", 200), &box)
		if len(box.Items) != 1 || box.Items[0].Kind != "life" {
			t.Fatalf("bob's mailbox: %+v", box.Items)
		}
		var acc struct {
			Lives struct{ Count int } `json:"lives"`
		}
		c.json(c.do("POST", "/v1/mailbox/"+box.Items[0].ID+"/accept", bob, "", 200), &acc)
		if acc.Lives.Count != 6 {
			t.Errorf("lives after accepting: %d, want 6", acc.Lives.Count)
		}
		c.do("GET", "/v1/leaderboard/friends", alice, "", 200)
		c.do("GET", "/v1/leaderboard/global?limit=10", alice, "", 200)
		c.do("GET", "/v1/leaderboard/global/me", alice, "", 200)
	})

	t.Run("bad input is refused with the API's error shape", func(t *testing.T) {
		c.do("GET", "/v1/me", "", "", 401)
		tok := c.guest("e2e-bad-input")
		resp := c.do("PATCH", "/v1/me", tok, `{"name":"x","extra":1}`, 400)
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		c.json(resp, &e)
		if e.Error.Code != "invalid_argument" {
			t.Errorf("code = %q", e.Error.Code)
		}
	})

	// Ctrl-C stops everything cleanly.
	st.interrupt()
}

// built is the binaries of the stack, compiled once for every test of the package.
var built struct {
	once sync.Once
	dir  string
	out  []byte
	err  error
}

func buildStack(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "oven-e2e-bin-"); built.err != nil {
			return
		}
		args := []string{"build", "-o", built.dir + "/"}
		if raceBuild {
			args = append(args, "-race")
		}
		args = append(args, "../../application", "../../presentation", ".")
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		defer cancel()
		built.out, built.err = exec.CommandContext(ctx, "go", args...).CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build: %v\n%s", built.err, built.out)
	}
	return built.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitReady(t *testing.T, base string, exited chan error) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Fatalf("the stack exited during start: %v", err)
		default:
		}
		if r, err := http.Get(base + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("/readyz not 200 within 90 s")
}

type stackFile struct {
	ShardMetrics map[string]string `json:"shard_metrics"`
}

func readStack(t *testing.T, path string) stackFile {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s stackFile
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if len(s.ShardMetrics) != 3 {
		t.Fatalf("stack has %d shards", len(s.ShardMetrics))
	}
	return s
}

var getMeOK = regexp.MustCompile(`(?m)^oven_grpc_server_handled_total\{code="ok",method="GetMe"\} (\S+)$`)

// scrapeAll returns each shard's count of GetMe calls served, from its /metrics.
func scrapeAll(t *testing.T, s stackFile) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for id, addr := range s.ShardMetrics {
		r, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b := readAll(r)
		if m := getMeOK.FindStringSubmatch(b); m != nil {
			out[id], _ = strconv.ParseFloat(m[1], 64)
		} else {
			out[id] = 0
		}
	}
	return out
}

type client struct {
	t    *testing.T
	base string
}

func (c *client) do(method, path, token, body string, want int) *http.Response {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, readAll(resp))
	}
	if resp.Header.Get("X-Request-Id") == "" {
		c.t.Errorf("%s %s: no X-Request-Id", method, path)
	}
	return resp
}

func (c *client) guest(device string) string {
	c.t.Helper()
	var g struct{ Token string }
	c.json(c.do("POST", "/v1/auth/guest", "", `{"device_id":"`+device+`"}`, 200), &g)
	return g.Token
}

func (c *client) json(r *http.Response, v any) {
	c.t.Helper()
	defer r.Body.Close()
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		c.t.Fatal(err)
	}
}

func readAll(r *http.Response) string {
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

func tail(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
