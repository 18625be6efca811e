package chaos

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ovengames/oven/loadtest/audit"
	"github.com/ovengames/oven/loadtest/stack"
	"github.com/ovengames/oven/loadtest/stats"
	"github.com/ovengames/oven/loadtest/vp"
)

const (
	// maxAnswers bounds the answers kept after the fault (a minute of max load is
	// ~200 k); beyond it they are counted, not kept.
	maxAnswers = 4_000_000
	// probeEvery is how often a player waiting to be served again is probed, and
	// probeClients how many probes may be in flight (as many as the max phase's
	// default clients: hundreds of players may wait at once).
	probeEvery   = 500 * time.Millisecond
	probeClients = 64
	// defaultSettle is Plan.Settle's default.
	defaultSettle = 2 * time.Second
	// restartWait bounds the wait for the supervisor to restart a killed shard.
	restartWait = 20 * time.Second
)

// Run is one fault injected into one phase. It is the phase's vp.Tap: every answer the
// VPs get after the fault is kept, and a player whose answer was an error is probed
// until it is served again.
type Run struct {
	plan  Plan
	st    Stack
	probe *vp.Client
	log   func(format string, args ...any)

	fault atomic.Int64 // when the fault began, unix ns; 0 before, -1 once Finish stopped watching

	mu       sync.Mutex
	answers  []Answer
	overflow int64
	waiting  map[string]*follow // players that got an error, until served again

	rep    Report
	due    time.Time          // when the fault is due
	armed  context.CancelFunc // cancels the wait for it
	inject sync.WaitGroup     // the injecting goroutine
	doneAt time.Time          // when the fault's last step completed (guarded by mu)
	stopP  context.CancelFunc
	prober sync.WaitGroup
}

// follow is what is needed to probe a player that got an error.
type follow struct {
	token, device   string
	lastErr, lastOK time.Time
	probing         bool
	next            time.Time
}

var _ vp.Tap = (*Run)(nil)

// New prepares a fault for the stack at baseURL; Arm starts its clock. log, when set,
// hears each step as it happens.
func New(plan Plan, st Stack, baseURL string, log func(format string, args ...any)) *Run {
	if log == nil {
		log = func(string, ...any) {}
	}
	if plan.Kind == StopShard && plan.Hold == 0 {
		plan.Hold = DefaultHold(Lease())
	}
	if plan.Settle == 0 {
		plan.Settle = defaultSettle
	}
	if plan.Watch == 0 {
		plan.Watch = 30*time.Second + plan.Hold
	}
	return &Run{plan: plan, st: st, log: log, waiting: map[string]*follow{},
		probe: vp.NewClient(vp.ClientConfig{BaseURL: baseURL, Timeout: 3 * time.Second, Gate: vp.NewGate(probeClients)}),
		rep: Report{Kind: plan.Kind, PlanAtS: plan.At.Seconds(), LimitS: audit.FailoverLimit.Seconds(),
			Before: map[string]ShardMetrics{}, After: map[string]ShardMetrics{}}}
}

// Arm injects the fault plan.At after phaseStart, unless ctx ends first. Finish must
// follow, whatever happens: it waits for the fault's last step (a stopped shard is
// always continued).
func (r *Run) Arm(ctx context.Context, phaseStart time.Time) {
	wait, cancel := context.WithCancel(ctx)
	r.armed, r.due = cancel, phaseStart.Add(r.plan.At)
	r.inject.Go(func() {
		sleep(wait, time.Until(r.due))
		if wait.Err() != nil {
			r.rep.Error = "the max phase ended before the fault was due"
			return
		}
		r.run(ctx, phaseStart)
	})
}

// Answered keeps an answer of the VPs after the fault (vp.Tap).
func (r *Run) Answered(call *vp.Call, res *vp.Response) {
	f := r.fault.Load()
	if f <= 0 || res.Done.UnixNano() < f || res.Outcome == stats.Abandoned {
		return
	}
	who := call.Player
	if who == "" {
		who = "device " + call.Device
	}
	r.keep(answerOf(who, res, false), call.Token, call.Device)
}

func (r *Run) keep(a Answer, token, device string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.answers) < maxAnswers {
		r.answers = append(r.answers, a)
	} else {
		r.overflow++
	}
	f := r.waiting[a.Who]
	if f == nil && a.OK {
		return
	}
	if f == nil {
		f = &follow{}
		r.waiting[a.Who] = f
	}
	if token != "" {
		f.token = token
	}
	if device != "" {
		f.device = device
	}
	if a.OK {
		f.lastOK = later(f.lastOK, a.At)
	} else {
		f.lastErr = later(f.lastErr, a.At)
	}
}

