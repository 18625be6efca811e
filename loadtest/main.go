// Command loadtest plays Oven like real clients, against a bare HTTP→gRPC relay first
// (the baseline) and then against the real stack, checks DESIGN.md's invariants in the
// stores afterwards, and writes an HTML and JSON report (loadtest/out/<time>/).
//
//	make loadtest                                       # build, then -boot .oven/bin/run
//	go run ./loadtest -boot .oven/bin/run              # boot a throw-away dev stack
//	go run ./loadtest -stack .oven/stack.json          # a running stack; audit via its stores
//	go run ./loadtest -target http://127.0.0.1:8080    # any server, no audit
//	go run ./loadtest -boot .oven/bin/run -find-max -social -quiet-wait 3m   # the long run
//	go run ./loadtest -boot .oven/bin/run -social -seed-players 1000000       # cost against data size
//	go run ./loadtest -boot .oven/bin/run -routes all  # each operation alone against the reference server
//	go run ./loadtest -boot .oven/bin/run -relay=false -phases max -chaos kill-shard   # failover under load, invariant 7
//	go run ./loadtest -boot .oven/bin/run -relay=false -seed-players 1000000 -seed-push-tokens -phases steady,campaign   # a push campaign to 1 M players
//
// Phases: steady and burst (open loop: VPs arrive on a rate profile, latency from the
// intended send time) and max (closed loop: N requests in flight); -find-max steps N to
// find the best throughput under the p99 objective, on the relay and on the stack.
// campaign is steady's load with a GMS push campaign to every player sent at its start
// (loadtest/campaign): the report gives the pushes per second at the stack's push sink
// and the game's latency beside the steady phase before it.
// -chaos injects one fault into the stack's max phase (a shard killed, paused, added or
// drained; loadtest/chaos) and reports what the players saw.
// -routes runs single routes instead (routes.go): each operation of DESIGN.md's
// comparison with a reference server alone, in a closed loop, on data prepared ahead.
// Every phase reports the server's CPU per request (ms of the server's processes' CPU
// over the throughput window, per request answered in it; stats.Cost).
//
// Every flag can also be set as OVEN_LOADTEST_<FLAG> (e.g. OVEN_LOADTEST_STEADY_RATE=40).
// Run with -h for the flags. Traffic goes only where the flags point; every phase stops
// by itself (-duration bounds the whole run, -max-requests each target's requests).
// The exit status is 3 when an invariant fails, the stack could not be run or a -chaos
// fault could not be injected (with -strict, also when a performance goal fails).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ovengames/oven/loadtest/chaos"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "relay" {
		if err := serveRelay(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest relay:", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := parseConfig(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(3)
	}
}

