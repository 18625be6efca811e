package gms

import (
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/presentation/httpmw"
)

// newMetrics registers the console's request metrics, which the dashboard reads under
// these names.
func newMetrics(reg *prometheus.Registry) *httpmw.Metrics {
	return httpmw.NewMetrics(reg, prometheus.CounterOpts{
		Name: "oven_gms_requests_total",
		Help: "GMS requests served, by route pattern, method and status code.",
	}, prometheus.HistogramOpts{
		Name:    "oven_gms_request_duration_seconds",
		Help:    "GMS request latency, by route pattern and method.",
		Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
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

// noStore keeps every API answer, errors included, out of caches.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// apiGuard applies the API's rules before any handler, after noStore and the body limit:
// bodies are JSON (a cross-site form cannot send that without a CORS preflight, which
// Oven never grants), and every state-changing call but login carries X-CSRF-Token.
func (s *server) apiGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The token travels to the shard as a protobuf string, which must be UTF-8.
		if !utf8.ValidString(r.Header.Get(csrfHeader)) {
			s.writeError(w, r, oven.Errorf(oven.EInvalid, "%s is not valid UTF-8", csrfHeader))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
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
