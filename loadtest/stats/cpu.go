package stats

import (
	"maps"
	"slices"
	"time"
)

// CPUTime is one reading of cumulative CPU counters: the CPU time used so far by the
// server's processes, by command name, and by the load generator itself. Only the
// difference between two readings of the same sampler means anything.
type CPUTime struct {
	At        time.Time
	Server    map[string]time.Duration // nil when the server's processes are not known
	Generator time.Duration
}

// Cost is the CPU time spent per request answered in a phase's throughput window: the
// CPU-seconds used over the window divided by the requests answered in it, in
// milliseconds. Unlike a CPU percentage it does not depend on how hard the phase
// pushed, and other work on a shared machine hardly moves it.
type Cost struct {
	Requests     int64   `json:"requests"`        // answered in the window
	ServerCPU    float64 `json:"server_cpu_s"`    // CPU-seconds of the server's processes over the window
	GeneratorCPU float64 `json:"generator_cpu_s"` // CPU-seconds of the load generator over the window
	// Server is the server's CPU per request in ms; ServerKnown is false when the
	// server's processes were not sampled (a target this run did not start).
	Server      float64 `json:"server_ms"`
	ServerKnown bool    `json:"server_known"`
	// ByProcess splits Server by command name (presentation, application, postgres, …).
	ByProcess map[string]float64 `json:"server_by_process_ms,omitempty"`
	Generator float64            `json:"generator_ms"` // the load generator's own CPU per request in ms
}

// AddCPUTime adds a reading of the CPU counters, for the phase's Cost.
func (r *Recorder) AddCPUTime(c CPUTime) {
	r.mu.Lock()
	r.cpu = append(r.cpu, c)
	r.mu.Unlock()
}

// costOf returns the CPU cost of the requests answered in [from, to), or nil when no
// request was answered there or the readings cover less than half of the window. The
// counters are interpolated linearly at the window's ends; where the readings stop
// short of an end (a phase's first or last moments), the CPU time of the part they
// cover is scaled up to the whole window.
func costOf(readings []CPUTime, from, to time.Time, requests int64) *Cost {
	if requests <= 0 || len(readings) < 2 || !to.After(from) {
		return nil
	}
	rs := slices.SortedStableFunc(slices.Values(readings), func(a, b CPUTime) int { return a.At.Compare(b.At) })
	lo, hi := latest(from, rs[0].At), earliest(to, rs[len(rs)-1].At)
	if !hi.After(lo) || hi.Sub(lo) < to.Sub(from)/2 {
		return nil
	}
	scale := to.Sub(from).Seconds() / hi.Sub(lo).Seconds()
	a, b := interpolate(rs, lo), interpolate(rs, hi)
	seconds := func(d time.Duration) float64 { return d.Seconds() * scale }
	perRequest := func(s float64) float64 { return s * 1000 / float64(requests) }
	c := &Cost{Requests: requests, GeneratorCPU: seconds(b.Generator - a.Generator), ServerKnown: b.Server != nil}
	c.Generator = perRequest(c.GeneratorCPU)
	if c.ServerKnown {
		c.ByProcess = map[string]float64{}
		for name, used := range b.Server {
			s := seconds(used - a.Server[name])
			c.ServerCPU += s
			c.ByProcess[name] = perRequest(s)
		}
		c.Server = perRequest(c.ServerCPU)
	}
	return c
}

// interpolate returns the counters at t, linear between the readings either side of
// it (rs sorted by time); outside the readings, the nearest one.
func interpolate(rs []CPUTime, t time.Time) CPUTime {
	i, _ := slices.BinarySearchFunc(rs, t, func(c CPUTime, t time.Time) int { return c.At.Compare(t) })
	switch {
	case i == 0:
		return rs[0]
	case i == len(rs):
		return rs[len(rs)-1]
	}
	a, b := rs[i-1], rs[i]
	f := float64(t.Sub(a.At)) / float64(b.At.Sub(a.At))
	lerp := func(x, y time.Duration) time.Duration { return x + time.Duration(f*float64(y-x)) }
	out := CPUTime{At: t, Generator: lerp(a.Generator, b.Generator)}
	if b.Server != nil {
		// Counters only grow: a name missing from a reading had used nothing yet.
		out.Server = map[string]time.Duration{}
		for name := range maps.Keys(b.Server) {
			out.Server[name] = lerp(a.Server[name], b.Server[name])
		}
	}
	return out
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
