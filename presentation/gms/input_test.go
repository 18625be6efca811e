package gms_test

import (
	"net/http"
	"testing"

	"github.com/ovengames/oven/application/admins"
)

// TestBodiesAreCheckedOverHTTP is issue 10's unchecked bodies and invalid UTF-8 against
// real shards: a ban with the body null used to ban, publish and logout took any body,
// and an id that is not UTF-8 answered 500. Each is 400 invalid_argument now and
// changes nothing; an empty body or {} still works where a route takes no input.
func TestBodiesAreCheckedOverHTTP(t *testing.T) {
	t.Parallel()
	s := newStack(t, 2)
	s.addAdmin("op", admins.Operator)
	id, token := s.player("device-gms-bodies")
	op := s.browser()
	op.login("op")
	versions := func() string {
		r := op.do("GET", "/gms/api/gamedata/versions", "")
		if r.status != http.StatusOK {
			t.Fatalf("versions: %d %s", r.status, r.body)
		}
		return string(r.body)
	}
	published := versions()

	for _, tt := range []struct{ name, method, path, body string }{
		{"ban with null", "POST", "/gms/api/players/" + id + "/ban", `null`},
		{"ban with an array", "POST", "/gms/api/players/" + id + "/ban", `[]`},
		{"ban with a string", "POST", "/gms/api/players/" + id + "/ban", `"botting"`},
		{"ban with a reason of the wrong type", "POST", "/gms/api/players/" + id + "/ban", `{"reason":7}`},
		{"ban with an unknown field", "POST", "/gms/api/players/" + id + "/ban", `{"why":"botting"}`},
		{"ban with a reason twice", "POST", "/gms/api/players/" + id + "/ban", `{"reason":"a","reason":"b"}`},
		{"ban of a player id that is not UTF-8", "POST", "/gms/api/players/%FF%FE/ban", `{}`},
		{"lookup of a player id that is not UTF-8", "GET", "/gms/api/players/%FF%FE", ``},
		{"publish with a body", "POST", "/gms/api/gamedata/publish", `{"version":9}`},
		{"publish with null", "POST", "/gms/api/gamedata/publish", `null`},
		{"logout with a body", "POST", "/gms/api/logout", `{"all":true}`},
		{"logout with garbage", "POST", "/gms/api/logout", `bye`},
		{"gift with a message that is not UTF-8", "POST", "/gms/api/players/" + id + "/gifts", "{\"kind\":\"coins\",\"amount\":5,\"message\":\"\xfe\"}"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if r := op.do(tt.method, tt.path, tt.body); r.status != http.StatusBadRequest || r.code() != "invalid_argument" {
				t.Errorf("%d %q, want 400 invalid_argument: %s", r.status, r.code(), r.body)
			}
		})
	}
	if r := op.do("GET", "/gms/api/session", "", "X-CSRF-Token", "\xff"); r.status != http.StatusBadRequest {
		t.Errorf("session with a CSRF token that is not UTF-8: %d %s", r.status, r.body)
	}

	// Nothing changed: not banned, nothing published, still signed in, no mail.
	if r := s.client("GET", "/v1/me", token); r.status != http.StatusOK {
		t.Errorf("the player's /v1/me after the refused bans: %d %s", r.status, r.body)
	}
	if got := versions(); got != published {
		t.Errorf("a refused publish published: %s, was %s", got, published)
	}
	if r := op.do("GET", "/gms/api/session", ""); r.status != http.StatusOK {
		t.Errorf("session after the refused logouts: %d %s", r.status, r.body)
	}
	if mail := s.mailbox(token); len(mail) != 0 {
		t.Errorf("a refused gift was delivered: %+v", mail)
	}

	// A route without input takes an empty body or {}; ban's reason stays optional.
	for _, tt := range []struct{ path, body string }{
		{"/gms/api/players/" + id + "/ban", `{}`},
		{"/gms/api/players/" + id + "/unban", ``},
		{"/gms/api/players/" + id + "/ban", `{"reason":"botting"}`},
		{"/gms/api/players/" + id + "/unban", ` { } `},
	} {
		if r := op.do("POST", tt.path, tt.body); r.status != http.StatusOK {
			t.Errorf("%s %q: %d %s", tt.path, tt.body, r.status, r.body)
		}
	}
	if r := op.do("POST", "/gms/api/logout", `{}`); r.status != http.StatusNoContent {
		t.Errorf("logout with {}: %d %s", r.status, r.body)
	}
}
