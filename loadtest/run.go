package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ovengames/oven/loadtest/audit"
	"github.com/ovengames/oven/loadtest/campaign"
	"github.com/ovengames/oven/loadtest/chaos"
	"github.com/ovengames/oven/loadtest/machine"
	"github.com/ovengames/oven/loadtest/profile"
	"github.com/ovengames/oven/loadtest/results"
	"github.com/ovengames/oven/loadtest/seed"
	"github.com/ovengames/oven/loadtest/stack"
	"github.com/ovengames/oven/loadtest/stats"
	"github.com/ovengames/oven/loadtest/vp"
)

// run runs the whole test and reports whether everything that must hold held.
func run(ctx context.Context, cfg *Config) (bool, error) {
	outDir := filepath.Join(cfg.Out, time.Now().UTC().Format("20060102-150405"))
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return false, err
	}
	rep := &results.Report{
		Title: "Oven load test", Generated: time.Now(), Command: strings.Join(os.Args, " "),
		Commit: cfg.Commit, Machine: machine.Describe(), Settings: cfg.flags,
	}
	if rep.Commit == "" {
		rep.Commit = gitCommit()
	}
	load, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	p := newProgress(cfg.Quiet)
	runID := randomID()

	var relayT, stackT *results.Target
	stackOK := true
	if cfg.Relay && len(cfg.RelayPhases) > 0 {
		rep.Notes = append(rep.Notes, quietCheck(load, cfg, "relay", p))
		t, err := runRelay(load, cfg, outDir, runID, p)
		if err != nil {
			return false, err
		}
		relayT = t
		rep.Targets = append(rep.Targets, *t)
	}
	if load.Err() == nil && (cfg.Boot != "" || cfg.StackFile != "" || cfg.Target != "") {
		t, err := runStack(ctx, load, cfg, outDir, runID, p)
		if t != nil {
			stackT = t
			rep.Targets = append(rep.Targets, *t)
		}
		if err != nil {
			stackOK = false
			rep.Notes = append(rep.Notes, "stack: "+err.Error())
			fmt.Fprintln(os.Stderr, "loadtest: stack:", err)
		}
	}
	if load.Err() != nil && ctx.Err() == nil {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the run hit -duration %v and stopped early", cfg.Duration))
	}
	if ctx.Err() != nil {
		rep.Notes = append(rep.Notes, "interrupted: the report covers what ran")
	}
	rep.Goals = results.Goals(relayT, stackT, float64(cfg.SLO)/float64(time.Millisecond))
	rep.Notes = append(rep.Notes,
		fmt.Sprintf("The load generator runs on the same %d-core machine as the server; its CPU share is in the phase table.", rep.Machine.Cores),
		"VPs share a keep-alive connection pool per target (like a load balancer's upstream pool), not one connection per device.")
	jsonPath, htmlPath := filepath.Join(outDir, "report.json"), filepath.Join(outDir, "report.html")
	if err := errors.Join(results.WriteJSON(jsonPath, rep), results.WriteHTML(htmlPath, rep)); err != nil {
		return false, err
	}
	printSummary(rep, htmlPath, jsonPath)
	return stackOK && verdict(rep, cfg.Strict), nil
}

// verdict: invariants (and, with -strict, performance goals) must hold, and a -chaos
// fault must have been injected as planned.
func verdict(rep *results.Report, strict bool) bool {
	for _, t := range rep.Targets {
		if t.Audit != nil && !t.Audit.Pass {
			return false
		}
		for _, p := range t.Phases {
			if p.Chaos != nil && p.Chaos.Failed() {
				return false
			}
		}
	}
	if strict {
		for _, g := range rep.Goals {
			if g.Status == results.GoalFail {
				return false
			}
		}
	}
	return true
}

// target is one server under test and what its VPs share across phases.
type target struct {
	name      string
	url       string
	pid       int // the server's root process, when this run started it
	dbURL     string
	redisURL  string
	stateless bool
	obs       *vp.Observed
	devices   *vp.Devices
	players   *vp.Players
	budget    *vp.Budget
	// chaos is the fault for the first max phase (nil: none); booted is the stack this
	// run started, the only one a fault may touch.
	chaos  *chaos.Plan
	booted chaos.Stack
	// campaign is where a campaign phase sends its push event (its Wait and Log set),
	// sinkCA the push sink's certificate file.
	campaign campaign.Config
	sinkCA   string
}

