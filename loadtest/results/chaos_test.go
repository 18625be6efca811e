package results_test

import (
	"bytes"
	"encoding/json"
	"html"
	"strings"
	"testing"
	"time"

	"github.com/ovengames/oven/loadtest/audit"
	"github.com/ovengames/oven/loadtest/chaos"
	"github.com/ovengames/oven/loadtest/results"
	"github.com/ovengames/oven/loadtest/stats"
)

func killReport() *chaos.Report {
	return &chaos.Report{Kind: chaos.KillShard, Shard: "s3", PlanAtS: 20, At: time.Unix(100, 0), AtS: 20.02, DoneS: 1.3, WatchedS: 9.5, LimitS: 15,
		Actions: []chaos.Action{{AtS: 0, What: "SIGKILL s3 (pid 4242)"}, {AtS: 1.3, What: "deploy/run restarted s3 as pid 4250"}},
		Window: chaos.Window{Errors: 57, FirstErrorS: 0.01, LastErrorS: 6.2, Affected: 31, Served: 31, ServedAllS: 6.9, ServedP50S: 3.1, Probes: 40, ProbeErrors: 12,
			Codes: []chaos.CodeWindow{{Code: "503 unavailable", Count: 50, Players: 30, FirstErrorS: 0.01, LastErrorS: 6.2},
				{Code: "0 eof", Count: 7, Players: 7, FirstErrorS: 0.01, LastErrorS: 0.02}}},
		Before: map[string]chaos.ShardMetrics{"s1": {Owned: 1365}, "s2": {Owned: 1365}, "s3": {Owned: 1366}},
		After: map[string]chaos.ShardMetrics{"s1": {Owned: 1365, Moves: map[string]float64{"failover": 683}}, "s2": {Owned: 1365},
			"s3": {Error: "connection refused"}},
		Delta: chaos.Delta{Fenced: map[string]float64{"postgres": 2}, Moves: map[string]float64{"failover": 1366}}}
}

func TestChaosGoal(t *testing.T) {
	slow := killReport()
	slow.Window.ServedAllS = 15.5
	lost := killReport()
	lost.Window.Served = 30
	add := &chaos.Report{Kind: chaos.AddShard, Shard: "s4", At: time.Unix(1, 0)}
	addErrs := &chaos.Report{Kind: chaos.AddShard, Shard: "s4", At: time.Unix(1, 0), Window: chaos.Window{Errors: 1, Affected: 1, Served: 1}}
	drainFailed := &chaos.Report{Kind: chaos.DrainShard, At: time.Unix(1, 0), Error: "POST /scale: connection refused"}
	notInjected := &chaos.Report{Kind: chaos.KillShard, Error: "the max phase ended before the fault was due"}
	tests := []struct {
		name string
		r    *chaos.Report
		want string
		in   string
	}{
		{"kill: all back within 15 s", killReport(), results.GoalPass, "all 31 affected players served again by +6.9 s"},
		{"kill: the last one after 15 s", slow, results.GoalFail, "+15.5 s"},
		{"kill: one never back", lost, results.GoalFail, "30 of 31"},
		{"add: zero errors", add, results.GoalPass, "0 errors"},
		{"add: one error", addErrs, results.GoalFail, "1 errors"},
		{"drain: the runner refused", drainFailed, results.GoalFail, "connection refused"},
		{"not injected", notInjected, results.GoalFail, "ended before"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := results.ChaosGoal(tc.r)
			if g.Status != tc.want || !strings.Contains(g.Measured, tc.in) || !strings.Contains(g.Goal, tc.r.Kind) {
				t.Errorf("ChaosGoal = %+v; want %s, measured with %q", g, tc.want, tc.in)
			}
		})
	}
}

// TestGoalsJudgeTheFaultedPhaseByItsFault: the errors a fault causes fail the fault's
// goal only when it is not met, not the zero-errors goal of the other phases.
func TestGoalsJudgeTheFaultedPhaseByItsFault(t *testing.T) {
	faulted := phase(results.KindMax, 64, 2000, 90, 57)
	faulted.Chaos = killReport()
	stack := &results.Target{Name: "stack", Phases: []results.Phase{phase(results.KindSteady, 0, 60, 10, 0), faulted}}
	got := map[string]results.Goal{}
	for _, g := range results.Goals(nil, stack, 50) {
		got[strings.Fields(g.Goal)[0]] = g
	}
	if g := got["kill-shard"]; g.Status != results.GoalPass {
		t.Errorf("fault goal = %+v, want PASS", g)
	}
	if g := got["zero"]; g.Status != results.GoalPass || !strings.Contains(g.Goal, "without a fault") || !strings.HasPrefix(g.Measured, "0 errors in 1000") {
		t.Errorf("zero-errors goal = %+v, want PASS over the steady phase only", g)
	}
	for _, g := range results.Goals(nil, &results.Target{Name: "stack", Phases: []results.Phase{faulted}}, 50) {
		if strings.HasPrefix(g.Goal, "zero errors") {
			t.Errorf("with only the faulted phase, a zero-errors goal over nothing: %+v", g)
		}
	}
	if l := faulted.Label(); l != "max (64 clients, kill-shard)" {
		t.Errorf("label = %q", l)
	}
}

func TestChaosInTheReport(t *testing.T) {
	p := phase(results.KindMax, 64, 2000, 90, 57)
	p.Summary.Series = []stats.Second{{T: 0, Count: 100}, {T: 1, Count: 90, Errors: 57}}
	p.Chaos = killReport()
	notInjected := phase(results.KindMax, 64, 2000, 90, 0)
	notInjected.Chaos = &chaos.Report{Kind: chaos.StopShard, Error: "the max phase ended before the fault was due"}
	r := &results.Report{Title: "chaos", Generated: time.Unix(0, 0),
		Targets: []results.Target{{Name: "stack", Phases: []results.Phase{p, notInjected},
			Audit: &audit.Result{Checks: []audit.Check{{Invariant: 7, Title: "failover", Status: audit.Pass}}}}}}
	var buf bytes.Buffer
	if err := results.RenderHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	page := html.UnescapeString(buf.String()) // html/template writes + as &#43;
	for _, want := range []string{
		"Fault: kill-shard s3 at 20.0 s into the phase",
		"<td>+1.3 s</td><td class=\"l\">deploy/run restarted s3 as pid 4250</td>",
		"57 client-visible errors after the fault, from +0.0 s to +6.2 s",
		"all 31 affected players served again by +6.9 s",
		`<td class="l mono">503 unavailable</td><td>50</td><td>30</td>`,
		"fenced writes: postgres 2; slot moves: failover 1366",
		`<td class="l">s1</td><td>1365</td><td>1365</td>`,
		"after: connection refused",
		"Fault: stop-shard",
		"Not injected: the max phase ended before the fault was due",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := strings.Count(page, "<svg "); n != 8 {
		t.Errorf("%d charts, want 4 per phase", n)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back results.Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	c := back.Targets[0].Phases[0].Chaos
	if c == nil || c.Window.ServedAllS != 6.9 || c.Window.Codes[1].Code != "0 eof" || c.After["s3"].Error == "" {
		t.Errorf("chaos section after a JSON round trip: %+v", c)
	}
}
