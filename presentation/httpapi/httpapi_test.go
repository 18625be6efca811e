package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/presentation/auth"
	"github.com/ovengames/oven/presentation/httpapi"
	"github.com/ovengames/oven/proto/ovenv1"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

const tokenTTL = time.Hour

// api is one HTTP API under test, served over a real listener.
type api struct {
	srv    *httptest.Server
	h      http.Handler
	game   *fakeGame
	tokens *auth.Signer
	reg    *prometheus.Registry
}

func newAPI(t testing.TB, mods ...func(*httpapi.Config)) *api {
	t.Helper()
	signer, err := auth.NewSigner(bytes.Repeat([]byte{7}, 32), tokenTTL)
	if err != nil {
		t.Fatal(err)
	}
	a := &api{game: newFakeGame(), tokens: signer, reg: prometheus.NewRegistry()}
	cfg := httpapi.Config{
		Game:     a.game,
		Ready:    func(context.Context) error { return nil },
		Tokens:   signer,
		Registry: a.reg,
		Logger:   slog.New(slog.DiscardHandler),
		Now:      func() time.Time { return t0 },
	}
	for _, mod := range mods {
		mod(&cfg)
	}
	a.h = httpapi.New(cfg)
	a.srv = httptest.NewServer(a.h)
	t.Cleanup(a.srv.Close)
	return a
}

func (a *api) token(playerID string) string {
	tok, _ := a.tokens.Issue(playerID, t0)
	return tok
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// req describes one request; zero fields are left out.
type req struct {
	method, path, token string
	body                io.Reader
	header              map[string]string
}

func (a *api) do(t *testing.T, rq req) response {
	t.Helper()
	r, err := http.NewRequest(rq.method, a.srv.URL+rq.path, rq.body)
	if err != nil {
		t.Fatal(err)
	}
	if rq.token != "" {
		r.Header.Set("Authorization", "Bearer "+rq.token)
	}
	for k, v := range rq.header {
		r.Header.Set(k, v)
	}
	res, err := a.srv.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: body}
}

func body(s string) io.Reader { return strings.NewReader(s) }

// apiError is API.md's error body.
type apiError struct {
	Error struct {
		Code        string `json:"code"`
		Message     string `json:"message"`
		RetryAfterS *int64 `json:"retry_after_s"`
	} `json:"error"`
}

func decodeError(t *testing.T, b []byte) apiError {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error body %q: %v", b, err)
	}
	if e.Error.Message == "" {
		t.Errorf("error body %s has no message", b)
	}
	return e
}

func decodeMap(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body %q: %v", b, err)
	}
	return m
}

func diffCalls(t *testing.T, want []call, got []call) {
	t.Helper()
	if diff := cmp.Diff(want, got, protocmp.Transform(), cmp.AllowUnexported(call{})); diff != "" {
		t.Errorf("gRPC calls (-want +got):\n%s", diff)
	}
}

func TestAuthFlow(t *testing.T) {
	a := newAPI(t)
	res := a.do(t, req{method: "POST", path: "/v1/auth/guest", body: body(`{"device_id":"device-0001"}`)})
	if res.status != http.StatusOK {
		t.Fatalf("auth: status %d: %s", res.status, res.body)
	}
	var got struct {
		PlayerID  string `json:"player_id"`
		Token     string `json:"token"`
		ExpiresAt string `json:"expires_at"`
	}
	if err := json.Unmarshal(res.body, &got); err != nil {
		t.Fatal(err)
	}
	if got.PlayerID != "p-device-0001" || got.Token == "" || got.ExpiresAt != "2026-03-02T11:00:00Z" {
		t.Fatalf("auth response = %+v", got)
	}

	res = a.do(t, req{method: "GET", path: "/v1/me", token: got.Token})
	if res.status != http.StatusOK {
		t.Fatalf("me: status %d: %s", res.status, res.body)
	}
	want := map[string]any{
		"player_id": "p-device-0001", "name": "Guest", "level": 1.0, "exp": 0.0, "coins": 1000.0,
		"gift_points": 0.0, "lives": map[string]any{"count": 5.0, "max": 5.0, "next_life_at": nil, "infinite_until": nil},
		"best_score": 0.0, "weekly_best": 0.0, "push_tokens": 0.0,
		"owned": map[string]any{"cookies": []any{"brave"}, "pets": []any{}},
	}
	if diff := cmp.Diff(want, decodeMap(t, res.body)); diff != "" {
		t.Errorf("/v1/me (-want +got):\n%s", diff)
	}
	diffCalls(t, []call{
		{"AuthGuest", &ovenv1.AuthGuestRequest{DeviceId: "device-0001"}},
		{"GetMe", &ovenv1.PlayerRequest{PlayerId: "p-device-0001"}},
	}, a.game.Calls())
}