func newTarget(name, url, runID string, stateless bool, cfg *Config) *target {
	return &target{name: name, url: url, stateless: stateless,
		obs: vp.NewObserved(2_000_000), devices: &vp.Devices{RunID: runID + name[:1]}, players: &vp.Players{}, budget: vp.NewBudget(cfg.MaxRequests)}
}

func runRelay(ctx context.Context, cfg *Config, outDir, runID string, p *progress) (*results.Target, error) {
	url, pid, stop, err := startRelay(ctx, cfg, filepath.Join(outDir, "relay.log"))
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	defer stop()
	t := newTarget("relay", url, runID, true, cfg)
	t.pid = pid
	phases := runPhases(ctx, cfg, t, cfg.RelayPhases, p)
	rt := &results.Target{Name: "relay", URL: url, Phases: phases,
		About: fmt.Sprintf("Baseline: the real HTTP handler (presentation/httpapi, per-player rate limit 20/s as in the presentation, access log batched as there) and routing client (application/client) over loopback gRPC to %d canned shards that touch no store, %s (the GMS console is not mounted). Same VP mix; stateful probes (conflict, lives probe, balance) skipped.",
			cfg.RelayShards, map[bool]string{true: "the shards in a second process as in the stack", false: "all in one process"}[cfg.RelaySplit && !cfg.RelayInProc])}
	a := audit.ClientOnly(t.obs.Checks())
	rt.Audit = &a
	return rt, nil
}