// Config is the load test's settings; only parseConfig fills it.
type Config struct {
	// Targets.
	Boot        string // deploy/run binary to boot a throw-away stack with
	State       string // state dir for -boot ("" = a temporary one)
	KeepState   bool
	StackFile   string // stack.json of a running stack
	Target      string // base URL of a running server (no audit unless the URLs below)
	DatabaseURL string
	RedisURL    string
	Relay       bool
	RelayShards int
	RelayInProc bool
	RelaySplit  bool
	Phases      []string // for the stack
	RelayPhases []string // for the relay
	// AdminPassword is the GMS admin's, for the campaign phase: OVEN_ADMIN_PASSWORD, or
	// with -boot a random one given to the runner.
	AdminPassword string

	// Phases.
	SteadyRate     float64
	SteadyDuration time.Duration
	RampFrom       float64
	RampTo         float64
	RampDuration   time.Duration
	BurstBase      float64
	BurstFactor    float64
	BurstLead      time.Duration
	BurstRise      time.Duration
	BurstDecay     time.Duration
	BurstDuration  time.Duration
	MaxClients     int
	MaxDuration    time.Duration
	MaxWarmup      time.Duration
	FindMax        bool
	FindSteps      []int
	FindStep       time.Duration
	SLO            time.Duration
	Drain          time.Duration
	Pause          time.Duration
	Poisson        bool
	CampaignWait   time.Duration

	// Chaos: one fault in the stack's max phase (loadtest/chaos).
	Chaos      string
	ChaosAt    time.Duration
	ChaosShard string
	ChaosHold  time.Duration

	// Bounds.
	Duration    time.Duration
	MaxRequests int64
	MaxVPs      int
	MaxInFlight int
	Timeout     time.Duration

	// Behaviour of the VPs.
	Plays      int
	PlayMin    time.Duration
	PlayMax    time.Duration
	Think      time.Duration
	Returning  float64
	Rename     float64
	Boost      float64
	Me         float64
	Shop       float64
	Resettle   float64
	Conflict   float64
	LivesProbe float64
	Social     bool

	// Data scale: seeded into the stores before the stack's phases.
	SeedPlayers      int
	SeedBoard        int
	SeedMailboxes    int
	SeedMailboxItems int
	SeedPushTokens   bool

	// Output.
	QuietWait      time.Duration
	QuietThreshold float64

	Out    string
	Quiet  bool
	Seed   uint64
	Commit string
	Strict bool

	routeConfig // -routes: the single-route mode (routes.go)

	flags map[string]string // every flag's value, for the report
}

