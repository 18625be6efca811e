package stats_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ovengames/oven/loadtest/stats"
)

// reading is a CPU reading at t seconds: the server's cumulative seconds by name (nil:
// server unknown) and the generator's.
func reading(t float64, server map[string]float64, gen float64) stats.CPUTime {
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	c := stats.CPUTime{At: at(sec(t)), Generator: sec(gen)}
	if server != nil {
		c.Server = map[string]time.Duration{}
		for name, s := range server {
			c.Server[name] = sec(s)
		}
	}
	return c
}

// steady returns readings every second over [0, n] of a server whose application uses
// 0.5 s and postgres 0.2 s of CPU a second, and a generator using 0.1 s a second.
func steady(n int) []stats.CPUTime {
	var rs []stats.CPUTime
	for i := 0; i <= n; i++ {
		s := float64(i)
		rs = append(rs, reading(s, map[string]float64{"application": 0.5 * s, "postgres": 0.2 * s}, 0.1*s))
	}
	return rs
}

func TestCPUPerRequest(t *testing.T) {
	tests := []struct {
		name     string
		from, to time.Duration // the throughput window
		rate     int           // requests answered a second, evenly, over [0, 4 s)
		readings []stats.CPUTime
		want     *stats.Cost
	}{
		{"readings on the window's ends", time.Second, 3 * time.Second, 100, steady(4),
			// 0.7 s of server CPU a second over 2 s, 200 requests.
			&stats.Cost{Requests: 200, ServerCPU: 1.4, GeneratorCPU: 0.2, Server: 7, ServerKnown: true,
				ByProcess: map[string]float64{"application": 5, "postgres": 2}, Generator: 1}},
		{"interpolated between readings", 1500 * time.Millisecond, 3500 * time.Millisecond, 25,
			// application busy 1 s/s in the first and last seconds, 0.2 s/s between:
			// 1.1 s used at 1.5 s, 1.9 s at 3.5 s.
			[]stats.CPUTime{
				reading(0, map[string]float64{"application": 0}, 0),
				reading(1, map[string]float64{"application": 1}, 0),
				reading(2, map[string]float64{"application": 1.2}, 0),
				reading(3, map[string]float64{"application": 1.4}, 0),
				reading(4, map[string]float64{"application": 2.4}, 0),
			},
			&stats.Cost{Requests: 50, ServerCPU: 0.8, Server: 16, ServerKnown: true,
				ByProcess: map[string]float64{"application": 16}}},
		{"a process that starts in the window counts from zero", 0, 2 * time.Second, 50,
			[]stats.CPUTime{
				reading(0, map[string]float64{"presentation": 0}, 0),
				reading(1, map[string]float64{"presentation": 0.3}, 0),
				reading(2, map[string]float64{"presentation": 0.6, "postgres": 0.4}, 0),
			},
			&stats.Cost{Requests: 100, ServerCPU: 1, Server: 10, ServerKnown: true,
				ByProcess: map[string]float64{"presentation": 6, "postgres": 4}}},
		{"readings stopping short are scaled to the window", 0, 4 * time.Second, 100, steady(3),
			&stats.Cost{Requests: 400, ServerCPU: 2.8, GeneratorCPU: 0.4, Server: 7, ServerKnown: true,
				ByProcess: map[string]float64{"application": 5, "postgres": 2}, Generator: 1}},
		{"readings covering under half the window: no figure", 0, 4 * time.Second, 100, steady(1), nil},
		{"server not sampled: the generator only", time.Second, 3 * time.Second, 100,
			[]stats.CPUTime{reading(0, nil, 0), reading(4, nil, 0.8)},
			&stats.Cost{Requests: 200, GeneratorCPU: 0.4, Generator: 2}},
		{"no request in the window: no figure, no division by zero", time.Second, 3 * time.Second, 0, steady(4), nil},
		{"one reading: no figure", time.Second, 3 * time.Second, 100, steady(0), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := stats.NewRecorder("phase", t0)
			r.SetWindow(at(tc.from), at(tc.to))
			for i := range 4 * tc.rate {
				done := at(time.Duration(i) * time.Second / time.Duration(tc.rate))
				r.Record(stats.Sample{Route: "GET /v1/me", Sent: done, Done: done, Status: 200})
			}
			for _, c := range tc.readings {
				r.AddCPUTime(c)
			}
			got := r.Summary(at(5 * time.Second)).CPU
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateApprox(0, 1e-6)); diff != "" {
				t.Errorf("CPU per request (-want +got):\n%s", diff)
			}
		})
	}
}