func runStack(ctx, load context.Context, cfg *Config, outDir, runID string, p *progress) (*results.Target, error) {
	info := &stack.Info{}
	about, pid := "", 0
	var booted chaos.Stack
	password := cfg.AdminPassword
	switch {
	case cfg.Boot != "":
		state, cleanup, err := stateDir(cfg)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		logf, err := os.Create(filepath.Join(outDir, "stack.log"))
		if err != nil {
			return nil, err
		}
		defer logf.Close()
		p.line("booting the dev stack (%s, state %s) …", cfg.Boot, state)
		var env []string
		if password == "" && slices.Contains(cfg.Phases, "campaign") {
			// The runner makes the GMS admin with it; the campaign phase logs in.
			password = randomID() + randomID()
			env = append(env, "OVEN_ADMIN_PASSWORD="+password)
		}
		st, err := stack.Boot(load, stack.Options{RunBin: cfg.Boot, StateDir: state, Log: logf, Env: env})
		if err != nil {
			return nil, err
		}
		defer func() {
			p.line("stopping the dev stack (SIGINT to pid %d) …", st.Pid())
			if err := st.Stop(60 * time.Second); err != nil {
				fmt.Fprintln(os.Stderr, "loadtest:", err)
			}
		}()
		info, pid, booted = &st.Info, st.Pid(), st
		about = fmt.Sprintf("Dev stack booted by this run (%s; %d shards, PostgreSQL, Redis, Couchbase dev server; state %s; logs in stack.log).", cfg.Boot, len(info.Shards), state)
	case cfg.StackFile != "":
		var err error
		if info, err = stack.Load(cfg.StackFile); err != nil {
			return nil, err
		}
		about = "Running stack from " + cfg.StackFile + " (its data predates this run; the audit covers all of it)."
	default:
		info.HTTP = strings.TrimPrefix(strings.TrimPrefix(cfg.Target, "http://"), "https://")
		about = "Server at " + cfg.Target + "."
	}
	if cfg.DatabaseURL != "" {
		info.DatabaseURL = cfg.DatabaseURL
	}
	if cfg.RedisURL != "" {
		info.RedisURL = cfg.RedisURL
	}
	var seeded *seed.Result
	if cfg.SeedPlayers > 0 {
		p.line("seeding %d players, %d on the weekly board, %d full mailboxes …", cfg.SeedPlayers, cfg.SeedBoard, cfg.SeedMailboxes)
		sctx, cancel := context.WithTimeout(load, 15*time.Minute)
		var err error
		seeded, err = seed.Run(sctx, seed.Options{DatabaseURL: info.DatabaseURL, RedisURL: info.RedisURL,
			CouchbaseURL: info.CouchbaseURL, CouchbasePassword: info.CouchbasePassword,
			Players: cfg.SeedPlayers, Board: cfg.SeedBoard, Mailboxes: cfg.SeedMailboxes, MailboxItems: cfg.SeedMailboxItems,
			PushTokens: cfg.SeedPushTokens, Log: func(f string, a ...any) { p.line(f, a...) }})
		cancel()
		if err != nil {
			return nil, err
		}
		about += fmt.Sprintf(" Seeded before the load: %d players (players, devices, wallets, inventory by COPY), %d entries on %s, %d mailboxes of %d life items; %.0f s (PostgreSQL %.0f s incl. ANALYZE %.0f s, Redis %.0f s, Couchbase %.0f s).",
			seeded.Players, seeded.Board, seeded.BoardKey, seeded.Mailboxes, seeded.MailboxItems, seeded.TotalSeconds,
			seeded.PGSeconds, seeded.AnalyzeSecond, seeded.RedisSeconds, seeded.CouchSeconds)
		if seeded.PushTokens > 0 {
			about += fmt.Sprintf(" Each seeded player has one live device token (%d in push_tokens, APNs and FCM in turn).", seeded.PushTokens)
		}
	}
	url := info.BaseURL()
	if cfg.Target != "" {
		url = strings.TrimRight(cfg.Target, "/")
	}
	t := newTarget("stack", url, runID, false, cfg)
	t.pid, t.dbURL, t.redisURL = pid, info.DatabaseURL, info.RedisURL
	if booted != nil {
		t.chaos, t.booted = cfg.chaosPlan(), booted
	}
	t.campaign = campaign.Config{BaseURL: url, Password: password, SinkURL: info.PushSink, DatabaseURL: info.DatabaseURL,
		Wait: cfg.CampaignWait, Log: func(f string, a ...any) { p.line(f, a...) }}
	t.sinkCA = info.PushCAFile()
	rt0 := quietCheck(load, cfg, "stack", p)
	phases := runPhases(load, cfg, t, cfg.Phases, p)
	if len(cfg.Routes) > 0 && load.Err() == nil {
		if len(phases) > 0 {
			pause(load, cfg.Pause)
		}
		phases = append(phases, runRoutes(load, cfg, t, p)...)
	}
	rt := &results.Target{Name: "stack", URL: url, About: about + " " + rt0, Phases: phases, Counters: map[string]int64{}}
	for _, n := range []string{vp.CountFriendships, vp.CountLivesSent, vp.CountLivesAccepted} {
		if v := t.obs.Counter(n); v > 0 || cfg.Social || socialRoutes(cfg.Routes) {
			rt.Counters[n] = v
		}
	}
	if info.DatabaseURL != "" || info.RedisURL != "" {
		p.line("auditing the stores …")
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute)
		settled, overflow := t.obs.Settlements()
		a := audit.Run(actx, audit.Config{DatabaseURL: info.DatabaseURL, RedisURL: info.RedisURL,
			Settled: settled, Overflow: overflow, Client: t.obs.Checks(), Seeded: seeded.Range,
			LivesMail: cfg.Social || socialRoutes(cfg.Routes), Lives: audit.LivesConfig{CouchbaseURL: info.CouchbaseURL,
				CouchbasePassword: info.CouchbasePassword, ShardMetrics: slices.Sorted(maps.Values(info.ShardMetrics)),
				AckedSends: t.obs.Counter(vp.CountLivesSent), AckedAccepts: t.obs.Counter(vp.CountLivesAccepted)},
			Failover: failover(phases)})
		cancel()
		rt.Audit = &a
		printAudit(&a)
	} else {
		a := audit.ClientOnly(t.obs.Checks())
		rt.Audit = &a
		rt.About += " No store URLs: only client-side checks."
	}
	return rt, nil
}

