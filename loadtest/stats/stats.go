// Package stats records the load generator's requests and aggregates them: per route
// throughput, HDR latency percentiles, outcomes by HTTP status and API error code, and
// a per-second time series.
//
// Latency is measured from the moment a request was meant to be sent (Sample.Intended),
// not from when the generator got round to sending it, so that a stalled server or a
// starved generator shows up as latency instead of silently lowering the load
// (coordinated omission). The pure service time (sent → answered) is kept beside it.
package stats

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Outcome classifies one request.
type Outcome uint8

const (
	// OK is a success the virtual player expected.
	OK Outcome = iota
	// Expected is a refusal the virtual player provoked on purpose and expected
	// (e.g. already_settled for a deliberately conflicting settle). Not an error.
	Expected
	// Missing is a route the server does not have yet (a 404 "no route"): social
	// features driven before their API lands. Not an error, reported apart.
	Missing
	// Error is anything else: an unexpected status, a transport failure, a timeout.
	Error
	// Abandoned is a request the generator itself cancelled at a hard stop.
	Abandoned
)

func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Expected:
		return "expected"
	case Missing:
		return "missing"
	case Error:
		return "error"
	case Abandoned:
		return "abandoned"
	}
	return "unknown"
}

// Sample is one finished request.
type Sample struct {
	Route    string    // route label, e.g. "POST /v1/plays/{id}/settle"
	Intended time.Time // when it was meant to be sent; zero means Sent
	Sent     time.Time
	Done     time.Time
	Status   int    // HTTP status; 0 for a transport failure
	Code     string // API error code, or the transport failure's class
	Outcome  Outcome
}

// Histogram range: 1 µs to 2 min, 3 significant digits (per second: 2).
const (
	lowest  = 1
	highest = int64(2 * time.Minute / time.Microsecond)
)

func newHist(digits int) *hdr.Histogram { return hdr.New(lowest, highest, digits) }

func micros(d time.Duration) int64 { return min(max(int64(d/time.Microsecond), lowest), highest) }

type routeStats struct {
	latency, service *hdr.Histogram
	counts           [Abandoned + 1]int64
	inWindow         int64
	byKey            map[string]int64 // "status code" of non-OK outcomes
}

func newRouteStats() *routeStats {
	return &routeStats{latency: newHist(3), service: newHist(3), byKey: map[string]int64{}}
}

type second struct {
	n, errors int64
	byRoute   map[string]int64
	latency   *hdr.Histogram
	offered   float64
	gauge     Gauge
}

// Gauge is what the driver reports about itself once a second.
type Gauge struct {
	InFlight  int     `json:"in_flight"`
	Active    int     `json:"active_vps"`
	CPUBusy   float64 `json:"cpu_busy_pct"`   // whole machine, % of one core (2 cores busy = 200)
	GenCPU    float64 `json:"gen_cpu_pct"`    // the load generator process, same unit
	ServerCPU float64 `json:"server_cpu_pct"` // the server's process tree when known, same unit
	// ServerProcs is ServerCPU by command name (presentation, application, postgres, …).
	ServerProcs map[string]float64 `json:"server_procs,omitempty"`
	Dropped     int64              `json:"dropped"` // arrivals not started: generator cap
	Completed   int64              `json:"sessions_completed"`
}

// Recorder aggregates the samples of one phase. It is safe for concurrent use.
type Recorder struct {
	mu       sync.Mutex
	name     string
	start    time.Time
	from, to time.Time // throughput window
	routes   map[string]*routeStats
	total    *routeStats
	secs     []*second
	notes    []string
	cpu      []CPUTime
}

// NewRecorder returns a Recorder for a phase that starts at start. Throughput counts
// the requests answered within [from, to); SetWindow may move it later.
func NewRecorder(name string, start time.Time) *Recorder {
	return &Recorder{name: name, start: start, from: start, routes: map[string]*routeStats{}, total: newRouteStats()}
}

// SetWindow sets the throughput window (e.g. after a warm-up, before a drain).
func (r *Recorder) SetWindow(from, to time.Time) {
	r.mu.Lock()
	r.from, r.to = from, to
	r.mu.Unlock()
}

// Note adds a line to the phase's notes in the report.
func (r *Recorder) Note(format string, args ...any) {
	r.mu.Lock()
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *Recorder) secondLocked(t time.Time) *second {
	i := max(int(t.Sub(r.start)/time.Second), 0)
	for len(r.secs) <= i {
		r.secs = append(r.secs, &second{byRoute: map[string]int64{}, latency: newHist(2)})
	}
	return r.secs[i]
}

// Record adds a finished request.
func (r *Recorder) Record(s Sample) {
	intended := s.Intended
	if intended.IsZero() || intended.After(s.Sent) {
		intended = s.Sent
	}
	lat, svc := micros(s.Done.Sub(intended)), micros(s.Done.Sub(s.Sent))
	key := fmt.Sprintf("%d %s", s.Status, s.Code)
	r.mu.Lock()
	defer r.mu.Unlock()
	rs := r.routes[s.Route]
	if rs == nil {
		rs = newRouteStats()
		r.routes[s.Route] = rs
	}
	inWindow := !s.Done.Before(r.from) && (r.to.IsZero() || s.Done.Before(r.to))
	for _, st := range []*routeStats{rs, r.total} {
		st.counts[s.Outcome]++
		if s.Outcome != OK {
			st.byKey[s.Outcome.String()+" "+key]++
		}
		if s.Outcome == Abandoned {
			continue
		}
		st.latency.RecordValue(lat)
		st.service.RecordValue(svc)
		if inWindow {
			st.inWindow++
		}
	}
	if s.Outcome == Abandoned {
		return
	}
	sec := r.secondLocked(s.Done)
	sec.n++
	sec.byRoute[s.Route]++
	if s.Outcome == Error {
		sec.errors++
	}
	sec.latency.RecordValue(lat)
}

