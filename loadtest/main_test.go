package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ovengames/oven/loadtest/audit"
	"github.com/ovengames/oven/loadtest/chaos"
	"github.com/ovengames/oven/loadtest/results"
)

func TestParseConfigChaos(t *testing.T) {
	boot := []string{"-boot", ".oven/bin/run"}
	with := func(args ...string) []string { return append(append([]string{}, boot...), args...) }
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    *chaos.Plan
		wantMax time.Duration
		wantErr bool
	}{
		{name: "no fault: the max phase as before", args: boot, wantMax: 15 * time.Second},
		{name: "kill: a longer max phase, the fault at a third", args: with("-chaos", "kill-shard"),
			want: &chaos.Plan{Kind: chaos.KillShard, At: 20 * time.Second}, wantMax: time.Minute},
		{name: "kill a named shard at a given time", args: with("-chaos", "kill-shard", "-chaos-shard", "s1", "-max-duration", "30s", "-chaos-at", "5s"),
			want: &chaos.Plan{Kind: chaos.KillShard, At: 5 * time.Second, Shard: "s1"}, wantMax: 30 * time.Second},
		{name: "a third of an explicit max phase", args: with("-chaos", "drain-shard", "-max-duration", "30s"),
			want: &chaos.Plan{Kind: chaos.DrainShard, At: 10 * time.Second}, wantMax: 30 * time.Second},
		{name: "stop: held past the default lease", args: with("-chaos", "stop-shard"), env: map[string]string{"OVEN_LEASE_TTL": ""},
			want: &chaos.Plan{Kind: chaos.StopShard, At: 20 * time.Second, Hold: 10 * time.Second}, wantMax: time.Minute},
		{name: "stop: held past the stack's lease", args: with("-chaos", "stop-shard"), env: map[string]string{"OVEN_LEASE_TTL": "3s"},
			want: &chaos.Plan{Kind: chaos.StopShard, At: 20 * time.Second, Hold: 7 * time.Second}, wantMax: time.Minute},
		{name: "stop: an explicit hold", args: with("-chaos", "stop-shard", "-chaos-hold", "12s"),
			want: &chaos.Plan{Kind: chaos.StopShard, At: 20 * time.Second, Hold: 12 * time.Second}, wantMax: time.Minute},
		{name: "from the environment", args: boot, env: map[string]string{"OVEN_LOADTEST_CHAOS": "add-shard"},
			want: &chaos.Plan{Kind: chaos.AddShard, At: 20 * time.Second}, wantMax: time.Minute},
		{name: "unknown fault", args: with("-chaos", "kill"), wantErr: true},
		{name: "a running stack is not ours to break", args: []string{"-stack", "x.json", "-chaos", "kill-shard"}, wantErr: true},
		{name: "any server even less", args: []string{"-target", "http://x", "-chaos", "kill-shard"}, wantErr: true},
		{name: "no max phase", args: with("-chaos", "kill-shard", "-phases", "steady"), wantErr: true},
		{name: "after the max phase", args: with("-chaos", "kill-shard", "-max-duration", "20s", "-chaos-at", "20s"), wantErr: true},
		{name: "chaos-at without chaos", args: with("-chaos-at", "5s"), wantErr: true},
		{name: "a shard to add", args: with("-chaos", "add-shard", "-chaos-shard", "s4"), wantErr: true},
		{name: "a hold for a kill", args: with("-chaos", "kill-shard", "-chaos-hold", "5s"), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cfg, err := parseConfig(tc.args)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parseConfig(%q) = nil error", tc.args)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, cfg.chaosPlan()); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
			if cfg.MaxDuration != tc.wantMax {
				t.Errorf("max duration %v, want %v", cfg.MaxDuration, tc.wantMax)
			}
		})
	}
}

func TestVerdictFailsWhenTheFaultWasNotInjected(t *testing.T) {
	report := func(c *chaos.Report) *results.Report {
		return &results.Report{Targets: []results.Target{{Name: "stack", Audit: &audit.Result{Pass: true},
			Phases: []results.Phase{{Kind: results.KindMax, Chaos: c}}}}}
	}
	tests := []struct {
		name string
		c    *chaos.Report
		want bool
	}{
		{"no fault asked", nil, true},
		{"injected", &chaos.Report{Kind: chaos.AddShard, At: time.Unix(1, 0)}, true},
		{"not due before the phase ended", &chaos.Report{Kind: chaos.KillShard, Error: "the max phase ended before the fault was due"}, false},
		{"the runner cannot scale", &chaos.Report{Kind: chaos.AddShard, At: time.Unix(1, 0), Error: `stack.json names no "control" socket`}, false},
	}
	for _, tc := range tests {
		if got := verdict(report(tc.c), false); got != tc.want {
			t.Errorf("%s: verdict = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestParseConfigCampaign(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		password string
		wantErr  bool
	}{
		{name: "with -boot the run sets the password", args: []string{"-boot", "run", "-phases", "steady,campaign", "-seed-players", "10", "-seed-push-tokens"}},
		{name: "a running stack needs the admin's password", args: []string{"-stack", "s.json", "-phases", "campaign"}, wantErr: true},
		{name: "a running stack with the password", args: []string{"-stack", "s.json", "-phases", "campaign"}, password: "pw"},
		{name: "the relay has no campaign", args: []string{"-boot", "run", "-relay-phases", "campaign"}, wantErr: true},
		{name: "tokens need seeded players", args: []string{"-boot", "run", "-seed-push-tokens"}, wantErr: true},
		{name: "a wait that ends before it starts", args: []string{"-boot", "run", "-phases", "campaign", "-campaign-wait", "0s"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("OVEN_ADMIN_PASSWORD", tc.password)
			cfg, err := parseConfig(tc.args)
			if tc.wantErr != (err != nil) {
				t.Fatalf("parseConfig(%q) error %v, want error %v", tc.args, err, tc.wantErr)
			}
			if err == nil && cfg.AdminPassword != tc.password {
				t.Errorf("admin password %q, want %q", cfg.AdminPassword, tc.password)
			}
		})
	}
}
