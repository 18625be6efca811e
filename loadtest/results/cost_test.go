package results_test

import (
	"bytes"
	"html"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ovengames/oven/loadtest/chaos"
	"github.com/ovengames/oven/loadtest/results"
	"github.com/ovengames/oven/loadtest/stats"
)

// costly is a phase whose server used ms of CPU per request (0: not sampled).
func costly(kind string, clients int, ms float64) results.Phase {
	p := phase(kind, clients, 1000, 10, 0)
	p.Summary.CPU = &stats.Cost{Requests: 8000, GeneratorCPU: 2.4, Generator: 0.3}
	if ms > 0 {
		p.Summary.CPU.ServerKnown, p.Summary.CPU.Server, p.Summary.CPU.ServerCPU = true, ms, ms*8
		p.Summary.CPU.ByProcess = map[string]float64{"application": ms * 0.6, "postgres": ms * 0.4, "etcd": 0.001}
	}
	return p
}

func TestCostSentence(t *testing.T) {
	tests := []struct {
		name  string
		phase results.Phase
		want  string
		cell  string
	}{
		{"server sampled", costly(results.KindMax, 64, 2),
			"server 2.00 ms (application 1.20, postgres 0.80); load generator 0.30 ms (not part of the server's); over 8000 requests", "2.00"},
		{"server not sampled", costly(results.KindMax, 64, 0),
			"server not sampled; load generator 0.30 ms (not part of the server's); over 8000 requests", "—"},
		{"not measured", phase(results.KindMax, 64, 1000, 10, 0), "", "—"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.phase.CostSentence(); got != tc.want {
				t.Errorf("CostSentence = %q, want %q", got, tc.want)
			}
			if got := tc.phase.ServerMS(); got != tc.cell {
				t.Errorf("ServerMS = %q, want %q", got, tc.cell)
			}
		})
	}
}

func TestCostVsRelay(t *testing.T) {
	faulted := costly(results.KindMax, 64, 9)
	faulted.Chaos = &chaos.Report{Kind: chaos.KillShard}
	r := &results.Report{Targets: []results.Target{
		{Name: "relay", Phases: []results.Phase{costly(results.KindMax, 64, 0.5), costly(results.KindFind, 8, 0.4), costly(results.KindFind, 16, 0)}},
		{Name: "stack", Phases: []results.Phase{
			costly(results.KindSteady, 0, 3), // no relay phase of its kind
			costly(results.KindMax, 64, 2),
			faulted,                          // a fault: not compared
			costly(results.KindFind, 8, 1.8), // same kind and clients as the relay's
			costly(results.KindFind, 16, 2),  // the relay's server was not sampled
		}},
	}}
	want := []string{
		"max (64 clients): stack 2.00 ms of server CPU per request, relay 0.50 ms: 4.0× the relay's",
		"find (8 clients): stack 1.80 ms of server CPU per request, relay 0.40 ms: 4.5× the relay's",
	}
	if diff := cmp.Diff(want, results.CostVsRelay(r)); diff != "" {
		t.Errorf("CostVsRelay (-want +got):\n%s", diff)
	}
	var buf bytes.Buffer
	if err := results.RenderHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, s := range want {
		if !strings.Contains(page, html.EscapeString(s)) {
			t.Errorf("page lacks %q", s)
		}
	}
	if !strings.Contains(page, ">application 1.20, postgres 0.80</td>") {
		t.Error("page lacks the CPU per request by process")
	}
}
