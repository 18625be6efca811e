package stats_test

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ovengames/oven/loadtest/stats"
)

var t0 = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestSummaryPercentilesAndCounts(t *testing.T) {
	r := stats.NewRecorder("steady", t0)
	// 100 requests of 1..100 ms on one route, spread over two seconds.
	for i := 1; i <= 100; i++ {
		sent := at(time.Duration(i) * 10 * time.Millisecond)
		r.Record(stats.Sample{Route: "GET /v1/me", Sent: sent, Done: sent.Add(time.Duration(i) * time.Millisecond), Status: 200})
	}
	r.Record(stats.Sample{Route: "POST /v1/plays", Sent: at(0), Done: at(time.Millisecond), Status: 503, Code: "unavailable", Outcome: stats.Error})
	r.Record(stats.Sample{Route: "GET /v1/friends", Sent: at(0), Done: at(time.Millisecond), Status: 404, Code: "not_found", Outcome: stats.Missing})
	r.Record(stats.Sample{Route: "POST /v1/plays", Sent: at(0), Done: at(time.Millisecond), Status: 0, Code: "cancelled", Outcome: stats.Abandoned})

	s := r.Summary(at(2 * time.Second))
	me := find(t, s, "GET /v1/me")
	if me.Count != 100 || me.OK != 100 || me.Errors != 0 {
		t.Errorf("me counts = %+v", me)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"p50", me.Latency.P50, 50}, {"p90", me.Latency.P90, 90}, {"p99", me.Latency.P99, 99}, {"max", me.Latency.Max, 100},
	} {
		if math.Abs(c.got-c.want) > c.want*0.01 {
			t.Errorf("%s = %v ms, want %v ms ± 1%%", c.name, c.got, c.want)
		}
	}
	if math.Abs(me.Throughput-50) > 1e-9 {
		t.Errorf("throughput = %v, want 100 requests / 2 s = 50", me.Throughput)
	}
	wantTotal := map[string]int64{"error 503 unavailable": 1, "missing 404 not_found": 1, "abandoned 0 cancelled": 1}
	if diff := cmp.Diff(wantTotal, s.Total.ByCode); diff != "" {
		t.Errorf("by code (-want +got):\n%s", diff)
	}
	if s.Total.Count != 103 || s.Total.Errors != 1 || s.Total.Missing != 1 || s.Total.Abandoned != 1 {
		t.Errorf("total = %+v", s.Total)
	}
	// Abandoned requests have no latency: 102 answered, none of them in the third second.
	var n int64
	for _, sec := range s.Series {
		n += sec.Count
	}
	if n != 102 || len(s.Series) != 2 {
		t.Errorf("series holds %d requests in %d seconds, want 102 in 2", n, len(s.Series))
	}
	if s.Series[0].Errors != 1 {
		t.Errorf("errors in second 0 = %d, want 1", s.Series[0].Errors)
	}
}

func TestLatencyCountsFromTheIntendedTime(t *testing.T) {
	r := stats.NewRecorder("burst", t0)
	// Meant to go at 0, sent 400 ms late (a starved generator), answered 10 ms later.
	r.Record(stats.Sample{Route: "GET /v1/me", Intended: at(0), Sent: at(400 * time.Millisecond), Done: at(410 * time.Millisecond), Status: 200})
	s := r.Summary(at(time.Second))
	if got := s.Total.Latency.Max; math.Abs(got-410) > 1 {
		t.Errorf("latency max = %v ms, want 410 (from the intended time)", got)
	}
	if got := s.Total.Service.Max; math.Abs(got-10) > 0.1 {
		t.Errorf("service max = %v ms, want 10", got)
	}
}

func TestWindowExcludesWarmupFromThroughput(t *testing.T) {
	r := stats.NewRecorder("max", t0)
	r.SetWindow(at(time.Second), at(3*time.Second))
	for ms := 0; ms < 4000; ms += 10 { // 100 requests a second for 4 s
		r.Record(stats.Sample{Route: "GET /v1/me", Sent: at(time.Duration(ms) * time.Millisecond), Done: at(time.Duration(ms)*time.Millisecond + time.Millisecond), Status: 200})
	}
	s := r.Summary(at(4 * time.Second))
	if s.Window != 2 || math.Abs(s.Total.Throughput-100) > 1e-9 {
		t.Errorf("window %v s, throughput %v; want 2 s and 100/s", s.Window, s.Total.Throughput)
	}
	if s.Total.Count != 400 {
		t.Errorf("count = %d, want all 400 (latency keeps the warm-up)", s.Total.Count)
	}
}

func TestRecordIsSafeForConcurrentUse(t *testing.T) {
	r := stats.NewRecorder("race", t0)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				d := time.Duration(g*500+i) * time.Millisecond
				r.Record(stats.Sample{Route: "GET /v1/me", Sent: at(d), Done: at(d + time.Millisecond), Status: 200})
				r.Offer(at(d), 1)
				r.SetGauge(at(d), stats.Gauge{InFlight: i})
				_ = r.Live(at(d))
			}
		})
	}
	wg.Wait()
	if got := r.Summary(at(time.Hour)).Total.Count; got != 4000 {
		t.Errorf("count = %d, want 4000", got)
	}
}

func find(t *testing.T, s stats.Summary, route string) stats.Route {
	t.Helper()
	for _, r := range s.Routes {
		if r.Route == route {
			return r
		}
	}
	t.Fatalf("no route %q in %+v", route, s.Routes)
	return stats.Route{}
}
