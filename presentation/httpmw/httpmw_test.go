package httpmw_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/reqid"
	"github.com/ovengames/oven/presentation/apijson"
	"github.com/ovengames/oven/presentation/httpmw"
)

// stack is a chi router behind the whole middleware stack, as the tiers build theirs.
type stack struct {
	h    http.Handler
	logs *bytes.Buffer
	reg  *prometheus.Registry
	seen string // the request id the last handler saw in its context
}

// writeError renders errors the way both tiers do: API.md's body, and 5xx causes kept
// for the access log.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := apijson.ErrorOf(w.Header(), err)
	if status >= 500 {
		httpmw.SetError(r.Context(), err)
	}
	apijson.Write(w, status, body)
}

func newStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{logs: &bytes.Buffer{}, reg: prometheus.NewRegistry()}
	log := slog.New(slog.NewJSONHandler(s.logs, nil))
	m := httpmw.NewMetrics(s.reg,
		prometheus.CounterOpts{Name: "oven_test_requests_total", Help: "Test requests."},
		prometheus.HistogramOpts{Name: "oven_test_request_duration_seconds", Help: "Test latency."})
	r := chi.NewRouter()
	r.Use(httpmw.Stack(httpmw.Config{Logger: log, AccessMessage: "test request", PanicMessage: "test panic",
		Metrics: m, WriteError: writeError})...)
	r.Use(httpmw.LimitBody(writeError))
	r.Get("/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		s.seen = httpmw.ID(r.Context())
		httpmw.SetAttr(r.Context(), slog.String("player_id", "p-0"))
		httpmw.SetAttr(r.Context(), slog.String("player_id", "p-"+chi.URLParam(r, "id")))
		_, _ = io.WriteString(w, "ok")
	})
	r.Post("/things", func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeError(w, r, apijson.ErrTooLarge)
				return
			}
			t.Errorf("reading the body: %v", err)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	r.Get("/boom", func(http.ResponseWriter, *http.Request) { panic("secret detail") })
	r.Get("/late", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "partial")
		panic("too late to answer")
	})
	r.Get("/abort", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	r.Get("/down", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, errors.New("shard s1 refused"))
	})
	s.h = r
	return s
}

// serve runs one request in process, so that its log lines are complete on return.
func (s *stack) serve(r *http.Request) *httptest.ResponseRecorder {
	s.logs.Reset()
	s.seen = ""
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, r)
	return rec
}

// lines returns the JSON log lines written by the last request, by message.
func (s *stack) lines(t *testing.T) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, l := range strings.Split(strings.TrimSpace(s.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out[m["msg"].(string)] = m
	}
	return out
}

func get(path, id string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if id != "" {
		r.Header.Set(httpmw.RequestIDHeader, id)
	}
	return r
}

func TestRequestID(t *testing.T) {
	s := newStack(t)
	tests := []struct {
		name, sent string
		keep       bool
	}{
		{"uuid kept", "9b2f6c1e-5d7a-4e0b-8c3f-2a1d0e9f8b7c", true},
		{"every allowed character kept", "aZ09-_.:=/+", true},
		{"128 bytes kept", strings.Repeat("r", 128), true},
		{"missing generated", "", false},
		{"129 bytes replaced", strings.Repeat("r", 129), false},
		{"space replaced", "two words", false},
		{"quote replaced", `evil"id`, false},
		{"newline replaced", "id\nlevel=ERROR", false},
		{"non-ASCII replaced", "caf\u00e9", false},
		{"invalid UTF-8 replaced", "id\xff", false},
		{"semicolon replaced", "a;b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := s.serve(get("/things/1", tt.sent))
			got := res.Header().Get(httpmw.RequestIDHeader)
			if tt.keep && got != tt.sent {
				t.Errorf("X-Request-Id = %q, want %q kept", got, tt.sent)
			}
			if !tt.keep && (got == tt.sent || !reqid.Sane(got)) {
				t.Errorf("X-Request-Id = %q, want a new sane id", got)
			}
			if s.seen != got {
				t.Errorf("handler saw id %q, response has %q", s.seen, got)
			}
			if logged := s.lines(t)["test request"]["request_id"]; logged != got {
				t.Errorf("access log request_id = %v, response has %q", logged, got)
			}
		})
	}
	first := s.serve(get("/things/1", "")).Header().Get(httpmw.RequestIDHeader)
	second := s.serve(get("/things/1", "")).Header().Get(httpmw.RequestIDHeader)
	if first == second {
		t.Errorf("two requests got the same generated id %q", first)
	}
}

func TestAccessLog(t *testing.T) {
	s := newStack(t)
	tests := []struct {
		name string
		req  *http.Request
		want map[string]any
	}{
		{"served", get("/things/42", "log-1"), map[string]any{
			"level": "INFO", "msg": "test request", "request_id": "log-1", "method": "GET", "route": "/things/{id}",
			"path": "/things/42", "status": 200.0, "bytes": 2.0, "player_id": "p-42",
		}},
		{"server-side failure", get("/down", "log-2"), map[string]any{
			"level": "ERROR", "msg": "test request", "request_id": "log-2", "method": "GET", "route": "/down",
			"path": "/down", "status": 500.0, "bytes": 57.0, "error": "shard s1 refused",
		}},
		{"unmatched", get("/no/such/thing", "log-3"), map[string]any{
			"level": "INFO", "msg": "test request", "request_id": "log-3", "method": "GET", "route": "unmatched",
			"path": "/no/such/thing", "status": 404.0, "bytes": 19.0,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.serve(tt.req)
			line := s.lines(t)["test request"]
			if _, ok := line["duration_ms"].(float64); !ok {
				t.Errorf("no duration_ms in %v", line)
			}
			delete(line, "time")
			delete(line, "duration_ms")
			if diff := cmp.Diff(tt.want, line); diff != "" {
				t.Errorf("access log (-want +got):\n%s", diff)
			}
		})
	}
	s.serve(get("/things/42", ""))
	if n := strings.Count(s.logs.String(), `"player_id"`); n != 1 {
		t.Errorf("player_id appears %d times, want once (SetAttr replaces): %s", n, s.logs)
	}
}

