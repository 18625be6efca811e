// Package results turns a load run into a JSON document and a self-contained HTML page
// (tables and inline SVG charts drawn here; no scripts, no external resources), and
// checks the measurements against DESIGN.md's performance goals.
package results

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ovengames/oven/loadtest/audit"
	"github.com/ovengames/oven/loadtest/campaign"
	"github.com/ovengames/oven/loadtest/chaos"
	"github.com/ovengames/oven/loadtest/machine"
	"github.com/ovengames/oven/loadtest/stack"
	"github.com/ovengames/oven/loadtest/stats"
)

// Report is one load run.
type Report struct {
	Title     string            `json:"title"`
	Generated time.Time         `json:"generated"`
	Command   string            `json:"command"`
	Commit    string            `json:"commit,omitempty"`
	Machine   machine.Info      `json:"machine"`
	Settings  map[string]string `json:"settings"`
	Targets   []Target          `json:"targets"`
	Goals     []Goal            `json:"goals"`
	Notes     []string          `json:"notes,omitempty"`
}

// Target is what ran against one server: the relay baseline or the stack.
type Target struct {
	Name     string           `json:"name"`
	URL      string           `json:"url"`
	About    string           `json:"about"`
	Phases   []Phase          `json:"phases"`
	Audit    *audit.Result    `json:"audit,omitempty"`
	Counters map[string]int64 `json:"counters,omitempty"`
}

// Phase kinds.
const (
	KindSteady = "steady"
	KindRamp   = "ramp"
	KindBurst  = "burst"
	KindMax    = "max"  // closed loop, fixed concurrency
	KindFind   = "find" // closed loop, one concurrency step of -find-max
	// KindCampaign is steady's load with a push campaign to every player sent at its start.
	KindCampaign = "campaign"
)

// Phase is one phase of a target.
type Phase struct {
	Kind    string        `json:"kind"`
	Profile string        `json:"profile,omitempty"` // open loop: the arrival profile
	Clients int           `json:"clients,omitempty"` // closed loop: requests in flight
	Route   string        `json:"route,omitempty"`   // KindRoute: the single route measured
	Summary stats.Summary `json:"summary"`
	// Stores is the store work per answered request, when the stores could be read.
	Stores *stack.PerRequest `json:"stores,omitempty"`
	// Chaos is the fault injected during the phase (-chaos) and what the players saw.
	Chaos *chaos.Report `json:"chaos,omitempty"`
	// Campaign is the push campaign of a KindCampaign phase and how it went out.
	Campaign *campaign.Report `json:"campaign,omitempty"`
}

// StoreWork describes Stores in a sentence.
func (p Phase) StoreWork() string {
	s := p.Stores
	if s == nil {
		return ""
	}
	names := make([]string, 0, len(s.RedisTop))
	for n := range s.RedisTop {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return cmpFloat(s.RedisTop[b], s.RedisTop[a]) })
	var top []string
	for _, n := range names {
		if s.RedisTop[n] >= 0.05 {
			top = append(top, fmt.Sprintf("%s %.2f", n, s.RedisTop[n]))
		}
	}
	return fmt.Sprintf("Redis %.2f commands (%s); PostgreSQL %.2f commits, %.2f rows written, %.1f rows read, %.0f B of WAL",
		s.RedisCommands, strings.Join(top, ", "), s.PGCommits, s.PGRowsWritten, s.PGRowsRead, s.PGWALBytes)
}

// Label names the phase in tables.
func (p Phase) Label() string {
	if p.Route != "" {
		return fmt.Sprintf("%s (%d clients)", p.Route, p.Clients)
	}
	if p.Chaos != nil {
		return fmt.Sprintf("%s (%d clients, %s)", p.Kind, p.Clients, p.Chaos.Kind)
	}
	if p.Clients > 0 {
		return fmt.Sprintf("%s (%d clients)", p.Kind, p.Clients)
	}
	return p.Kind
}

