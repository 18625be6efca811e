package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/bans/issuedat"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/presentation/auth"
	"github.com/ovengames/oven/presentation/httpapi"
	"github.com/ovengames/oven/proto/ovenv1"
)

// issuedAtGame records the token issue time each GetMe carries to the shard.
type issuedAtGame struct {
	*fakeGame
	mu   sync.Mutex
	seen [][]string
}

func (g *issuedAtGame) GetMe(ctx context.Context, in *ovenv1.PlayerRequest, opts ...grpc.CallOption) (*ovenv1.Profile, error) {
	md, _ := metadata.FromOutgoingContext(ctx)
	g.mu.Lock()
	g.seen = append(g.seen, md.Get(issuedat.MetadataKey))
	g.mu.Unlock()
	return g.fakeGame.GetMe(ctx, in, opts...)
}

// The owner shard judges revocation on the token's issue time, so every call of an
// authenticated request carries it; a token from before key ids carries 0 (older than
// any revocation), and still signs in.
func TestTokenIssueTimeGoesToTheShard(t *testing.T) {
	game := &issuedAtGame{fakeGame: newFakeGame()}
	a := newAPI(t, func(c *httpapi.Config) { c.Game = game })
	issued := t0.Add(-90*time.Second - 1500*time.Microsecond)
	fresh, _ := a.tokens.Issue("p-1", issued)
	// Written by the code before key ids under this API's key (7s), for p-123 until t0+1h.
	const legacy = "AQAAAABppW2wcC0xMjM.kmf0NRN5Qv42SUTYTFyI17ryHUiZK0YrS_rVrUKrIus"
	for _, tok := range []string{fresh, legacy} {
		if res := a.do(t, req{method: "GET", path: "/v1/me", token: tok}); res.status != http.StatusOK {
			t.Fatalf("status %d: %s", res.status, res.body)
		}
	}
	want := [][]string{{strconv.FormatInt(issued.UnixMilli(), 10)}, {"0"}}
	if diff := cmp.Diff(want, game.seen); diff != "" {
		t.Errorf("issue times sent (-want +got):\n%s", diff)
	}
}