func TestRecover(t *testing.T) {
	s := newStack(t)
	res := s.serve(get("/boom", "boom-1"))
	if res.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", res.Code)
	}
	if diff := cmp.Diff(`{"error":{"code":"internal","message":"internal error"}}`+"\n", res.Body.String()); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	if got := res.Header().Get(httpmw.RequestIDHeader); got != "boom-1" {
		t.Errorf("X-Request-Id = %q", got)
	}
	if ct := res.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	lines := s.lines(t)
	p := lines["test panic"]
	if p["level"] != "ERROR" || p["request_id"] != "boom-1" || p["panic"] != "secret detail" {
		t.Errorf("panic line %v", p)
	}
	if stack, _ := p["stack"].(string); !strings.Contains(stack, "httpmw_test") {
		t.Errorf("panic line has no stack of the handler: %q", stack)
	}
	access := lines["test request"]
	if access["status"] != 500.0 || access["level"] != "ERROR" || access["error"] != "panic: secret detail" {
		t.Errorf("access line %v", access)
	}
	if !strings.Contains(s.metricsText(t), `oven_test_requests_total{code="500",method="GET",route="/boom"} 1`) {
		t.Error("the recovered 500 is not counted")
	}
}

func TestRecoverAfterTheResponseStarted(t *testing.T) {
	s := newStack(t)
	res := s.serve(get("/late", ""))
	if res.Code != http.StatusOK || res.Body.String() != "partial" {
		t.Errorf("got %d %q, want the 200 already sent and nothing appended", res.Code, res.Body)
	}
	if p := s.lines(t)["test panic"]; p["panic"] != "too late to answer" {
		t.Errorf("panic line %v", p)
	}
}

func TestRecoverLetsAbortThrough(t *testing.T) {
	s := newStack(t)
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler passed on to net/http", v)
		}
	}()
	s.serve(get("/abort", ""))
}

func (s *stack) metricsText(t *testing.T) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

func TestMetricsLabelRoutePatterns(t *testing.T) {
	s := newStack(t)
	s.serve(get("/things/1", ""))
	s.serve(get("/things/2", ""))
	s.serve(get("/no/such/route/12345", ""))
	s.serve(httptest.NewRequest("BREW", "/things/3", nil))
	text := s.metricsText(t)
	for _, want := range []string{
		`oven_test_requests_total{code="200",method="GET",route="/things/{id}"} 2`,
		`oven_test_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`oven_test_requests_total{code="405",method="OTHER",route="unmatched"} 1`,
		`oven_test_request_duration_seconds_count{method="GET",route="/things/{id}"} 2`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, raw := range []string{"/things/1", "/things/2", "12345", "BREW"} {
		if strings.Contains(text, raw) {
			t.Errorf("metrics contain the raw %q", raw)
		}
	}
}

func TestNewMetricsSharesARegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	for range 2 {
		m := httpmw.NewMetrics(reg, prometheus.CounterOpts{Name: "oven_twice_requests_total", Help: "x"},
			prometheus.HistogramOpts{Name: "oven_twice_request_duration_seconds", Help: "x"})
		r := chi.NewRouter()
		r.Use(m.Measure)
		r.Get("/", func(http.ResponseWriter, *http.Request) {})
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if want := `oven_twice_requests_total{code="200",method="GET",route="/"} 2`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("metrics lack %s:\n%s", want, rec.Body)
	}
}

func TestLimitBody(t *testing.T) {
	s := newStack(t)
	big := bytes.Repeat([]byte("x"), apijson.MaxBodyBytes+1)
	tests := []struct {
		name       string
		body       io.Reader
		length     int64 // -1: unknown, as with chunked encoding
		wantStatus int
	}{
		{"small", strings.NewReader(`{}`), 2, http.StatusNoContent},
		{"declared too large", bytes.NewReader(big), int64(len(big)), http.StatusRequestEntityTooLarge},
		{"streamed too large", bytes.NewReader(big), -1, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/things", tt.body)
			r.ContentLength = tt.length
			res := s.serve(r)
			if res.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.Code, tt.wantStatus, res.Body)
			}
			if tt.wantStatus != http.StatusRequestEntityTooLarge {
				return
			}
			var body apijson.ErrorBody
			if err := json.Unmarshal(res.Body.Bytes(), &body); err != nil || body.Error.Code != oven.ETooLarge {
				t.Errorf("body %s (%v), want code too_large", res.Body, err)
			}
		})
	}
}

// A health check that answered is not news at the default level: a load balancer asks
// every second.
func TestAccessLogQuietsHealthChecks(t *testing.T) {
	s := newStack(t)
	if rec := s.serve(get("/healthz", "")); rec.Code != 200 {
		t.Fatalf("healthz: %d", rec.Code)
	}
	if s.logs.Len() != 0 {
		t.Errorf("a health check logged at info level: %s", s.logs)
	}
	s.serve(get("/things/7", ""))
	if s.logs.Len() == 0 {
		t.Error("a game request was not logged")
	}
}
