package gms_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovengames/oven/application/reqid"
	"github.com/ovengames/oven/application/shard/shardtest"
	"github.com/ovengames/oven/presentation/auth"
	"github.com/ovengames/oven/presentation/httpapi"
)

// shardLog is the shards' JSON log, written by their goroutines and read by the test.
type shardLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *shardLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// served returns the "call served" lines, as shard → method → request ids.
func (l *shardLog) served(t *testing.T) map[string]map[string][]string {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("shard log line %q: %v", line, err)
		}
		if rec["msg"] != "call served" {
			continue
		}
		shard, method := rec["shard"].(string), rec["method"].(string)
		if out[shard] == nil {
			out[shard] = map[string][]string{}
		}
		id, _ := rec[reqid.LogKey].(string)
		out[shard][method] = append(out[shard][method], id)
	}
	return out
}

// reset forgets what was logged so far.
func (l *shardLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Reset()
}

// apiStack is the client API over real shards whose log the test reads.
type apiStack struct {
	c    *shardtest.Cluster
	srv  *httptest.Server
	logs *shardLog
}

func newAPIStack(t *testing.T) *apiStack {
	t.Helper()
	logs := &shardLog{}
	c := env.Start(t, shardtest.Options{Shards: 3, Log: logs})
	signer, err := auth.NewSigner(bytes.Repeat([]byte{9}, 32), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	api := httpapi.New(httpapi.Config{Game: c.Game, Ready: c.Router.Ready, Tokens: signer, Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &apiStack{c: c, srv: srv, logs: logs}
}

// call sends a request with the given X-Request-Id (none when "") and bearer token;
// it returns the response's id and body.
func (s *apiStack) call(t *testing.T, method, path, body, id, token string) (string, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if id != "" {
		req.Header.Set("X-Request-Id", id)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	return resp.Header.Get("X-Request-Id"), data
}

type guest struct{ id, token string }

func (s *apiStack) guest(t *testing.T, device, requestID string) guest {
	t.Helper()
	_, body := s.call(t, "POST", "/v1/auth/guest", `{"device_id":"`+device+`"}`, requestID, "")
	var g struct {
		PlayerID string `json:"player_id"`
		Token    string `json:"token"`
	}
	if err := json.Unmarshal(body, &g); err != nil {
		t.Fatal(err)
	}
	return guest{g.PlayerID, g.Token}
}

// onlyID checks that every call served names want as its request id, and that at
// least the given shard → method calls were served.
func onlyID(t *testing.T, served map[string]map[string][]string, want string, calls map[string]string) {
	t.Helper()
	for shard, methods := range served {
		for method, ids := range methods {
			for _, id := range ids {
				if id != want {
					t.Errorf("shard %s logged %s with request_id %q, want %q", shard, method, id, want)
				}
			}
		}
	}
	for shard, method := range calls {
		if len(served[shard][method]) == 0 {
			t.Errorf("shard %s logged no %s call; it logged %v", shard, method, served)
		}
	}
}

func TestRequestIDReachesTheShards(t *testing.T) {
	s := newAPIStack(t)

	t.Run("client's id in the shard's log", func(t *testing.T) {
		s.logs.reset()
		if got, _ := s.call(t, "POST", "/v1/auth/guest", `{"device_id":"request-id-device-1"}`, "abc", ""); got != "abc" {
			t.Fatalf("X-Request-Id = %q, want abc", got)
		}
		served := s.logs.served(t)
		onlyID(t, served, "abc", nil)
		n := 0
		for _, methods := range served {
			n += len(methods["AuthGuest"])
		}
		if n != 1 {
			t.Errorf("AuthGuest served %d times in the log, want 1: %v", n, served)
		}
	})

	t.Run("insane id replaced, the new one forwarded", func(t *testing.T) {
		s.logs.reset()
		got, _ := s.call(t, "POST", "/v1/auth/guest", `{"device_id":"request-id-device-2"}`, `evil"id`, "")
		if got == `evil"id` || !reqid.Sane(got) {
			t.Fatalf("X-Request-Id = %q, want a new sane id", got)
		}
		onlyID(t, s.logs.served(t), got, nil)
	})

	t.Run("carried on to the friend's owner", func(t *testing.T) {
		a := s.guest(t, "request-id-friend-a", "")
		var b guest
		for i := 0; b.id == "" || s.c.Router.Owner(b.id) == s.c.Router.Owner(a.id); i++ {
			if i == 50 {
				t.Fatal("no guest landed on another shard")
			}
			b = s.guest(t, "request-id-friend-b"+string(rune('a'+i%26))+strings.Repeat("x", i/26), "")
		}
		s.logs.reset()
		s.call(t, "PUT", "/v1/friends/"+b.id, "", "friend-req-1", a.token)
		onlyID(t, s.logs.served(t), "friend-req-1", map[string]string{
			s.c.Router.Owner(a.id).ID: "AddFriend",
			s.c.Router.Owner(b.id).ID: "FriendsChanged",
		})
	})
}