// run injects the fault: it scrapes the shards, starts the clock and the prober, and
// performs the fault's steps.
func (r *Run) run(ctx context.Context, phaseStart time.Time) {
	info, err := r.st.Current()
	if err != nil {
		r.rep.Error = err.Error()
		return
	}
	r.rep.Before = scrape(ctx, info.ShardMetrics)
	start := time.Now()
	r.fault.Store(start.UnixNano())
	r.rep.At, r.rep.AtS = start, start.Sub(phaseStart).Seconds()
	pctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	r.stopP = stop
	r.prober.Go(func() { r.probeLoop(pctx) })
	act := func(format string, args ...any) {
		r.log(format, args...)
		r.mu.Lock()
		r.rep.Actions = append(r.rep.Actions, Action{AtS: time.Since(start).Seconds(), What: fmt.Sprintf(format, args...)})
		r.mu.Unlock()
	}
	if err := r.steps(ctx, info, act); err != nil {
		r.log("%s failed: %v", r.plan.Kind, err)
		r.mu.Lock()
		r.rep.Error = err.Error()
		r.mu.Unlock()
	}
	r.mu.Lock()
	r.doneAt = time.Now()
	r.rep.DoneS = r.doneAt.Sub(start).Seconds()
	r.mu.Unlock()
}

// steps performs the fault itself.
func (r *Run) steps(ctx context.Context, info *stack.Info, act func(string, ...any)) error {
	switch r.plan.Kind {
	case KillShard:
		id, err := pickShard(info, r.plan.Shard)
		if err != nil {
			return err
		}
		r.rep.Shard = id
		pid, err := signal(r.st, info, id, syscall.SIGKILL, "SIGKILL")
		if err != nil {
			return err
		}
		act("SIGKILL %s (pid %d)", id, pid)
		if np, ok := waitRestart(ctx, r.st, id, pid, restartWait); ok {
			act("deploy/run restarted %s as pid %d", id, np)
		} else {
			act("%s not restarted within %v", id, restartWait)
		}
	case StopShard:
		id, err := pickShard(info, r.plan.Shard)
		if err != nil {
			return err
		}
		r.rep.Shard = id
		pid, err := signal(r.st, info, id, syscall.SIGSTOP, "SIGSTOP")
		if err != nil {
			return err
		}
		act("SIGSTOP %s (pid %d) for %v", id, pid, r.plan.Hold)
		// Whatever ends the wait, the shard is continued: a stopped process would
		// hang the stack's shutdown.
		sleep(ctx, r.plan.Hold)
		if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
			return fmt.Errorf("SIGCONT %s (pid %d): %w", id, pid, err)
		}
		act("SIGCONT %s (pid %d)", id, pid)
	case AddShard, DrainShard:
		return r.scale(ctx, info, act)
	}
	return nil
}

// scale adds or drains one shard through the runner's control socket.
func (r *Run) scale(ctx context.Context, info *stack.Info, act func(string, ...any)) error {
	before := slices.SortedFunc(maps.Keys(info.Shards), ShardOrder)
	n := len(before) + 1
	if r.plan.Kind == DrainShard {
		n = len(before) - 1
	}
	if n < 1 {
		return fmt.Errorf("cannot drain the only shard")
	}
	act("POST /scale {\"shards\": %d} (from %s)", n, strings.Join(before, ", "))
	after, err := scale(ctx, info.Control, n)
	if err != nil {
		return err
	}
	act("scaled: shards %s", strings.Join(after, ", "))
	changed := symmetricDiff(before, after)
	r.rep.Shard = strings.Join(changed, ",")
	if len(after) != n {
		return fmt.Errorf("asked for %d shards, the runner answered %d", n, len(after))
	}
	return nil
}

func symmetricDiff(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			out = append(out, x)
		}
	}
	return out
}

// probeLoop probes, every probeEvery, each player whose last answer was an error.
func (r *Run) probeLoop(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, call := range r.dueProbes(now) {
				wg.Go(func() { r.probeOne(ctx, call) })
			}
		}
	}
}