func TestUnauthenticated(t *testing.T) {
	a := newAPI(t)
	other, _ := auth.NewSigner(bytes.Repeat([]byte{8}, 32), tokenTTL)
	otherTok, _ := other.Issue("p-1", t0)
	expired, _ := a.tokens.Issue("p-1", t0.Add(-2*tokenTTL))
	tests := []struct {
		name, path, auth string
	}{
		{"no header", "/v1/me", ""},
		{"basic scheme", "/v1/me", "Basic dXNlcjpwYXNz"},
		{"bearer without token", "/v1/me", "Bearer "},
		{"garbage token", "/v1/me", "Bearer garbage"},
		{"other key", "/v1/me", "Bearer " + otherTok},
		{"expired", "/v1/me", "Bearer " + expired},
		{"gamedata needs a token", "/v1/gamedata", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := a.do(t, req{method: "GET", path: tt.path, header: map[string]string{"Authorization": tt.auth}})
			if res.status != http.StatusUnauthorized {
				t.Fatalf("status %d: %s", res.status, res.body)
			}
			if code := decodeError(t, res.body).Error.Code; code != oven.EUnauthenticated {
				t.Errorf("code = %q", code)
			}
		})
	}
	diffCalls(t, nil, a.game.Calls())
}

// Bad input gets a clear 400 and never reaches the game.
func TestInvalidInput(t *testing.T) {
	a := newAPI(t)
	tok := a.token("p-1")
	tests := []struct {
		name, method, path, body string
		token                    string
		wantInMessage            string
	}{
		{"unknown field", "PATCH", "/v1/me", `{"name":"Bo","admin":true}`, tok, `unknown field "admin"`},
		{"wrong type", "PATCH", "/v1/me", `{"name":7}`, tok, `"name" must be a string`},
		{"not an object", "PATCH", "/v1/me", `["Bo"]`, tok, "JSON object"},
		{"two values", "PATCH", "/v1/me", `{"name":"Bo"}{"name":"Al"}`, tok, "single JSON value"},
		{"trailing garbage", "PATCH", "/v1/me", `{"name":"Bo"} x`, tok, "single JSON value"},
		{"empty body", "PATCH", "/v1/me", ``, tok, "empty"},
		{"malformed", "PATCH", "/v1/me", `{"name":`, tok, "truncated"},
		{"blank name", "PATCH", "/v1/me", `{"name":"   "}`, tok, "1 to 24"},
		{"long name", "PATCH", "/v1/me", `{"name":"` + strings.Repeat("é", 25) + `"}`, tok, "1 to 24"},
		{"control char in name", "PATCH", "/v1/me", `{"name":"Bo\u0007b"}`, tok, "control"},
		{"short device id", "POST", "/v1/auth/guest", `{"device_id":"short"}`, "", "device_id"},
		{"long device id", "POST", "/v1/auth/guest", `{"device_id":"` + strings.Repeat("d", 129) + `"}`, "", "device_id"},
		{"device id with newline", "POST", "/v1/auth/guest", `{"device_id":"device\n0001"}`, "", "device_id"},
		{"missing item", "POST", "/v1/shop/buy", `{}`, tok, "item_id is required"},
		{"missing cookie", "POST", "/v1/plays", `{"boosts":[]}`, tok, "cookie_id is required"},
		{"boosts not strings", "POST", "/v1/plays", `{"cookie_id":"brave","boosts":[1]}`, tok, "must be a string"},
		{"negative score", "POST", "/v1/plays/play-1/settle", `{"score":-1,"coins":0,"distance":0,"duration_ms":9000}`, tok, "score must not be negative"},
		{"fractional coins", "POST", "/v1/plays/play-1/settle", `{"score":1,"coins":1.5,"distance":0,"duration_ms":9000}`, tok, `"coins" must be an integer`},
		{"missing duration", "POST", "/v1/plays/play-1/settle", `{"score":1,"coins":1,"distance":0}`, tok, "duration_ms is required"},
		{"null score", "POST", "/v1/plays/play-1/settle", `{"score":null,"coins":1,"distance":0,"duration_ms":1}`, tok, "score is required"},
		{"version not a number", "GET", "/v1/gamedata/abc", ``, tok, "positive integer"},
		{"version zero", "GET", "/v1/gamedata/0", ``, tok, "positive integer"},
		{"version leading zero", "GET", "/v1/gamedata/03", ``, tok, "positive integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := a.do(t, req{method: tt.method, path: tt.path, token: tt.token, body: body(tt.body)})
			if res.status != http.StatusBadRequest {
				t.Fatalf("status %d: %s", res.status, res.body)
			}
			e := decodeError(t, res.body)
			if e.Error.Code != oven.EInvalid || !strings.Contains(e.Error.Message, tt.wantInMessage) {
				t.Errorf("error = %+v, want code %s and message containing %q", e.Error, oven.EInvalid, tt.wantInMessage)
			}
		})
	}
	diffCalls(t, nil, a.game.Calls())
}

