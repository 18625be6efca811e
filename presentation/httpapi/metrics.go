package httpapi

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovengames/oven/presentation/httpmw"
)

// latencyBuckets resolve the 50 ms p99 goal of DESIGN.md finely and still show stalls
// up to the call deadline.
var latencyBuckets = []float64{.001, .0025, .005, .01, .02, .035, .05, .075, .1, .25, .5, 1, 2.5, 5, 10}

// newMetrics registers the client API's request metrics, which the dashboards and the
// autoscaler read under these names.
func newMetrics(reg *prometheus.Registry) *httpmw.Metrics {
	return httpmw.NewMetrics(reg, prometheus.CounterOpts{
		Name: "oven_http_requests_total",
		Help: "HTTP requests served, by route pattern, method and status code.",
	}, prometheus.HistogramOpts{
		Name:    "oven_http_request_duration_seconds",
		Help:    "HTTP request latency, by route pattern and method.",
		Buckets: latencyBuckets,
	})
}