// dueProbes returns the probes to send now and marks them in flight.
func (r *Run) dueProbes(now time.Time) []vp.Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var calls []vp.Call
	for who, f := range r.waiting {
		if f.probing || now.Before(f.next) || !f.lastOK.Before(f.lastErr) {
			continue
		}
		c := vp.Call{Player: who, Device: f.device, Token: f.token, Route: "probe GET /v1/me", Method: http.MethodGet, Path: "/v1/me"}
		if f.token == "" {
			if f.device == "" {
				continue
			}
			c.Route, c.Method, c.Path, c.Token = "probe POST /v1/auth/guest", http.MethodPost, "/v1/auth/guest", ""
			c.Body = map[string]string{"device_id": f.device}
		}
		f.probing, f.next = true, now.Add(probeEvery)
		calls = append(calls, c)
	}
	return calls
}

func (r *Run) probeOne(ctx context.Context, c vp.Call) {
	res, err := r.probe.Do(ctx, c)
	r.mu.Lock()
	if f := r.waiting[c.Player]; f != nil {
		f.probing = false
	}
	r.mu.Unlock()
	if err != nil || res.Outcome == stats.Abandoned {
		return
	}
	r.keep(answerOf(c.Player, res, true), "", "")
}

// answerOf turns a response into an Answer; an error's code reads as the recorder's
// ("503 unavailable", "0 timeout").
func answerOf(who string, res *vp.Response, probe bool) Answer {
	a := Answer{Who: who, At: res.Done, OK: res.Outcome != stats.Error, Probe: probe}
	if !a.OK {
		a.Code = fmt.Sprintf("%d %s", res.Status, res.Code)
	}
	return a
}

// pending counts the players whose last answer was an error.
func (r *Run) pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, f := range r.waiting {
		if f.lastOK.Before(f.lastErr) {
			n++
		}
	}
	return n
}

// Finish waits for the fault's last step, then for every affected player to be served
// again (or plan.Watch after the fault), scrapes the shards again and returns the report.
// Call it after the phase, before anything stops the stack.
func (r *Run) Finish(ctx context.Context) *Report {
	if r.armed == nil {
		r.rep.Error = "never armed"
		return &r.rep
	}
	if time.Now().Before(r.due) {
		r.armed() // the phase ended first: the fault will not come
	}
	r.inject.Wait()
	r.armed()
	defer r.probe.Close()
	if r.fault.Load() == 0 {
		return &r.rep
	}
	start := time.Unix(0, r.fault.Load())
	deadline := start.Add(r.plan.Watch)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		r.mu.Lock()
		settled := time.Since(r.doneAt) >= r.plan.Settle
		r.mu.Unlock()
		if settled && r.pending() == 0 {
			break
		}
		sleep(ctx, 100*time.Millisecond)
	}
	r.stopP()
	r.prober.Wait()
	r.fault.Store(-1) // no more answers: the VPs of a later phase are not this fault's
	watched := time.Since(start)

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if info, err := r.st.Current(); err == nil {
		r.rep.After = scrape(sctx, info.ShardMetrics)
	} else {
		r.rep.Error = strings.TrimPrefix(r.rep.Error+"; ", "; ") + "after the fault: " + err.Error()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.WatchedS = watched.Seconds()
	r.rep.Window = Compute(start, r.answers)
	r.rep.Delta = Diff(r.rep.Before, r.rep.After)
	r.rep.Static = static(r.rep.Before, r.rep.After)
	if r.overflow > 0 {
		r.rep.Error = strings.TrimPrefix(r.rep.Error+"; ", "; ") + fmt.Sprintf("%d answers beyond the first %d were not kept", r.overflow, maxAnswers)
	}
	if r.plan.Kind == StopShard {
		if a, ok := r.rep.After[r.rep.Shard]; ok && a.Error == "" {
			v := r.rep.Delta.FencedByShard[r.rep.Shard]
			r.rep.StoppedFenced = &v
		}
	}
	return &r.rep
}

// Failover is the report as invariant 7's evidence; nil for a fault that kills or
// stops no shard.
func (r *Report) Failover() *audit.Failover {
	if r.Kind != KillShard && r.Kind != StopShard {
		return nil
	}
	return &audit.Failover{Fault: r.Kind, Shard: r.Shard, Injected: r.Injected(), Problem: r.Error,
		Affected: r.Window.Affected, Served: r.Window.Served,
		ServedAll: time.Duration(r.Window.ServedAllS * float64(time.Second)),
		Stopped:   r.Kind == StopShard, StoppedFenced: r.StoppedFenced, Static: r.Static}
}