// chunked hides a reader's length so that the client sends no Content-Length.
type chunked struct{ io.Reader }

func TestBodyTooLarge(t *testing.T) {
	a := newAPI(t)
	big := `{"name":"` + strings.Repeat("a", 64<<10) + `"}`
	tests := []struct {
		name string
		body io.Reader
	}{
		{"content-length", body(big)},
		{"chunked", chunked{body(big)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := a.do(t, req{method: "PATCH", path: "/v1/me", token: a.token("p-1"), body: tt.body})
			if res.status != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d: %s", res.status, res.body)
			}
			if code := decodeError(t, res.body).Error.Code; code != oven.ETooLarge {
				t.Errorf("code = %q", code)
			}
		})
	}
	diffCalls(t, nil, a.game.Calls())
}

func TestRequestID(t *testing.T) {
	a := newAPI(t)
	tests := []struct {
		name, path, sent string
		wantEcho         bool
	}{
		{"echoed", "/healthz", "abc-123_XYZ.4", true},
		{"echoed on 404", "/nope", "req-404", true},
		{"echoed on 401", "/v1/me", "req-401", true},
		{"generated when missing", "/healthz", "", false},
		{"replaced when insane", "/healthz", "evil\"id with spaces", false},
		{"replaced when too long", "/healthz", strings.Repeat("a", 129), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := a.do(t, req{method: "GET", path: tt.path, header: map[string]string{"X-Request-Id": tt.sent}})
			got := res.header.Get("X-Request-Id")
			switch {
			case tt.wantEcho && got != tt.sent:
				t.Errorf("X-Request-Id = %q, want %q", got, tt.sent)
			case !tt.wantEcho && (got == "" || got == tt.sent):
				t.Errorf("X-Request-Id = %q, want a generated id", got)
			}
		})
	}
	first := a.do(t, req{method: "GET", path: "/healthz"}).header.Get("X-Request-Id")
	second := a.do(t, req{method: "GET", path: "/healthz"}).header.Get("X-Request-Id")
	if first == second {
		t.Errorf("two requests got the same generated id %q", first)
	}
}

