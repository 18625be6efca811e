package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the HTTP request metrics, labelled by chi route pattern, never raw path.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// latencyBuckets resolve the 50 ms p99 goal of DESIGN.md finely and still show stalls
// up to the call deadline.
var latencyBuckets = []float64{.001, .0025, .005, .01, .02, .035, .05, .075, .1, .25, .5, 1, 2.5, 5, 10}

func newMetrics(reg *prometheus.Registry) *metrics {
	return &metrics{
		requests: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "oven_http_requests_total",
			Help: "HTTP requests served, by route pattern, method and status code.",
		}, []string{"route", "method", "code"})),
		duration: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "oven_http_request_duration_seconds",
			Help:    "HTTP request latency, by route pattern and method.",
			Buckets: latencyBuckets,
		}, []string{"route", "method"})),
	}
}

// register adds c to reg, or returns the collector already registered under the same
// name, so that several handlers built on one registry share their metrics.
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

func (m *metrics) observe(route, method string, status int, elapsed time.Duration) {
	method = methodLabel(method)
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(elapsed.Seconds())
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
