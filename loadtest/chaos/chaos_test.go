package chaos_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovengames/oven/loadtest/chaos"
)

func TestParseKind(t *testing.T) {
	for _, k := range chaos.Kinds {
		if got, err := chaos.ParseKind(" " + k); err != nil || got != k {
			t.Errorf("ParseKind(%q) = %q, %v", k, got, err)
		}
	}
	if got, err := chaos.ParseKind(""); err != nil || got != "" {
		t.Errorf(`ParseKind("") = %q, %v; want no fault`, got, err)
	}
	for _, bad := range []string{"kill", "kill-shard,stop-shard", "KILL-SHARD"} {
		if _, err := chaos.ParseKind(bad); err == nil {
			t.Errorf("ParseKind(%q) accepted", bad)
		}
	}
}

func TestShardOrder(t *testing.T) {
	got := []string{"s10", "s2", "s1", "s3"}
	slices.SortFunc(got, chaos.ShardOrder)
	if want := []string{"s1", "s2", "s3", "s10"}; !slices.Equal(got, want) {
		t.Errorf("sorted %q, want %q", got, want)
	}
}

func TestLease(t *testing.T) {
	t.Setenv("OVEN_LEASE_TTL", "")
	if got := chaos.DefaultHold(chaos.Lease()); got != 10*time.Second {
		t.Errorf("hold = %v, want the 6 s default lease + 4 s", got)
	}
	t.Setenv("OVEN_LEASE_TTL", "3s")
	if got := chaos.DefaultHold(chaos.Lease()); got != 7*time.Second {
		t.Errorf("hold = %v with OVEN_LEASE_TTL=3s, want 7s", got)
	}
}

func TestLines(t *testing.T) {
	fenced := 4.0
	r := &chaos.Report{Kind: chaos.StopShard, Shard: "s3", PlanAtS: 20, At: time.Unix(1, 0), AtS: 20.1, DoneS: 10, WatchedS: 14,
		Actions: []chaos.Action{{AtS: 0, What: "SIGSTOP s3 (pid 7) for 10s"}, {AtS: 10, What: "SIGCONT s3 (pid 7)"}},
		Window: chaos.Window{Errors: 12, FirstErrorS: 0.2, LastErrorS: 7.5, Affected: 9, Served: 9, ServedAllS: 8.1, ServedP50S: 6.9, LastFailS: 7.6,
			Codes: []chaos.CodeWindow{{Code: "0 timeout", Count: 12, Players: 9, FirstErrorS: 0.2, LastErrorS: 7.5}}},
		Delta:         chaos.Delta{Fenced: map[string]float64{"redis": 3, "postgres": 1}, Moves: map[string]float64{"failover": 1365}},
		StoppedFenced: &fenced}
	got := strings.Join(r.Lines(), "\n")
	for _, want := range []string{
		"chaos stop-shard s3 at 20.1 s into the max phase",
		"+0.0 s SIGSTOP s3 (pid 7) for 10s; +10.0 s SIGCONT s3 (pid 7)",
		"errors after the fault: 12, from +0.2 s to +7.5 s: 0 timeout ×12 (9 players, +0.2…+7.5 s)",
		"all 9 affected players served again by +8.1 s (median +6.9 s; no request failed after +7.6 s)",
		"fenced writes: postgres 1, redis 3; slot moves: failover 1365; the stores refused 4 writes of the stopped s3",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("lines lack %q:\n%s", want, got)
		}
	}
	r.Window = chaos.Window{Affected: 3, Served: 1, ServedAllS: 2, Unserved: []string{"p1", "p2"}}
	r.StoppedFenced = nil
	got = strings.Join(r.Lines(), "\n")
	if strings.Contains(got, "static member list") {
		t.Errorf("a note on static membership without cause:\n%s", got)
	}
	r.Static = true
	got = strings.Join(r.Lines(), "\n")
	for _, want := range []string{"errors after the fault: 0", "1 of 3 affected players served again", "p1, p2", "could not be read", "static member list"} {
		if !strings.Contains(got, want) {
			t.Errorf("lines lack %q:\n%s", want, got)
		}
	}
}

func TestLinesNoteStaticMembershipOnlyForKillAndStop(t *testing.T) {
	for _, kind := range chaos.Kinds {
		r := &chaos.Report{Kind: kind, At: time.Unix(1, 0), Static: true}
		got := strings.Contains(strings.Join(r.Lines(), "\n"), "static member list")
		if want := kind == chaos.KillShard || kind == chaos.StopShard; got != want {
			t.Errorf("%s: static note shown %v, want %v", kind, got, want)
		}
	}
}
