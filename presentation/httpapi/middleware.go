package httpapi

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/bans/issuedat"
	"github.com/ovengames/oven/presentation/httpmw"
)

type ctxKey int

const playerKey ctxKey = iota

// playerFrom returns the authenticated player id ("" before authenticate).
func playerFrom(ctx context.Context) string {
	id, _ := ctx.Value(playerKey).(string)
	return id
}

// logPlayer puts the player's id on the request's access log line.
func logPlayer(ctx context.Context, id string) {
	httpmw.SetAttr(ctx, slog.String("player_id", id))
}

// authenticate requires a valid bearer token and puts its player id in the context.
// Expiry is checked on real time (s.now), never the game clock. The token's issue time
// goes with every gRPC call of the request (issuedat.Send): the player's owner shard
// refuses a token issued before the player's tokens were revoked (a ban), which this
// stateless tier cannot know.
func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			s.writeError(w, r, oven.Errorf(oven.EUnauthenticated, "missing bearer token"))
			return
		}
		claims, err := s.tokens.Verify(token, s.now())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		player := claims.PlayerID
		logPlayer(r.Context(), player)
		if s.players != nil {
			if ok, wait := s.players.Allow(r.Context(), player); !ok {
				s.writeError(w, r, rateLimited(wait))
				return
			}
		}
		ctx := issuedat.Send(context.WithValue(r.Context(), playerKey, player), claims.IssuedAt)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// limitAddress limits the requests of one client address (AddressLimit): the routes
// that need no token, where there is no player to count yet.
func (s *server) limitAddress(next http.Handler) http.Handler {
	if s.addrs == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := s.addrs.Allow(r.Context(), s.clientIP(r)); !ok {
			s.writeError(w, r, rateLimited(wait))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func rateLimited(wait time.Duration) error {
	e := oven.Errorf(oven.ERateLimited, "too many requests; slow down")
	e.RetryAfter = wait
	return e
}

// remoteIP is the connection's address without its port.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// bearer extracts the token of an "Authorization: Bearer <token>" header; the scheme
// is case-insensitive (RFC 9110).
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
