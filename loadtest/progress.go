package main

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ovengames/oven/loadtest/audit"
	"github.com/ovengames/oven/loadtest/results"
	"github.com/ovengames/oven/loadtest/stats"
)

// progress writes the live progress line on stderr: rewritten in place on a terminal,
// one line every 5 s otherwise (logs, CI).
type progress struct {
	mu       sync.Mutex
	quiet    bool
	terminal bool
	phase    string
	length   time.Duration
	began    time.Time
	lastLine time.Time
	open     bool // a \r line is on screen
}

func newProgress(quiet bool) *progress {
	fi, err := os.Stderr.Stat()
	return &progress{quiet: quiet, terminal: err == nil && fi.Mode()&os.ModeCharDevice != 0}
}

func (p *progress) start(phase string, length time.Duration) {
	p.mu.Lock()
	p.phase, p.length, p.began = phase, length, time.Now()
	p.mu.Unlock()
	p.line("%s: started", phase)
}

func (p *progress) tick(now time.Time, rec *stats.Recorder, g stats.Gauge) {
	if p.quiet {
		return
	}
	l := rec.Live(now)
	p.mu.Lock()
	defer p.mu.Unlock()
	el := now.Sub(p.began).Truncate(time.Second)
	of := ""
	if p.length > 0 {
		of = "/" + p.length.String()
	}
	s := fmt.Sprintf("[%s %v%s] %5.0f req/s  p99(1s) %6.1f ms  requests %d  errors %d  VPs %d  in flight %d  CPU %3.0f%% (server %3.0f%%, generator %3.0f%%)",
		p.phase, el, of, l.LastRate, float64(l.LastP99)/float64(time.Millisecond), l.Requests, l.Errors, g.Active, g.InFlight, g.CPUBusy, g.ServerCPU, g.GenCPU)
	if p.terminal {
		fmt.Fprintf(os.Stderr, "\r%-150s", s)
		p.open = true
	} else if now.Sub(p.lastLine) >= 5*time.Second {
		fmt.Fprintln(os.Stderr, s)
		p.lastLine = now
	}
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open {
		fmt.Fprintln(os.Stderr)
		p.open = false
	}
}

func (p *progress) line(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open {
		fmt.Fprintln(os.Stderr)
		p.open = false
	}
	fmt.Fprintf(os.Stderr, "loadtest: "+format+"\n", args...)
}

func printAudit(a *audit.Result) {
	for _, c := range a.Checks {
		line := fmt.Sprintf("  audit %-11s %s", c.Status, c.Title)
		if c.Invariant > 0 {
			line = fmt.Sprintf("  audit inv %d %-11s %s", c.Invariant, c.Status, c.Title)
		}
		if c.Status != audit.NotChecked {
			line += fmt.Sprintf(" — %d checked, %d violations", c.Checked, c.Violations)
			for _, cc := range c.Client {
				line += fmt.Sprintf("; client %s %d/%d", cc.Name, cc.Violations, cc.Checked)
			}
		}
		if c.Note != "" && (c.Status != audit.Pass || c.Invariant == 1 || c.Invariant == 7) {
			line += " (" + c.Note + ")"
		}
		fmt.Fprintln(os.Stderr, line)
		for _, e := range c.Examples {
			fmt.Fprintln(os.Stderr, "      ", e)
		}
	}
}

func byCodeLine(m map[string]int64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// printSummary prints the phases and goals on stdout.
func printSummary(r *results.Report, html, json string) {
	fmt.Println()
	w := 18 // the phase column: single routes have long labels
	for _, t := range r.Targets {
		for _, p := range t.Phases {
			w = max(w, len(p.Label()))
		}
	}
	fmt.Printf("%-7s %-*s %9s %9s %8s %8s %8s %7s %8s %10s %s\n", "target", w, "phase", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "missing", "CPU ms/req", "CPU (% of one core)")
	for _, t := range r.Targets {
		for _, p := range t.Phases {
			s := p.Summary.Total
			fmt.Printf("%-7s %-*s %9d %9.0f %8.1f %8.1f %8.0f %7d %8d %10s %s\n", t.Name, w, p.Label(), s.Count, s.Throughput,
				s.Latency.P50, s.Latency.P99, s.Latency.Max, s.Errors, s.Missing, p.ServerMS(), p.CPU())
			if procs := p.CPU().Processes(); procs != "" {
				fmt.Printf("%-7s %-*s server CPU by process: %s\n", "", w, "", procs)
			}
			if cost := p.CostSentence(); cost != "" {
				fmt.Printf("%-7s %-*s CPU per request: %s\n", "", w, "", cost)
			}
			if w2 := p.StoreWork(); w2 != "" {
				fmt.Printf("%-7s %-*s per request: %s\n", "", w, "", w2)
			}
			if p.Kind == results.KindRoute && len(s.ByCode) > 0 {
				fmt.Printf("%-7s %-*s non-OK answers: %s\n", "", w, "", byCodeLine(s.ByCode))
			}
		}
	}
	if vs := results.CostVsRelay(r); len(vs) > 0 {
		fmt.Println()
		for _, l := range vs {
			fmt.Println("CPU per request,", l)
		}
	}
	for _, t := range r.Targets {
		for _, p := range t.Phases {
			if p.Chaos != nil {
				fmt.Println()
				for _, l := range p.Chaos.Lines() {
					fmt.Printf("%s: %s\n", t.Name, l)
				}
			}
			if p.Campaign != nil {
				fmt.Println()
				for _, l := range p.Campaign.Lines() {
					fmt.Printf("%s: %s\n", t.Name, l)
				}
			}
		}
	}
	fmt.Println()
	for _, g := range r.Goals {
		fmt.Printf("%-4s  %s\n      %s\n", g.Status, g.Goal, g.Measured)
	}
	for _, n := range r.Notes {
		if strings.HasPrefix(n, "stack:") || strings.HasPrefix(n, "interrupted") || strings.Contains(n, "-duration") {
			fmt.Println("note:", n)
		}
	}
	fmt.Printf("\nreport: %s\n        %s\n", html, json)
}
