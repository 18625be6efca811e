package httpmw

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts requests by route pattern, method and status code and times them by
// route pattern and method. Each tier names its own pair (oven_http_*, oven_gms_*).
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the request counter and the latency histogram described by
// requests and duration in reg. When reg already holds collectors of those names (several
// handlers built on one registry), they are shared; any other clash panics, which is a
// wiring bug.
func NewMetrics(reg *prometheus.Registry, requests prometheus.CounterOpts, duration prometheus.HistogramOpts) *Metrics {
	return &Metrics{
		requests: register(reg, prometheus.NewCounterVec(requests, []string{"route", "method", "code"})),
		duration: register(reg, prometheus.NewHistogramVec(duration, []string{"route", "method"})),
	}
}

func register[C prometheus.Collector](reg *prometheus.Registry, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}

// Measure counts and times each request once it is served, labelled by chi's route
// pattern ("unmatched" for none), never by the raw path.
func (m *Metrics) Measure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := wrap(w, r)
		next.ServeHTTP(ww, r)
		elapsed := time.Since(start)
		route, method := routeLabel(r), methodLabel(r.Method)
		m.requests.WithLabelValues(route, method, strconv.Itoa(statusOf(ww))).Inc()
		m.duration.WithLabelValues(route, method).Observe(elapsed.Seconds())
	})
}

// methodLabel folds methods outside the standard set into one label: clients choose the
// method string, and labels must stay bounded.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}
