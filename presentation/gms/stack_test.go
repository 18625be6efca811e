package gms_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ovengames/oven/application/admins"
	"github.com/ovengames/oven/application/shard/shardtest"
	"github.com/ovengames/oven/presentation/auth"
	"github.com/ovengames/oven/presentation/gms"
	"github.com/ovengames/oven/presentation/httpapi"
	"github.com/ovengames/oven/proto/ovenv1"
)

var env *shardtest.Env

func TestMain(m *testing.M) { shardtest.Main(m, &env) }

const password = "a good long password"

// stack is the presentation tier as presentation/main.go composes it (client API and
// GMS on one handler) over real shards.
type stack struct {
	t   *testing.T
	c   *shardtest.Cluster
	srv *httptest.Server
}

func newStack(t *testing.T, shards int) *stack {
	t.Helper()
	c := env.Start(t, shardtest.Options{Shards: shards})
	signer, err := auth.NewSigner(bytes.Repeat([]byte{9}, 32), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	api := httpapi.New(httpapi.Config{Game: c.Game, Ready: c.Router.Ready, Tokens: signer, Logger: quiet})
	console := gms.New(gms.Config{Admin: ovenv1.NewAdminClient(c.Router), Logger: quiet})
	srv := httptest.NewServer(gms.Mount(console, api))
	t.Cleanup(srv.Close)
	return &stack{t: t, c: c, srv: srv}
}

// addAdmin creates an admin (cheap hash: tests log in a lot).
func (s *stack) addAdmin(username string, role admins.Role) {
	s.t.Helper()
	if _, err := admins.Put(s.t.Context(), s.c.DB, "test", username, password, role, bcrypt.MinCost); err != nil {
		s.t.Fatal(err)
	}
}

// browser is an HTTP client with a cookie jar, like the console in a browser.
type browser struct {
	s    *stack
	http *http.Client
	csrf string
}

func (s *stack) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{s: s, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%s: %v", r.body, err)
	}
}

func (r reply) code() string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	json.Unmarshal(r.body, &e)
	return e.Error.Code
}

// do sends a request; the CSRF token goes along on everything but GET unless csrf is false.
func (b *browser) do(method, path, body string, headers ...string) reply {
	b.s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, b.s.srv.URL+path, rd)
	if err != nil {
		b.s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if method != "GET" && b.csrf != "" {
		req.Header.Set("X-CSRF-Token", b.csrf)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.s.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: data}
}

func (b *browser) login(username string) {
	b.s.t.Helper()
	r := b.do("POST", "/gms/api/login", `{"username":"`+username+`","password":"`+password+`"}`)
	if r.status != 200 {
		b.s.t.Fatalf("login %s: %d %s", username, r.status, r.body)
	}
	var s struct {
		CSRFToken string `json:"csrf_token"`
	}
	r.json(b.s.t, &s)
	b.csrf = s.CSRFToken
}

// player signs a guest in through the client API and returns its id and token.
func (s *stack) player(device string) (id, token string) {
	s.t.Helper()
	resp, err := http.Post(s.srv.URL+"/v1/auth/guest", "application/json", strings.NewReader(`{"device_id":"`+device+`"}`))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var g struct {
		PlayerID string `json:"player_id"`
		Token    string `json:"token"`
	}
	json.NewDecoder(resp.Body).Decode(&g)
	if g.Token == "" {
		s.t.Fatalf("guest auth: %d", resp.StatusCode)
	}
	return g.PlayerID, g.Token
}

// client calls the client API as a player.
func (s *stack) client(method, path, token string) reply {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: data}
}

// servedLivesMax waits until /v1/gamedata serves version want and returns its lives.max.
func (s *stack) servedLivesMax(token string, want int64) int64 {
	s.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := s.client("GET", "/v1/gamedata", token)
		var d struct {
			Version int64
			Lives   struct{ Max int64 }
		}
		json.Unmarshal(r.body, &d)
		if d.Version == want {
			return d.Lives.Max
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("/v1/gamedata still serves version %d 5 s after version %d was published", d.Version, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mail is one item of /v1/mailbox or of a GMS player lookup.
type mail struct {
	ID           string  `json:"id"`
	Kind         string  `json:"kind"`
	Amount       int64   `json:"amount"`
	FromPlayerID *string `json:"from_player_id"`
	Message      string  `json:"message"`
	SentAt       string  `json:"sent_at"`
	ExpiresAt    string  `json:"expires_at"`
}

// mailbox returns the player's /v1/mailbox, as the game client sees it.
func (s *stack) mailbox(token string) []mail {
	s.t.Helper()
	r := s.client("GET", "/v1/mailbox", token)
	var m struct{ Items []mail }
	r.json(s.t, &m)
	if r.status != 200 || m.Items == nil {
		s.t.Fatalf("/v1/mailbox: %d %s", r.status, r.body)
	}
	return m.Items
}

// mailboxHas waits until the player's /v1/mailbox lists id: a shard learns of a
// broadcast made on another one within its refresh interval.
func (s *stack) mailboxHas(token, id string) mail {
	s.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, m := range s.mailbox(token) {
			if m.ID == id {
				return m
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("/v1/mailbox lacks %s after 5 s: %v", id, s.mailbox(token))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// accept accepts one mail item through the client API and returns the player's coins.
func (s *stack) accept(token, id string) int64 {
	s.t.Helper()
	r := s.client("POST", "/v1/mailbox/"+id+"/accept", token)
	var a struct{ Coins int64 }
	r.json(s.t, &a)
	if r.status != 200 {
		s.t.Fatalf("accept %s: %d %s", id, r.status, r.body)
	}
	return a.Coins
}

// coins is the player's balance in /v1/me.
func (s *stack) coins(token string) int64 {
	s.t.Helper()
	r := s.client("GET", "/v1/me", token)
	var me struct{ Coins int64 }
	r.json(s.t, &me)
	if r.status != 200 {
		s.t.Fatalf("/v1/me: %d %s", r.status, r.body)
	}
	return me.Coins
}

// broadcastClaims returns the claim count of broadcast id in the GMS list.
func (b *browser) broadcastClaims(id string) int64 {
	b.s.t.Helper()
	r := b.do("GET", "/gms/api/gifts/broadcast", "")
	var list struct {
		Broadcasts []struct {
			ID     string `json:"id"`
			Claims int64  `json:"claims"`
		} `json:"broadcasts"`
	}
	r.json(b.s.t, &list)
	for _, bc := range list.Broadcasts {
		if bc.ID == id {
			return bc.Claims
		}
	}
	b.s.t.Fatalf("broadcast %s not listed: %d %s", id, r.status, r.body)
	return 0
}
