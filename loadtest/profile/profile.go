// Package profile shapes the open-loop arrival rate of virtual players over a phase:
// steady, a linear ramp, and the burst that follows a push notification.
//
// Rates are virtual-player arrivals (sessions) per second. Arrival times come from the
// rate alone, never from how fast the server answers, so a slow server cannot slow the
// load down and hide its own latency (coordinated omission).
package profile

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Profile is an arrival rate over the offset from the start of a phase.
type Profile interface {
	// Rate returns the arrivals per second at offset t (≥ 0).
	Rate(t time.Duration) float64
	// String describes the profile for the report.
	String() string
}

// Steady is a constant rate.
type Steady struct {
	PerSecond float64
}

// Rate returns the constant rate.
func (s Steady) Rate(time.Duration) float64 { return max(s.PerSecond, 0) }

func (s Steady) String() string { return fmt.Sprintf("steady %.4g/s", s.PerSecond) }

// Ramp rises (or falls) linearly from From to To over Over, then holds To.
type Ramp struct {
	From, To float64
	Over     time.Duration
}

// Rate returns the ramp's rate at t.
func (r Ramp) Rate(t time.Duration) float64 {
	if r.Over <= 0 || t >= r.Over {
		return max(r.To, 0)
	}
	f := float64(t) / float64(r.Over)
	return max(r.From+(r.To-r.From)*f, 0)
}

func (r Ramp) String() string {
	return fmt.Sprintf("ramp %.4g/s → %.4g/s over %v", r.From, r.To, r.Over)
}

// Burst is a push notification: Base for Lead, then a linear rise to Factor×Base within
// Rise (API.md's burst reaches 100× within 60 s), then an exponential decay back
// towards Base with time constant Decay.
type Burst struct {
	Base   float64
	Factor float64
	Lead   time.Duration
	Rise   time.Duration
	Decay  time.Duration
}

// Peak returns the highest rate of the burst.
func (b Burst) Peak() float64 { return b.Base * b.Factor }

// Rate returns the burst's rate at t.
func (b Burst) Rate(t time.Duration) float64 {
	base, peak := max(b.Base, 0), max(b.Peak(), 0)
	switch {
	case t < b.Lead:
		return base
	case t < b.Lead+b.Rise:
		f := float64(t-b.Lead) / float64(b.Rise)
		return base + (peak-base)*f
	case b.Decay <= 0:
		return base
	default:
		since := float64(t-b.Lead-b.Rise) / float64(b.Decay)
		return base + (peak-base)*math.Exp(-since)
	}
}

func (b Burst) String() string {
	return fmt.Sprintf("burst %.4g/s → %.4g/s (×%g) after %v, rise %v, decay τ=%v",
		b.Base, b.Peak(), b.Factor, b.Lead, b.Rise, b.Decay)
}

// step is the integration step of Expected and Schedule: fine enough for rates of
// thousands per second, coarse enough to cost nothing.
const step = time.Millisecond

// Expected returns the expected number of arrivals of p in [0, d).
func Expected(p Profile, d time.Duration) float64 {
	var n float64
	for t := time.Duration(0); t < d; t += step {
		n += p.Rate(t) * min(step, d-t).Seconds()
	}
	return n
}

// Schedule yields the arrival times of a profile, one after another. With Poisson
// arrivals the gaps are exponential (a non-homogeneous Poisson process, by inverting
// the integrated rate); otherwise arrivals are evenly spaced in the integrated rate.
// A Schedule is not safe for concurrent use.
type Schedule struct {
	p       Profile
	rng     *rand.Rand
	poisson bool
	t       time.Duration // integration cursor: the last arrival
}

// NewSchedule returns the schedule of p. seed makes Poisson arrivals reproducible.
func NewSchedule(p Profile, poisson bool, seed uint64) *Schedule {
	return &Schedule{p: p, poisson: poisson, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Next returns the offset of the next arrival before end, or false when there is none.
func (s *Schedule) Next(end time.Duration) (time.Duration, bool) {
	need := 1.0
	if s.poisson {
		need = s.rng.ExpFloat64()
	}
	for s.t < end {
		r := s.p.Rate(s.t)
		dt := min(step, end-s.t)
		gain := r * dt.Seconds()
		if gain >= need && r > 0 {
			s.t += time.Duration(need / r * float64(time.Second))
			return s.t, true
		}
		need -= gain
		s.t += dt
	}
	return 0, false
}
