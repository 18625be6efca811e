package relay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/ovengames/oven/loadtest/relay"
)

// TestRelayServesTheClientMix boots a relay in-process and walks one player through it:
// the real handler, the real router and canned shards must answer like the API.
func TestRelayServesTheClientMix(t *testing.T) {
	r, err := relay.Start(context.Background(), relay.Config{Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })

	var a struct{ Token string }
	call(t, r.URL, http.MethodPost, "/v1/auth/guest", "", `{"device_id":"relay-test-device"}`, http.StatusOK, &a)
	res := call(t, r.URL, http.MethodGet, "/v1/gamedata", a.Token, "", http.StatusOK, nil)
	if etag := res.Header.Get("ETag"); etag != `"1"` {
		t.Errorf("ETag = %q, want \"1\"", etag)
	}
	req, _ := http.NewRequest(http.MethodGet, r.URL+"/v1/gamedata", nil)
	req.Header.Set("Authorization", "Bearer "+a.Token)
	req.Header.Set("If-None-Match", `"1"`)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation: %v %v, want 304", res.StatusCode, err)
	}
	var play struct {
		PlayID string `json:"play_id"`
	}
	call(t, r.URL, http.MethodPost, "/v1/plays", a.Token, `{"cookie_id":"brave","boosts":[]}`, http.StatusCreated, &play)
	body := `{"score":9000,"coins":40,"distance":1200,"duration_ms":5000}`
	var first, again map[string]any
	call(t, r.URL, http.MethodPost, "/v1/plays/"+play.PlayID+"/settle", a.Token, body, http.StatusOK, &first)
	call(t, r.URL, http.MethodPost, "/v1/plays/"+play.PlayID+"/settle", a.Token, body, http.StatusOK, &again)
	if first["coins_earned"] != float64(40) || first["coins"] != again["coins"] {
		t.Errorf("settle answers %v then %v", first, again)
	}
	// A route the API does not have answers like any unknown route.
	call(t, r.URL, http.MethodGet, "/v1/no-such-route", a.Token, "", http.StatusNotFound, nil)
}

func call(t *testing.T, base, method, path, token, body string, want int, out any) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, base+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, res.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return res
}

// TestEmptyAnswersCoverUnimplementedMethods checks the fallback that keeps the relay
// answering RPCs it has no canned answer for.
func TestEmptyAnswersCoverUnimplementedMethods(t *testing.T) {
	if got := relay.EmptyResponse("/oven.v1.Game/GetMe"); got == nil {
		t.Error("no empty response for a known method")
	}
	if got := relay.EmptyResponse("/oven.v1.Game/NoSuchMethod"); got != nil {
		t.Errorf("empty response %T for an unknown method", got)
	}
}
