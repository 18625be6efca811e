package gms_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ovengames/oven/application/admins"
	"github.com/ovengames/oven/application/gamedata"
	"github.com/ovengames/oven/presentation/gms"
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
		{"gifts do not exist yet", "POST", "/gms/api/players/1/gifts", `{}`, nil, 404, "not_found"},
		{"broadcasts do not exist yet", "GET", "/gms/api/gifts/broadcast", "", nil, 404, "not_found"},
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
	if r := s.client("GET", "/v1/me", token); r.status != 200 {
		t.Errorf("unbanned /v1/me: %d %s", r.status, r.body)
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
