package httpapi

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/presentation/apijson"
)

// requestInfo is what the handlers learn about a request that the access log needs.
// Handlers run on the request's goroutine, but a mutex keeps it honest if one ever
// hands work to another goroutine.
type requestInfo struct {
	id       string
	mu       sync.Mutex
	playerID string
	err      error
}

func (ri *requestInfo) setPlayer(id string) {
	ri.mu.Lock()
	ri.playerID = id
	ri.mu.Unlock()
}

func (ri *requestInfo) setErr(err error) {
	ri.mu.Lock()
	ri.err = err
	ri.mu.Unlock()
}

type ctxKey int

const (
	infoKey ctxKey = iota
	playerKey
)

// infoFrom returns the request's info, or a throwaway one outside the middleware.
func infoFrom(ctx context.Context) *requestInfo {
	if ri, ok := ctx.Value(infoKey).(*requestInfo); ok {
		return ri
	}
	return &requestInfo{}
}

// playerFrom returns the authenticated player id ("" before authenticate).
func playerFrom(ctx context.Context) string {
	id, _ := ctx.Value(playerKey).(string)
	return id
}

const requestIDHeader = "X-Request-Id"

// requestID echoes a sane client request id or makes one, on every response. It runs
// first so that even a panic's 500 carries the id.
func (s *server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(requestIDHeader)
		if !saneRequestID(id) {
			id = rand.Text()
		}
		w.Header().Set(requestIDHeader, id)
		ctx := context.WithValue(r.Context(), infoKey, &requestInfo{id: id})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// saneRequestID accepts ids that are safe to echo and to log: short, and made of
// characters that cannot split headers or forge log fields.
func saneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("-_.:=/+", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// observe writes the access log line and the HTTP metrics once the request is done,
// labelled with chi's route pattern (known only after routing).
func (s *server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		elapsed := time.Since(start)
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK // nothing written: net/http sends 200
		}
		route := routeLabel(r)
		s.metrics.observe(route, r.Method, status, elapsed)
		s.accessLog(r, route, status, ww.BytesWritten(), elapsed)
	})
}

// routeLabel is the chi pattern of the matched route; every unmatched path shares one
// label so that scanners cannot blow up the metrics' cardinality.
func routeLabel(r *http.Request) string {
	if p := chi.RouteContext(r.Context()).RoutePattern(); p != "" {
		return p
	}
	return "unmatched"
}

func (s *server) accessLog(r *http.Request, route string, status, bytes int, elapsed time.Duration) {
	ri := infoFrom(r.Context())
	ri.mu.Lock()
	player, err := ri.playerID, ri.err
	ri.mu.Unlock()
	attrs := []slog.Attr{
		slog.String("request_id", ri.id),
		slog.String("method", r.Method),
		slog.String("route", route),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Int("bytes", bytes),
		slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
	}
	if player != "" {
		attrs = append(attrs, slog.String("player_id", player))
	}
	level := slog.LevelInfo
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	if status >= 500 {
		level = slog.LevelError
	}
	s.log.LogAttrs(r.Context(), level, "http request", attrs...)
}

// recoverer turns a handler panic into a 500 `internal` and logs the stack, so that one
// bad request cannot take the process down.
func (s *server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v) // net/http's way of aborting a response on purpose
			}
			s.log.ErrorContext(r.Context(), "handler panic",
				"request_id", infoFrom(r.Context()).id, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if ww, ok := w.(middleware.WrapResponseWriter); ok && ww.Status() != 0 {
				return // headers are gone; the client sees a truncated response
			}
			s.writeError(w, r, fmt.Errorf("panic: %v", v))
		}()
		next.ServeHTTP(w, r)
	})
}

// limitBody enforces API.md's 64 KiB body limit: an honest Content-Length over it is
// refused before reading, and any other body is cut off by http.MaxBytesReader (the
// decoder then reports too_large).
func (s *server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := apijson.LimitBody(w, r); err != nil {
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authenticate requires a valid bearer token and puts its player id in the context.
// Expiry is checked on real time (s.now), never the game clock.
func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			s.writeError(w, r, oven.Errorf(oven.EUnauthenticated, "missing bearer token"))
			return
		}
		player, err := s.tokens.Verify(token, s.now())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		infoFrom(r.Context()).setPlayer(player)
		if s.limit != nil {
			if ok, wait := s.limit.allow(player, s.now()); !ok {
				e := oven.Errorf(oven.ERateLimited, "too many requests; slow down")
				e.RetryAfter = wait
				s.writeError(w, r, e)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), playerKey, player)))
	})
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
