package results_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ovengames/oven/loadtest/results"
)

func routePhase(route string, clients int, rps, p99 float64, errors int64) results.Phase {
	p := phase(results.KindRoute, clients, rps, p99, errors)
	p.Route = route
	if errors > 0 {
		p.Summary.Total.ByCode = map[string]int64{"error 409 already_sent": errors}
	}
	return p
}

func TestRouteGoals(t *testing.T) {
	tests := []struct {
		name  string
		phase results.Phase
		want  string
	}{
		{"3× the throughput at a lower p99", routePhase("send-life", 64, 6600, 74.9, 0), results.GoalPass},
		{"short of 3×", routePhase("send-life", 64, 6599, 20, 0), results.GoalFail},
		{"p99 not below the reference's", routePhase("inbox", 64, 9000, 100, 0), results.GoalFail},
		{"errors (a repeated pair) fail it", routePhase("leaderboard-write", 64, 9000, 10, 3), results.GoalFail},
		{"nothing measured", routePhase("friends-leaderboard", 64, 0, 0, 0), results.GoalFail},
		{"other concurrency: reported, not decided", routePhase("friends-leaderboard", 32, 9000, 10, 0), results.GoalInfo},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.phase.Summary.Total.Throughput == 0 {
				tc.phase.Summary.Total.Count = 0
			}
			goals := results.RouteGoals(&results.Target{Name: "stack", Phases: []results.Phase{
				phase(results.KindMax, 64, 100, 10, 0), tc.phase}})
			if len(goals) != 1 {
				t.Fatalf("%d goals, want 1: %+v", len(goals), goals)
			}
			if goals[0].Status != tc.want {
				t.Errorf("status = %s, want %s (%s: %s)", goals[0].Status, tc.want, goals[0].Goal, goals[0].Measured)
			}
			if tc.phase.Summary.Total.Errors > 0 && !strings.Contains(goals[0].Measured, "already_sent") {
				t.Errorf("measured %q does not name the error codes", goals[0].Measured)
			}
		})
	}
}

func TestReferencesCoverEveryRoute(t *testing.T) {
	for _, r := range []string{"leaderboard-write", "send-life", "inbox", "friends-leaderboard"} {
		ref, ok := results.ReferenceOf(r)
		if !ok || ref.RPS <= 0 || ref.P99 <= 0 {
			t.Errorf("no reference figure for %s", r)
		}
	}
}

func TestHTMLShowsSingleRoutes(t *testing.T) {
	stack := results.Target{Name: "stack", Phases: []results.Phase{
		routePhase("send-life", 64, 7000, 30, 0), routePhase("inbox", 64, 1000, 300, 2)}}
	r := &results.Report{Title: "routes", Targets: []results.Target{stack}, Goals: results.Goals(nil, &stack, 50)}
	var buf bytes.Buffer
	if err := results.RenderHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{"Single routes against the reference server", "POST /v1/friends/{id}/life", "GET /v1/mailbox",
		"error 409 already_sent: 2", "send-life (64 clients)"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
