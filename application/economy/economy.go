// Package economy counts the game's economy for Prometheus: coins earned by source and
// spent by sink, lives sent, accepted and expired, plays started, settled and rejected.
package economy

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the economy counters of one process.
type Metrics struct {
	CoinsEarned   *prometheus.CounterVec // by source: play, mail, ...
	CoinsSpent    *prometheus.CounterVec // by sink: play_boosts, shop, ...
	PlaysStarted  prometheus.Counter
	PlaysSettled  prometheus.Counter
	PlaysRejected *prometheus.CounterVec // by reason
	LivesSent     prometheus.Counter
	LivesAccepted prometheus.Counter
	LivesExpired  prometheus.Counter
}

// New registers the counters in reg (nil: unregistered, for tests).
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		CoinsEarned: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "oven_coins_earned_total",
			Help: "Coins credited to players, by source."}, []string{"source"}),
		CoinsSpent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "oven_coins_spent_total",
			Help: "Coins debited from players, by sink."}, []string{"sink"}),
		PlaysStarted: prometheus.NewCounter(prometheus.CounterOpts{Name: "oven_plays_started_total",
			Help: "Plays started (a life taken)."}),
		PlaysSettled: prometheus.NewCounter(prometheus.CounterOpts{Name: "oven_plays_settled_total",
			Help: "Plays settled and accepted."}),
		PlaysRejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "oven_plays_rejected_total",
			Help: "Plays whose settlement failed the plausibility checks, by reason."}, []string{"reason"}),
		LivesSent: prometheus.NewCounter(prometheus.CounterOpts{Name: "oven_lives_sent_total",
			Help: "Lives sent to friends' mailboxes."}),
		LivesAccepted: prometheus.NewCounter(prometheus.CounterOpts{Name: "oven_lives_accepted_total",
			Help: "Lives accepted from mailboxes."}),
		LivesExpired: prometheus.NewCounter(prometheus.CounterOpts{Name: "oven_lives_expired_total",
			Help: "Lives that expired unaccepted in mailboxes (counted when seen)."}),
	}
	if reg != nil {
		reg.MustRegister(m.CoinsEarned, m.CoinsSpent, m.PlaysStarted, m.PlaysSettled, m.PlaysRejected,
			m.LivesSent, m.LivesAccepted, m.LivesExpired)
	}
	return m
}
