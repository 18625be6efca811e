package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/proto/ovenv1"
)

// Every friends, mailbox and leaderboard route: the exact JSON shape and the one gRPC
// call it makes for the authenticated player p-1.
func TestSocialRoutes(t *testing.T) {
	lb := map[string]any{
		"week": "2026-03-02", "resets_at": "2026-03-08T15:00:00Z",
	}
	with := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{k: v}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		want                     map[string]any // nil: no body
		wantCall                 call
	}{
		{
			name: "add friend", method: "PUT", path: "/v1/friends/p-2",
			wantStatus: http.StatusNoContent,
			wantCall:   call{"AddFriend", &ovenv1.FriendRequest{PlayerId: "p-1", FriendId: "p-2"}},
		},
		{
			name: "add friend with empty object", method: "PUT", path: "/v1/friends/p-2", body: `{}`,
			wantStatus: http.StatusNoContent,
			wantCall:   call{"AddFriend", &ovenv1.FriendRequest{PlayerId: "p-1", FriendId: "p-2"}},
		},
		{
			name: "register a push token", method: "PUT", path: "/v1/me/push-token", body: `{"platform":"apns","token":"a1b2c3d4e5f6"}`,
			wantStatus: http.StatusNoContent,
			wantCall:   call{"RegisterPushToken", &ovenv1.PushTokenRequest{PlayerId: "p-1", Platform: "apns", Token: "a1b2c3d4e5f6"}},
		},
		{
			name: "remove a push token", method: "DELETE", path: "/v1/me/push-token", body: `{"platform":"fcm","token":"fcm:token-123"}`,
			wantStatus: http.StatusNoContent,
			wantCall:   call{"RemovePushToken", &ovenv1.PushTokenRequest{PlayerId: "p-1", Platform: "fcm", Token: "fcm:token-123"}},
		},
		{
			name: "remove friend", method: "DELETE", path: "/v1/friends/p-2",
			wantStatus: http.StatusNoContent,
			wantCall:   call{"RemoveFriend", &ovenv1.FriendRequest{PlayerId: "p-1", FriendId: "p-2"}},
		},
		{
			name: "list friends", method: "GET", path: "/v1/friends",
			wantStatus: http.StatusOK,
			want: map[string]any{"friends": []any{
				map[string]any{"player_id": "p-2", "name": "Ginger", "weekly_best": 5300.0, "can_send_life": true, "next_send_at": nil},
				map[string]any{"player_id": "p-3", "name": "Choco", "weekly_best": 0.0, "can_send_life": false, "next_send_at": "2026-03-02T10:30:00Z"},
			}},
			wantCall: call{"ListFriends", &ovenv1.PlayerRequest{PlayerId: "p-1"}},
		},
		{
			name: "send a life", method: "POST", path: "/v1/friends/p-2/life",
			wantStatus: http.StatusOK,
			want:       map[string]any{"gift_points": 30.0, "next_send_at": "2026-03-02T11:00:00Z"},
			wantCall:   call{"SendLife", &ovenv1.FriendRequest{PlayerId: "p-1", FriendId: "p-2"}},
		},
		{
			name: "send a life with empty object and whitespace", method: "POST", path: "/v1/friends/p-2/life", body: " {} \n",
			wantStatus: http.StatusOK,
			want:       map[string]any{"gift_points": 30.0, "next_send_at": "2026-03-02T11:00:00Z"},
			wantCall:   call{"SendLife", &ovenv1.FriendRequest{PlayerId: "p-1", FriendId: "p-2"}},
		},
		{
			name: "send lives to all", method: "POST", path: "/v1/friends/lives",
			wantStatus: http.StatusOK,
			want:       map[string]any{"sent": []any{"p-2", "p-4"}, "skipped": 1.0, "gift_points": 40.0},
			wantCall:   call{"SendLives", &ovenv1.PlayerRequest{PlayerId: "p-1"}},
		},
		{
			name: "mailbox", method: "GET", path: "/v1/mailbox",
			wantStatus: http.StatusOK,
			want: map[string]any{"items": []any{
				map[string]any{"id": "m-2", "kind": "coins", "amount": 500.0, "from_player_id": nil,
					"message": "Sorry for the downtime", "sent_at": "2026-03-02T10:00:00Z", "expires_at": "2026-03-09T10:00:00Z"},
				map[string]any{"id": "m-1", "kind": "life", "amount": 1.0, "from_player_id": "p-2",
					"message": "", "sent_at": "2026-03-02T09:00:00Z", "expires_at": "2026-03-09T09:00:00Z"},
			}},
			wantCall: call{"ListMailbox", &ovenv1.PlayerRequest{PlayerId: "p-1"}},
		},
		{
			name: "accept one", method: "POST", path: "/v1/mailbox/m-1/accept",
			wantStatus: http.StatusOK,
			want: map[string]any{
				"lives": map[string]any{"count": 6.0, "max": 5.0, "next_life_at": nil, "infinite_until": nil}, "coins": 1000.0,
			},
			wantCall: call{"AcceptMail", &ovenv1.AcceptMailRequest{PlayerId: "p-1", MailId: "m-1"}},
		},
		{
			name: "accept all", method: "POST", path: "/v1/mailbox/accept-all", body: `{}`,
			wantStatus: http.StatusOK,
			want: map[string]any{
				"accepted": 2.0, "coins": 1500.0,
				"lives": map[string]any{"count": 3.0, "max": 5.0, "next_life_at": "2026-03-02T10:12:00Z", "infinite_until": nil},
			},
			wantCall: call{"AcceptAllMail", &ovenv1.PlayerRequest{PlayerId: "p-1"}},
		},
		{
			name: "friends leaderboard", method: "GET", path: "/v1/leaderboard/friends",
			wantStatus: http.StatusOK,
			want: with(lb, "entries", []any{
				map[string]any{"rank": 1.0, "player_id": "p-2", "name": "Ginger", "score": 5300.0},
				map[string]any{"rank": 2.0, "player_id": "p-1", "name": "Guest", "score": 1200.0},
			}),
			wantCall: call{"FriendsLeaderboard", &ovenv1.PlayerRequest{PlayerId: "p-1"}},
		},
		{
			name: "global leaderboard, default limit", method: "GET", path: "/v1/leaderboard/global",
			wantStatus: http.StatusOK,
			want: with(lb, "entries", []any{
				map[string]any{"rank": 1.0, "player_id": "p-9", "name": "Pro", "score": 99000.0},
			}),
			wantCall: call{"GlobalLeaderboard", &ovenv1.GlobalLeaderboardRequest{PlayerId: "p-1", Limit: 10}},
		},
		{
			name: "global leaderboard, limit 1", method: "GET", path: "/v1/leaderboard/global?limit=1",
			wantStatus: http.StatusOK,
			want: with(lb, "entries", []any{
				map[string]any{"rank": 1.0, "player_id": "p-9", "name": "Pro", "score": 99000.0},
			}),
			wantCall: call{"GlobalLeaderboard", &ovenv1.GlobalLeaderboardRequest{PlayerId: "p-1", Limit: 1}},
		},
		{
			name: "global leaderboard, limit 100", method: "GET", path: "/v1/leaderboard/global?limit=100",
			wantStatus: http.StatusOK,
			want: with(lb, "entries", []any{
				map[string]any{"rank": 1.0, "player_id": "p-9", "name": "Pro", "score": 99000.0},
			}),
			wantCall: call{"GlobalLeaderboard", &ovenv1.GlobalLeaderboardRequest{PlayerId: "p-1", Limit: 100}},
		},
		{
			name: "around me", method: "GET", path: "/v1/leaderboard/global/me",
			wantStatus: http.StatusOK,
			want: map[string]any{"week": "2026-03-02", "rank": 42.0, "score": 1200.0, "entries": []any{
				map[string]any{"rank": 41.0, "player_id": "p-8", "name": "Above", "score": 1300.0},
				map[string]any{"rank": 42.0, "player_id": "p-1", "name": "Guest", "score": 1200.0},
			}},
			wantCall: call{"AroundMe", &ovenv1.PlayerRequest{PlayerId: "p-1"}},
		},
		{
			// Players see an event's public fields only (not the GMS's message or status).
			name: "events", method: "GET", path: "/v1/events",
			wantStatus: http.StatusOK,
			want: map[string]any{"events": []any{map[string]any{"id": "e-1", "kind": "infinite_lives", "title": "Weekend",
				"starts_at": "2026-03-02T10:00:00Z", "ends_at": "2026-03-02T12:00:00Z", "value": 0.0}}},
			wantCall: call{"ListEvents", &ovenv1.ListEventsRequest{PlayerId: "p-1"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t)
			res := a.do(t, req{method: tt.method, path: tt.path, token: a.token("p-1"), body: body(tt.body)})
			if res.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.status, tt.wantStatus, res.body)
			}
			if tt.want == nil {
				if len(res.body) != 0 {
					t.Errorf("body = %q, want none", res.body)
				}
			} else if diff := cmp.Diff(tt.want, decodeMap(t, res.body)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			diffCalls(t, []call{tt.wantCall}, a.game.Calls())
		})
	}
}