// CPU is a phase's mean CPU use, in percent of one core.
type CPU struct {
	Machine, Server, Generator float64
	ServerKnown                bool
	ByProcess                  map[string]float64 // the server's CPU by command name
}

// Processes lists the server's CPU by process name, busiest first.
func (c CPU) Processes() string {
	return busiestFirst(c.ByProcess, 0.5, "%s %.0f%%")
}

// busiestFirst lists the entries of m worth at least least, largest first, each
// formatted with its name and value.
func busiestFirst(m map[string]float64, least float64, format string) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	slices.SortStableFunc(names, func(a, b string) int { return cmpFloat(m[b], m[a]) })
	var parts []string
	for _, n := range names {
		if m[n] >= least {
			parts = append(parts, fmt.Sprintf(format, n, m[n]))
		}
	}
	return strings.Join(parts, ", ")
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Other is what neither the server nor the generator used: other work on the machine.
func (c CPU) Other() float64 { return max(c.Machine-c.Server-c.Generator, 0) }

func (c CPU) String() string {
	if !c.ServerKnown {
		return fmt.Sprintf("%.0f%% machine, %.0f%% generator", c.Machine, c.Generator)
	}
	return fmt.Sprintf("%.0f%% machine: %.0f%% server, %.0f%% generator, %.0f%% other", c.Machine, c.Server, c.Generator, c.Other())
}

// CPU returns the mean CPU use over the phase's sampled seconds.
func (p Phase) CPU() CPU {
	var c CPU
	n := 0
	for _, s := range p.Summary.Series {
		if s.Gauge.CPUBusy == 0 && s.Gauge.GenCPU == 0 {
			continue
		}
		c.Machine += s.Gauge.CPUBusy
		c.Generator += s.Gauge.GenCPU
		c.Server += s.Gauge.ServerCPU
		c.ServerKnown = c.ServerKnown || s.Gauge.ServerCPU > 0
		for name, v := range s.Gauge.ServerProcs {
			if c.ByProcess == nil {
				c.ByProcess = map[string]float64{}
			}
			c.ByProcess[name] += v
		}
		n++
	}
	if n > 0 {
		c.Machine, c.Generator, c.Server = c.Machine/float64(n), c.Generator/float64(n), c.Server/float64(n)
		for name := range c.ByProcess {
			c.ByProcess[name] /= float64(n)
		}
	}
	return c
}

// Goal is one of DESIGN.md's goals with what was measured.
type Goal struct {
	Goal     string `json:"goal"`
	Measured string `json:"measured"`
	Status   string `json:"status"` // PASS, FAIL, or INFO when this run cannot decide it
}

// Goal statuses.
const (
	GoalPass = "PASS"
	GoalFail = "FAIL"
	GoalInfo = "INFO"
)

// Capacity is a target's best throughput and where it was measured.
type Capacity struct {
	RPS   float64
	P99   float64 // ms
	Basis string
	SLO   bool // measured under the p99 objective with zero errors
}

// CapacityOf returns the target's capacity: the best -find-max step that met the p99
// objective with zero errors, or else the fixed-concurrency max phase.
func CapacityOf(t *Target, sloMS float64) (Capacity, bool) {
	var best Capacity
	found := false
	for _, p := range t.Phases {
		s := p.Summary.Total
		if p.Kind == KindFind && s.Errors == 0 && s.Latency.P99 <= sloMS && s.Throughput > best.RPS {
			best = Capacity{RPS: s.Throughput, P99: s.Latency.P99, SLO: true,
				Basis: fmt.Sprintf("find-max step at %d clients (p99 ≤ %g ms, 0 errors)", p.Clients, sloMS)}
			found = true
		}
	}
	if found {
		return best, true
	}
	for _, p := range t.Phases {
		if p.Kind == KindMax {
			s := p.Summary.Total
			return Capacity{RPS: s.Throughput, P99: s.Latency.P99,
				SLO:   s.Errors == 0 && s.Latency.P99 <= sloMS,
				Basis: fmt.Sprintf("closed loop at %d clients", p.Clients)}, true
		}
	}
	return Capacity{}, false
}