// Offer adds n arrivals offered by the profile at t (open loop), for the series.
func (r *Recorder) Offer(t time.Time, n float64) {
	r.mu.Lock()
	r.secondLocked(t).offered += n
	r.mu.Unlock()
}

// SetGauge records the driver's state in the second of t.
func (r *Recorder) SetGauge(t time.Time, g Gauge) {
	r.mu.Lock()
	r.secondLocked(t).gauge = g
	r.mu.Unlock()
}

// Live is the recent state for the progress line.
type Live struct {
	Requests, Errors int64
	LastRate         float64 // requests answered in the last full second
	LastP99          time.Duration
}

// Live returns the totals and the last full second.
func (r *Recorder) Live(now time.Time) Live {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := Live{Requests: r.total.latency.TotalCount(), Errors: r.total.counts[Error]}
	if i := int(now.Sub(r.start)/time.Second) - 1; i >= 0 && i < len(r.secs) {
		s := r.secs[i]
		l.LastRate = float64(s.n)
		l.LastP99 = time.Duration(s.latency.ValueAtQuantile(99)) * time.Microsecond
	}
	return l
}

// Latency is a distribution in milliseconds.
type Latency struct {
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

func latencyOf(h *hdr.Histogram) Latency {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	if h.TotalCount() == 0 {
		return Latency{}
	}
	return Latency{
		P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)), P99: ms(h.ValueAtQuantile(99)),
		P999: ms(h.ValueAtQuantile(99.9)), Max: ms(h.Max()), Mean: h.Mean() / 1000,
	}
}

// Route is the summary of one route (or of all of them).
type Route struct {
	Route      string           `json:"route"`
	Count      int64            `json:"count"`
	OK         int64            `json:"ok"`
	Expected   int64            `json:"expected"`
	Missing    int64            `json:"missing"`
	Errors     int64            `json:"errors"`
	Abandoned  int64            `json:"abandoned"`
	Throughput float64          `json:"throughput_rps"`
	Share      float64          `json:"share"` // of all answered requests
	Latency    Latency          `json:"latency"`
	Service    Latency          `json:"service"`
	ByCode     map[string]int64 `json:"by_code,omitempty"` // non-OK outcomes by "outcome status code"
}

// Second is one second of the phase.
type Second struct {
	T       int              `json:"t"`
	Count   int64            `json:"count"`
	Errors  int64            `json:"errors"`
	Offered float64          `json:"offered"`
	P50     float64          `json:"p50_ms"`
	P99     float64          `json:"p99_ms"`
	Max     float64          `json:"max_ms"`
	ByRoute map[string]int64 `json:"by_route"`
	Gauge   Gauge            `json:"gauge"`
}

// Summary is the aggregate of one phase.
type Summary struct {
	Name     string    `json:"name"`
	Start    time.Time `json:"start"`
	Window   float64   `json:"window_s"` // seconds over which throughput is computed
	Total    Route     `json:"total"`
	Routes   []Route   `json:"routes"`
	Series   []Second  `json:"series"`
	Notes    []string  `json:"notes,omitempty"`
	Duration float64   `json:"duration_s"` // first to last recorded second
	// CPU is the CPU time per request answered in the window, for the whole phase (a
	// mix or a single route); nil when not measured or no request was answered.
	CPU *Cost `json:"cpu_per_request,omitempty"`
}

// Summary aggregates what was recorded. end closes an open window.
func (r *Recorder) Summary(end time.Time) Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	to := r.to
	if to.IsZero() || to.After(end) {
		to = end
	}
	window := max(to.Sub(r.from).Seconds(), 1e-9)
	answered := r.total.latency.TotalCount()
	route := func(name string, st *routeStats) Route {
		out := Route{
			Route: name, OK: st.counts[OK], Expected: st.counts[Expected], Missing: st.counts[Missing],
			Errors: st.counts[Error], Abandoned: st.counts[Abandoned],
			Throughput: float64(st.inWindow) / window,
			Latency:    latencyOf(st.latency), Service: latencyOf(st.service),
		}
		for _, c := range st.counts {
			out.Count += c
		}
		if answered > 0 {
			out.Share = float64(st.latency.TotalCount()) / float64(answered)
		}
		if len(st.byKey) > 0 {
			out.ByCode = maps.Clone(st.byKey)
		}
		return out
	}
	s := Summary{Name: r.name, Start: r.start, Window: window, Total: route("all", r.total),
		Notes: slices.Clone(r.notes), Duration: float64(len(r.secs)), CPU: costOf(r.cpu, r.from, to, r.total.inWindow)}
	for _, name := range slices.Sorted(maps.Keys(r.routes)) {
		s.Routes = append(s.Routes, route(name, r.routes[name]))
	}
	slices.SortStableFunc(s.Routes, func(a, b Route) int { return cmp.Compare(b.Count, a.Count) })
	for i, sec := range r.secs {
		l := latencyOf(sec.latency)
		s.Series = append(s.Series, Second{T: i, Count: sec.n, Errors: sec.errors, Offered: sec.offered,
			P50: l.P50, P99: l.P99, Max: l.Max, ByRoute: maps.Clone(sec.byRoute), Gauge: sec.gauge})
	}
	return s
}