func TestErrorMapping(t *testing.T) {
	a := newAPI(t)
	tok := a.token("p-1")
	retry := func(s int64) *int64 { return &s }
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantRetry  *int64
	}{
		{"no lives", grpcerr.ToStatus(&oven.Error{Code: oven.ENoLives, Message: "no lives left", RetryAfter: 421 * time.Second}),
			http.StatusConflict, oven.ENoLives, retry(421)},
		{"insufficient coins", grpcerr.ToStatus(oven.Errorf(oven.EInsufficientCoins, "need 500")),
			http.StatusConflict, oven.EInsufficientCoins, nil},
		{"banned", grpcerr.ToStatus(oven.Errorf(oven.EBanned, "banned")), http.StatusForbidden, oven.EBanned, nil},
		{"play expired", grpcerr.ToStatus(oven.Errorf(oven.EPlayExpired, "too late")), http.StatusGone, oven.EPlayExpired, nil},
		{"rejected", grpcerr.ToStatus(oven.Errorf(oven.ERejected, "implausible")), http.StatusUnprocessableEntity, oven.ERejected, nil},
		{"rate limited", grpcerr.ToStatus(&oven.Error{Code: oven.ERateLimited, Message: "slow down", RetryAfter: 1500 * time.Millisecond}),
			http.StatusTooManyRequests, oven.ERateLimited, retry(2)},
		{"shard down", status.Error(codes.Unavailable, "connection refused"), http.StatusServiceUnavailable, oven.EUnavailable, retry(1)},
		{"store down", grpcerr.ToStatus(oven.Errorf(oven.EUnavailable, "a store is unavailable")),
			http.StatusServiceUnavailable, oven.EUnavailable, retry(1)},
		{"deadline passed on the shard", grpcerr.ToStatus(context.DeadlineExceeded),
			http.StatusServiceUnavailable, oven.EUnavailable, retry(1)},
		{"internal", status.Error(codes.Internal, "secret stack trace"), http.StatusInternalServerError, oven.EInternal, nil},
		{"not a status", errors.New("boom"), http.StatusInternalServerError, oven.EInternal, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a.game.setErr(tt.err)
			res := a.do(t, req{method: "GET", path: "/v1/me", token: tok})
			if res.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.status, tt.wantStatus, res.body)
			}
			e := decodeError(t, res.body)
			if diff := cmp.Diff(tt.wantCode, e.Error.Code); diff != "" {
				t.Errorf("code (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRetry, e.Error.RetryAfterS); diff != "" {
				t.Errorf("retry_after_s (-want +got):\n%s", diff)
			}
			wantHeader := ""
			if tt.wantRetry != nil {
				wantHeader = strconv.FormatInt(*tt.wantRetry, 10)
			}
			if got := res.header.Get("Retry-After"); got != wantHeader {
				t.Errorf("Retry-After = %q, want %q", got, wantHeader)
			}
			if strings.Contains(string(res.body), "secret") {
				t.Errorf("internal detail leaked: %s", res.body)
			}
		})
	}
}

func TestPlays(t *testing.T) {
	a := newAPI(t)
	tok := a.token("p-1")
	res := a.do(t, req{method: "POST", path: "/v1/plays", token: tok,
		body: body(`{"cookie_id":"brave","pet_id":"dog","boosts":["magnet"]}`)})
	if res.status != http.StatusCreated {
		t.Fatalf("start: status %d: %s", res.status, res.body)
	}
	wantStart := map[string]any{
		"play_id": "play-1", "started_at": "2026-03-02T10:00:00Z", "seed": 42.0, "coins": 900.0,
		"lives": map[string]any{"count": 4.0, "max": 5.0, "next_life_at": "2026-03-02T10:12:00Z", "infinite_until": nil},
	}
	if diff := cmp.Diff(wantStart, decodeMap(t, res.body)); diff != "" {
		t.Errorf("start (-want +got):\n%s", diff)
	}

	res = a.do(t, req{method: "POST", path: "/v1/plays/play-1/settle", token: tok,
		body: body(`{"score":1200,"coins":30,"distance":0,"duration_ms":60000}`)})
	if res.status != http.StatusOK {
		t.Fatalf("settle: status %d: %s", res.status, res.body)
	}
	wantSettle := map[string]any{
		"coins_earned": 30.0, "coins": 1030.0, "exp_earned": 10.0, "exp": 10.0, "level": 1.0,
		"best_score": 1200.0, "weekly_best": 1200.0, "new_record": true,
	}
	if diff := cmp.Diff(wantSettle, decodeMap(t, res.body)); diff != "" {
		t.Errorf("settle (-want +got):\n%s", diff)
	}

	res = a.do(t, req{method: "POST", path: "/v1/shop/buy", token: tok, body: body(`{"item_id":"cat"}`)})
	if res.status != http.StatusOK {
		t.Fatalf("buy: status %d: %s", res.status, res.body)
	}
	diffCalls(t, []call{
		{"StartPlay", &ovenv1.StartPlayRequest{PlayerId: "p-1", CookieId: "brave", PetId: "dog", Boosts: []string{"magnet"}}},
		{"SettlePlay", &ovenv1.SettlePlayRequest{PlayerId: "p-1", PlayId: "play-1", Score: 1200, Coins: 30, DurationMs: 60000}},
		{"BuyItem", &ovenv1.BuyItemRequest{PlayerId: "p-1", ItemId: "cat"}},
	}, a.game.Calls())
}

