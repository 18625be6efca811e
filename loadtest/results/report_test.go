package results_test

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/ovengames/oven/loadtest/audit"
	"github.com/ovengames/oven/loadtest/results"
	"github.com/ovengames/oven/loadtest/stats"
)

func phase(kind string, clients int, rps, p99 float64, errors int64) results.Phase {
	return results.Phase{Kind: kind, Clients: clients, Summary: stats.Summary{Total: stats.Route{
		Route: "all", Count: 1000, Errors: errors, Throughput: rps, Latency: stats.Latency{P99: p99}}}}
}

func TestGoalsRatio(t *testing.T) {
	tests := []struct {
		name         string
		relay, stack []results.Phase
		want         string
	}{
		{"both under the objective, above 40%",
			[]results.Phase{phase(results.KindMax, 64, 1000, 20, 0)}, []results.Phase{phase(results.KindMax, 64, 450, 30, 0)}, results.GoalPass},
		{"both under the objective, below 40%",
			[]results.Phase{phase(results.KindMax, 64, 1000, 20, 0)}, []results.Phase{phase(results.KindMax, 64, 300, 30, 0)}, results.GoalFail},
		{"above the objective but below 40% anyway",
			[]results.Phase{phase(results.KindMax, 64, 1000, 80, 0)}, []results.Phase{phase(results.KindMax, 64, 300, 400, 0)}, results.GoalFail},
		{"above 40% but past the objective: undecided",
			[]results.Phase{phase(results.KindMax, 64, 1000, 80, 0)}, []results.Phase{phase(results.KindMax, 64, 500, 400, 0)}, results.GoalInfo},
		{"find-max steps decide: the best step under the objective counts",
			[]results.Phase{phase(results.KindFind, 8, 900, 10, 0), phase(results.KindFind, 16, 1000, 45, 0), phase(results.KindFind, 32, 1200, 90, 0)},
			[]results.Phase{phase(results.KindFind, 8, 300, 20, 0), phase(results.KindFind, 16, 420, 49, 0), phase(results.KindFind, 32, 600, 70, 0)},
			results.GoalPass},
		{"a find-max step with errors does not count",
			[]results.Phase{phase(results.KindFind, 8, 1000, 10, 0)},
			[]results.Phase{phase(results.KindFind, 8, 300, 20, 0), phase(results.KindFind, 16, 900, 30, 5)},
			results.GoalFail},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			goals := results.Goals(&results.Target{Name: "relay", Phases: tc.relay}, &results.Target{Name: "stack", Phases: tc.stack}, 50)
			if len(goals) == 0 || goals[0].Status != tc.want {
				t.Errorf("goals = %+v, want the ratio goal %s", goals, tc.want)
			}
		})
	}
}

func TestGoalsOpenLoopAndErrors(t *testing.T) {
	stack := &results.Target{Name: "stack", Phases: []results.Phase{
		phase(results.KindSteady, 0, 100, 20, 0), phase(results.KindBurst, 0, 300, 120, 2)},
		Audit: &audit.Result{Pass: true}}
	got := map[string]string{}
	for _, g := range results.Goals(nil, stack, 50) {
		got[strings.Fields(g.Goal)[0]] = g.Status
	}
	want := map[string]string{"steady": results.GoalPass, "burst": results.GoalFail, "zero": results.GoalFail, "invariants": results.GoalPass}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("goal %q = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}

// TestHTMLIsSelfContained renders a report and checks that every chart is well-formed
// SVG and that nothing is fetched from elsewhere.
func TestHTMLIsSelfContained(t *testing.T) {
	sec := func(i int, n int64) stats.Second {
		return stats.Second{T: i, Count: n, P50: 1, P99: 5, Max: 9, ByRoute: map[string]int64{"GET /v1/me": n},
			Gauge: stats.Gauge{CPUBusy: 150, GenCPU: 20, ServerCPU: 100}}
	}
	p := phase(results.KindSteady, 0, 100, 20, 0)
	p.Summary.Routes = []stats.Route{{Route: "GET /v1/me", Count: 1000, ByCode: map[string]int64{"error 503 unavailable": 1}}}
	p.Summary.Series = []stats.Second{sec(0, 90), sec(1, 110), sec(2, 100)}
	r := &results.Report{Title: "t <&> test", Generated: time.Unix(0, 0), Settings: map[string]string{"seed": "1"},
		Targets: []results.Target{{Name: "stack", URL: "http://127.0.0.1:1", Phases: []results.Phase{p},
			Audit: &audit.Result{Checks: []audit.Check{{Invariant: 2, Title: "lives", Status: audit.Pass}}}}}}
	var buf bytes.Buffer
	if err := results.RenderHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, bad := range []string{"<script", "http://cdn", "https://", "<link"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if !strings.Contains(page, "t &lt;&amp;&gt; test") {
		t.Error("title not escaped")
	}
	svgs := strings.Split(page, "<svg ")[1:]
	if len(svgs) != 4 {
		t.Fatalf("%d charts, want 4", len(svgs))
	}
	for _, s := range svgs {
		doc := "<svg " + s[:strings.Index(s, "</svg>")+len("</svg>")]
		if err := xml.Unmarshal([]byte(doc), new(struct{})); err != nil {
			t.Errorf("chart is not well-formed XML: %v", err)
		}
	}
}

func TestLineChartHandlesEmptyAndLogData(t *testing.T) {
	for _, c := range []results.LineChart{
		{Title: "empty"},
		{Title: "zeros on a log scale", LogY: true, X: []float64{0, 1}, Series: []results.Series{{Name: "p99", Y: []float64{0, 0}}}},
		{Title: "one point", X: []float64{0}, Series: []results.Series{{Name: "a", Y: []float64{3}}}},
	} {
		if err := xml.Unmarshal([]byte(c.SVG()), new(struct{})); err != nil {
			t.Errorf("%s: %v", c.Title, err)
		}
	}
}
