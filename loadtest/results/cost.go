package results

import (
	"fmt"

	"github.com/ovengames/oven/loadtest/stats"
)

// CostSentence describes the phase's CPU per request (stats.Cost), or is "" when it
// was not measured.
func (p Phase) CostSentence() string {
	c := p.Summary.CPU
	if c == nil {
		return ""
	}
	gen := fmt.Sprintf("load generator %.2f ms (not part of the server's)", c.Generator)
	if !c.ServerKnown {
		return fmt.Sprintf("server not sampled; %s; over %d requests", gen, c.Requests)
	}
	return fmt.Sprintf("server %.2f ms (%s); %s; over %d requests",
		c.Server, costByProcess(c), gen, c.Requests)
}

// costByProcess lists the server's CPU per request by process name, busiest first.
func costByProcess(c *stats.Cost) string {
	return busiestFirst(c.ByProcess, 0.005, "%s %.2f")
}

// ServerMS is the server's CPU per request for a table cell: ms, or "—" when unknown.
func (p Phase) ServerMS() string {
	if c := p.Summary.CPU; c != nil && c.ServerKnown {
		return fmt.Sprintf("%.2f", c.Server)
	}
	return "—"
}

// CostVsRelay compares the server CPU per request of each stack phase with the relay's
// phase of the same kind and load (phases with a fault left out), one sentence each: the relay does the HTTP and gRPC
// work of a request and nothing else, so the difference is what Oven's work costs.
func CostVsRelay(r *Report) []string {
	var relay, stack *Target
	for i := range r.Targets {
		if r.Targets[i].Name == "relay" {
			relay = &r.Targets[i]
		} else {
			stack = &r.Targets[i]
		}
	}
	if relay == nil || stack == nil {
		return nil
	}
	var out []string
	for _, sp := range stack.Phases {
		for _, rp := range relay.Phases {
			sc, rc := sp.Summary.CPU, rp.Summary.CPU
			if sp.Chaos != nil || !sameLoad(sp, rp) || sc == nil || rc == nil || !sc.ServerKnown || !rc.ServerKnown || rc.Server == 0 {
				continue
			}
			out = append(out, fmt.Sprintf("%s: stack %.2f ms of server CPU per request, relay %.2f ms: %.1f× the relay's",
				sp.Label(), sc.Server, rc.Server, sc.Server/rc.Server))
		}
	}
	return out
}

// sameLoad reports whether two phases drove the same load.
func sameLoad(a, b Phase) bool {
	return a.Kind == b.Kind && a.Clients == b.Clients && a.Route == b.Route && a.Profile == b.Profile
}
