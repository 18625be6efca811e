package push

import "github.com/prometheus/client_golang/prometheus"

// Metrics count the pushes of one process.
type Metrics struct {
	Queued  *prometheus.CounterVec // rows queued, by kind
	Answers *prometheus.CounterVec // sends, by platform and the status recorded
}

// NewMetrics registers the counters in reg (nil: unregistered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Queued: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "oven_push_queued_total",
			Help: "Push deliveries queued in the outbox, by kind."}, []string{"kind"}),
		Answers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "oven_push_sends_total",
			Help: "Push sends, by platform and outcome (sent, failed, unregistered, queued: retried later)."},
			[]string{"platform", "status"}),
	}
	if reg != nil {
		reg.MustRegister(m.Queued, m.Answers)
	}
	return m
}