func TestPatchMeTrimsName(t *testing.T) {
	a := newAPI(t)
	res := a.do(t, req{method: "PATCH", path: "/v1/me", token: a.token("p-1"), body: body(`{"name":"  Cookie Fan  "}`)})
	if res.status != http.StatusOK {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	if got := decodeMap(t, res.body)["name"]; got != "Cookie Fan" {
		t.Errorf("name = %v", got)
	}
	diffCalls(t, []call{{"UpdateMe", &ovenv1.UpdateMeRequest{PlayerId: "p-1", Name: "Cookie Fan"}}}, a.game.Calls())
}

func TestGamedataCurrent(t *testing.T) {
	a := newAPI(t)
	tok := a.token("p-1")
	res := a.do(t, req{method: "GET", path: "/v1/gamedata", token: tok})
	if res.status != http.StatusOK {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	if diff := cmp.Diff(string(a.game.gamedata[3]), string(res.body)); diff != "" {
		t.Errorf("document not served as is (-want +got):\n%s", diff)
	}
	wantHeaders := map[string]string{"ETag": `"3"`, "Cache-Control": "no-cache"}
	for k, v := range wantHeaders {
		if got := res.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}

	tests := []struct {
		name, ifNoneMatch string
		want              int
	}{
		{"same tag", `"3"`, http.StatusNotModified},
		{"weak tag in a list", `"1", W/"3"`, http.StatusNotModified},
		{"star", `*`, http.StatusNotModified},
		{"older tag", `"2"`, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := a.do(t, req{method: "GET", path: "/v1/gamedata", token: tok, header: map[string]string{"If-None-Match": tt.ifNoneMatch}})
			if res.status != tt.want {
				t.Fatalf("status %d, want %d", res.status, tt.want)
			}
			if tt.want == http.StatusNotModified && len(res.body) != 0 {
				t.Errorf("304 with a body: %q", res.body)
			}
			if got := res.header.Get("ETag"); got != `"3"` {
				t.Errorf("ETag = %q", got)
			}
		})
	}
	// All of the above fell within the cache's second: one call reached the game.
	diffCalls(t, []call{{"GetGameData", &ovenv1.GetGameDataRequest{}}}, a.game.Calls())
}

func TestGamedataVersion(t *testing.T) {
	a := newAPI(t)
	tok := a.token("p-1")
	for range 3 {
		res := a.do(t, req{method: "GET", path: "/v1/gamedata/2", token: tok})
		if res.status != http.StatusOK {
			t.Fatalf("status %d: %s", res.status, res.body)
		}
		if got := res.header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
			t.Errorf("Cache-Control = %q", got)
		}
		if got := res.header.Get("ETag"); got != `"2"` {
			t.Errorf("ETag = %q", got)
		}
		if string(res.body) != string(a.game.gamedata[2]) {
			t.Errorf("body = %s", res.body)
		}
	}
	res := a.do(t, req{method: "GET", path: "/v1/gamedata/99", token: tok})
	if res.status != http.StatusNotFound {
		t.Errorf("unknown version: status %d: %s", res.status, res.body)
	}
	// Versions are immutable: the three reads of version 2 cost one call.
	diffCalls(t, []call{
		{"GetGameData", &ovenv1.GetGameDataRequest{Version: 2}},
		{"GetGameData", &ovenv1.GetGameDataRequest{Version: 99}},
	}, a.game.Calls())
}

// A burst of clients on a cold cache costs one gRPC call (run with -race).
func TestGamedataConcurrentMiss(t *testing.T) {
	a := newAPI(t)
	a.game.block = make(chan struct{})
	a.game.started = make(chan struct{}, 1)
	tok := a.token("p-1")
	const n = 50
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { statuses[i] = a.do(t, req{method: "GET", path: "/v1/gamedata", token: tok}).status })
	}
	<-a.game.started
	close(a.game.block)
	wg.Wait()
	for i, st := range statuses {
		if st != http.StatusOK {
			t.Errorf("request %d: status %d", i, st)
		}
	}
	if got := len(a.game.Calls()); got != 1 {
		t.Errorf("%d GetGameData calls, want 1", got)
	}
}

