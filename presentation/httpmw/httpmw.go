// Package httpmw is the HTTP middleware that the client API (presentation/httpapi) and
// the GMS (presentation/gms) both run: request ids, the access log, request metrics,
// panic recovery and API.md's body limit. Each piece is a func(http.Handler) http.Handler;
// Stack puts the first four in the one order that makes them work together.
//
// The pieces other than RequestID need a chi router around them: they label requests by
// its route pattern, never by the raw path.
package httpmw

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/ovengames/oven/application/reqid"
	"github.com/ovengames/oven/presentation/apijson"
)

// ErrorWriter renders err as a tier's error response (API.md's error body and the
// tier's own headers).
type ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)

// Config is what differs between the tiers that share the stack.
type Config struct {
	// Logger receives the access log and panics; nil means slog.Default().
	Logger *slog.Logger
	// AccessMessage is the message of each access log line, e.g. "http request".
	AccessMessage string
	// PanicMessage is the message of the line that logs a recovered panic.
	PanicMessage string
	// Metrics counts and times the requests; nil counts nothing.
	Metrics *Metrics
	// WriteError answers a recovered panic (as a 500 internal error).
	WriteError ErrorWriter
}

// Stack returns RequestID, AccessLog, Metrics and Recover in that order: the id comes
// first so that every response and log line carries it, and recovery comes last so that
// the 500 it writes is logged and counted like any other answer.
func Stack(cfg Config) []func(http.Handler) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := []func(http.Handler) http.Handler{RequestID, AccessLog(cfg.Logger, cfg.AccessMessage)}
	if cfg.Metrics != nil {
		s = append(s, cfg.Metrics.Measure)
	}
	return append(s, Recover(cfg.Logger, cfg.PanicMessage, cfg.WriteError))
}

// RequestIDHeader carries the request id both ways (API.md: every response has one).
const RequestIDHeader = "X-Request-Id"

type ctxKey struct{}

// info is what the access log line learns about a request after it is served. Handlers
// run on the request's goroutine, but the mutex keeps it honest if one ever hands work
// to another goroutine.
type info struct {
	mu    sync.Mutex
	attrs []slog.Attr
	err   error
}

func infoFrom(ctx context.Context) *info {
	ri, _ := ctx.Value(ctxKey{}).(*info)
	return ri
}

// RequestID echoes the client's X-Request-Id when reqid.Sane accepts it, else makes a
// new one, sets it on the response before anything else can write it, and puts it in
// the request's context (reqid.With) so that the routing client sends it to the shards
// and a reqid.Handler adds it to every log line written with that context.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !reqid.Sane(id) {
			id = reqid.New()
		}
		w.Header().Set(RequestIDHeader, id)
		ctx := reqid.With(context.WithValue(r.Context(), ctxKey{}, &info{}), id)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// ID returns the request's id, or "" outside RequestID.
func ID(ctx context.Context) string { return reqid.From(ctx) }

// SetAttr adds a to the request's access log line, replacing an attribute with the same
// key (the player id once the player is known). Outside RequestID it does nothing.
func SetAttr(ctx context.Context, a slog.Attr) {
	ri := infoFrom(ctx)
	if ri == nil {
		return
	}
	ri.mu.Lock()
	defer ri.mu.Unlock()
	for i := range ri.attrs {
		if ri.attrs[i].Key == a.Key {
			ri.attrs[i] = a
			return
		}
	}
	ri.attrs = append(ri.attrs, a)
}

// SetError records a server-side failure for the access log line: the client only sees
// a generic message. Outside RequestID it does nothing.
func SetError(ctx context.Context, err error) {
	if ri := infoFrom(ctx); ri != nil {
		ri.mu.Lock()
		ri.err = err
		ri.mu.Unlock()
	}
}

// probes are the health checks' paths, logged at debug level when they succeed.
var probes = map[string]bool{"/healthz": true, "/readyz": true}

// AccessLog writes one line with msg per request once it is served: request id, method,
// route pattern, path, status, bytes, duration, then what handlers added (SetAttr) and a
// server-side error (SetError). A 5xx logs at error level, a health check that answered
// at debug level.

func AccessLog(log *slog.Logger, msg string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ww := wrap(w, r)
			next.ServeHTTP(ww, r)
			elapsed := time.Since(start)
			status := statusOf(ww)
			attrs := []slog.Attr{
				slog.String("request_id", ID(r.Context())),
				slog.String("method", r.Method),
				slog.String("route", routeLabel(r)),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Int("bytes", ww.BytesWritten()),
				slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			}
			if ri := infoFrom(r.Context()); ri != nil {
				ri.mu.Lock()
				attrs = append(attrs, ri.attrs...)
				if ri.err != nil {
					attrs = append(attrs, slog.String("error", ri.err.Error()))
				}
				ri.mu.Unlock()
			}
			level := slog.LevelInfo
			switch {
			case status >= 500:
				level = slog.LevelError
			case probes[r.URL.Path]:
				level = slog.LevelDebug // a load balancer asks every second: not news
			}
			log.LogAttrs(r.Context(), level, msg, attrs...)
		})
	}
}

// Recover turns a handler panic into a 500 internal error written by writeErr (which
// never shows the panic to the client) and logs msg with the panic and its stack, so
// that one bad request cannot take the process down. When the response has already
// started there is nothing left to answer: the client sees it cut short.
func Recover(log *slog.Logger, msg string, writeErr ErrorWriter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ww := wrap(w, r)
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v) // net/http's way of aborting a response on purpose
				}
				log.ErrorContext(r.Context(), msg,
					"request_id", ID(r.Context()), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if ww.Status() != 0 {
					return
				}
				writeErr(ww, r, fmt.Errorf("panic: %v", v))
			}()
			next.ServeHTTP(ww, r)
		})
	}
}

// LimitBody enforces API.md's 64 KiB body limit (apijson.LimitBody): an honest
// Content-Length over it is answered by writeErr (413 too_large) before reading, and any
// other body is cut off where the decoder reports too_large.
func LimitBody(writeErr ErrorWriter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := apijson.LimitBody(w, r); err != nil {
				writeErr(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// wrap returns w as a writer that records status and size, reusing the wrapper of an
// outer piece of this package so that stacking them wraps the response once.
func wrap(w http.ResponseWriter, r *http.Request) middleware.WrapResponseWriter {
	if ww, ok := w.(middleware.WrapResponseWriter); ok {
		return ww
	}
	return middleware.NewWrapResponseWriter(w, r.ProtoMajor)
}

// statusOf is the status the client got: a handler that writes nothing sends 200.
func statusOf(ww middleware.WrapResponseWriter) int {
	if s := ww.Status(); s != 0 {
		return s
	}
	return http.StatusOK
}

// routeLabel is chi's pattern of the matched route (known only after routing); every
// unmatched path shares one label so that scanners cannot blow up metric cardinality.
func routeLabel(r *http.Request) string {
	if p := chi.RouteContext(r.Context()).RoutePattern(); p != "" {
		return p
	}
	return "unmatched"
}
