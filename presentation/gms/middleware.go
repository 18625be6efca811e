package gms

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/presentation/apijson"
)

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "oven_gms_requests_total",
			Help: "GMS requests served, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "oven_gms_request_duration_seconds",
			Help:    "GMS request latency, by route pattern and method.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

type ctxKey int

const (
	requestIDKey ctxKey = iota
	errKey
)

// errSlot carries a server-side failure from the handler to the access log.
type errSlot struct{ err error }

// requestID echoes a sane X-Request-Id or makes one, on every response.
func (s *server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !saneRequestID(id) {
			id = rand.Text()
		}
		w.Header().Set("X-Request-Id", id)
		ctx := context.WithValue(r.Context(), requestIDKey, id)
		ctx = context.WithValue(ctx, errKey, &errSlot{})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	return strings.IndexFunc(id, func(c rune) bool {
		return !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("-_.:=/+", c))
	}) < 0
}

// observe logs each request and counts it, labelled by chi's route pattern.
func (s *server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		route := chi.RouteContext(r.Context()).RoutePattern()
		if route == "" {
			route = "unmatched"
		}
		method := r.Method
		switch method {
		case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		default:
			method = "OTHER"
		}
		elapsed := time.Since(start)
		s.metrics.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
		s.metrics.duration.WithLabelValues(route, method).Observe(elapsed.Seconds())
		attrs := []slog.Attr{
			slog.String("request_id", requestIDFrom(r.Context())),
			slog.String("method", r.Method), slog.String("route", route), slog.String("path", r.URL.Path),
			slog.Int("status", status), slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
		}
		level := slog.LevelInfo
		if slot, ok := r.Context().Value(errKey).(*errSlot); ok && slot.err != nil {
			attrs = append(attrs, slog.String("error", slot.err.Error()))
		}
		if status >= 500 {
			level = slog.LevelError
		}
		s.log.LogAttrs(r.Context(), level, "gms request", attrs...)
	})
}

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// recoverer turns a handler panic into a 500 and logs the stack.
func (s *server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "gms handler panic", "request_id", requestIDFrom(r.Context()),
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			s.writeError(w, r, fmt.Errorf("panic: %v", v))
		}()
		next.ServeHTTP(w, r)
	})
}

// csp allows only the console's own files: no inline script or style, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// apiGuard applies the API's rules before any handler: bodies are JSON (a cross-site
// form cannot send that without a CORS preflight, which Oven never grants) of at most
// 64 KiB, every state-changing call but login carries X-CSRF-Token, and nothing is cached.
func (s *server) apiGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		// The token travels to the shard as a protobuf string, which must be UTF-8.
		if !utf8.ValidString(r.Header.Get(csrfHeader)) {
			s.writeError(w, r, oven.Errorf(oven.EInvalid, "%s is not valid UTF-8", csrfHeader))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := apijson.LimitBody(w, r); err != nil {
				s.writeError(w, r, err)
				return
			}
			if ct := r.Header.Get("Content-Type"); ct != "" || r.ContentLength > 0 {
				if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
					s.writeError(w, r, oven.Errorf(oven.EInvalid, "Content-Type must be application/json"))
					return
				}
			}
			if r.Header.Get(csrfHeader) == "" && !strings.HasSuffix(r.URL.Path, "/api/login") {
				s.writeError(w, r, oven.Errorf(oven.EForbidden, "missing %s header", csrfHeader))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

const csrfHeader = "X-CSRF-Token"

func errNoRoute(r *http.Request) error {
	return oven.Errorf(oven.ENotFound, "no route for %s %s", r.Method, r.URL.Path)
}
