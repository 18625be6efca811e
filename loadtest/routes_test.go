package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ovengames/oven/loadtest/results"
	"github.com/ovengames/oven/loadtest/vp"
)

func TestParseConfigRoutes(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantRoutes []string
		wantPhases []string
		wantRelay  bool
		wantErr    bool
	}{
		{name: "no routes: the mix as before", args: []string{"-target", "http://x"},
			wantPhases: []string{"steady", "burst", "max"}, wantRelay: true},
		{name: "all, instead of the mix", args: []string{"-target", "http://x", "-routes", "all"},
			wantRoutes: vp.Routes, wantRelay: false},
		{name: "order kept, repeats dropped", args: []string{"-target", "http://x", "-routes", "inbox, send-life,inbox"},
			wantRoutes: []string{"inbox", "send-life"}},
		{name: "all after a named route", args: []string{"-target", "http://x", "-routes", "inbox,all"},
			wantRoutes: []string{"inbox", "leaderboard-write", "send-life", "friends-leaderboard"}},
		{name: "after the mix when -phases is explicit", args: []string{"-target", "http://x", "-routes", "send-life", "-phases", "steady"},
			wantRoutes: []string{"send-life"}, wantPhases: []string{"steady"}},
		{name: "relay kept when explicit", args: []string{"-target", "http://x", "-routes", "inbox", "-relay"},
			wantRoutes: []string{"inbox"}, wantRelay: true},
		{name: "explicit in the environment", args: []string{"-target", "http://x", "-routes", "inbox"},
			env: map[string]string{"OVEN_LOADTEST_PHASES": "max"}, wantRoutes: []string{"inbox"}, wantPhases: []string{"max"}},
		{name: "unknown route", args: []string{"-target", "http://x", "-routes", "inbox,lives"}, wantErr: true},
		{name: "odd friends", args: []string{"-target", "http://x", "-routes", "send-life", "-route-friends", "7"}, wantErr: true},
		{name: "warm-up not shorter than the route", args: []string{"-target", "http://x", "-routes", "inbox", "-route-warmup", "10s"}, wantErr: true},
		{name: "more mail than fresh pairs per player", args: []string{"-target", "http://x", "-routes", "inbox", "-route-friends", "10", "-route-mail", "9"}, wantErr: true},
		{name: "routes without a stack to run on", args: []string{"-routes", "inbox"}, wantErr: true},
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
			if diff := cmp.Diff(tc.wantRoutes, cfg.Routes); diff != "" {
				t.Errorf("routes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantPhases, cfg.Phases); diff != "" {
				t.Errorf("phases (-want +got):\n%s", diff)
			}
			if cfg.Relay != tc.wantRelay {
				t.Errorf("relay = %v, want %v", cfg.Relay, tc.wantRelay)
			}
		})
	}
}

// The prepared data must last the whole route at the goal's throughput, and the
// graph must hold a fresh pair for every send and every inbox item.
func TestRouteDataSizing(t *testing.T) {
	tests := []struct {
		name          string
		routes        []string
		dur           time.Duration
		friends, mail int
	}{
		{"all, default", vp.Routes, 10 * time.Second, 50, 10},
		{"all, long", vp.Routes, 60 * time.Second, 50, 10},
		{"send-life only", []string{vp.RouteSendLife}, 20 * time.Second, 20, 10},
		{"inbox only, many items", []string{vp.RouteInbox}, 10 * time.Second, 50, 40},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := routeData(&routeConfig{Routes: tc.routes, RouteDuration: tc.dur, RouteFriends: tc.friends, RouteMail: tc.mail}, 64)
			secs := tc.dur.Seconds()
			if want := results.RefFactor * results.RefLeaderboardWriteRPS * secs; float64(d.Plays) < want {
				t.Errorf("plays = %d, want ≥ %.0f", d.Plays, want)
			}
			sends := 0.0
			for _, r := range tc.routes {
				if r == vp.RouteSendLife {
					sends = results.RefFactor * results.RefSendLifeRPS * secs
				}
				if r == vp.RouteInbox {
					sends += float64((tc.mail + 1) * d.Players) // whole rounds, plus one skipped
				}
			}
			if pairs := float64(d.Players * d.Friends); pairs < sends {
				t.Errorf("%d players × %d friends = %.0f pairs, want ≥ %.0f", d.Players, d.Friends, pairs, sends)
			}
			if _, err := vp.NewPairs(d.Players, d.Friends); err != nil {
				t.Error(err)
			}
			// The busiest read route at its goal stays far under 20 requests/s per player.
			if per := results.RefFactor * results.RefFriendsLeaderboardRPS / float64(d.Players); per > 10 {
				t.Errorf("%d players: %.1f requests/s each at the goal", d.Players, per)
			}
		})
	}
}