// Empty answers render as [] (never null), and an unranked player's rank as null.
func TestSocialEmpty(t *testing.T) {
	tests := []struct {
		name, method, path string
		method2            string // the gRPC method answering empty
		reply              proto.Message
		want               map[string]any
	}{
		{"no friends", "GET", "/v1/friends", "ListFriends", &ovenv1.FriendList{},
			map[string]any{"friends": []any{}}},
		{"nobody to send to", "POST", "/v1/friends/lives", "SendLives", &ovenv1.SendLivesResponse{Skipped: 3, GiftPoints: 10},
			map[string]any{"sent": []any{}, "skipped": 3.0, "gift_points": 10.0}},
		{"empty mailbox", "GET", "/v1/mailbox", "ListMailbox", &ovenv1.Mailbox{},
			map[string]any{"items": []any{}}},
		{"no scores this week", "GET", "/v1/leaderboard/friends", "FriendsLeaderboard",
			&ovenv1.Leaderboard{Week: "2026-03-02", ResetsAtMs: 1_772_982_000_000},
			map[string]any{"week": "2026-03-02", "resets_at": "2026-03-08T15:00:00Z", "entries": []any{}}},
		{"unranked", "GET", "/v1/leaderboard/global/me", "AroundMe", &ovenv1.Leaderboard{Week: "2026-03-02"},
			map[string]any{"week": "2026-03-02", "rank": nil, "score": 0.0, "entries": []any{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t)
			a.game.setReply(tt.method2, tt.reply)
			res := a.do(t, req{method: tt.method, path: tt.path, token: a.token("p-1")})
			if res.status != http.StatusOK {
				t.Fatalf("status %d: %s", res.status, res.body)
			}
			if diff := cmp.Diff(tt.want, decodeMap(t, res.body)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

// Bad ids, bodies and limits get a 400 and never reach the game.
func TestSocialInvalidInput(t *testing.T) {
	a := newAPI(t)
	tok := a.token("p-1")
	tests := []struct {
		name, method, path, body string
		wantInMessage            string
	}{
		{"befriend self", "PUT", "/v1/friends/p-1", ``, "yourself"},
		{"unfriend self", "DELETE", "/v1/friends/p-1", ``, "yourself"},
		{"send a life to self", "POST", "/v1/friends/p-1/life", ``, "yourself"},
		{"friend id too long", "PUT", "/v1/friends/" + strings.Repeat("a", 33), ``, "1 to 32"},
		{"friend id with a dot", "PUT", "/v1/friends/p.2", ``, "1 to 32"},
		{"friend id with an escaped space", "POST", "/v1/friends/p%202/life", ``, "1 to 32"},
		{"friend id with unicode", "DELETE", "/v1/friends/%C3%A9", ``, "1 to 32"},
		{"unknown field on add", "PUT", "/v1/friends/p-2", `{"note":"hi"}`, `unknown field "note"`},
		{"unknown field on send lives", "POST", "/v1/friends/lives", `{"to":["p-2"]}`, `unknown field "to"`},
		{"unknown field on send life", "POST", "/v1/friends/p-2/life", `{"message":"hi"}`, `unknown field "message"`},
		{"array body", "POST", "/v1/mailbox/accept-all", `[]`, "empty or {}"},
		{"null body", "POST", "/v1/mailbox/accept-all", `null`, "empty or {}"},
		{"two objects", "POST", "/v1/mailbox/accept-all", `{}{}`, "single JSON value"},
		{"malformed body", "POST", "/v1/mailbox/m-1/accept", `{`, "truncated"},
		{"mail id too long", "POST", "/v1/mailbox/" + strings.Repeat("m", 129) + "/accept", ``, "not a valid id"},
		{"limit zero", "GET", "/v1/leaderboard/global?limit=0", ``, "1 to 100"},
		{"limit over 100", "GET", "/v1/leaderboard/global?limit=101", ``, "1 to 100"},
		{"limit negative", "GET", "/v1/leaderboard/global?limit=-1", ``, "1 to 100"},
		{"limit with sign", "GET", "/v1/leaderboard/global?limit=%2B5", ``, "1 to 100"},
		{"limit with leading zero", "GET", "/v1/leaderboard/global?limit=05", ``, "1 to 100"},
		{"limit fractional", "GET", "/v1/leaderboard/global?limit=1.5", ``, "1 to 100"},
		{"limit not a number", "GET", "/v1/leaderboard/global?limit=ten", ``, "1 to 100"},
		{"limit empty", "GET", "/v1/leaderboard/global?limit=", ``, "1 to 100"},
		{"limit twice", "GET", "/v1/leaderboard/global?limit=5&limit=6", ``, "1 to 100"},
		{"limit huge", "GET", "/v1/leaderboard/global?limit=99999999999999999999", ``, "1 to 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := a.do(t, req{method: tt.method, path: tt.path, token: tok, body: body(tt.body)})
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

func TestSocialUnauthenticated(t *testing.T) {
	a := newAPI(t)
	routes := []struct{ method, path string }{
		{"GET", "/v1/friends"},
		{"PUT", "/v1/friends/p-2"},
		{"DELETE", "/v1/friends/p-2"},
		{"POST", "/v1/friends/p-2/life"},
		{"POST", "/v1/friends/lives"},
		{"GET", "/v1/mailbox"},
		{"POST", "/v1/mailbox/m-1/accept"},
		{"POST", "/v1/mailbox/accept-all"},
		{"GET", "/v1/leaderboard/friends"},
		{"GET", "/v1/leaderboard/global?limit=5"},
		{"GET", "/v1/leaderboard/global/me"},
		{"GET", "/v1/events"},
		{"PUT", "/v1/me/push-token"},
		{"DELETE", "/v1/me/push-token"},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			res := a.do(t, req{method: rt.method, path: rt.path})
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

// The shards' social errors reach the client with API.md's status, code and retry hint.
func TestSocialErrors(t *testing.T) {
	retry := func(s int64) *int64 { return &s }
	tests := []struct {
		name, method, path string
		err                *oven.Error
		wantStatus         int
		wantRetry          *int64
	}{
		{"already sent", "POST", "/v1/friends/p-2/life",
			&oven.Error{Code: oven.EAlreadySent, Message: "a life was sent within the hour", RetryAfter: 1800 * time.Second},
			http.StatusConflict, retry(1800)},
		{"not a friend", "POST", "/v1/friends/p-2/life",
			oven.Errorf(oven.ENotFriend, "p-2 is not your friend"), http.StatusNotFound, nil},
		{"mailbox full", "POST", "/v1/friends/p-2/life",
			oven.Errorf(oven.EMailboxFull, "p-2's mailbox is full"), http.StatusConflict, nil},
		{"unknown player", "PUT", "/v1/friends/p-404",
			oven.Errorf(oven.ENotFound, "no player p-404"), http.StatusNotFound, nil},
		{"unknown mail", "POST", "/v1/mailbox/m-404/accept",
			oven.Errorf(oven.ENotFound, "no mail m-404"), http.StatusNotFound, nil},
		{"banned", "GET", "/v1/leaderboard/global",
			oven.Errorf(oven.EBanned, "banned"), http.StatusForbidden, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t)
			a.game.setErr(grpcerr.ToStatus(tt.err))
			res := a.do(t, req{method: tt.method, path: tt.path, token: a.token("p-1")})
			if res.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.status, tt.wantStatus, res.body)
			}
			e := decodeError(t, res.body)
			if e.Error.Code != tt.err.Code || e.Error.Message != tt.err.Message {
				t.Errorf("error = %+v, want %s: %s", e.Error, tt.err.Code, tt.err.Message)
			}
			if diff := cmp.Diff(tt.wantRetry, e.Error.RetryAfterS); diff != "" {
				t.Errorf("retry_after_s (-want +got):\n%s", diff)
			}
			wantHeader := ""
			if tt.wantRetry != nil {
				wantHeader = "1800"
			}
			if got := res.header.Get("Retry-After"); got != wantHeader {
				t.Errorf("Retry-After = %q, want %q", got, wantHeader)
			}
			if n := len(a.game.Calls()); n != 1 {
				t.Errorf("%d gRPC calls, want 1", n)
			}
		})
	}
}

// Static segments win over {player_id} and {id} for their own method only: other
// methods still reach the parameter route, and the rest get 405 with an honest Allow.
func TestSocialRoutePrecedence(t *testing.T) {
	tests := []struct {
		name, method, path string
		wantStatus         int
		wantCalls          []call
		wantAllow          string
	}{
		{"POST friends/lives sends to all", "POST", "/v1/friends/lives", http.StatusOK,
			[]call{{"SendLives", &ovenv1.PlayerRequest{PlayerId: "p-1"}}}, ""},
		{"PUT friends/lives befriends player lives", "PUT", "/v1/friends/lives", http.StatusNoContent,
			[]call{{"AddFriend", &ovenv1.FriendRequest{PlayerId: "p-1", FriendId: "lives"}}}, ""},
		{"DELETE friends/lives unfriends player lives", "DELETE", "/v1/friends/lives", http.StatusNoContent,
			[]call{{"RemoveFriend", &ovenv1.FriendRequest{PlayerId: "p-1", FriendId: "lives"}}}, ""},
		{"a life to player lives", "POST", "/v1/friends/lives/life", http.StatusOK,
			[]call{{"SendLife", &ovenv1.FriendRequest{PlayerId: "p-1", FriendId: "lives"}}}, ""},
		{"POST mailbox/accept-all accepts all", "POST", "/v1/mailbox/accept-all", http.StatusOK,
			[]call{{"AcceptAllMail", &ovenv1.PlayerRequest{PlayerId: "p-1"}}}, ""},
		{"mail whose id is accept-all", "POST", "/v1/mailbox/accept-all/accept", http.StatusOK,
			[]call{{"AcceptMail", &ovenv1.AcceptMailRequest{PlayerId: "p-1", MailId: "accept-all"}}}, ""},
		{"GET a friend", "GET", "/v1/friends/p-2", http.StatusMethodNotAllowed, nil, "PUT, DELETE"},
		{"GET friends/lives", "GET", "/v1/friends/lives", http.StatusMethodNotAllowed, nil, "POST, PUT, DELETE"},
		{"GET accept-all", "GET", "/v1/mailbox/accept-all", http.StatusMethodNotAllowed, nil, "POST"},
		{"POST global/me", "POST", "/v1/leaderboard/global/me", http.StatusMethodNotAllowed, nil, "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t)
			res := a.do(t, req{method: tt.method, path: tt.path, token: a.token("p-1")})
			if res.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.status, tt.wantStatus, res.body)
			}
			if got := res.header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
			diffCalls(t, tt.wantCalls, a.game.Calls())
		})
	}
}

func TestSocialMetricsUseRoutePatterns(t *testing.T) {
	a := newAPI(t)
	tok := a.token("p-1")
	for _, rq := range []req{
		{method: "PUT", path: "/v1/friends/p-77"},
		{method: "PUT", path: "/v1/friends/lives"},
		{method: "POST", path: "/v1/friends/p-77/life"},
		{method: "POST", path: "/v1/friends/lives"},
		{method: "POST", path: "/v1/mailbox/m-55/accept"},
		{method: "POST", path: "/v1/mailbox/accept-all"},
		{method: "GET", path: "/v1/leaderboard/global?limit=7"},
		{method: "GET", path: "/v1/leaderboard/global/me"},
	} {
		rq.token = tok
		if res := a.do(t, rq); res.status >= 300 {
			t.Fatalf("%s %s: status %d: %s", rq.method, rq.path, res.status, res.body)
		}
	}
	text := string(a.do(t, req{method: "GET", path: "/metrics"}).body)
	for _, want := range []string{
		`oven_http_requests_total{code="204",method="PUT",route="/v1/friends/{player_id}"} 2`,
		`oven_http_requests_total{code="200",method="POST",route="/v1/friends/{player_id}/life"} 1`,
		`oven_http_requests_total{code="200",method="POST",route="/v1/friends/lives"} 1`,
		`oven_http_requests_total{code="200",method="POST",route="/v1/mailbox/{id}/accept"} 1`,
		`oven_http_requests_total{code="200",method="POST",route="/v1/mailbox/accept-all"} 1`,
		`oven_http_requests_total{code="200",method="GET",route="/v1/leaderboard/global"} 1`,
		`oven_http_requests_total{code="200",method="GET",route="/v1/leaderboard/global/me"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, raw := range []string{"p-77", "m-55", "limit"} {
		if strings.Contains(text, raw) {
			t.Errorf("metrics contain the raw request detail %q", raw)
		}
	}
}