// Goals checks DESIGN.md's goals. relay may be nil (no baseline run).
func Goals(relay, stack *Target, sloMS float64) []Goal {
	var goals []Goal
	if stack == nil {
		return nil
	}
	sc, okS := CapacityOf(stack, sloMS)
	if relay != nil {
		rc, okR := CapacityOf(relay, sloMS)
		g := Goal{Goal: fmt.Sprintf("full mix ≥ 40%% of the relay's throughput at p99 < %g ms", sloMS), Status: GoalInfo,
			Measured: "no max or find-max phase on both targets"}
		if okS && okR && rc.RPS > 0 {
			ratio := sc.RPS / rc.RPS
			g.Measured = fmt.Sprintf("stack %.0f req/s (p99 %.1f ms, %s) / relay %.0f req/s (p99 %.1f ms, %s) = %.0f%%",
				sc.RPS, sc.P99, sc.Basis, rc.RPS, rc.P99, rc.Basis, 100*ratio)
			switch {
			case ratio < 0.4 && !sc.SLO:
				g.Status = GoalFail // even without the latency objective it falls short
			case ratio >= 0.4 && sc.SLO && rc.SLO:
				g.Status = GoalPass
			case ratio < 0.4 && sc.SLO && rc.SLO:
				g.Status = GoalFail
			default:
				g.Measured += " — the closed-loop points exceed the p99 objective; run -find-max to decide"
			}
		}
		goals = append(goals, g)
	}
	for _, kind := range []string{KindSteady, KindRamp, KindBurst, KindCampaign} {
		for _, p := range stack.Phases {
			if p.Kind != kind {
				continue
			}
			s := p.Summary.Total
			st := GoalPass
			if s.Latency.P99 >= sloMS || s.Errors > 0 {
				st = GoalFail
			}
			goals = append(goals, Goal{Goal: fmt.Sprintf("%s (open loop): p99 < %g ms with zero errors", kind, sloMS),
				Measured: fmt.Sprintf("%.0f req/s, p99 %.1f ms, max %.0f ms, %d errors", s.Throughput, s.Latency.P99, s.Latency.Max, s.Errors),
				Status:   st})
		}
	}
	for _, cp := range CampaignPairs(&Report{Targets: []Target{*stack}}) {
		goals = append(goals, CampaignGoal(cp))
	}
	goals = append(goals, RouteGoals(stack)...)
	var errs, reqs int64
	faulted := false
	for _, p := range stack.Phases {
		if p.Chaos != nil {
			faulted = true
			goals = append(goals, ChaosGoal(p.Chaos))
			continue // judged by its fault's goal
		}
		errs += p.Summary.Total.Errors
		reqs += p.Summary.Total.Count
	}
	st := GoalPass
	if errs > 0 {
		st = GoalFail
	}
	what := "zero errors (all stack phases)"
	if faulted {
		what = "zero errors (the stack phases without a fault)"
	}
	if !faulted || reqs > 0 {
		goals = append(goals, Goal{Goal: what, Measured: fmt.Sprintf("%d errors in %d requests", errs, reqs), Status: st})
	}
	if stack.Audit != nil {
		st := GoalPass
		if !stack.Audit.Pass {
			st = GoalFail
		}
		var parts []string
		for _, c := range stack.Audit.Checks {
			if c.Invariant > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", c.Invariant, c.Status))
			}
		}
		goals = append(goals, Goal{Goal: "invariants hold after the run", Measured: strings.Join(parts, ", "), Status: st})
	}
	return goals
}

