package gms_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/admins"
	"github.com/ovengames/oven/application/gamedata"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/presentation/gms"
	"github.com/ovengames/oven/proto/ovenv1"
)

// doc is the shipped default document with lives.max set to max.
func doc(max int64) string {
	d := gamedata.Default()
	d.Version = 0
	d.Lives.Max = max
	return string(d.Marshal())
}

func TestConsoleIsServed(t *testing.T) {
	t.Parallel()
	s := newStack(t, 1)
	b := s.browser()
	tests := []struct {
		path        string
		status      int
		contentType string
		contains    string
	}{
		{"/gms", http.StatusMovedPermanently, "", ""},
		{"/gms/", http.StatusOK, "text/html; charset=utf-8", `<textarea id="draft"`},
		{"/gms/static/app.js", http.StatusOK, "text/javascript; charset=utf-8", `"use strict"`},
		{"/gms/static/app.css", http.StatusOK, "text/css; charset=utf-8", `--accent`},
		{"/gms/static/nope.js", http.StatusNotFound, "", ""},
		{"/gms/api/nope", http.StatusNotFound, "application/json; charset=utf-8", `"not_found"`},
		{"/v1/me", http.StatusUnauthorized, "application/json; charset=utf-8", `"unauthenticated"`}, // the client API is intact
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := b.do("GET", tt.path, "")
			if r.status != tt.status || r.header.Get("Content-Type") != tt.contentType && tt.contentType != "" ||
				!strings.Contains(string(r.body), tt.contains) {
				t.Errorf("%d %q %.80s", r.status, r.header.Get("Content-Type"), r.body)
			}
		})
	}
	page := b.do("GET", "/gms/", "")
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || page.header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("security headers: %v", page.header)
	}
}

func TestLoginSessionAndCSRF(t *testing.T) {
	t.Parallel()
	s := newStack(t, 2)
	s.addAdmin("ed", admins.Editor)
	b := s.browser()
	if r := b.do("GET", "/gms/api/gamedata/draft", ""); r.status != 401 || r.code() != "unauthenticated" {
		t.Fatalf("draft before login: %d %s", r.status, r.body)
	}
	if r := b.do("POST", "/gms/api/login", `{"username":"ed","password":"nope-nope"}`); r.status != 401 {
		t.Fatalf("wrong password: %d %s", r.status, r.body)
	}
	r := b.do("POST", "/gms/api/login", `{"username":"ed","password":"`+password+`"}`)
	if r.status != 200 {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	cookie := r.header.Get("Set-Cookie")
	for _, attr := range []string{"oven_gms=", "Path=/gms", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(cookie, attr) {
			t.Errorf("cookie %q lacks %s", cookie, attr)
		}
	}
	var sess map[string]any
	r.json(t, &sess)
	if sess["username"] != "ed" || sess["role"] != "editor" || sess["csrf_token"] == "" || strings.Contains(string(r.body), strings.TrimPrefix(strings.Split(cookie, ";")[0], "oven_gms=")) {
		t.Errorf("login body %s", r.body)
	}
	b.csrf = sess["csrf_token"].(string)

	tests := []struct {
		name    string
		method  string
		path    string
		body    string
		headers []string
		status  int
		code    string
	}{
		{"session", "GET", "/gms/api/session", "", nil, 200, ""},
		{"draft", "GET", "/gms/api/gamedata/draft", "", nil, 200, ""},
		{"save without csrf", "PUT", "/gms/api/gamedata/draft", doc(6), []string{"X-CSRF-Token", ""}, 403, "forbidden"},
		{"save with a wrong csrf", "PUT", "/gms/api/gamedata/draft", doc(6), []string{"X-CSRF-Token", "guess"}, 403, "forbidden"},
		{"save as a form", "PUT", "/gms/api/gamedata/draft", doc(6), []string{"Content-Type", "application/x-www-form-urlencoded"}, 400, "invalid_argument"},
		{"save", "PUT", "/gms/api/gamedata/draft", doc(6), nil, 200, ""},
		{"publish needs publisher", "POST", "/gms/api/gamedata/publish", "", nil, 403, "forbidden"},
		{"ban needs operator", "POST", "/gms/api/players/1/ban", "", nil, 403, "forbidden"},
		{"too large", "PUT", "/gms/api/gamedata/draft", `"` + strings.Repeat("x", 70<<10) + `"`, nil, 413, "too_large"},
		{"gift needs operator", "POST", "/gms/api/players/1/gifts", `{"kind":"coins","amount":5,"message":""}`, nil, 403, "forbidden"},
		{"gift without csrf", "POST", "/gms/api/players/1/gifts", `{"kind":"coins","amount":5}`, []string{"X-CSRF-Token", ""}, 403, "forbidden"},
		{"broadcast needs operator", "POST", "/gms/api/gifts/broadcast", `{"kind":"life","amount":1,"message":"","duration_s":3600}`, nil, 403, "forbidden"},
		{"broadcasts", "GET", "/gms/api/gifts/broadcast", "", nil, 200, ""},
		{"bad limit", "GET", "/gms/api/audit?limit=0", "", nil, 400, "invalid_argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.do(tt.method, tt.path, tt.body, tt.headers...)
			if r.status != tt.status || r.code() != tt.code {
				t.Errorf("%d %q, want %d %q: %.200s", r.status, r.code(), tt.status, tt.code, r.body)
			}
		})
	}

	if r := b.do("POST", "/gms/api/logout", ""); r.status != 204 || !strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("logout: %d %v", r.status, r.header)
	}
	if r := b.do("GET", "/gms/api/session", ""); r.status != 401 {
		t.Errorf("session after logout: %d", r.status)
	}
}

