package profile_test

import (
	"math"
	"testing"
	"time"

	"github.com/ovengames/oven/loadtest/profile"
)

func TestRates(t *testing.T) {
	burst := profile.Burst{Base: 2, Factor: 100, Lead: 5 * time.Second, Rise: 10 * time.Second, Decay: 10 * time.Second}
	tests := []struct {
		name string
		p    profile.Profile
		at   time.Duration
		want float64
	}{
		{"steady", profile.Steady{PerSecond: 7}, 3 * time.Second, 7},
		{"steady negative is zero", profile.Steady{PerSecond: -1}, 0, 0},
		{"ramp start", profile.Ramp{From: 10, To: 30, Over: 10 * time.Second}, 0, 10},
		{"ramp middle", profile.Ramp{From: 10, To: 30, Over: 10 * time.Second}, 5 * time.Second, 20},
		{"ramp holds", profile.Ramp{From: 10, To: 30, Over: 10 * time.Second}, time.Minute, 30},
		{"burst lead", burst, 4 * time.Second, 2},
		{"burst half way up", burst, 10 * time.Second, 101},
		{"burst peak", burst, 15 * time.Second, 200},
		{"burst one decay constant later", burst, 25 * time.Second, 2 + 198/math.E},
		{"burst long after", burst, time.Hour, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Rate(tc.at); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("Rate(%v) = %v, want %v", tc.at, got, tc.want)
			}
		})
	}
}

func TestExpected(t *testing.T) {
	if got := profile.Expected(profile.Steady{PerSecond: 50}, 4*time.Second); math.Abs(got-200) > 1e-6 {
		t.Errorf("steady: %v, want 200", got)
	}
	// The integral of a linear ramp is its mean times the duration.
	if got := profile.Expected(profile.Ramp{From: 0, To: 100, Over: 10 * time.Second}, 10*time.Second); math.Abs(got-500) > 0.1 {
		t.Errorf("ramp: %v, want 500", got)
	}
}

func TestScheduleUniformMatchesTheIntegral(t *testing.T) {
	p := profile.Burst{Base: 1, Factor: 100, Lead: time.Second, Rise: 2 * time.Second, Decay: 2 * time.Second}
	d := 10 * time.Second
	want := profile.Expected(p, d)
	s := profile.NewSchedule(p, false, 1)
	n, last := 0, time.Duration(-1)
	for {
		at, ok := s.Next(d)
		if !ok {
			break
		}
		if at < last || at >= d {
			t.Fatalf("arrival %d at %v after %v (end %v)", n, at, last, d)
		}
		last = at
		n++
	}
	if math.Abs(float64(n)-want) > 1 {
		t.Errorf("uniform arrivals: %d, want %.1f ± 1", n, want)
	}
}

func TestSchedulePoissonIsCloseToTheIntegral(t *testing.T) {
	p := profile.Steady{PerSecond: 1000}
	d := 20 * time.Second
	s := profile.NewSchedule(p, true, 42)
	n := 0
	for {
		if _, ok := s.Next(d); !ok {
			break
		}
		n++
	}
	// 20000 expected, standard deviation ≈ 141: 5 σ is a bug, not bad luck.
	if math.Abs(float64(n)-20000) > 5*math.Sqrt(20000) {
		t.Errorf("poisson arrivals: %d, want 20000 ± %.0f", n, 5*math.Sqrt(20000))
	}
}

func TestScheduleZeroRateEnds(t *testing.T) {
	s := profile.NewSchedule(profile.Steady{}, false, 1)
	if at, ok := s.Next(time.Second); ok {
		t.Errorf("zero rate produced an arrival at %v", at)
	}
}