// ChaosGoal judges a fault: a shard killed or stopped must have its players served
// again within DESIGN.md's 15 s (invariant 7, audited with the stores); a shard added or
// drained must cost the clients no error at all (issue 11: live scale).
func ChaosGoal(r *chaos.Report) Goal {
	g := Goal{Status: GoalFail}
	if r.Kind == chaos.AddShard || r.Kind == chaos.DrainShard {
		g.Goal = fmt.Sprintf("%s under load: zero client-visible errors", r.Kind)
		g.Measured = fmt.Sprintf("%d errors after the fault; %s", r.Window.Errors, r.ServedSentence())
		if !r.Failed() && r.Window.Errors == 0 {
			g.Status = GoalPass
		}
	} else {
		g.Goal = fmt.Sprintf("%s under load: every affected player served again within %g s", r.Kind, r.LimitS)
		g.Measured = r.ServedSentence()
		if !r.Failed() && r.Window.AllServedWithin(time.Duration(r.LimitS*float64(time.Second))) {
			g.Status = GoalPass
		}
	}
	if r.Failed() {
		g.Measured = "fault: " + r.Error + "; " + g.Measured
	}
	return g
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(path string, r *Report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// WriteHTML writes the report as one self-contained HTML page.
func WriteHTML(path string, r *Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := RenderHTML(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// RenderHTML renders the report page.
func RenderHTML(w io.Writer, r *Report) error {
	return page.Execute(w, r)
}

// topRoutes returns the busiest routes of a summary.
func topRoutes(s stats.Summary, n int) []string {
	var out []string
	for _, r := range s.Routes {
		if len(out) == n {
			break
		}
		out = append(out, r.Route)
	}
	return out
}

func phaseCharts(p Phase) []template.HTML {
	s := p.Summary
	x := make([]float64, len(s.Series))
	total, errs, p50, p99, pmax := make([]float64, len(x)), make([]float64, len(x)), make([]float64, len(x)), make([]float64, len(x)), make([]float64, len(x))
	offered, active, inflight := make([]float64, len(x)), make([]float64, len(x)), make([]float64, len(x))
	cpu, gen, srv := make([]float64, len(x)), make([]float64, len(x)), make([]float64, len(x))
	for i, sec := range s.Series {
		x[i] = float64(sec.T)
		total[i], errs[i] = float64(sec.Count), float64(sec.Errors)
		p50[i], p99[i], pmax[i] = sec.P50, sec.P99, sec.Max
		offered[i], active[i], inflight[i] = sec.Offered, float64(sec.Gauge.Active), float64(sec.Gauge.InFlight)
		cpu[i], gen[i], srv[i] = sec.Gauge.CPUBusy, sec.Gauge.GenCPU, sec.Gauge.ServerCPU
	}
	rps := []Series{{Name: "all", Y: total, Color: "#000000"}}
	for i, route := range topRoutes(s, 6) {
		y := make([]float64, len(x))
		for j, sec := range s.Series {
			y[j] = float64(sec.ByRoute[route])
		}
		rps = append(rps, Series{Name: shortRoute(route), Y: y, Color: palette[i%len(palette)]})
	}
	rps = append(rps, Series{Name: "errors", Y: errs, Color: "#D00000", Dash: true})
	charts := []template.HTML{
		template.HTML(LineChart{Title: "answered requests per second", XLabel: "seconds", YLabel: "req/s", X: x, Series: rps}.SVG()),
		template.HTML(LineChart{Title: "latency per second (from intended send time)", XLabel: "seconds", YLabel: "ms (log)", X: x, LogY: true,
			Series: []Series{{Name: "p50", Y: p50}, {Name: "p99", Y: p99}, {Name: "max", Y: pmax, Dash: true}}}.SVG()),
	}
	load := []Series{{Name: "VPs active", Y: active}, {Name: "requests in flight", Y: inflight}}
	if p.Clients == 0 {
		load = append(load, Series{Name: "offered arrivals/s", Y: offered, Dash: true})
	}
	cpuSeries := []Series{{Name: "machine busy", Y: cpu}, {Name: "load generator", Y: gen}}
	if p.CPU().ServerKnown {
		cpuSeries = append(cpuSeries, Series{Name: "server processes", Y: srv})
	}
	charts = append(charts,
		template.HTML(LineChart{Title: "load", XLabel: "seconds", YLabel: "count", X: x, Series: load}.SVG()),
		template.HTML(LineChart{Title: "CPU (% of one core)", XLabel: "seconds", YLabel: "%", X: x, Series: cpuSeries}.SVG()))
	return charts
}

// shortRoute drops the /v1 prefix for legends.
func shortRoute(r string) string { return strings.Replace(r, " /v1/", " ", 1) }

// comparisonCharts compare the relay's and the stack's closed-loop phases per route.
func comparisonCharts(r *Report) []template.HTML {
	var relay, stack *Phase
	for ti := range r.Targets {
		for pi := range r.Targets[ti].Phases {
			p := &r.Targets[ti].Phases[pi]
			if p.Kind != KindMax {
				continue
			}
			if r.Targets[ti].Name == "relay" {
				relay = p
			} else {
				stack = p
			}
		}
	}
	if relay == nil || stack == nil {
		return nil
	}
	var labels []string
	var rp99, sp99, rrps, srps []float64
	for _, sr := range stack.Summary.Routes {
		for _, rr := range relay.Summary.Routes {
			if rr.Route == sr.Route {
				labels = append(labels, shortRoute(sr.Route))
				rp99, sp99 = append(rp99, rr.Latency.P99), append(sp99, sr.Latency.P99)
				rrps, srps = append(rrps, rr.Throughput), append(srps, sr.Throughput)
			}
		}
	}
	return []template.HTML{
		template.HTML(BarChart{Title: "p99 by route, closed loop (ms)", YLabel: "ms", Labels: labels,
			Series: []Series{{Name: "relay", Y: rp99}, {Name: "stack", Y: sp99}}}.SVG()),
		template.HTML(BarChart{Title: "throughput by route, closed loop (req/s)", YLabel: "req/s", Labels: labels,
			Series: []Series{{Name: "relay", Y: rrps}, {Name: "stack", Y: srps}}}.SVG()),
	}
}

var funcs = template.FuncMap{
	"charts":  phaseCharts,
	"compare": comparisonCharts,
	"routes":  routeRows,
	"ratio": func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	},
	"f0":          func(v float64) string { return fmt.Sprintf("%.0f", v) },
	"f1":          func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"f2":          func(v float64) string { return fmt.Sprintf("%.2f", v) },
	"pct":         func(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) },
	"lower":       strings.ToLower,
	"date":        func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 MST") },
	"sortedKeys":  func(m map[string]int64) []string { return slices.Sorted(maps.Keys(m)) },
	"sortedKeysS": func(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) },
	"append":      func(rs []stats.Route, r stats.Route) []stats.Route { return append(slices.Clip(rs), r) },
	"cls": func(status string) string {
		switch status {
		case GoalPass: // = audit.Pass
			return "pass"
		case GoalFail, audit.Errored: // GoalFail = audit.Fail
			return "fail"
		}
		return "info"
	},
	"labels": func(m map[string]float64) string {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(m)) {
			parts = append(parts, fmt.Sprintf("%s %.0f", k, m[k]))
		}
		return strings.Join(parts, ", ")
	},
	"staticNote":  func() string { return chaos.StaticNote },
	"cpu":         func(p Phase) string { return p.CPU().String() },
	"procs":       func(p Phase) string { return p.CPU().Processes() },
	"byProcess":   costByProcess,
	"costVsRelay": CostVsRelay,
	"campaigns":   CampaignPairs,
	"pushCharts":  campaignCharts,
}

var page = template.Must(template.New("report").Funcs(funcs).Parse(pageHTML))
