package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ovengames/oven"
)

// TestRefusedInputReachesNoShard is issue 10's hostile input against the client API:
// numbers past oven's limits, text that is not UTF-8 (raw, in a path, or as an escaped
// lone surrogate, which encoding/json would turn into U+FFFD so that two device ids
// became one player), and bodies shaped in ways encoding/json lets through. Each is
// 400 invalid_argument, and no shard is called.
func TestRefusedInputReachesNoShard(t *testing.T) {
	a := newAPI(t)
	tok := a.token("p-1")
	settle := func(score, coins, distance, duration string) string {
		return `{"score":` + score + `,"coins":` + coins + `,"distance":` + distance + `,"duration_ms":` + duration + `}`
	}
	tests := []struct {
		name, method, path, body string
		token                    string
		wantInMessage            string
	}{
		// Numbers (item 1).
		{"coins that overflowed the per-second check", "POST", "/v1/plays/play-1/settle", settle("0", "4611686018427387904", "0", "5000"), tok, "coins must be at most"},
		{"the largest coins", "POST", "/v1/plays/play-1/settle", settle("0", "9223372036854775807", "0", "5000"), tok, "coins must be at most"},
		{"the largest score", "POST", "/v1/plays/play-1/settle", settle("9223372036854775807", "0", "0", "5000"), tok, "score must be at most"},
		{"a score past the leaderboard's 33 bits", "POST", "/v1/plays/play-1/settle", settle("8589934592", "0", "0", "5000"), tok, "score must be at most"},
		{"the largest distance", "POST", "/v1/plays/play-1/settle", settle("1", "0", "9223372036854775807", "5000"), tok, "distance must be at most"},
		{"a duration past any play's ttl", "POST", "/v1/plays/play-1/settle", settle("1", "0", "0", "4611686018427387904"), tok, "duration_ms must be at most"},
		{"a number past int64", "POST", "/v1/plays/play-1/settle", settle("1", "0", "0", "9223372036854775808"), tok, `"duration_ms" must be an integer`},

		// Text that is not UTF-8 (item 5).
		{"mail id not UTF-8", "POST", "/v1/mailbox/%FF%FE/accept", ``, tok, "not a valid id"},
		{"play id not UTF-8", "POST", "/v1/plays/%FF/settle", settle("1", "0", "0", "5000"), tok, "not a valid id"},
		{"device id not UTF-8", "POST", "/v1/auth/guest", "{\"device_id\":\"device-\xff\xfe-0001\"}", "", "not valid UTF-8"},
		{"device id with a lone surrogate", "POST", "/v1/auth/guest", `{"device_id":"device-\ud800-0001"}`, "", "lone surrogate"},
		{"device id with a reversed pair", "POST", "/v1/auth/guest", `{"device_id":"device-\udc00\ud800-01"}`, "", "lone surrogate"},
		{"name not UTF-8", "PATCH", "/v1/me", "{\"name\":\"Bo\xc3\"}", tok, "not valid UTF-8"},
		{"name with a lone surrogate", "PATCH", "/v1/me", `{"name":"Bo\udfff"}`, tok, "lone surrogate"},
		{"boost not UTF-8", "POST", "/v1/plays", "{\"cookie_id\":\"brave\",\"boosts\":[\"\xed\xa0\x80\"]}", tok, "not valid UTF-8"},
		{"empty-body route with a bad byte", "POST", "/v1/mailbox/accept-all", "{}\xff", tok, "not valid UTF-8"},

		// Shapes encoding/json accepts (item 6).
		{"a field named in other case", "PATCH", "/v1/me", `{"NAME":"Bo"}`, tok, `unknown field "NAME"`},
		{"a field named twice", "POST", "/v1/auth/guest", `{"device_id":"device-0001","device_id":"device-0002"}`, "", `"device_id" appears twice`},
		{"null body", "POST", "/v1/shop/buy", `null`, tok, "must be a JSON object, not null"},
		{"string body", "POST", "/v1/plays", `"brave"`, tok, "must be a JSON object, not a string"},
		{"null on an empty-body route", "POST", "/v1/friends/lives", `null`, tok, "empty or {}"},
		{"number on an empty-body route", "PUT", "/v1/friends/p-2", `0`, tok, "empty or {}"},

		// Device tokens.
		{"push token on an unknown platform", "PUT", "/v1/me/push-token", `{"platform":"hms","token":"a1b2c3d4e5f6"}`, tok, `platform must be`},
		{"push token too short", "PUT", "/v1/me/push-token", `{"platform":"apns","token":"a1b2c3"}`, tok, "token must be 8-4096"},
		{"push token with a space", "DELETE", "/v1/me/push-token", `{"platform":"fcm","token":"a1b2 c3d4e5"}`, tok, "printable ASCII"},
		{"push token too long", "PUT", "/v1/me/push-token", `{"platform":"fcm","token":"` + strings.Repeat("x", 4097) + `"}`, tok, "token must be 8-4096"},
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

// TestEmptyBodyRoutesTakeNothingOrAnEmptyObject pins API.md's rule for routes without
// input: no body, whitespace or {} are the same call.
func TestEmptyBodyRoutesTakeNothingOrAnEmptyObject(t *testing.T) {
	a := newAPI(t)
	tok := a.token("p-1")
	for _, b := range []string{``, " \n", `{}`, ` { } `} {
		res := a.do(t, req{method: "POST", path: "/v1/mailbox/accept-all", token: tok, body: body(b)})
		if res.status != http.StatusOK {
			t.Errorf("body %q: status %d: %s", b, res.status, res.body)
		}
	}
}