func parseConfig(args []string) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.StringVar(&c.Boot, "boot", "", "boot a dev stack with this deploy/run binary (e.g. .oven/bin/run) in a temporary state dir")
	fs.StringVar(&c.State, "state", "", "state dir for -boot (default: a new temporary dir, removed afterwards)")
	fs.BoolVar(&c.KeepState, "keep-state", false, "keep the temporary state dir of -boot")
	fs.StringVar(&c.StackFile, "stack", "", "stack.json of a running dev stack (target and store URLs for the audit)")
	fs.StringVar(&c.Target, "target", "", "base URL of a running server, e.g. http://127.0.0.1:8080")
	fs.StringVar(&c.DatabaseURL, "database-url", "", "PostgreSQL URL for the audit (overrides stack.json)")
	fs.StringVar(&c.RedisURL, "redis-url", "", "Redis URL for the audit (overrides stack.json)")
	fs.BoolVar(&c.Relay, "relay", true, "run the relay baseline first")
	fs.IntVar(&c.RelayShards, "relay-shards", 3, "canned shards behind the relay (the dev stack runs 3)")
	fs.BoolVar(&c.RelayInProc, "relay-inproc", false, "run the relay inside this process instead of a child process")
	fs.BoolVar(&c.RelaySplit, "relay-split", false, "run the relay's canned shards in a process of their own, as the stack runs its shards (default: in the relay's process, the higher and so stricter baseline)")
	phases := fs.String("phases", "steady,burst,max", "stack phases, in order: steady, ramp, burst, max, campaign (steady's load with a push campaign to every player; put steady before it for the baseline)")
	relayPhases := fs.String("relay-phases", "max", "relay phases, in order (same names)")

	fs.Float64Var(&c.SteadyRate, "steady-rate", 10, "steady: VP arrivals per second")
	fs.DurationVar(&c.SteadyDuration, "steady-duration", 15*time.Second, "steady: arrival window")
	fs.Float64Var(&c.RampFrom, "ramp-from", 1, "ramp: first arrival rate")
	fs.Float64Var(&c.RampTo, "ramp-to", 30, "ramp: last arrival rate")
	fs.DurationVar(&c.RampDuration, "ramp-duration", 30*time.Second, "ramp: arrival window")
	fs.Float64Var(&c.BurstBase, "burst-base", 0.5, "burst: base arrival rate before and after the push")
	fs.Float64Var(&c.BurstFactor, "burst-factor", 100, "burst: peak = base × factor")
	fs.DurationVar(&c.BurstLead, "burst-lead", 3*time.Second, "burst: time at the base rate before the push")
	fs.DurationVar(&c.BurstRise, "burst-rise", 10*time.Second, "burst: rise from base to peak (a push reaches its peak within 60 s)")
	fs.DurationVar(&c.BurstDecay, "burst-decay", 8*time.Second, "burst: exponential decay time constant after the peak")
	fs.DurationVar(&c.BurstDuration, "burst-duration", 25*time.Second, "burst: arrival window")
	fs.IntVar(&c.MaxClients, "max-clients", 64, "max: requests kept in flight (closed loop)")
	fs.DurationVar(&c.MaxDuration, "max-duration", 15*time.Second, "max: duration, warm-up included")
	fs.DurationVar(&c.MaxWarmup, "max-warmup", 5*time.Second, "max: warm-up left out of the throughput (plays take ≥ 5 s to settle)")
	fs.BoolVar(&c.FindMax, "find-max", false, "also step closed-loop concurrency on both targets to find the best throughput at p99 < -slo")
	steps := fs.String("find-steps", "4,8,16,32,64,128", "find-max: concurrency steps")
	fs.DurationVar(&c.FindStep, "find-step", 8*time.Second, "find-max: duration of each step (the first adds -max-warmup)")
	fs.DurationVar(&c.SLO, "slo", 50*time.Millisecond, "p99 objective (DESIGN.md: 50 ms)")
	fs.DurationVar(&c.Drain, "drain", 0, "after an open-loop phase, how long VPs may settle their open plays (0 = longest play + 1 s)")
	fs.DurationVar(&c.Pause, "pause", 2*time.Second, "idle time between phases")
	fs.BoolVar(&c.Poisson, "poisson", true, "Poisson arrivals (false: evenly spaced)")
	fs.DurationVar(&c.CampaignWait, "campaign-wait", 5*time.Minute, "campaign: how long after the push event's creation to wait for every push to go out (the arrival window is -steady-duration; -duration must leave room)")
	fs.StringVar(&c.Chaos, "chaos", "", "inject a fault into the stack's max phase (needs -boot): "+strings.Join(chaos.Kinds, ", ")+"; the report gets a chaos section and invariant 7 is audited after kill-shard and stop-shard")
	fs.DurationVar(&c.ChaosAt, "chaos-at", 0, "-chaos: when the fault begins, into the max phase (default: a third of -max-duration)")
	fs.StringVar(&c.ChaosShard, "chaos-shard", "", "-chaos kill-shard, stop-shard: the shard id (default: the highest-numbered)")
	fs.DurationVar(&c.ChaosHold, "chaos-hold", 0, "-chaos stop-shard: how long the shard stays stopped (default: its lease, OVEN_LEASE_TTL or 6s, + 4s)")

	fs.DurationVar(&c.Duration, "duration", 10*time.Minute, "hard bound on the whole run's load")
	fs.Int64Var(&c.MaxRequests, "max-requests", 5_000_000, "hard bound on requests per target (0 = none)")
	fs.IntVar(&c.MaxVPs, "max-vps", 20000, "VPs at once; open-loop arrivals beyond are dropped and counted")
	fs.IntVar(&c.MaxInFlight, "max-inflight", 4096, "open loop: requests in flight at once (the wait counts as latency)")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Second, "per request")

	fs.IntVar(&c.Plays, "plays", 3, "plays per session, lives permitting")
	fs.DurationVar(&c.PlayMin, "play-min", 5*time.Second, "shortest play (duration_ms reported; the server's minimum is 5 s)")
	fs.DurationVar(&c.PlayMax, "play-max", 7*time.Second, "longest play")
	fs.DurationVar(&c.Think, "think", 250*time.Millisecond, "mean think time between menu actions")
	fs.Float64Var(&c.Returning, "returning", 0.3, "share of arrivals that are returning players of this run")
	fs.Float64Var(&c.Rename, "rename", 0.2, "share of new players who set a name")
	fs.Float64Var(&c.Boost, "boost", 0.2, "share of plays started with a boost")
	fs.Float64Var(&c.Me, "me", 0.3, "share of settles followed by GET /v1/me")
	fs.Float64Var(&c.Shop, "shop", 0.05, "share of sessions that try to buy the cheapest missing item")
	fs.Float64Var(&c.Resettle, "resettle", 0.05, "share of settles sent twice (idempotency check)")
	fs.Float64Var(&c.Conflict, "conflict", 0.01, "share of settles re-sent with another body (expects already_settled)")
	fs.Float64Var(&c.LivesProbe, "lives-probe", 0.01, "share of sessions that start lives+2 plays at once (invariant 2)")
	fs.BoolVar(&c.Social, "social", false, "drive API.md's social routes (friends, lives, mailbox, leaderboards)")

	fs.IntVar(&c.SeedPlayers, "seed-players", 0, "before the stack's phases, COPY this many players (with devices, wallets, inventory) into PostgreSQL (DESIGN.md: 1 M); 0 = empty data")
	fs.IntVar(&c.SeedBoard, "seed-board", 100_000, "with -seed-players: entries seeded on this week's leaderboard")
	fs.IntVar(&c.SeedMailboxes, "seed-mailboxes", 1000, "with -seed-players: seeded players given a full mailbox")
	fs.IntVar(&c.SeedMailboxItems, "seed-mailbox-items", 200, "with -seed-players: items per seeded mailbox (the game data's capacity)")
	fs.BoolVar(&c.SeedPushTokens, "seed-push-tokens", false, "with -seed-players: give every seeded player a device token (APNs and FCM in turn), for a campaign phase")
	fs.DurationVar(&c.QuietWait, "quiet-wait", 0, "before each target, wait up to this long for other work on the machine to calm down")
	fs.Float64Var(&c.QuietThreshold, "quiet-threshold", 30, "machine CPU (% of one core) below which it counts as quiet")
	fs.StringVar(&c.Out, "out", "loadtest/out", "report directory (a timestamped folder is made inside)")
	fs.BoolVar(&c.Quiet, "quiet", false, "no progress line")
	fs.Uint64Var(&c.Seed, "seed", uint64(time.Now().UnixNano()), "random seed")
	fs.StringVar(&c.Commit, "commit", "", "commit to name in the report (default: git rev-parse of the working tree)")
	fs.BoolVar(&c.Strict, "strict", false, "exit non-zero when a performance goal fails too (always when an invariant fails)")
	checkRoutes := routeFlags(fs, &c.routeConfig)

	// OVEN_LOADTEST_<FLAG> sets a flag's default; the command line wins.
	var envErr error
	explicit := map[string]bool{} // set in the environment or on the command line
	fs.VisitAll(func(f *flag.Flag) {
		name := "OVEN_LOADTEST_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			explicit[f.Name] = true
			if err := f.Value.Set(v); err != nil && envErr == nil {
				envErr = fmt.Errorf("%s: %w", name, err)
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if err := checkRoutes(explicit); err != nil {
		return nil, err
	}
	c.Phases, c.RelayPhases = splitList(*phases), splitList(*relayPhases)
	for _, p := range append(append([]string{}, c.Phases...), c.RelayPhases...) {
		switch p {
		case "steady", "ramp", "burst", "max", "campaign":
		default:
			return nil, fmt.Errorf("unknown phase %q (steady, ramp, burst, max, campaign)", p)
		}
	}
	if err := c.checkCampaign(); err != nil {
		return nil, err
	}
	for _, s := range splitList(*steps) {
		var n int
		if _, err := fmt.Sscan(s, &n); err != nil || n < 1 {
			return nil, fmt.Errorf("-find-steps: %q is not a positive number", s)
		}
		c.FindSteps = append(c.FindSteps, n)
	}
	if c.Boot == "" && c.StackFile == "" && c.Target == "" && !c.Relay {
		return nil, fmt.Errorf("nothing to test: give -boot, -stack or -target (or leave -relay on)")
	}
	if c.PlayMin < 5*time.Second {
		fmt.Fprintln(os.Stderr, "loadtest: note: -play-min below the server's 5 s minimum makes VPs wait the minimum anyway")
	}
	if err := c.checkChaos(explicit); err != nil {
		return nil, err
	}
	if c.Drain == 0 {
		c.Drain = max(c.PlayMax, c.PlayMin) + time.Second
	}
	c.flags = map[string]string{}
	fs.VisitAll(func(f *flag.Flag) { c.flags[f.Name] = f.Value.String() })
	return c, nil
}

// checkCampaign validates the campaign phase's settings and reads the GMS password.
func (c *Config) checkCampaign() error {
	if slices.Contains(c.RelayPhases, "campaign") {
		return fmt.Errorf("-relay-phases: the relay has no GMS and no outbox: campaign is a stack phase")
	}
	if c.SeedPushTokens && c.SeedPlayers == 0 {
		return fmt.Errorf("-seed-push-tokens needs -seed-players")
	}
	if c.CampaignWait <= 0 {
		return fmt.Errorf("-campaign-wait must be positive")
	}
	c.AdminPassword = os.Getenv("OVEN_ADMIN_PASSWORD")
	if slices.Contains(c.Phases, "campaign") && c.Boot == "" && c.AdminPassword == "" {
		return fmt.Errorf("the campaign phase logs into the GMS: set OVEN_ADMIN_PASSWORD to the admin's password (with -boot the run sets one)")
	}
	return nil
}

// chaosMaxDuration is the max phase's default length with -chaos: time for the fault,
// the failover and the players' return.
const chaosMaxDuration = 60 * time.Second

// checkChaos validates the -chaos flags and fills in their defaults.
func (c *Config) checkChaos(explicit map[string]bool) error {
	kind, err := chaos.ParseKind(c.Chaos)
	if err != nil {
		return err
	}
	c.Chaos = kind
	if kind == "" {
		for _, f := range []string{"chaos-at", "chaos-shard", "chaos-hold"} {
			if explicit[f] {
				return fmt.Errorf("-%s needs -chaos", f)
			}
		}
		return nil
	}
	switch {
	case c.Boot == "":
		return fmt.Errorf("-chaos needs -boot: faults go only to a stack this run started")
	case !slices.Contains(c.Phases, "max"):
		return fmt.Errorf("-chaos acts in the max phase: add max to -phases")
	case c.ChaosShard != "" && (kind == chaos.AddShard || kind == chaos.DrainShard):
		return fmt.Errorf("-chaos-shard is for kill-shard and stop-shard (drain-shard drains the highest-numbered shard, as deploy/run does)")
	case explicit["chaos-hold"] && kind != chaos.StopShard:
		return fmt.Errorf("-chaos-hold is for stop-shard")
	}
	if !explicit["max-duration"] {
		c.MaxDuration = chaosMaxDuration
	}
	if !explicit["chaos-at"] {
		c.ChaosAt = c.MaxDuration / 3
	}
	if c.ChaosAt < 0 || c.ChaosAt >= c.MaxDuration {
		return fmt.Errorf("-chaos-at %v must fall within the max phase (-max-duration %v)", c.ChaosAt, c.MaxDuration)
	}
	if kind == chaos.StopShard && c.ChaosHold == 0 {
		c.ChaosHold = chaos.DefaultHold(chaos.Lease())
	}
	if c.ChaosHold < 0 {
		return fmt.Errorf("-chaos-hold must be positive")
	}
	return nil
}

// chaosPlan is the fault of -chaos, or nil.
func (c *Config) chaosPlan() *chaos.Plan {
	if c.Chaos == "" {
		return nil
	}
	return &chaos.Plan{Kind: c.Chaos, At: c.ChaosAt, Shard: c.ChaosShard, Hold: c.ChaosHold}
}

func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