func TestDevClock(t *testing.T) {
	off := newAPI(t)
	for _, tok := range []string{"", off.token("p-1")} {
		res := off.do(t, req{method: "POST", path: "/v1/dev/clock", token: tok, body: body(`{"advance_s":60}`)})
		if res.status != http.StatusNotFound || decodeError(t, res.body).Error.Code != oven.ENotFound {
			t.Errorf("disabled dev clock (token %t): status %d: %s", tok != "", res.status, res.body)
		}
	}
	diffCalls(t, nil, off.game.Calls())

	on := newAPI(t, func(c *httpapi.Config) { c.DevClock = true })
	tests := []struct {
		name, token, body string
		want              int
	}{
		{"needs a token", "", `{"advance_s":60}`, http.StatusUnauthorized},
		{"too far", on.token("p-1"), `{"advance_s":34560001}`, http.StatusBadRequest},
		{"negative", on.token("p-1"), `{"advance_s":-1}`, http.StatusBadRequest},
		{"advances", on.token("p-1"), `{"advance_s":3600}`, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := on.do(t, req{method: "POST", path: "/v1/dev/clock", token: tt.token, body: body(tt.body)})
			if res.status != tt.want {
				t.Fatalf("status %d, want %d: %s", res.status, tt.want, res.body)
			}
			if tt.want == http.StatusOK {
				if diff := cmp.Diff(map[string]any{"now": "2026-03-02T11:00:00Z"}, decodeMap(t, res.body)); diff != "" {
					t.Errorf("body (-want +got):\n%s", diff)
				}
			}
		})
	}
	diffCalls(t, []call{{"AdvanceClock", &ovenv1.AdvanceClockRequest{AdvanceMs: 3_600_000}}}, on.game.Calls())
}

func TestMetricsUseRoutePatterns(t *testing.T) {
	a := newAPI(t)
	tok := a.token("p-1")
	a.do(t, req{method: "POST", path: "/v1/plays/play-abc/settle", token: tok,
		body: body(`{"score":1,"coins":1,"distance":1,"duration_ms":6000}`)})
	a.do(t, req{method: "GET", path: "/no/such/route/12345"})
	res := a.do(t, req{method: "GET", path: "/metrics"})
	if res.status != http.StatusOK {
		t.Fatalf("status %d", res.status)
	}
	text := string(res.body)
	for _, want := range []string{
		`oven_http_requests_total{code="200",method="POST",route="/v1/plays/{play_id}/settle"} 1`,
		`oven_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`oven_http_request_duration_seconds_bucket{method="POST",route="/v1/plays/{play_id}/settle",le="+Inf"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, raw := range []string{"play-abc", "12345"} {
		if strings.Contains(text, raw) {
			t.Errorf("metrics contain the raw path segment %q", raw)
		}
	}
}

func TestHealth(t *testing.T) {
	tests := []struct {
		name       string
		path       string
		ready      error
		wantStatus int
	}{
		{"healthz", "/healthz", nil, http.StatusOK},
		{"healthz while not ready", "/healthz", errors.New("shard map unknown"), http.StatusOK},
		{"ready", "/readyz", nil, http.StatusOK},
		{"not ready", "/readyz", errors.New("redis: connection refused"), http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotDeadline bool
			a := newAPI(t, func(c *httpapi.Config) {
				c.Ready = func(ctx context.Context) error {
					_, gotDeadline = ctx.Deadline()
					return tt.ready
				}
			})
			res := a.do(t, req{method: "GET", path: tt.path})
			if res.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.status, tt.wantStatus, res.body)
			}
			if tt.wantStatus == http.StatusServiceUnavailable {
				e := decodeError(t, res.body)
				if e.Error.Code != oven.EUnavailable || strings.Contains(e.Error.Message, "redis") {
					t.Errorf("error = %+v", e.Error)
				}
			}
			if tt.path == "/readyz" && !gotDeadline {
				t.Error("Ready called without a deadline")
			}
		})
	}
}

func TestReadyzWithoutCheck(t *testing.T) {
	a := newAPI(t, func(c *httpapi.Config) { c.Ready = nil })
	if res := a.do(t, req{method: "GET", path: "/readyz"}); res.status != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", res.status)
	}
}

