// Package chaos injects one fault into the dev stack this load run booted, during its
// max phase, and measures what the players saw: SIGKILL or SIGSTOP of a shard (by the
// pid deploy/run recorded, never by name), or a shard added or drained through
// deploy/run's control socket. It watches every answer after the fault, probes the
// players that got an error until they are served again, and scrapes the shards'
// fencing and slot-move counters before and after.
package chaos

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"
)

// Kinds of fault.
const (
	KillShard  = "kill-shard"  // SIGKILL one shard; the survivors take its slots
	StopShard  = "stop-shard"  // SIGSTOP one shard past its lease, then SIGCONT
	AddShard   = "add-shard"   // one shard more through the control socket
	DrainShard = "drain-shard" // one shard fewer: the runner drains the highest-numbered
)

// Kinds lists the faults in the order -h shows them.
var Kinds = []string{KillShard, StopShard, AddShard, DrainShard}

// Plan is the fault to inject.
type Plan struct {
	Kind  string
	At    time.Duration // into the max phase
	Shard string        // kill-shard, stop-shard: the shard; "" = the highest-numbered
	Hold  time.Duration // stop-shard: how long the shard stays stopped
	// Watch is how long after the fault the players that got an error are probed
	// until served again, at the longest.
	Watch time.Duration
	// Settle is how long after the fault's last step answers are still watched at least
	// (default 2 s): a resumed or restarted shard answers its late requests.
	Settle time.Duration
}

// Scales reports whether the fault changes the number of shards (its goal is zero
// client-visible errors rather than a failover within 15 s).
func (p Plan) Scales() bool { return p.Kind == AddShard || p.Kind == DrainShard }

// ParseKind checks a -chaos value; "" means no fault.
func ParseKind(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	for _, k := range Kinds {
		if s == k {
			return s, nil
		}
	}
	return "", fmt.Errorf("unknown -chaos %q (%s)", s, strings.Join(Kinds, ", "))
}

// DefaultLease is the shards' etcd lease when OVEN_LEASE_TTL is not set (application/main.go).
const DefaultLease = 6 * time.Second

// Lease returns the lease the stack's shards will run with: OVEN_LEASE_TTL from this
// process's environment, which the booted stack inherits, or DefaultLease.
func Lease() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("OVEN_LEASE_TTL")); err == nil && d > 0 {
		return d
	}
	return DefaultLease
}

// DefaultHold is how long stop-shard keeps a shard stopped: past its lease, with a
// margin for the survivors to notice and take over.
func DefaultHold(lease time.Duration) time.Duration { return lease + 4*time.Second }

// StaticNote explains a run on a stack without etcd membership.
const StaticNote = "the shards export no membership metrics (oven_shard_slots_owned): the stack runs on a static member list without etcd, so no survivor took slots over; a killed shard's players waited for its restart, a stopped shard kept its slots"

// Action is one step of the fault, at a time after it began.
type Action struct {
	AtS  float64 `json:"t_s"`
	What string  `json:"what"`
}

// Report is what a fault did and what the players saw.
type Report struct {
	Kind    string  `json:"kind"`
	Shard   string  `json:"shard,omitempty"` // the shard faulted, added or drained
	PlanAtS float64 `json:"planned_at_s"`    // into the max phase
	// At is when the fault began (zero: it was not injected); AtS the same in seconds
	// into the max phase.
	At      time.Time `json:"at"`
	AtS     float64   `json:"at_s"`
	Actions []Action  `json:"actions"`
	// Error says why the fault could not be (fully) injected.
	Error string `json:"error,omitempty"`
	// DoneS is when the fault's last step completed (SIGCONT sent, the scale answered).
	DoneS float64 `json:"done_s"`
	// WatchedS is how long after the fault answers were watched.
	WatchedS float64 `json:"watched_s"`
	Window   Window  `json:"window"`
	// LimitS is DESIGN.md's bound on serving a dead shard's players again.
	LimitS float64 `json:"limit_s"`
	// Before and After are the shards' metrics just before the fault and after it
	// settled; Delta what they counted in between.
	Before map[string]ShardMetrics `json:"before"`
	After  map[string]ShardMetrics `json:"after"`
	Delta  Delta                   `json:"delta"`
	// StoppedFenced is what the stopped shard's stores refused between the scrape before
	// the SIGSTOP and the one after it resumed (stop-shard); nil when it could not be read.
	StoppedFenced *float64 `json:"stopped_fenced,omitempty"`
	// Static is set when no shard exported membership metrics: the stack ran without
	// etcd, so no survivor took the faulted shard's slots (a killed shard's players
	// waited for its restart; a stopped shard kept its slots and nothing was fenced).
	Static bool `json:"static_membership,omitempty"`
}