// quietCheck measures the machine's CPU use before a target's load, waiting up to
// -quiet-wait for it to drop under -quiet-threshold: the machine may be shared, and
// other work skews every figure. It returns a sentence for the report.
func quietCheck(ctx context.Context, cfg *Config, name string, p *progress) string {
	cpu := machine.NewCPU()
	start := time.Now()
	var busy float64
	for {
		pause(ctx, time.Second)
		busy, _ = cpu.Sample()
		if busy < cfg.QuietThreshold || time.Since(start) >= cfg.QuietWait || ctx.Err() != nil {
			break
		}
		p.line("machine busy (%.0f%% of one core) before %s; waiting for it to calm down …", busy, name)
	}
	s := fmt.Sprintf("Before %s: the machine was %.0f%% busy (of one core) with no load of ours", name, busy)
	if w := time.Since(start).Truncate(time.Second); w > time.Second {
		s += fmt.Sprintf(", after waiting %v", w)
	}
	if busy >= cfg.QuietThreshold {
		s += " — other work was running: the figures are pessimistic"
	}
	return s + "."
}

func stateDir(cfg *Config) (string, func(), error) {
	if cfg.State != "" {
		return cfg.State, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "oven-loadtest-")
	if err != nil {
		return "", nil, err
	}
	// PostgreSQL runs as its own user when we are root: it must traverse the dir.
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", nil, err
	}
	if cfg.KeepState {
		return dir, func() { fmt.Fprintln(os.Stderr, "loadtest: state kept in", dir) }, nil
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// runPhases runs the phases against a target, with -find-max at the end when asked.
func runPhases(ctx context.Context, cfg *Config, t *target, kinds []string, p *progress) []results.Phase {
	var out []results.Phase
	for i, kind := range kinds {
		if ctx.Err() != nil || t.budget.Spent() {
			break
		}
		if i > 0 {
			pause(ctx, cfg.Pause)
		}
		before := t.counters(ctx)
		ph := runPhase(ctx, cfg, t, kind, p)
		if after := t.counters(ctx); before != nil && after != nil && len(ph) == 1 {
			per := stack.Per(*before, *after, ph[0].Summary.Total.Count-ph[0].Summary.Total.Abandoned)
			ph[0].Stores = &per
		}
		out = append(out, ph...)
	}
	if cfg.FindMax && ctx.Err() == nil {
		pause(ctx, cfg.Pause)
		out = append(out, findMax(ctx, cfg, t, p)...)
	}
	return out
}

// counters reads the stores' counters, or nil when the target's stores are unknown or
// do not answer.
func (t *target) counters(ctx context.Context) *stack.Counters {
	if t.dbURL == "" || t.redisURL == "" {
		return nil
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	c, err := stack.ReadCounters(rctx, t.dbURL, t.redisURL)
	if err != nil {
		return nil
	}
	return &c
}

func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func (t *target) env(cfg *Config, closed bool, limit int, tap vp.Tap) *vp.Env {
	client := vp.NewClient(vp.ClientConfig{BaseURL: t.url, Timeout: cfg.Timeout, Gate: vp.NewGate(limit),
		Budget: t.budget, ClosedLoop: closed, Tap: tap})
	return &vp.Env{Client: client, Obs: t.obs, Devices: t.devices, Players: t.players, ServerPID: t.pid,
		B: vp.Behaviour{PlaysPerSession: cfg.Plays, PlayMin: cfg.PlayMin, PlayMax: cfg.PlayMax, Think: cfg.Think,
			Returning: cfg.Returning, Rename: cfg.Rename, Boost: cfg.Boost, Me: cfg.Me, Shop: cfg.Shop,
			Resettle: cfg.Resettle, Conflict: cfg.Conflict, LivesProbe: cfg.LivesProbe, Social: cfg.Social,
			Stateless: t.stateless}}
}

func runPhase(ctx context.Context, cfg *Config, t *target, kind string, p *progress) []results.Phase {
	name := t.name + " " + kind
	if kind == "max" {
		return []results.Phase{runMax(ctx, cfg, t, name, p)}
	}
	var prof profile.Profile
	var d time.Duration
	switch kind {
	case "steady", "campaign":
		prof, d = profile.Steady{PerSecond: cfg.SteadyRate}, cfg.SteadyDuration
	case "ramp":
		prof, d = profile.Ramp{From: cfg.RampFrom, To: cfg.RampTo, Over: cfg.RampDuration}, cfg.RampDuration
	case "burst":
		prof, d = profile.Burst{Base: cfg.BurstBase, Factor: cfg.BurstFactor, Lead: cfg.BurstLead, Rise: cfg.BurstRise,
			Decay: cfg.BurstDecay}, cfg.BurstDuration
	}
	var push *campaign.Run
	var pushErr error
	if kind == "campaign" {
		p.line("%s: creating a push campaign to every player with a device token …", name)
		push, pushErr = startCampaign(ctx, t)
	}
	env := t.env(cfg, false, cfg.MaxInFlight, nil)
	defer env.Client.Close()
	rec := stats.NewRecorder(name, time.Now())
	copies := t.presentations()
	p.start(name, d)
	began := time.Now()
	env.RunOpen(ctx, vp.OpenLoop{Profile: prof, Duration: d, Drain: cfg.Drain, Poisson: cfg.Poisson, Seed: cfg.Seed, MaxVPs: cfg.MaxVPs}, rec, p.tick)
	p.done()
	if after := t.presentations(); after != copies {
		// Pre-warming (a campaign sending, an event due) changes what serves the load.
		rec.Note("presentation copies behind the load balancer: %d when the phase began, %d when it ended (the pre-warming floor)", copies, after)
	}
	rec.Note("open loop: %.0f VP sessions expected over %v; %d sessions ran to their end", profile.Expected(prof, d), d, env.Completed())
	ph := results.Phase{Kind: kind, Profile: prof.String(), Summary: rec.Summary(time.Now())}
	if kind == "campaign" {
		ph.Campaign = finishCampaign(cfg, name, push, pushErr, began, began.Add(d), p)
	}
	return []results.Phase{noteCPU(ph)}
}

// finishCampaign waits for the campaign phase's pushes to go out (its arrival window
// from to to) and reports them, or why the campaign did not start.
func finishCampaign(cfg *Config, name string, push *campaign.Run, startErr error, from, to time.Time, p *progress) *campaign.Report {
	rep := &campaign.Report{}
	if push == nil {
		rep.Error = startErr.Error()
	} else {
		p.line("%s: waiting for the campaign's pushes (up to -campaign-wait %v after its creation) …", name, cfg.CampaignWait)
		rep = push.Finish(from, to)
	}
	for _, l := range rep.Lines() {
		p.line("%s", l)
	}
	return rep
}

// presentations counts the booted stack's presentation copies now (0: unknown).
func (t *target) presentations() int {
	if t.booted == nil {
		return 0
	}
	info, err := t.booted.Current()
	if err != nil {
		return 0
	}
	return len(info.Presentations)
}

// startCampaign creates the campaign phase's push event and starts watching it.
func startCampaign(ctx context.Context, t *target) (*campaign.Run, error) {
	cfg := t.campaign
	if cfg.SinkURL != "" {
		ca, err := os.ReadFile(t.sinkCA)
		if err != nil {
			return nil, fmt.Errorf("the push sink's certificate: %w", err)
		}
		cfg.SinkCA = ca
	}
	return campaign.Start(ctx, cfg)
}

// runMax runs a closed-loop phase at -max-clients, with the target's fault in it when
// it has one (the first max phase only).
func runMax(ctx context.Context, cfg *Config, t *target, name string, p *progress) results.Phase {
	var fault *chaos.Run
	var tap vp.Tap
	if t.chaos != nil {
		fault = chaos.New(*t.chaos, t.booted, t.url, func(f string, a ...any) { p.line("chaos: "+f, a...) })
		tap, t.chaos = fault, nil
	}
	env := t.env(cfg, true, cfg.MaxClients, tap)
	defer env.Client.Close()
	var rec *stats.Recorder
	p.start(name, cfg.MaxDuration)
	env.RunClosed(ctx, vp.ClosedLoop{Steps: []vp.Step{{Clients: cfg.MaxClients, Duration: cfg.MaxDuration, Warmup: cfg.MaxWarmup}},
		Seed: cfg.Seed, MaxVPs: cfg.MaxVPs},
		func(_ int, start time.Time) *stats.Recorder {
			rec = stats.NewRecorder(name, start)
			if fault != nil {
				fault.Arm(ctx, start)
			}
			return rec
		}, p.tick)
	p.done()
	rec.Note("closed loop: %d requests in flight; the first %v are warm-up (no settles yet) and left out of req/s", cfg.MaxClients, cfg.MaxWarmup)
	ph := results.Phase{Kind: results.KindMax, Clients: cfg.MaxClients, Summary: rec.Summary(time.Now())}
	if fault != nil {
		p.line("chaos: watching the players that got errors until they are served again …")
		ph.Chaos = fault.Finish(ctx)
		for _, l := range ph.Chaos.Lines() {
			p.line("%s", l)
		}
	}
	return noteCPU(ph)
}

// failover is invariant 7's evidence from the phase with a fault, if any.
func failover(phases []results.Phase) *audit.Failover {
	for _, ph := range phases {
		if ph.Chaos != nil {
			return ph.Chaos.Failover()
		}
	}
	return nil
}

// findMax steps the closed-loop concurrency up, one recorder per step, and stops once
// the p99 is far past the objective, or past it with throughput no longer growing.
func findMax(ctx context.Context, cfg *Config, t *target, p *progress) []results.Phase {
	env := t.env(cfg, true, cfg.FindSteps[0], nil)
	defer env.Client.Close()
	var steps []vp.Step
	for i, n := range cfg.FindSteps {
		s := vp.Step{Clients: n, Duration: cfg.FindStep, Warmup: time.Second}
		if i == 0 {
			s.Duration, s.Warmup = cfg.FindStep+cfg.MaxWarmup, cfg.MaxWarmup
		}
		steps = append(steps, s)
	}
	var recs []*stats.Recorder
	var bestRPS float64
	slo := float64(cfg.SLO) / float64(time.Millisecond)
	p.start(t.name+" find-max", 0)
	env.RunClosed(ctx, vp.ClosedLoop{Steps: steps, Seed: cfg.Seed, MaxVPs: cfg.MaxVPs,
		Continue: func(i int, rec *stats.Recorder) bool {
			s := rec.Summary(time.Now()).Total
			p.line("%s find-max: %d clients → %.0f req/s, p99 %.1f ms, %d errors", t.name, steps[i].Clients, s.Throughput, s.Latency.P99, s.Errors)
			// Past the knee: far over the objective, or over it and no longer gaining.
			if s.Latency.P99 > 3*slo || s.Latency.P99 > slo && s.Throughput < 0.9*bestRPS {
				return false
			}
			bestRPS = max(bestRPS, s.Throughput)
			return true
		}},
		func(i int, start time.Time) *stats.Recorder {
			r := stats.NewRecorder(fmt.Sprintf("%s find %d", t.name, steps[i].Clients), start)
			recs = append(recs, r)
			return r
		}, p.tick)
	p.done()
	var out []results.Phase
	for i, r := range recs {
		out = append(out, noteCPU(results.Phase{Kind: results.KindFind, Clients: steps[i].Clients, Summary: r.Summary(time.Now())}))
	}
	return out
}

// noteCPU warns in the phase's notes when other work used the machine meanwhile.
func noteCPU(p results.Phase) results.Phase {
	if c := p.CPU(); c.ServerKnown && c.Other() > 30 {
		p.Summary.Notes = append(p.Summary.Notes, fmt.Sprintf(
			"other work on the machine used %.0f%% of a core during this phase (server %.0f%%, generator %.0f%%): the figures are pessimistic",
			c.Other(), c.Server, c.Generator))
	}
	return p
}

func randomID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// gitCommit names the working tree's commit, read-only.
func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += " + uncommitted changes"
	}
	return c
}