func TestRoutingErrors(t *testing.T) {
	a := newAPI(t)
	tests := []struct {
		name, method, path string
		wantStatus         int
		wantAllow          string
	}{
		{"unknown route", "GET", "/v2/me", http.StatusNotFound, ""},
		{"wrong method", "DELETE", "/v1/me", http.StatusMethodNotAllowed, "GET, PATCH"},
		{"wrong method on guest", "GET", "/v1/auth/guest", http.StatusMethodNotAllowed, "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := a.do(t, req{method: tt.method, path: tt.path})
			if res.status != tt.wantStatus {
				t.Fatalf("status %d, want %d", res.status, tt.wantStatus)
			}
			decodeError(t, res.body)
			if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
			if got := res.header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
		})
	}
}

func TestPanicBecomesInternal(t *testing.T) {
	a := newAPI(t)
	a.game.panicOn = "GetMe"
	res := a.do(t, req{method: "GET", path: "/v1/me", token: a.token("p-1"), header: map[string]string{"X-Request-Id": "boom-1"}})
	if res.status != http.StatusInternalServerError {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	if code := decodeError(t, res.body).Error.Code; code != oven.EInternal {
		t.Errorf("code = %q", code)
	}
	if got := res.header.Get("X-Request-Id"); got != "boom-1" {
		t.Errorf("X-Request-Id = %q", got)
	}
}

func TestAccessLog(t *testing.T) {
	var buf bytes.Buffer
	a := newAPI(t, func(c *httpapi.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
	})
	r := httptest.NewRequest("GET", "/v1/me", nil)
	r.Header.Set("Authorization", "Bearer "+a.token("p-42"))
	r.Header.Set("X-Request-Id", "log-1")
	// Served in-process so that the log line is complete when ServeHTTP returns.
	a.h.ServeHTTP(httptest.NewRecorder(), r)

	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("access log %q: %v", buf.String(), err)
	}
	for k, want := range map[string]any{
		"request_id": "log-1", "route": "/v1/me", "status": 200.0, "player_id": "p-42", "method": "GET",
	} {
		if got := line[k]; got != want {
			t.Errorf("log %s = %v, want %v", k, got, want)
		}
	}
	if _, ok := line["duration_ms"]; !ok {
		t.Error("log has no duration_ms")
	}
}

func TestStartPlayIdempotencyKey(t *testing.T) {
	a := newAPI(t)
	tok := a.token("p-1")
	start := func(key string) response {
		return a.do(t, req{method: "POST", path: "/v1/plays", token: tok, body: body(`{"cookie_id":"brave"}`),
			header: map[string]string{"Idempotency-Key": key}})
	}
	for _, key := range []string{"9b2f6c1e-5d7a-4e0b-8c3f-2a1d0e9f8b7c", strings.Repeat("k", 128)} {
		if res := start(key); res.status != http.StatusCreated {
			t.Fatalf("key %q: status %d: %s", key, res.status, res.body)
		}
	}
	for _, bad := range []string{strings.Repeat("k", 129), "two words", "caf\u00e9", "tab\there"} {
		res := start(bad)
		if res.status != http.StatusBadRequest || decodeError(t, res.body).Error.Code != oven.EInvalid {
			t.Errorf("key %q: status %d, want 400 invalid_argument: %s", bad, res.status, res.body)
		}
	}
	res := a.do(t, req{method: "POST", path: "/v1/plays", token: tok, body: body(`{"cookie_id":"brave"}`)})
	if res.status != http.StatusCreated {
		t.Fatalf("no key: status %d: %s", res.status, res.body)
	}
	diffCalls(t, []call{
		{"StartPlay", &ovenv1.StartPlayRequest{PlayerId: "p-1", CookieId: "brave", IdempotencyKey: "9b2f6c1e-5d7a-4e0b-8c3f-2a1d0e9f8b7c"}},
		{"StartPlay", &ovenv1.StartPlayRequest{PlayerId: "p-1", CookieId: "brave", IdempotencyKey: strings.Repeat("k", 128)}},
		{"StartPlay", &ovenv1.StartPlayRequest{PlayerId: "p-1", CookieId: "brave"}},
	}, a.game.Calls())
}