// Plan returns the fault's kind as a Plan (for its predicates).
func (r *Report) Plan() Plan { return Plan{Kind: r.Kind} }

// Failed reports whether the fault could not be injected as planned.
func (r *Report) Failed() bool { return !r.Injected() || r.Error != "" }

// Injected reports whether the fault happened.
func (r *Report) Injected() bool { return !r.At.IsZero() }

// Lines describes the report in a few lines for the console.
func (r *Report) Lines() []string {
	head := fmt.Sprintf("chaos %s", r.Kind)
	if r.Shard != "" {
		head += " " + r.Shard
	}
	if !r.Injected() {
		return []string{head + ": not injected: " + r.Error}
	}
	out := []string{fmt.Sprintf("%s at %.1f s into the max phase (planned %.1f s); done after %.1f s, watched %.1f s",
		head, r.AtS, r.PlanAtS, r.DoneS, r.WatchedS)}
	var acts []string
	for _, a := range r.Actions {
		acts = append(acts, fmt.Sprintf("+%.1f s %s", a.AtS, a.What))
	}
	out = append(out, "  actions: "+strings.Join(acts, "; "))
	if r.Error != "" {
		out = append(out, "  error: "+r.Error)
	}
	w := r.Window
	if w.Errors == 0 {
		out = append(out, "  client-visible errors after the fault: 0")
	} else {
		var codes []string
		for _, c := range w.Codes {
			codes = append(codes, fmt.Sprintf("%s ×%d (%d players, +%.1f…+%.1f s)", c.Code, c.Count, c.Players, c.FirstErrorS, c.LastErrorS))
		}
		out = append(out, fmt.Sprintf("  client-visible errors after the fault: %d, from +%.1f s to +%.1f s: %s",
			w.Errors, w.FirstErrorS, w.LastErrorS, strings.Join(codes, ", ")))
	}
	out = append(out, "  "+r.ServedSentence())
	out = append(out, "  "+r.CountersSentence())
	if r.Static && !r.Plan().Scales() {
		out = append(out, "  "+StaticNote)
	}
	return out
}

// ServedSentence says whether and when the affected players were served again.
func (r *Report) ServedSentence() string {
	w := r.Window
	s := ""
	switch {
	case w.Affected == 0:
		s = "no player got an error"
	case w.Served == w.Affected:
		s = fmt.Sprintf("all %d affected players served again by +%.1f s (median +%.1f s; no request failed after +%.1f s)",
			w.Affected, w.ServedAllS, w.ServedP50S, w.LastFailS)
	default:
		s = fmt.Sprintf("%d of %d affected players served again (the last by +%.1f s); never served again while watched: %s",
			w.Served, w.Affected, w.ServedAllS, strings.Join(w.Unserved, ", "))
	}
	return s + fmt.Sprintf(" (%d probes, %d failed)", w.Probes, w.ProbeErrors)
}

// CountersSentence gives the shards' fenced writes and slot moves during the fault.
func (r *Report) CountersSentence() string {
	s := fmt.Sprintf("fenced writes: %s; slot moves: %s", byLabel(r.Delta.Fenced), byLabel(r.Delta.Moves))
	if r.Kind == StopShard {
		if r.StoppedFenced == nil {
			s += fmt.Sprintf("; %s's metrics could not be read after it resumed", r.Shard)
		} else {
			s += fmt.Sprintf("; the stores refused %.0f writes of the stopped %s", *r.StoppedFenced, r.Shard)
		}
	}
	return s
}

func byLabel(m map[string]float64) string {
	if len(m) == 0 {
		return "none counted"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// ShardRow is one shard's metrics before and after the fault; a shard added or
// drained is missing on one side.
type ShardRow struct {
	ID            string
	Before, After *ShardMetrics
}

// Shards lists every shard scraped before or after the fault, by number.
func (r *Report) Shards() []ShardRow {
	ids := map[string]bool{}
	for id := range r.Before {
		ids[id] = true
	}
	for id := range r.After {
		ids[id] = true
	}
	var out []ShardRow
	for _, id := range slices.SortedFunc(maps.Keys(ids), ShardOrder) {
		row := ShardRow{ID: id}
		if m, ok := r.Before[id]; ok {
			row.Before = &m
		}
		if m, ok := r.After[id]; ok {
			row.After = &m
		}
		out = append(out, row)
	}
	return out
}