func TestLoginThrottledOverHTTP(t *testing.T) {
	t.Parallel()
	s := newStack(t, 1)
	s.addAdmin("victim", admins.Viewer)
	b := s.browser()
	var last reply
	for range 5 {
		last = b.do("POST", "/gms/api/login", `{"username":"victim","password":"wrong-password"}`)
	}
	var e struct {
		Error struct {
			Code        string `json:"code"`
			RetryAfterS int    `json:"retry_after_s"`
		} `json:"error"`
	}
	last.json(t, &e)
	if last.status != 429 || e.Error.Code != "rate_limited" || e.Error.RetryAfterS != 60 || last.header.Get("Retry-After") != "60" {
		t.Fatalf("fifth failure: %d %s %v", last.status, last.body, last.header)
	}
	if r := b.do("POST", "/gms/api/login", `{"username":"victim","password":"`+password+`"}`); r.status != 429 {
		t.Errorf("right password while locked: %d", r.status)
	}
}

func TestDraftPublishRollbackOverHTTP(t *testing.T) {
	t.Parallel()
	s := newStack(t, 3)
	s.addAdmin("pub", admins.Publisher)
	b := s.browser()
	b.login("pub")
	_, token := s.player("device-gms-http")

	// Every problem comes back with its path, and nothing is stored.
	bad := strings.Replace(doc(0), `"regen_seconds":720`, `"regen_seconds":-1`, 1)
	r := b.do("PUT", "/gms/api/gamedata/draft", bad)
	var refused struct {
		Error    struct{ Code string } `json:"error"`
		Problems []gamedata.Problem    `json:"problems"`
	}
	r.json(t, &refused)
	want := []gamedata.Problem{{Path: "lives.max", Message: "must be > 0"}, {Path: "lives.regen_seconds", Message: "must be > 0"}}
	if r.status != 400 || refused.Error.Code != "invalid_argument" {
		t.Fatalf("bad draft: %d %s", r.status, r.body)
	}
	if diff := cmp.Diff(want, refused.Problems); diff != "" {
		t.Errorf("problems (-want +got)\n%s", diff)
	}
	r = b.do("POST", "/gms/api/gamedata/validate", bad)
	var v struct {
		Valid    bool
		Problems []gamedata.Problem
	}
	r.json(t, &v)
	if r.status != 200 || v.Valid || len(v.Problems) != 2 {
		t.Errorf("validate: %d %s", r.status, r.body)
	}

	// Save and publish: /v1/gamedata serves it.
	if r := b.do("PUT", "/gms/api/gamedata/draft", doc(8)); r.status != 200 || r.header.Get("X-Draft-Updated-By") != "pub" {
		t.Fatalf("save: %d %s", r.status, r.body)
	}
	r = b.do("GET", "/gms/api/gamedata/draft", "")
	if r.status != 200 || r.header.Get("X-Published-Version") != "1" || !strings.Contains(string(r.body), `"max":8`) {
		t.Fatalf("draft: %d %v %s", r.status, r.header, r.body)
	}
	r = b.do("POST", "/gms/api/gamedata/publish", "")
	if r.status != 200 || string(r.body) != `{"version":2}`+"\n" {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	if got := s.servedLivesMax(token, 2); got != 8 {
		t.Errorf("served lives.max = %d, want 8", got)
	}
	if r := b.do("POST", "/gms/api/gamedata/publish", ""); r.status != 409 || r.code() != "conflict" {
		t.Errorf("publishing again: %d %s", r.status, r.body)
	}

	// Roll back to 1: a new version 3 with version 1's document.
	r = b.do("POST", "/gms/api/gamedata/rollback", `{"version":1}`)
	if r.status != 200 || string(r.body) != `{"version":3,"source_version":1}`+"\n" {
		t.Fatalf("rollback: %d %s", r.status, r.body)
	}
	if got := s.servedLivesMax(token, 3); got != 5 {
		t.Errorf("served lives.max after rollback = %d, want 5", got)
	}
	r = b.do("GET", "/gms/api/gamedata/versions", "")
	var vs struct {
		PublishedVersion int64 `json:"published_version"`
		Versions         []struct {
			Version       int64  `json:"version"`
			CreatedBy     string `json:"created_by"`
			SourceVersion *int64 `json:"source_version"`
			Published     bool   `json:"published"`
		} `json:"versions"`
	}
	r.json(t, &vs)
	var got []string
	for _, v := range vs.Versions {
		got = append(got, fmt.Sprintf("%d %s %v %v", v.Version, v.CreatedBy, v.SourceVersion != nil, v.Published))
	}
	if diff := cmp.Diff([]string{"3 pub true true", "2 pub false false", "1 seed false false"}, got); diff != "" || vs.PublishedVersion != 3 {
		t.Errorf("versions (-want +got)\n%s", diff)
	}
	if r := b.do("GET", "/gms/api/gamedata/versions/2", ""); r.status != 200 || r.header.Get("ETag") != `"2"` || !strings.Contains(string(r.body), `"max":8`) {
		t.Errorf("version 2: %d %s", r.status, r.body)
	}
	if r := b.do("POST", "/gms/api/gamedata/rollback", `{"version":"1"}`); r.status != 400 {
		t.Errorf("rollback with a string: %d", r.status)
	}
}

func TestPlayerLookupAndBanOverHTTP(t *testing.T) {
	t.Parallel()
	s := newStack(t, 3)
	s.addAdmin("op", admins.Operator)
	s.addAdmin("viewer", admins.Viewer)
	id, token := s.player("device-gms-ban")
	if r := s.client("GET", "/v1/me", token); r.status != 200 {
		t.Fatalf("me: %d", r.status)
	}
	op := s.browser()
	op.login("op")
	r := op.do("GET", "/gms/api/players/"+id, "")
	var p struct {
		PlayerID    string                `json:"player_id"`
		Coins       int64                 `json:"coins"`
		Lives       struct{ Count int64 } `json:"lives"`
		Banned      bool                  `json:"banned"`
		Mailbox     []json.RawMessage     `json:"mailbox"`
		RecentPlays []json.RawMessage     `json:"recent_plays"`
	}
	r.json(t, &p)
	if r.status != 200 || p.PlayerID != id || p.Coins != 1000 || p.Lives.Count != 5 || p.Banned || p.Mailbox == nil || p.RecentPlays == nil {
		t.Fatalf("lookup: %d %s", r.status, r.body)
	}
	if r := op.do("GET", "/gms/api/players/999999", ""); r.status != 404 {
		t.Errorf("missing player: %d", r.status)
	}

	r = op.do("POST", "/gms/api/players/"+id+"/ban", `{"reason":"botting"}`)
	r.json(t, &p)
	if r.status != 200 || !p.Banned {
		t.Fatalf("ban: %d %s", r.status, r.body)
	}
	// Effective at once, through any presentation copy: the owner shard refuses.
	if r := s.client("GET", "/v1/me", token); r.status != 403 || r.code() != "banned" {
		t.Errorf("a banned player's /v1/me: %d %s", r.status, r.body)
	}
	viewer := s.browser()
	viewer.login("viewer")
	if r := viewer.do("POST", "/gms/api/players/"+id+"/unban", ""); r.status != 403 {
		t.Errorf("viewer unban: %d", r.status)
	}
	if r := op.do("POST", "/gms/api/players/"+id+"/unban", ""); r.status != 200 {
		t.Fatalf("unban: %d %s", r.status, r.body)
	}
	// The ban revoked the tokens issued before it: the player signs in again.
	if r := s.client("GET", "/v1/me", token); r.status != 401 {
		t.Errorf("unbanned /v1/me with a token from before the ban: %d %s, want 401", r.status, r.body)
	}
	if _, fresh := s.player("device-gms-ban"); s.client("GET", "/v1/me", fresh).status != 200 {
		t.Errorf("unbanned /v1/me with a fresh token is not 200")
	}

	r = viewer.do("GET", "/gms/api/audit?limit=3", "")
	var log struct {
		Entries []struct {
			Actor, Action, Target string
			After                 json.RawMessage
		}
	}
	r.json(t, &log)
	var got []string
	for _, e := range log.Entries {
		got = append(got, e.Actor+" "+e.Action+" "+e.Target+" "+string(e.After))
	}
	want := []string{
		"op player.unban " + id + ` {"banned":false}`,
		"viewer login viewer " + `{"client_ip":"127.0.0.1"}`,
		"op player.ban " + id + ` {"banned":true,"reason":"botting"}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit (-want +got)\n%s", diff)
	}
}

func TestForwardedClientIP(t *testing.T) {
	tests := []struct {
		name    string
		headers []string
		want    string
	}{
		{"no header", nil, "192.0.2.1"},
		{"one proxy", []string{"203.0.113.9"}, "203.0.113.9"},
		{"forged first entry", []string{"6.6.6.6, 203.0.113.9"}, "203.0.113.9"},
		{"two header lines", []string{"6.6.6.6", "203.0.113.7"}, "203.0.113.7"},
		{"empty", []string{" "}, "192.0.2.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "/", nil)
			r.RemoteAddr = "192.0.2.1:5555"
			for _, h := range tt.headers {
				r.Header.Add("X-Forwarded-For", h)
			}
			if got := gms.ForwardedClientIP(r); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// fakeAdmin stands in for the shards in tests of the gift routes' HTTP contract: it
// records what reached it and answers with err or fixed data. Any other RPC panics
// (through the nil embedded client), which the console turns into a 500.
type fakeAdmin struct {
	ovenv1.AdminClient
	err  error
	list []*ovenv1.BroadcastInfo
	got  proto.Message
}

func (f *fakeAdmin) GiftPlayer(_ context.Context, in *ovenv1.GiftPlayerRequest, _ ...grpc.CallOption) (*ovenv1.GiftPlayerResponse, error) {
	f.got = in
	if f.err != nil {
		return nil, f.err
	}
	return &ovenv1.GiftPlayerResponse{MailId: "m-1", ExpiresAtMs: t0.Add(7 * 24 * time.Hour).UnixMilli()}, nil
}

func (f *fakeAdmin) CreateBroadcast(_ context.Context, in *ovenv1.AdminBroadcastRequest, _ ...grpc.CallOption) (*ovenv1.BroadcastInfo, error) {
	f.got = in
	if f.err != nil {
		return nil, f.err
	}
	return &ovenv1.BroadcastInfo{Id: "b-1", Kind: in.Kind, Amount: in.Amount, Message: in.Message, StartsAtMs: t0.UnixMilli(),
		EndsAtMs: t0.Add(time.Duration(in.DurationS) * time.Second).UnixMilli(), CreatedBy: "op"}, nil
}

func (f *fakeAdmin) ListBroadcasts(_ context.Context, in *ovenv1.AdminRequest, _ ...grpc.CallOption) (*ovenv1.BroadcastList, error) {
	f.got = in
	if f.err != nil {
		return nil, f.err
	}
	return &ovenv1.BroadcastList{Broadcasts: f.list}, nil
}

func (f *fakeAdmin) GetPlayer(_ context.Context, in *ovenv1.AdminPlayerRequest, _ ...grpc.CallOption) (*ovenv1.AdminPlayer, error) {
	f.got = in
	if f.err != nil {
		return nil, f.err
	}
	return &ovenv1.AdminPlayer{
		Profile: &ovenv1.Profile{PlayerId: in.PlayerId, Name: "Ann", Lives: &ovenv1.Lives{Count: 5, Max: 5}},
		Mailbox: []*ovenv1.MailItem{
			{Id: "m-2", Kind: "coins", Amount: 500, Message: "sorry", SentAtMs: t0.UnixMilli(), ExpiresAtMs: t0.Add(time.Hour).UnixMilli()},
			{Id: "m-1", Kind: "life", Amount: 1, FromPlayerId: "77", SentAtMs: t0.Add(-time.Minute).UnixMilli(), ExpiresAtMs: t0.Add(time.Hour).UnixMilli()},
		},
	}, nil
}

var t0 = time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)

func shardErr(code, msg string) error { return grpcerr.ToStatus(oven.Errorf(code, "%s", msg)) }

// TestGiftRoutes checks the gift routes' HTTP side against a fake Admin service: what
// reaches the shard, what comes back, and how the shard's refusals render.
func TestGiftRoutes(t *testing.T) {
	t.Parallel()
	sess := &ovenv1.AdminAuth{SessionToken: "session-1", CsrfToken: "csrf-1"}
	get := &ovenv1.AdminAuth{SessionToken: "session-1"}
	const gift = "/gms/api/players/p42/gifts"
	const broadcast = "/gms/api/gifts/broadcast"
	errBody := func(code, msg string) string {
		return `{"error":{"code":"` + code + `","message":"` + msg + `"}}`
	}
	b1 := &ovenv1.BroadcastInfo{Id: "b-2", Kind: "life", Amount: 2, Message: "weekend", StartsAtMs: t0.UnixMilli(),
		EndsAtMs: t0.Add(48 * time.Hour).UnixMilli(), CreatedBy: "op", Claims: 12}
	tests := []struct {
		name    string
		method  string
		path    string
		body    string
		headers []string
		err     error // the shard's answer
		list    []*ovenv1.BroadcastInfo
		status  int
		want    string        // the response body (compared as JSON)
		call    proto.Message // what reached the shard; nil: nothing
	}{
		{name: "gift coins", method: "POST", path: gift, body: `{"kind":"coins","amount":500,"message":"sorry for the outage"}`,
			status: 200, want: `{"mail_id":"m-1","expires_at":"2025-03-08T09:30:00Z"}`,
			call: &ovenv1.GiftPlayerRequest{Auth: sess, PlayerId: "p42", Kind: "coins", Amount: 500, Message: "sorry for the outage"}},
		{name: "gift lives without a message", method: "POST", path: gift, body: `{"kind":"life","amount":3}`,
			status: 200, want: `{"mail_id":"m-1","expires_at":"2025-03-08T09:30:00Z"}`,
			call: &ovenv1.GiftPlayerRequest{Auth: sess, PlayerId: "p42", Kind: "life", Amount: 3}},
		{name: "gift with an unknown field", method: "POST", path: gift, body: `{"kind":"coins","amount":5,"gems":1}`,
			status: 400, want: errBody("invalid_argument", `unknown field \"gems\"`)},
		{name: "gift of an unknown kind", method: "POST", path: gift, body: `{"kind":"gems","amount":5}`,
			status: 400, want: errBody("invalid_argument", `kind must be \"life\" or \"coins\"`)},
		{name: "gift without amount", method: "POST", path: gift, body: `{"kind":"coins"}`,
			status: 400, want: errBody("invalid_argument", "amount is required")},
		{name: "gift amount as a string", method: "POST", path: gift, body: `{"kind":"coins","amount":"5"}`,
			status: 400, want: errBody("invalid_argument", `field \"amount\" must be an integer, not string`)},
		{name: "gift amount with a fraction", method: "POST", path: gift, body: `{"kind":"coins","amount":1.5}`,
			status: 400, want: errBody("invalid_argument", `field \"amount\" must be an integer, not number 1.5`)},
		{name: "gift without a body", method: "POST", path: gift,
			status: 400, want: errBody("invalid_argument", "request body is empty; a JSON object is required")},
		{name: "gift with a message that is not UTF-8", method: "POST", path: gift, body: "{\"kind\":\"coins\",\"amount\":5,\"message\":\"sorry \xff\"}",
			status: 400, want: errBody("invalid_argument", "request body: JSON text is not valid UTF-8")},
		{name: "gift with a lone surrogate", method: "POST", path: gift, body: `{"kind":"coins","amount":5,"message":"sorry \ud83d"}`,
			status: 400, want: errBody("invalid_argument", `request body: JSON text escapes a lone surrogate (\\ud83d)`)},
		{name: "gift to a player id that is not UTF-8", method: "POST", path: "/gms/api/players/%FF%FE/gifts", body: `{"kind":"coins","amount":5}`,
			status: 400, want: errBody("invalid_argument", "id is not a valid id")},
		{name: "gift with a field in other case", method: "POST", path: gift, body: `{"Kind":"coins","amount":5}`,
			status: 400, want: errBody("invalid_argument", `unknown field \"Kind\"`)},
		{name: "gift with a field twice", method: "POST", path: gift, body: `{"kind":"coins","amount":5,"amount":500000}`,
			status: 400, want: errBody("invalid_argument", `field \"amount\" appears twice`)},
		{name: "gift of null", method: "POST", path: gift, body: `null`,
			status: 400, want: errBody("invalid_argument", "request body must be a JSON object, not null")},
		{name: "broadcast amount as a string", method: "POST", path: broadcast, body: `{"kind":"coins","amount":"1","duration_s":60}`,
			status: 400, want: errBody("invalid_argument", `field \"amount\" must be an integer, not string`)},
		{name: "broadcast of a duration past int64", method: "POST", path: broadcast, body: `{"kind":"coins","amount":1,"duration_s":9223372036854775808}`,
			status: 400, want: errBody("invalid_argument", `field \"duration_s\" must be an integer, not number 9223372036854775808`)},
		{name: "player id that is not UTF-8", method: "GET", path: "/gms/api/players/%FF%FE",
			status: 400, want: errBody("invalid_argument", "id is not a valid id")},
		{name: "csrf token that is not UTF-8", method: "POST", path: gift, body: `{"kind":"coins","amount":5}`, headers: []string{"X-CSRF-Token", "\xff"},
			status: 400, want: errBody("invalid_argument", "X-CSRF-Token is not valid UTF-8")},
		{name: "gift without csrf", method: "POST", path: gift, body: `{"kind":"coins","amount":5}`, headers: []string{"X-CSRF-Token", ""},
			status: 403, want: errBody("forbidden", "missing X-CSRF-Token header")},
		{name: "gift to a bad player id", method: "POST", path: "/gms/api/players/" + strings.Repeat("9", 65) + "/gifts", body: `{"kind":"coins","amount":5}`,
			status: 400, want: errBody("invalid_argument", "id is not a valid id")},
		{name: "gift by a viewer", method: "POST", path: gift, body: `{"kind":"coins","amount":5}`, err: shardErr(oven.EForbidden, "needs the operator role"),
			status: 403, want: errBody("forbidden", "needs the operator role"),
			call: &ovenv1.GiftPlayerRequest{Auth: sess, PlayerId: "p42", Kind: "coins", Amount: 5}},
		{name: "gift out of range", method: "POST", path: gift, body: `{"kind":"life","amount":11}`, err: shardErr(oven.EInvalid, "a gift is 1-10 lives or 1-1000000 coins"),
			status: 400, want: errBody("invalid_argument", "a gift is 1-10 lives or 1-1000000 coins"),
			call: &ovenv1.GiftPlayerRequest{Auth: sess, PlayerId: "p42", Kind: "life", Amount: 11}},
		{name: "gift to nobody", method: "POST", path: gift, body: `{"kind":"coins","amount":5}`, err: shardErr(oven.ENotFound, "no such player"),
			status: 404, want: errBody("not_found", "no such player"),
			call: &ovenv1.GiftPlayerRequest{Auth: sess, PlayerId: "p42", Kind: "coins", Amount: 5}},
		{name: "gift after the session ended", method: "POST", path: gift, body: `{"kind":"coins","amount":5}`, err: shardErr(oven.EUnauthenticated, "sign in"),
			status: 401, want: errBody("unauthenticated", "sign in"),
			call: &ovenv1.GiftPlayerRequest{Auth: sess, PlayerId: "p42", Kind: "coins", Amount: 5}},
		{name: "gift while the shard is down", method: "POST", path: gift, body: `{"kind":"coins","amount":5}`, err: status.Error(codes.Unavailable, "connection refused"),
			status: 503, want: `{"error":{"code":"unavailable","message":"the game service is unavailable, retry shortly","retry_after_s":1}}`,
			call: &ovenv1.GiftPlayerRequest{Auth: sess, PlayerId: "p42", Kind: "coins", Amount: 5}},

		{name: "broadcast", method: "POST", path: broadcast, body: `{"kind":"coins","amount":100,"message":"launch","duration_s":86400}`,
			status: 200, want: `{"id":"b-1","kind":"coins","amount":100,"message":"launch","starts_at":"2025-03-01T09:30:00Z",
				"ends_at":"2025-03-02T09:30:00Z","created_by":"op","claims":0}`,
			call: &ovenv1.AdminBroadcastRequest{Auth: sess, Kind: "coins", Amount: 100, Message: "launch", DurationS: 86400}},
		{name: "broadcast without duration", method: "POST", path: broadcast, body: `{"kind":"coins","amount":100,"message":""}`,
			status: 400, want: errBody("invalid_argument", "duration_s is required")},
		{name: "broadcast with an unknown field", method: "POST", path: broadcast, body: `{"kind":"coins","amount":100,"duration_s":60,"to":"all"}`,
			status: 400, want: errBody("invalid_argument", `unknown field \"to\"`)},
		{name: "broadcast too short", method: "POST", path: broadcast, body: `{"kind":"life","amount":1,"duration_s":59}`,
			err: shardErr(oven.EInvalid, "duration must be 60 s to 30 days"), status: 400, want: errBody("invalid_argument", "duration must be 60 s to 30 days"),
			call: &ovenv1.AdminBroadcastRequest{Auth: sess, Kind: "life", Amount: 1, DurationS: 59}},
		{name: "broadcast by an editor", method: "POST", path: broadcast, body: `{"kind":"life","amount":1,"duration_s":60}`,
			err: shardErr(oven.EForbidden, "needs the operator role"), status: 403, want: errBody("forbidden", "needs the operator role"),
			call: &ovenv1.AdminBroadcastRequest{Auth: sess, Kind: "life", Amount: 1, DurationS: 60}},
		{name: "broadcast without csrf", method: "POST", path: broadcast, body: `{"kind":"life","amount":1,"duration_s":60}`, headers: []string{"X-CSRF-Token", ""},
			status: 403, want: errBody("forbidden", "missing X-CSRF-Token header")},

		{name: "list broadcasts", method: "GET", path: broadcast, list: []*ovenv1.BroadcastInfo{b1}, status: 200,
			want: `{"broadcasts":[{"id":"b-2","kind":"life","amount":2,"message":"weekend","starts_at":"2025-03-01T09:30:00Z",
				"ends_at":"2025-03-03T09:30:00Z","created_by":"op","claims":12}]}`,
			call: &ovenv1.AdminRequest{Auth: get}},
		{name: "list no broadcasts", method: "GET", path: broadcast, status: 200, want: `{"broadcasts":[]}`, call: &ovenv1.AdminRequest{Auth: get}},
		{name: "list signed out", method: "GET", path: broadcast, err: shardErr(oven.EUnauthenticated, "sign in"),
			status: 401, want: errBody("unauthenticated", "sign in"), call: &ovenv1.AdminRequest{Auth: get}},

		{name: "player with mail", method: "GET", path: "/gms/api/players/p42", status: 200,
			want: `{"player_id":"p42","name":"Ann","level":0,"exp":0,"coins":0,"gift_points":0,
				"lives":{"count":5,"max":5,"next_life_at":null,"infinite_until":null},"best_score":0,"weekly_best":0,"owned":{"cookies":[],"pets":[]},"push_tokens":0,"banned":false,
				"mailbox":[
					{"id":"m-2","kind":"coins","amount":500,"from_player_id":null,"message":"sorry","sent_at":"2025-03-01T09:30:00Z","expires_at":"2025-03-01T10:30:00Z"},
					{"id":"m-1","kind":"life","amount":1,"from_player_id":"77","message":"","sent_at":"2025-03-01T09:29:00Z","expires_at":"2025-03-01T10:30:00Z"}],
				"recent_plays":[]}`,
			call: &ovenv1.AdminPlayerRequest{Auth: get, PlayerId: "p42"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAdmin{err: tt.err, list: tt.list}
			h := gms.New(gms.Config{Admin: f, Logger: slog.New(slog.DiscardHandler)})
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req := httptest.NewRequest(tt.method, tt.path, body)
			req.AddCookie(&http.Cookie{Name: "oven_gms", Value: "session-1"})
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if tt.method != "GET" {
				req.Header.Set("X-CSRF-Token", "csrf-1")
			}
			for i := 0; i+1 < len(tt.headers); i += 2 {
				if tt.headers[i+1] == "" {
					req.Header.Del(tt.headers[i])
				} else {
					req.Header.Set(tt.headers[i], tt.headers[i+1])
				}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Errorf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			var got, want any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatalf("want %q: %v", tt.want, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("body (-want +got)\n%s", diff)
			}
			if diff := cmp.Diff(tt.call, f.got, protocmp.Transform()); diff != "" {
				t.Errorf("call to the shard (-want +got)\n%s", diff)
			}
		})
	}
}

// TestGiftOverHTTP: an operator's gift reaches the player's /v1/mailbox and pays out
// once accepted; a viewer's is refused and delivers nothing.
func TestGiftOverHTTP(t *testing.T) {
	t.Parallel()
	s := newStack(t, 2)
	s.addAdmin("op", admins.Operator)
	s.addAdmin("viewer", admins.Viewer)
	id, token := s.player("device-gms-gift")
	op, viewer := s.browser(), s.browser()
	op.login("op")
	viewer.login("viewer")
	path := "/gms/api/players/" + id + "/gifts"

	refusals := []struct {
		name   string
		b      *browser
		path   string
		body   string
		status int
		code   string
	}{
		{"viewer", viewer, path, `{"kind":"coins","amount":750,"message":"from a viewer"}`, 403, "forbidden"},
		{"too many lives", op, path, `{"kind":"life","amount":11,"message":""}`, 400, "invalid_argument"},
		{"no coins", op, path, `{"kind":"coins","amount":0}`, 400, "invalid_argument"},
		{"long message", op, path, `{"kind":"coins","amount":1,"message":"` + strings.Repeat("x", 201) + `"}`, 400, "invalid_argument"},
		{"unknown field", op, path, `{"kind":"coins","amount":1,"from":"gm"}`, 400, "invalid_argument"},
		{"unknown player", op, "/gms/api/players/999999/gifts", `{"kind":"coins","amount":1}`, 404, "not_found"},
	}
	for _, tt := range refusals {
		if r := tt.b.do("POST", tt.path, tt.body); r.status != tt.status || r.code() != tt.code {
			t.Errorf("%s: %d %q, want %d %q: %s", tt.name, r.status, r.code(), tt.status, tt.code, r.body)
		}
	}
	if items := s.mailbox(token); len(items) != 0 {
		t.Fatalf("refused gifts reached the mailbox: %v", items)
	}

	r := op.do("POST", path, `{"kind":"coins","amount":750,"message":"sorry for the outage"}`)
	var g struct {
		MailID    string `json:"mail_id"`
		ExpiresAt string `json:"expires_at"`
	}
	r.json(t, &g)
	expires, err := time.Parse(time.RFC3339, g.ExpiresAt)
	if r.status != 200 || g.MailID == "" || err != nil || expires.Before(time.Now().Add(6*24*time.Hour)) {
		t.Fatalf("gift: %d %s (%v)", r.status, r.body, err)
	}
	want := []mail{{ID: g.MailID, Kind: "coins", Amount: 750, Message: "sorry for the outage", ExpiresAt: g.ExpiresAt}}
	ignoreSent := cmpopts.IgnoreFields(mail{}, "SentAt")
	if diff := cmp.Diff(want, s.mailbox(token), ignoreSent); diff != "" {
		t.Errorf("/v1/mailbox (-want +got)\n%s", diff)
	}
	var p struct {
		Coins   int64  `json:"coins"`
		Mailbox []mail `json:"mailbox"`
	}
	viewer.do("GET", "/gms/api/players/"+id, "").json(t, &p)
	if diff := cmp.Diff(want, p.Mailbox, ignoreSent); diff != "" {
		t.Errorf("GMS lookup's mailbox (-want +got)\n%s", diff)
	}

	if got := s.accept(token, g.MailID); got != 1750 {
		t.Errorf("coins after accepting: %d, want 1750", got)
	}
	if got := s.accept(token, g.MailID); got != 1750 {
		t.Errorf("coins after accepting again: %d, want 1750", got)
	}
	if got := s.coins(token); got != 1750 {
		t.Errorf("/v1/me coins: %d, want 1750", got)
	}
	viewer.do("GET", "/gms/api/players/"+id, "").json(t, &p)
	if p.Coins != 1750 || len(p.Mailbox) != 0 {
		t.Errorf("GMS lookup after accepting: coins %d, mailbox %v", p.Coins, p.Mailbox)
	}

	var log struct {
		Entries []struct{ Actor, Action, Target string }
	}
	viewer.do("GET", "/gms/api/audit?limit=1", "").json(t, &log)
	if len(log.Entries) != 1 || log.Entries[0] != (struct{ Actor, Action, Target string }{"op", "player.gift", id}) {
		t.Errorf("audit: %+v", log.Entries)
	}
}

// TestBroadcastOverHTTP: a broadcast reaches a player who existed before it and one who
// joined after, and its claim count follows what they accept.
func TestBroadcastOverHTTP(t *testing.T) {
	t.Parallel()
	s := newStack(t, 2)
	s.addAdmin("op", admins.Operator)
	s.addAdmin("viewer", admins.Viewer)
	op, viewer := s.browser(), s.browser()
	op.login("op")
	viewer.login("viewer")
	_, early := s.player("device-gms-broadcast-early")

	const body = `{"kind":"coins","amount":250,"message":"launch party","duration_s":3600}`
	if r := viewer.do("POST", "/gms/api/gifts/broadcast", body); r.status != 403 || r.code() != "forbidden" {
		t.Errorf("viewer broadcast: %d %s", r.status, r.body)
	}
	if r := op.do("POST", "/gms/api/gifts/broadcast", `{"kind":"coins","amount":250,"message":"","duration_s":59}`); r.status != 400 || r.code() != "invalid_argument" {
		t.Errorf("59 s broadcast: %d %s", r.status, r.body)
	}
	if r := op.do("POST", "/gms/api/gifts/broadcast", `{"kind":"coins","amount":250,"message":"","duration_s":2592001}`); r.status != 400 || r.code() != "invalid_argument" {
		t.Errorf("30 days + 1 s broadcast: %d %s", r.status, r.body)
	}
	r := op.do("POST", "/gms/api/gifts/broadcast", body)
	var bc struct {
		ID, Kind, Message string
		Amount, Claims    int64
		CreatedBy         string    `json:"created_by"`
		StartsAt          time.Time `json:"starts_at"`
		EndsAt            time.Time `json:"ends_at"`
	}
	r.json(t, &bc)
	if r.status != 200 || bc.ID == "" || bc.Kind != "coins" || bc.Amount != 250 || bc.Message != "launch party" ||
		bc.CreatedBy != "op" || bc.EndsAt.Sub(bc.StartsAt) != time.Hour || bc.Claims != 0 {
		t.Fatalf("broadcast: %d %s", r.status, r.body)
	}
	_, late := s.player("device-gms-broadcast-late")

	for _, token := range []string{early, late} {
		m := s.mailboxHas(token, bc.ID)
		if m.Kind != "coins" || m.Amount != 250 || m.Message != "launch party" || m.FromPlayerID != nil {
			t.Errorf("broadcast in the mailbox: %+v", m)
		}
	}
	if n := viewer.broadcastClaims(bc.ID); n != 0 {
		t.Errorf("claims before anyone accepted: %d", n)
	}
	if got := s.accept(late, bc.ID); got != 1250 {
		t.Errorf("coins after accepting: %d, want 1250", got)
	}
	s.accept(late, bc.ID) // idempotent: counted once
	if n := viewer.broadcastClaims(bc.ID); n != 1 {
		t.Errorf("claims after one player accepted (twice): %d, want 1", n)
	}
	if items := s.mailbox(late); len(items) != 0 {
		t.Errorf("a claimed broadcast is still listed: %v", items)
	}
	if m := s.mailboxHas(early, bc.ID); m.ID != bc.ID {
		t.Errorf("early player's mailbox: %+v", m)
	}
}
