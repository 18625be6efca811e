package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/ovengames/oven/loadtest/results"
	"github.com/ovengames/oven/loadtest/stack"
	"github.com/ovengames/oven/loadtest/stats"
	"github.com/ovengames/oven/loadtest/vp"
)

// The single-route mode (-routes): DESIGN.md's second performance goal compares four
// Oven operations, one at a time at 64 clients, with a reference server. Each route's
// data is prepared through the public API (not measured), then a closed loop keeps
// -max-clients requests of that route in flight for -route-duration.

// routeConfig is the single-route mode's part of Config.
type routeConfig struct {
	Routes        []string
	RouteDuration time.Duration
	RouteWarmup   time.Duration
	RoutePlays    int
	RoutePlayers  int
	RouteFriends  int
	RouteMail     int
}

// routeFlags registers the mode's flags; the returned func checks them once the flags
// are parsed (explicit names the flags set on the command line or in the environment).
func routeFlags(fs *flag.FlagSet, c *routeConfig) func(explicit map[string]bool) error {
	routes := fs.String("routes", "", "single-route mode: "+listRoutes()+" or all, comma-separated; each route's data is prepared (not measured), then -max-clients requests of it are kept in flight for -route-duration. Without -phases/-relay set explicitly, the mix phases and the relay baseline are skipped")
	fs.DurationVar(&c.RouteDuration, "route-duration", 10*time.Second, "single routes: closed-loop duration of each route, warm-up included")
	fs.DurationVar(&c.RouteWarmup, "route-warmup", 2*time.Second, "single routes: warm-up left out of the throughput")
	fs.IntVar(&c.RoutePlays, "route-plays", 0, "leaderboard-write: plays started ahead (0 = enough for 3× the reference for -route-duration)")
	fs.IntVar(&c.RoutePlayers, "route-players", 0, "send-life, inbox, friends-leaderboard: players in the friendship graph (0 = enough fresh pairs for 3× the reference)")
	fs.IntVar(&c.RouteFriends, "route-friends", 50, "friends of each of those players (even)")
	fs.IntVar(&c.RouteMail, "route-mail", 10, "inbox: lives in each player's mailbox when it is listed")
	return func(explicit map[string]bool) error {
		var err error
		if c.Routes, err = parseRoutes(*routes); err != nil {
			return err
		}
		if len(c.Routes) == 0 {
			return nil
		}
		switch {
		case c.RouteDuration <= 0 || c.RouteWarmup < 0 || c.RouteWarmup >= c.RouteDuration:
			return fmt.Errorf("-route-warmup must be shorter than -route-duration")
		case c.RouteFriends < 2 || c.RouteFriends%2 != 0:
			return fmt.Errorf("-route-friends must be even and at least 2")
		case c.RouteMail < 1 || c.RouteMail > 100:
			return fmt.Errorf("-route-mail must be between 1 and 100 (a mailbox holds at most its capacity, 200)")
		case c.RoutePlayers != 0 && c.RoutePlayers <= c.RouteFriends:
			return fmt.Errorf("-route-players must be more than -route-friends")
		case slices.Contains(c.Routes, vp.RouteInbox) && c.RouteMail >= c.RouteFriends-1:
			return fmt.Errorf("-route-mail must be below -route-friends − 1: each mail is a fresh pair")
		}
		// The mode replaces the mix unless asked for both.
		for _, name := range []string{"phases", "relay"} {
			if !explicit[name] {
				fs.Set(name, map[string]string{"phases": "", "relay": "false"}[name])
			}
		}
		return nil
	}
}

func listRoutes() string {
	s := ""
	for i, r := range vp.Routes {
		if i > 0 {
			s += ", "
		}
		s += r
	}
	return s
}

