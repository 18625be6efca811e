package vp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovengames/oven/loadtest/stats"
	"github.com/ovengames/oven/loadtest/vp"
)

// lifeServer is a fake of API.md's friends, lives and mailbox routes that refuses a
// second life on a sender→receiver pair, as the cooldown does.
type lifeServer struct {
	mu      sync.Mutex
	players int
	friends map[[2]string]bool
	sent    map[[2]string]bool
	mail    map[string]int
}

func (s *lifeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	me := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	path := strings.TrimPrefix(r.URL.Path, "/v1/")
	fail := func(status int, code string) {
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code}})
	}
	switch {
	case path == "auth/guest":
		s.players++
		id := "p" + string(rune('A'+s.players%26)) + strings.Repeat("x", s.players/26)
		json.NewEncoder(w).Encode(map[string]string{"player_id": id, "token": id})
	case path == "gamedata":
		w.Write([]byte(`{"version":1,"lives":{"max":5,"send_cooldown_seconds":3600},"plays":{"min_duration_ms":5000}}`))
	case r.Method == http.MethodPut && strings.HasPrefix(path, "friends/"):
		other := strings.TrimPrefix(path, "friends/")
		s.friends[[2]string{me, other}], s.friends[[2]string{other, me}] = true, true
		w.WriteHeader(http.StatusNoContent)
	case strings.HasSuffix(path, "/life"):
		to := strings.TrimSuffix(strings.TrimPrefix(path, "friends/"), "/life")
		switch pair := [2]string{me, to}; {
		case !s.friends[pair]:
			fail(http.StatusNotFound, "not_friend")
		case s.sent[pair]:
			fail(http.StatusConflict, "already_sent")
		default:
			s.sent[pair] = true
			s.mail[to]++
			w.Write([]byte(`{"gift_points":10}`))
		}
	case path == "mailbox/accept-all":
		json.NewEncoder(w).Encode(map[string]int{"accepted": s.mail[me]})
		s.mail[me] = 0
	case path == "mailbox":
		if s.mail[me] == 0 {
			fail(http.StatusConflict, "empty_mailbox_in_test")
			return
		}
		w.Write([]byte(`{"items":[]}`))
	default:
		fail(http.StatusNotFound, "not_found")
	}
}

// Every measured send-life and inbox request is a fresh, valid one: a fake that
// refuses repeats and non-friends sees none, over several rounds of pairs.
func TestRouteBenchSendsFreshPairs(t *testing.T) {
	fake := &lifeServer{friends: map[[2]string]bool{}, sent: map[[2]string]bool{}, mail: map[string]int{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	client := vp.NewClient(vp.ClientConfig{BaseURL: srv.URL, Timeout: 5 * time.Second, Gate: vp.NewGate(8), ClosedLoop: true})
	defer client.Close()
	env := &vp.Env{Client: client, Obs: vp.NewObserved(100), Devices: &vp.Devices{RunID: "t"}, Players: &vp.Players{}}
	bench := vp.NewRouteBench(env, vp.RouteData{Players: 30, Friends: 10, Mail: 3, Clients: 8}, t.Logf)
	defer bench.Close()
	ctx := context.Background()
	for _, route := range []string{vp.RouteInbox, vp.RouteSendLife} {
		notes, err := bench.Prepare(ctx, route)
		if err != nil {
			t.Fatalf("%s: Prepare: %v (%v)", route, err, notes)
		}
		rec := stats.NewRecorder(route, time.Now())
		run := bench.Run(ctx, route, 8, 300*time.Millisecond, 0, rec, nil)
		s := rec.Summary(time.Now()).Total
		if s.Count == 0 || s.Errors != 0 || s.OK != s.Count {
			t.Errorf("%s: %d requests, %d OK, %d errors %v", route, s.Count, s.OK, s.Errors, s.ByCode)
		}
		t.Logf("%s: %d requests, ran dry after %v", route, run.Requests, run.RanDry)
	}
	// 30 players × 10 friends = 300 pairs: the inbox puts 3 rounds in the mailboxes and
	// send-life uses the rest, then stops.
	if len(fake.sent) != 300 {
		t.Errorf("%d distinct pairs sent, want all 300", len(fake.sent))
	}
	if n := env.Obs.Counter(vp.CountLivesSent); n != 300 {
		t.Errorf("%d lives recorded as sent, want 300", n)
	}
	for _, c := range env.Obs.Checks() {
		if c.Violations > 0 {
			t.Errorf("client check %s: %d violations %v", c.Name, c.Violations, c.Examples)
		}
	}
}