// A token the owner refuses as revoked is a 401 like any other bad token: the client
// signs in again.
func TestRevokedTokenIs401(t *testing.T) {
	a := newAPI(t)
	a.game.setErr(grpcerr.ToStatus(&oven.Error{Code: oven.EUnauthenticated, Message: "this token was revoked; sign in again"}))
	res := a.do(t, req{method: "GET", path: "/v1/me", token: a.token("p-1")})
	if res.status != http.StatusUnauthorized || decodeError(t, res.body).Error.Code != oven.EUnauthenticated {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
}

// balancer spreads requests round-robin over presentation copies that a test replaces
// one at a time, as a rolling deployment does.
type balancer struct {
	copies atomic.Pointer[[]http.Handler]
	next   atomic.Uint64
	served atomic.Int64
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cs := *b.copies.Load()
	cs[b.next.Add(1)%uint64(len(cs))].ServeHTTP(w, r)
	b.served.Add(1)
}

func (b *balancer) set(cs []http.Handler) { b.copies.Store(&cs) }

// replace swaps copy i for h, then lets at least n requests through before returning,
// so that every mix of old and new copies serves traffic.
func (b *balancer) replace(t *testing.T, i int, h http.Handler, n int64) {
	cs := append([]http.Handler(nil), *b.copies.Load()...)
	cs[i] = h
	b.set(cs)
	for start := b.served.Load(); b.served.Load() < start+n; {
		if t.Failed() {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// presentationCopy is one copy of the HTTP API with its own key ring over game.
func presentationCopy(t *testing.T, game ovenv1.GameClient, signing string, keys ...auth.Key) (http.Handler, *auth.Signer) {
	t.Helper()
	ring, err := auth.NewRing(signing, keys...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := auth.NewRingSigner(ring, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return httpapi.New(httpapi.Config{
		Game:   game,
		Ready:  func(context.Context) error { return nil },
		Tokens: s,
		Logger: slog.New(slog.DiscardHandler),
	}), s
}

// rotationLoad runs clients that sign in now and then and call GET /v1/me with their
// token in between, at url, until stop is closed. Once wait has returned, result gives
// how many calls were answered other than 200, by status, and the tokens handed out.
func rotationLoad(t *testing.T, url string, client *http.Client, stop <-chan struct{}) (result func() (map[int]int, []string), wait func()) {
	var (
		mu     sync.Mutex
		bad    = map[int]int{}
		tokens []string
		wg     sync.WaitGroup
	)
	call := func(method, path, token, body string) (int, []byte) {
		r, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := client.Do(r)
		if err != nil {
			t.Error(err)
			return 0, nil
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	for c := range 8 {
		wg.Go(func() {
			var token string
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if i%4 == 0 { // sign in again: a token from whichever copy answers
					status, b := call("POST", "/v1/auth/guest", "", fmt.Sprintf(`{"device_id":"device-%04d"}`, c))
					var res struct{ Token string }
					if status != http.StatusOK || json.Unmarshal(b, &res) != nil {
						mu.Lock()
						bad[status]++
						mu.Unlock()
						continue
					}
					token = res.Token
					mu.Lock()
					tokens = append(tokens, token)
					mu.Unlock()
					continue
				}
				if status, _ := call("GET", "/v1/me", token, ""); status != http.StatusOK {
					mu.Lock()
					bad[status]++
					mu.Unlock()
				}
			}
		})
	}
	result = func() (map[int]int, []string) {
		mu.Lock()
		defer mu.Unlock()
		return bad, tokens
	}
	return result, wg.Wait
}

// A key rotation done as Ring documents it, rolled over three presentation copies
// under steady traffic, logs nobody out: no request gets a 401. The same roll that
// skips the verify-only step does, which shows the test can tell.
func TestRotationUnderLoad(t *testing.T) {
	k1 := auth.Key{ID: "k1", Secret: bytes.Repeat([]byte{1}, 32)}
	k2 := auth.Key{ID: "k2", Secret: bytes.Repeat([]byte{2}, 32)}
	const copies, perStep = 3, 150

	run := func(t *testing.T, steps [][]auth.Key, signers []string) (map[int]int, []string) {
		game := newFakeGame()
		lb := &balancer{}
		var hs []http.Handler
		for range copies {
			h, _ := presentationCopy(t, game, "", k1)
			hs = append(hs, h)
		}
		lb.set(hs)
		srv := httptest.NewServer(lb)
		defer srv.Close()
		stop := make(chan struct{})
		result, wait := rotationLoad(t, srv.URL, srv.Client(), stop)
		for s, keys := range steps {
			for i := range copies {
				h, _ := presentationCopy(t, game, signers[s], keys...)
				lb.replace(t, i, h, perStep)
			}
		}
		close(stop)
		wait()
		return result()
	}

	t.Run("verify-only first", func(t *testing.T) {
		bad, tokens := run(t, [][]auth.Key{{k1, k2}, {k1, k2}}, []string{"k1", "k2"})
		if len(bad) != 0 {
			t.Fatalf("answers other than 200 during the rotation, by status: %v", bad)
		}
		// Step 3, after the ttl: the old key's tokens are refused, the new key's are not.
		h, _ := presentationCopy(t, newFakeGame(), "", k2)
		byKey := map[string]int{}
		for _, tok := range tokens {
			kid, _, _ := strings.Cut(tok, ".")
			rec := httptest.NewRecorder()
			r := httptest.NewRequest("GET", "/v1/me", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			h.ServeHTTP(rec, r)
			byKey[kid+" "+strconv.Itoa(rec.Code)]++
		}
		if byKey["k1 401"] == 0 || byKey["k2 200"] == 0 || byKey["k1 200"] != 0 || byKey["k2 401"] != 0 {
			t.Errorf("after removing k1, tokens by key and status: %v", byKey)
		}
		t.Logf("%d sign-ins; after removing k1, tokens by key and status: %v", len(tokens), byKey)
	})
	t.Run("signing before every copy verifies", func(t *testing.T) {
		bad, _ := run(t, [][]auth.Key{{k2, k1}}, []string{"k2"})
		t.Logf("answers other than 200, by status: %v", bad)
		if bad[http.StatusUnauthorized] == 0 {
			t.Fatalf("no 401 when a copy signed with a key the others did not know yet: %v", bad)
		}
	})
}