// parseRoutes reads -routes: names from vp.Routes or "all", in the order given, each once.
func parseRoutes(s string) ([]string, error) {
	var out []string
	for _, r := range splitList(s) {
		names := []string{r}
		if r == "all" {
			names = vp.Routes
		} else if !slices.Contains(vp.Routes, r) {
			return nil, fmt.Errorf("unknown route %q (%s, all)", r, listRoutes())
		}
		for _, n := range names {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out, nil
}

// routeData sizes the prepared data so that the routes could run at the goal's
// throughput (RefFactor × the reference, 10% spare) for the whole -route-duration.
func routeData(c *routeConfig, clients int) vp.RouteData {
	need := func(refRPS float64) int {
		return int(math.Ceil(1.1 * results.RefFactor * refRPS * c.RouteDuration.Seconds()))
	}
	d := vp.RouteData{Plays: c.RoutePlays, Players: c.RoutePlayers, Friends: c.RouteFriends, Mail: c.RouteMail, Clients: clients}
	if d.Plays == 0 {
		d.Plays = need(results.RefLeaderboardWriteRPS)
	}
	if d.Players == 0 {
		// Every pair is used once: send-life needs its sends, the inbox -route-mail
		// whole rounds (one pair per player each) plus a partial round skipped. At least
		// 1000 players keep each far under the per-player rate limit (20/s) on the read
		// routes at the goal's throughput.
		sends, perPlayer := 0, d.Friends
		if slices.Contains(c.Routes, vp.RouteSendLife) {
			sends = need(results.RefSendLifeRPS)
		}
		if slices.Contains(c.Routes, vp.RouteInbox) {
			perPlayer -= d.Mail + 1
		}
		d.Players = max((sends+perPlayer-1)/max(perPlayer, 1), 1000, d.Friends+1)
	}
	return d
}

// socialRoutes reports whether routes send lives (for the lives audit).
func socialRoutes(routes []string) bool {
	return slices.Contains(routes, vp.RouteSendLife) || slices.Contains(routes, vp.RouteInbox)
}

// runRoutes prepares and runs each single route on the target, one phase per route.
func runRoutes(ctx context.Context, cfg *Config, t *target, p *progress) []results.Phase {
	env := t.env(cfg, true, cfg.MaxClients, nil)
	defer env.Client.Close()
	bench := vp.NewRouteBench(env, routeData(&cfg.routeConfig, cfg.MaxClients), func(f string, a ...any) { p.line(f, a...) })
	defer bench.Close()
	var out []results.Phase
	for _, route := range cfg.Routes {
		if ctx.Err() != nil || t.budget.Spent() {
			break
		}
		name := t.name + " " + route
		p.line("%s: preparing the data …", name)
		setup, err := bench.Prepare(ctx, route)
		ph := results.Phase{Kind: results.KindRoute, Route: route, Clients: cfg.MaxClients}
		if err != nil {
			p.line("%s: setup failed, route not run: %v", name, err)
			rec := stats.NewRecorder(name, time.Now())
			rec.Note("setup failed, route not run: %v; %s", err, strings.Join(setup, "; "))
			ph.Summary = rec.Summary(time.Now())
			out = append(out, ph)
			continue
		}
		// Let the setup's writes settle before measuring.
		pause(ctx, cfg.Pause)
		before := t.counters(ctx)
		rec := stats.NewRecorder(name, time.Now())
		for _, n := range setup {
			rec.Note("%s", n)
		}
		p.start(name, cfg.RouteDuration)
		run := bench.Run(ctx, route, cfg.MaxClients, cfg.RouteDuration, cfg.RouteWarmup, rec, p.tick)
		p.done()
		rec.Note("closed loop: %d requests of %s in flight for %v, the first %v warm-up left out of req/s; data: %s",
			cfg.MaxClients, route, cfg.RouteDuration, cfg.RouteWarmup, run.Described)
		if run.RanDry > 0 {
			rec.Note("the prepared data ran out after %.1f s: req/s counts up to then (raise -route-plays or -route-players)", run.RanDry.Seconds())
		}
		ph.Summary = rec.Summary(time.Now())
		if after := t.counters(ctx); before != nil && after != nil {
			per := stack.Per(*before, *after, ph.Summary.Total.Count-ph.Summary.Total.Abandoned)
			ph.Stores = &per
		}
		ph = noteCPU(ph)
		s := ph.Summary.Total
		p.line("%s: %.0f req/s, p50 %.1f ms, p99 %.1f ms, max %.0f ms, %d errors", name, s.Throughput, s.Latency.P50, s.Latency.P99, s.Latency.Max, s.Errors)
		out = append(out, ph)
		pause(ctx, cfg.Pause)
	}
	return out
}
