package chaos_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ovengames/oven/loadtest/chaos"
)

func TestCompute(t *testing.T) {
	fault := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return fault.Add(time.Duration(s * float64(time.Second))) }
	ok := func(who string, s float64) chaos.Answer { return chaos.Answer{Who: who, At: at(s), OK: true} }
	bad := func(who string, s float64, code string) chaos.Answer {
		return chaos.Answer{Who: who, At: at(s), Code: code}
	}
	probe := func(a chaos.Answer) chaos.Answer { a.Probe = true; return a }
	tests := []struct {
		name    string
		answers []chaos.Answer
		want    chaos.Window
	}{
		{name: "nothing after the fault", answers: []chaos.Answer{bad("a", -1, "0 timeout"), ok("a", 1)},
			want: chaos.Window{Answers: 1}},
		{name: "no errors: a clean drain",
			answers: []chaos.Answer{ok("a", 0.1), ok("b", 0.2), ok("a", 3)},
			want:    chaos.Window{Answers: 3}},
		{name: "two players, two codes, served again by their own requests or a probe",
			answers: []chaos.Answer{
				ok("c", 0.05),
				bad("a", 0.2, "503 unavailable"),
				bad("b", 0.5, "0 conn_reset"),
				probe(bad("a", 2.5, "503 unavailable")), // a probe's error delays a, is not a client error
				bad("b", 2.0, "503 unavailable"),
				probe(ok("a", 4.0)),
				ok("b", 6.5),
				ok("b", 7.0),
			},
			want: chaos.Window{Errors: 3, FirstErrorS: 0.2, LastErrorS: 2.0,
				Codes: []chaos.CodeWindow{
					{Code: "503 unavailable", Count: 2, Players: 2, FirstErrorS: 0.2, LastErrorS: 2.0},
					{Code: "0 conn_reset", Count: 1, Players: 1, FirstErrorS: 0.5, LastErrorS: 0.5},
				},
				Affected: 2, Served: 2, ServedAllS: 6.5, ServedP50S: 4.0, Probes: 2, ProbeErrors: 1, Answers: 8, LastFailS: 2.5}},
		{name: "out of order; a relapse counts from the later error",
			answers: []chaos.Answer{
				ok("a", 9.0), // arrives first, answered last
				bad("a", 1.0, "0 timeout"),
				ok("a", 2.0), // served, then failed again
				bad("a", 5.0, "0 timeout"),
			},
			want: chaos.Window{Errors: 2, FirstErrorS: 1, LastErrorS: 5,
				Codes:    []chaos.CodeWindow{{Code: "0 timeout", Count: 2, Players: 1, FirstErrorS: 1, LastErrorS: 5}},
				Affected: 1, Served: 1, ServedAllS: 9, ServedP50S: 9, Answers: 4, LastFailS: 5}},
		{name: "a player never served again",
			answers: []chaos.Answer{bad("a", 1, "0 timeout"), ok("b", 1.5), bad("b", 2, "0 timeout"), ok("b", 3), probe(bad("a", 20, "0 timeout"))},
			want: chaos.Window{Errors: 2, FirstErrorS: 1, LastErrorS: 2,
				Codes:    []chaos.CodeWindow{{Code: "0 timeout", Count: 2, Players: 2, FirstErrorS: 1, LastErrorS: 2}},
				Affected: 2, Served: 1, ServedAllS: 3, ServedP50S: 3, Unserved: []string{"a"}, Probes: 1, ProbeErrors: 1, Answers: 5, LastFailS: 20}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := chaos.Compute(fault, tc.answers)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Compute (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAllServedWithin(t *testing.T) {
	tests := []struct {
		w    chaos.Window
		want bool
	}{
		{chaos.Window{}, true},
		{chaos.Window{Affected: 3, Served: 3, ServedAllS: 14.9}, true},
		{chaos.Window{Affected: 3, Served: 3, ServedAllS: 15.1}, false},
		{chaos.Window{Affected: 3, Served: 2, ServedAllS: 1}, false},
	}
	for _, tc := range tests {
		if got := tc.w.AllServedWithin(15 * time.Second); got != tc.want {
			t.Errorf("%+v: AllServedWithin(15s) = %v, want %v", tc.w, got, tc.want)
		}
	}
}
