package audit_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ovengames/oven/loadtest/audit"
)

func TestCheckFailover(t *testing.T) {
	ok := []audit.Check{{Invariant: 1, Status: audit.NotChecked}, {Invariant: 2, Status: audit.Pass},
		{Invariant: 3, Status: audit.Pass}, {Invariant: 4, Status: audit.Pass}, {Invariant: 6, Status: audit.Pass}}
	broken := append([]audit.Check{{Invariant: 3, Status: audit.Fail}}, ok[1:]...)
	unreadable := append([]audit.Check{{Invariant: 4, Status: audit.Errored}}, ok...)
	four := 4.0
	kill := func(mod func(*audit.Failover)) *audit.Failover {
		f := &audit.Failover{Fault: "kill-shard", Shard: "s3", Injected: true, Affected: 40, Served: 40, ServedAll: 7 * time.Second}
		if mod != nil {
			mod(f)
		}
		return f
	}
	stop := func(mod func(*audit.Failover)) *audit.Failover {
		return kill(func(f *audit.Failover) {
			f.Fault, f.Stopped, f.StoppedFenced = "stop-shard", true, &four
			if mod != nil {
				mod(f)
			}
		})
	}
	tests := []struct {
		name       string
		f          *audit.Failover
		others     []audit.Check
		want       string
		violations int64
		note       string
	}{
		{"no fault in this run", nil, ok, audit.NotChecked, 0, "kills no shard"},
		{"kill: served within 15 s, invariants hold", kill(nil), ok, audit.Pass, 0, "invariants [1] were not checked"},
		{"kill: no player even saw an error", kill(func(f *audit.Failover) { f.Affected, f.Served, f.ServedAll = 0, 0, 0 }), ok, audit.Pass, 0, "0 players"},
		{"kill: an acknowledged settlement lost", kill(nil), broken, audit.Fail, 1, ""},
		{"kill: the last player back after 15 s", kill(func(f *audit.Failover) { f.ServedAll = 16 * time.Second }), ok, audit.Fail, 1, ""},
		{"kill: players never served again", kill(func(f *audit.Failover) { f.Served = 37 }), ok, audit.Fail, 1, "37 served again"},
		{"kill: the stores could not be read", kill(nil), unreadable, audit.Errored, 0, "invariant 4"},
		{"kill: not injected", kill(func(f *audit.Failover) { f.Injected, f.Problem = false, "no pid for s3" }), ok, audit.Errored, 0, "no pid for s3"},
		{"stop: fenced writes counted", stop(nil), ok, audit.Pass, 0, "refused 4 writes"},
		{"kill without etcd: said so", kill(func(f *audit.Failover) { f.Static = true }), ok, audit.Pass, 0, "without etcd membership"},
		{"stop: no evidence from the stopped shard", stop(func(f *audit.Failover) { f.StoppedFenced = nil }), ok, audit.Errored, 0, "could not be read"},
		{"stop: the SIGCONT failed", stop(func(f *audit.Failover) { f.Problem = "SIGCONT s3: no such process" }), ok, audit.Errored, 0, "SIGCONT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := audit.CheckFailover(tc.f, tc.others)
			if c.Invariant != 7 || c.Status != tc.want || c.Violations != tc.violations || !strings.Contains(c.Note, tc.note) {
				t.Errorf("CheckFailover = %s, %d violations %q, note %q; want %s, %d, a note with %q",
					c.Status, c.Violations, c.Examples, c.Note, tc.want, tc.violations, tc.note)
			}
		})
	}
}
