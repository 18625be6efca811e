package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/presentation/httpapi"
	"github.com/ovengames/oven/proto/ovenv1"
)

// route is one client route for the fuzzer: {id} in the path or query is replaced by
// the fuzzed id, escaped.
type route struct{ method, path string }

var clientRoutes = []route{
	{"POST", "/v1/auth/guest"},
	{"GET", "/v1/me"},
	{"PATCH", "/v1/me"},
	{"GET", "/v1/gamedata"},
	{"GET", "/v1/gamedata/{id}"},
	{"POST", "/v1/shop/buy"},
	{"POST", "/v1/plays"},
	{"POST", "/v1/plays/{id}/settle"},
	{"GET", "/v1/friends"},
	{"POST", "/v1/friends/lives"},
	{"PUT", "/v1/friends/{id}"},
	{"DELETE", "/v1/friends/{id}"},
	{"POST", "/v1/friends/{id}/life"},
	{"GET", "/v1/mailbox"},
	{"POST", "/v1/mailbox/accept-all"},
	{"POST", "/v1/mailbox/{id}/accept"},
	{"GET", "/v1/leaderboard/friends"},
	{"GET", "/v1/leaderboard/global?limit={id}"},
	{"GET", "/v1/leaderboard/global/me"},
	{"GET", "/v1/events"},
	{"PUT", "/v1/me/push-token"},
	{"DELETE", "/v1/me/push-token"},
	{"POST", "/v1/dev/clock"},
}

// escapePath percent-encodes every byte but the unreserved ones, so that any bytes
// (invalid UTF-8, '/', '%') reach the router as one path segment.
func escapePath(id string) string {
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func (r route) target(id string) string {
	if strings.Contains(r.path, "?") {
		return strings.Replace(r.path, "{id}", url.QueryEscape(id), 1)
	}
	return strings.Replace(r.path, "{id}", escapePath(id), 1)
}

// FuzzClientAPI sends any body and any path id to every route of the client API over
// a fake shard that, like the wire, refuses to encode text that is not UTF-8. Whatever
// the input: no 5xx; a refusal (400, 405, 413) reaches no shard; what does reach a
// shard is within oven's limits and encodable; and every answer is JSON text.
func FuzzClientAPI(f *testing.F) {
	a := newAPI(f, func(c *httpapi.Config) { c.DevClock = true })
	tok := a.token("p-1")
	seeds := []struct {
		route    int
		id, body string
	}{
		{0, "", `{"device_id":"device-0001"}`},
		{0, "", "{\"device_id\":\"device-\xff-0001\"}"},
		{0, "", `{"device_id":"device-\ud800-0001"}`},
		{0, "", `{"device_id":"device-0001","Device_ID":"device-0002"}`},
		{2, "", `{"name":"Bo"}`},
		{2, "", `null`},
		{4, "3", ``},
		{5, "", `{"item_id":"ninja"}`},
		{6, "", `{"cookie_id":"brave","pet_id":"choco-drop","boosts":["magnet"]}`},
		{7, "play-1", `{"score":50000,"coins":120,"distance":900,"duration_ms":55000}`},
		{7, "play-1", `{"score":0,"coins":4611686018427387904,"distance":0,"duration_ms":5000}`},
		{7, "\xff\xfe", `{"score":1,"coins":1,"distance":1,"duration_ms":1}`},
		{10, "p-2", ``},
		{12, "p-2", `{}`},
		{15, "\xff\xfe", ``},
		{15, "m-1", `[]`},
		{17, "10", ``},
		{19, "", `{"advance_s":3600}`},
		{19, "", `{"advance_s":9223372036854775807}`},
	}
	for _, s := range seeds {
		f.Add(uint8(s.route), s.id, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, routeNo uint8, id string, body []byte) {
		r := clientRoutes[int(routeNo)%len(clientRoutes)]
		req := httptest.NewRequest(r.method, r.target(id), bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		a.h.ServeHTTP(rec, req)
		calls := a.game.take()
		res := rec.Result()
		if res.StatusCode >= 500 {
			t.Fatalf("%s %s %q: %d %s", r.method, req.URL, body, res.StatusCode, rec.Body)
		}
		switch res.StatusCode {
		case http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge:
			if len(calls) > 0 {
				t.Fatalf("%s %s %q answered %d after calling %v", r.method, req.URL, body, res.StatusCode, calls)
			}
		}
		for _, c := range calls {
			checkCall(t, c)
			if replaced(c.Req) && !mentionsReplacement(id, body) {
				t.Fatalf("%s %s %q sent U+FFFD the client never wrote: %v", r.method, req.URL, body, c.Req)
			}
		}
		if b := rec.Body.Bytes(); len(b) > 0 && (!utf8.Valid(b) || !json.Valid(b)) {
			t.Fatalf("answer is not JSON text: %q", b)
		}
	})
}

// checkCall asserts what the client API may send a shard: numbers within oven's limits.
func checkCall(t *testing.T, c call) {
	t.Helper()
	switch m := c.Req.(type) {
	case *ovenv1.SettlePlayRequest:
		for _, v := range []struct{ n, max int64 }{
			{m.Score, oven.MaxScore}, {m.Coins, oven.MaxPlayCoins}, {m.Distance, oven.MaxDistance},
			{m.DurationMs, oven.MaxPlayDuration.Milliseconds()},
		} {
			if v.n < 0 || v.n > v.max {
				t.Fatalf("settle sent out of range: %v", m)
			}
		}
	case *ovenv1.AdvanceClockRequest:
		if m.AdvanceMs < 0 || m.AdvanceMs > oven.MaxClockAdvance.Milliseconds() {
			t.Fatalf("clock advance sent out of range: %v", m)
		}
	case *ovenv1.AuthGuestRequest:
		if n := utf8.RuneCountInString(m.DeviceId); n < 8 || n > 128 {
			t.Fatalf("device id sent out of range: %q", m.DeviceId)
		}
	}
}

// replaced reports whether a string in m holds U+FFFD, the character encoding/json
// puts in place of text that is not UTF-8.
func replaced(m proto.Message) (found bool) {
	m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Kind() != protoreflect.StringKind:
		case fd.IsList():
			for i := 0; i < v.List().Len(); i++ {
				found = found || strings.Contains(v.List().Get(i).String(), "\uFFFD")
			}
		default:
			found = strings.Contains(v.String(), "\uFFFD")
		}
		return !found
	})
	return found
}

// mentionsReplacement reports whether the client itself wrote U+FFFD, as is or escaped.
func mentionsReplacement(id string, body []byte) bool {
	// Not ContainsRune: for utf8.RuneError it also matches any invalid byte.
	return strings.Contains(id, "\uFFFD") || bytes.Contains(body, []byte("\uFFFD")) ||
		bytes.Contains(bytes.ToLower(body), []byte(`\ufffd`))
}
