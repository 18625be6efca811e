package chaos_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ovengames/oven/loadtest/chaos"
)

const exposition = `# HELP oven_fenced_writes_total Writes a store refused because this shard's epoch for the slot was stale.
# TYPE oven_fenced_writes_total counter
oven_fenced_writes_total{store="postgres"} 3
oven_fenced_writes_total{store="redis"} 7
# TYPE oven_slot_moves_total counter
oven_slot_moves_total{reason="failover"} 1365
oven_slot_moves_total{reason="join"} 1024
# TYPE oven_shard_slots_owned gauge
oven_shard_slots_owned 2048
oven_membership_members{state="active"} 3
oven_membership_members{state="draining"} 0
oven_fenced_writes_total_other{store="redis"} 99
oven_grpc_server_handled_total{code="ok",method="/oven.v1.Plays/Start"} 12345
oven_lives_sent_total 5 1700000000000
`

func TestParseMetrics(t *testing.T) {
	got, err := chaos.ParseMetrics(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	want := chaos.ShardMetrics{
		Fenced:     map[string]float64{"postgres": 3, "redis": 7},
		Moves:      map[string]float64{"failover": 1365, "join": 1024},
		Owned:      2048,
		Membership: true,
		Members:    map[string]float64{"active": 3, "draining": 0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseMetrics (-want +got):\n%s", diff)
	}
	// A shard on a static member list exports none of the membership metrics.
	got, err = chaos.ParseMetrics(strings.NewReader("oven_lives_sent_total 5\n"))
	if err != nil || got.Membership || got.Owned != 0 {
		t.Errorf("without etcd: %+v, %v", got, err)
	}
}

func TestDiff(t *testing.T) {
	m := func(fenced, moves map[string]float64) chaos.ShardMetrics {
		return chaos.ShardMetrics{Fenced: fenced, Moves: moves}
	}
	before := map[string]chaos.ShardMetrics{
		"s1": m(map[string]float64{"redis": 1}, map[string]float64{"join": 100}),
		"s2": m(map[string]float64{"redis": 5, "postgres": 2}, map[string]float64{"join": 100}),
		"s3": m(nil, map[string]float64{"join": 100}),
		"s4": {Error: "connection refused"},
	}
	after := map[string]chaos.ShardMetrics{
		"s1": m(map[string]float64{"redis": 1, "postgres": 4}, map[string]float64{"join": 100, "failover": 40}),
		"s2": m(map[string]float64{"redis": 1}, map[string]float64{"join": 30}), // restarted: counts from zero
		"s3": {Error: "connection refused"},                                     // drained: not counted
		"s4": m(map[string]float64{"couchbase": 2}, nil),                        // unread before: counts whole
		"s5": m(nil, map[string]float64{"join": 50}),                            // added
	}
	want := chaos.Delta{
		Fenced:        map[string]float64{"redis": 1, "postgres": 4, "couchbase": 2},
		Moves:         map[string]float64{"failover": 40, "join": 80},
		FencedByShard: map[string]float64{"s1": 4, "s2": 1, "s4": 2},
		Restarted:     []string{"s2"},
	}
	got := chaos.Diff(before, after)
	if diff := cmp.Diff(want, got, cmpZeroAsMissing); diff != "" {
		t.Errorf("Diff (-want +got):\n%s", diff)
	}
}

// cmpZeroAsMissing ignores by-label entries that counted nothing.
var cmpZeroAsMissing = cmp.Transformer("nonzero", func(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
})
