package results

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// KindRoute is a single-route phase: one operation in a closed loop (Phase.Route).
const KindRoute = "route"

// The reference server of DESIGN.md's second performance goal ("Performance goals"): a
// leading open-source Go game server, PostgreSQL-backed, measured on this machine at 64
// concurrent clients. Each comparable Oven operation aims at RefFactor × its
// throughput with a lower p99.
const (
	RefClients = 64
	RefFactor  = 3

	RefLeaderboardWriteRPS   = 2000 // leaderboard write
	RefLeaderboardWriteP99   = 70   // ms
	RefSendLifeRPS           = 2200 // send-life, a script call there
	RefSendLifeP99           = 75
	RefInboxRPS              = 1500 // listing its notification inbox
	RefInboxP99              = 100
	RefFriendsLeaderboardRPS = 1900 // friends leaderboard
	RefFriendsLeaderboardP99 = 69
)

// Reference is the reference server's figure for one single route.
type Reference struct {
	Route     string  `json:"route"`     // the single route's name (vp.Route…)
	Operation string  `json:"operation"` // what was measured there
	Oven      string  `json:"oven"`      // the comparable Oven request
	RPS       float64 `json:"rps"`
	P99       float64 `json:"p99_ms"`
}

// References lists the reference figures by single route.
var References = []Reference{
	{"leaderboard-write", "leaderboard write", "POST /v1/plays/{id}/settle", RefLeaderboardWriteRPS, RefLeaderboardWriteP99},
	{"send-life", "send-life as a script call", "POST /v1/friends/{id}/life", RefSendLifeRPS, RefSendLifeP99},
	{"inbox", "listing the notification inbox", "GET /v1/mailbox", RefInboxRPS, RefInboxP99},
	{"friends-leaderboard", "friends leaderboard", "GET /v1/leaderboard/friends", RefFriendsLeaderboardRPS, RefFriendsLeaderboardP99},
}

// ReferenceOf returns the reference figure of a single route.
func ReferenceOf(route string) (Reference, bool) {
	i := slices.IndexFunc(References, func(r Reference) bool { return r.Route == route })
	if i < 0 {
		return Reference{}, false
	}
	return References[i], true
}

// RouteGoals checks each single-route phase of a target against the reference: at
// least RefFactor × its throughput, a p99 below its p99, and no errors. A phase run at
// another concurrency than the reference's is reported but not decided.
func RouteGoals(t *Target) []Goal {
	var goals []Goal
	for _, p := range t.Phases {
		ref, ok := ReferenceOf(p.Route)
		if p.Kind != KindRoute || !ok {
			continue
		}
		s := p.Summary.Total
		g := Goal{
			Goal: fmt.Sprintf("%s (%s): ≥ %d× the reference's %.1f k/s = %.1f k/s, p99 < %g ms, zero errors",
				ref.Route, ref.Oven, RefFactor, ref.RPS/1000, RefFactor*ref.RPS/1000, ref.P99),
			Measured: fmt.Sprintf("%.0f req/s (%.2f× the reference), p50 %.1f ms, p99 %.1f ms, max %.0f ms, %d errors%s at %d clients",
				s.Throughput, s.Throughput/ref.RPS, s.Latency.P50, s.Latency.P99, s.Latency.Max, s.Errors, codes(s.ByCode), p.Clients),
			Status: GoalPass,
		}
		switch {
		case p.Clients != RefClients:
			g.Status = GoalInfo
			g.Measured += fmt.Sprintf(" — the reference ran %d clients: not comparable", RefClients)
		case s.Throughput < RefFactor*ref.RPS || s.Latency.P99 >= ref.P99 || s.Errors > 0 || s.Count == 0:
			g.Status = GoalFail
		}
		goals = append(goals, g)
	}
	return goals
}

// codes lists non-OK answers, e.g. " (error 409 already_sent ×3)".
func codes(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, m[k]))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// RouteRow is one line of the report's single-route table.
type RouteRow struct {
	Target string
	Phase  Phase
	Ref    Reference
	Goal   Goal
}

// Want returns the throughput the goal asks for.
func (r RouteRow) Want() float64 { return RefFactor * r.Ref.RPS }

// routeRows pairs each single-route phase with its reference and goal.
func routeRows(r *Report) []RouteRow {
	var rows []RouteRow
	for _, t := range r.Targets {
		goals := RouteGoals(&t)
		i := 0
		for _, p := range t.Phases {
			ref, ok := ReferenceOf(p.Route)
			if p.Kind != KindRoute || !ok {
				continue
			}
			rows = append(rows, RouteRow{Target: t.Name, Phase: p, Ref: ref, Goal: goals[i]})
			i++
		}
	}
	return rows
}
