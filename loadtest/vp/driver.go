package vp

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovengames/oven/loadtest/machine"
	"github.com/ovengames/oven/loadtest/profile"
	"github.com/ovengames/oven/loadtest/stats"
)

// Tick is called once a second while a driver runs, for the progress line.
type Tick func(now time.Time, rec *stats.Recorder, g stats.Gauge)

// OpenLoop lets VPs arrive on a rate profile, whatever the server does: latency is
// measured from each request's intended time, so a slow server cannot hide (no
// coordinated omission).
type OpenLoop struct {
	Profile  profile.Profile
	Duration time.Duration // arrivals stop after this
	Drain    time.Duration // then open plays may be settled for this long
	Poisson  bool
	Seed     uint64
	MaxVPs   int // sessions at once; arrivals beyond are dropped and counted
}

// RunOpen runs an open-loop phase recorded in rec (whose start is the phase's start).
// The Env's Client must not be closed-loop.
func (e *Env) RunOpen(ctx context.Context, ol OpenLoop, rec *stats.Recorder, tick Tick) {
	start := time.Now()
	e.Client.SetRecorder(rec)
	rec.SetWindow(start, start.Add(ol.Duration))
	for s := time.Duration(0); s < ol.Duration; s += time.Second {
		rec.Offer(start.Add(s), ol.Profile.Rate(s+time.Second/2))
	}
	hard, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var dropped atomic.Int64
	stopGauges := e.gauges(rec, tick, &dropped)
	defer stopGauges()

	sched := profile.NewSchedule(ol.Profile, ol.Poisson, ol.Seed)
	timer := time.NewTimer(0)
	<-timer.C
	for n := uint64(0); ; n++ {
		off, ok := sched.Next(ol.Duration)
		if !ok || e.Client.budget.Spent() {
			break
		}
		at := start.Add(off)
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		if e.Active() >= ol.MaxVPs {
			dropped.Add(1)
			continue
		}
		wg.Go(func() { e.RunSession(hard, at, ol.Seed^n*0x9e3779b97f4a7c15) })
	}
	if n := dropped.Load(); n > 0 {
		rec.Note("%d arrivals dropped: the generator's cap of %d concurrent VPs was reached", n, ol.MaxVPs)
	}
	e.finish(&wg, ol.Drain, cancel, rec)
}

// Step is one closed-loop step: Clients requests kept in flight for Duration, the
// first Warmup of which does not count towards throughput.
type Step struct {
	Clients  int
	Duration time.Duration
	Warmup   time.Duration
}

// ClosedLoop keeps a fixed number of requests in flight, taking the next request from
// whichever VP is ready (a VP waiting out its play holds no slot) and bringing new VPs
// in when none is: it measures the most the target can serve of the same mix.
type ClosedLoop struct {
	Steps  []Step
	Drain  time.Duration
	Seed   uint64
	MaxVPs int
	// Continue, when set, decides after each step whether to run the next one.
	Continue func(step int, rec *stats.Recorder) bool
}

// RunClosed runs the steps, each recorded in the recorder newRec returns for it.
// The Env's Client must be closed-loop, its Gate admitting Steps[0].Clients.
func (e *Env) RunClosed(ctx context.Context, cl ClosedLoop, newRec func(step int, start time.Time) *stats.Recorder, tick Tick) {
	hard, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var rec *stats.Recorder
	var recMu sync.Mutex
	current := func() *stats.Recorder { recMu.Lock(); defer recMu.Unlock(); return rec }
	setRec := func(r *stats.Recorder) { recMu.Lock(); rec = r; recMu.Unlock(); e.Client.SetRecorder(r) }

	spawnCtx, stopSpawn := context.WithCancel(ctx)
	var limit atomic.Int64
	var seq atomic.Uint64
	var starting atomic.Int64
	var spawner sync.WaitGroup
	spawner.Go(func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-spawnCtx.Done():
				return
			case <-t.C:
			}
			// Keep as many ready VPs queued as there are slots, counting the ones
			// spawned but not yet queued, so that no slot idles for want of a VP.
			_, waiting := e.Client.gate.State()
			want := min(int(limit.Load())-waiting-int(starting.Load()), cl.MaxVPs-e.Active(), 64)
			for range want {
				n := seq.Add(1)
				starting.Add(1)
				wg.Go(func() {
					e.runSession(hard, time.Now(), cl.Seed^n*0x9e3779b97f4a7c15, func() { starting.Add(-1) })
				})
			}
		}
	})
	var stopGauges func()
	for i, st := range cl.Steps {
		start := time.Now()
		r := newRec(i, start)
		r.SetWindow(start.Add(st.Warmup), start.Add(st.Duration))
		setRec(r)
		limit.Store(int64(st.Clients))
		e.Client.gate.SetLimit(st.Clients)
		if i == 0 {
			stopGauges = e.gaugesFor(current, tick, nil)
		}
		t := time.NewTimer(st.Duration)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		if ctx.Err() != nil || e.Client.budget.Spent() {
			break
		}
		if cl.Continue != nil && i < len(cl.Steps)-1 && !cl.Continue(i, r) {
			break
		}
	}
	stopSpawn()
	spawner.Wait()
	if stopGauges != nil {
		defer stopGauges()
	}
	e.finish(&wg, cl.Drain, cancel, current())
}

// finish drains a phase: no new plays, open ones may settle for up to drain; then no new
// requests, the ones in flight are answered, and the sleeping VPs leave.
func (e *Env) finish(wg *sync.WaitGroup, drain time.Duration, cancel context.CancelFunc, rec *stats.Recorder) {
	e.draining.Store(true)
	defer e.draining.Store(false)
	if drain > 0 && !waitTimeout(wg, drain) {
		rec.Note("drain of %v ended with %d VPs still in a play", drain, e.Active())
	}
	e.Client.gate.Close()
	deadline := time.Now().Add(e.Client.http.Timeout + time.Second)
	for time.Now().Before(deadline) {
		if inFlight, _ := e.Client.gate.State(); inFlight == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	e.Client.gate.Open()
	if n := e.abandoned.Swap(0); n > 0 {
		rec.Note("%d plays were started and never settled (the phase ended during them)", n)
	}
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

func (e *Env) gauges(rec *stats.Recorder, tick Tick, dropped *atomic.Int64) func() {
	return e.gaugesFor(func() *stats.Recorder { return rec }, tick, dropped)
}

// gaugesFor samples the driver's state once a second into the current recorder, and
// the CPU counters from its start to its stop (for the phases' CPU per request).
func (e *Env) gaugesFor(rec func() *stats.Recorder, tick Tick, dropped *atomic.Int64) func() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		cpu := machine.NewCPU()
		meter := &cpuMeter{}
		if e.ServerPID > 0 {
			meter.server = machine.NewTree(e.ServerPID)
		}
		meter.record(rec())
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				meter.sample()
				meter.record(rec())
				return
			case now := <-t.C:
				inFlight, _ := e.Client.gate.State()
				g := stats.Gauge{InFlight: inFlight, Active: e.Active(), Completed: e.Completed()}
				g.CPUBusy, g.GenCPU = cpu.Sample()
				g.ServerCPU, g.ServerProcs = meter.sample()
				if dropped != nil {
					g.Dropped = dropped.Load()
				}
				r := rec()
				// The gauge describes the second that just ended.
				r.SetGauge(now.Add(-time.Second/2), g)
				meter.record(r)
				if tick != nil {
					tick(now, r, g)
				}
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

// cpuMeter reads the CPU time used so far by the server's process tree (when known)
// and by the generator into the phases' recorders. Not safe for concurrent use.
type cpuMeter struct {
	server *machine.Tree // nil: the server's processes are unknown
	last   *stats.Recorder
}

// sample samples the server's tree, returning its CPU use since the last sample in
// percent of one core, in total and by command name (zero when unknown).
func (m *cpuMeter) sample() (float64, map[string]float64) {
	if m.server == nil {
		return 0, nil
	}
	return m.server.Sample()
}

// record adds the counters as of the last sample to r, and to the recorder before r
// when the driver has moved on to a new one (the next closed-loop step), so that the
// previous step's window ends between two readings it holds.
func (m *cpuMeter) record(r *stats.Recorder) {
	c := stats.CPUTime{At: time.Now(), Generator: machine.SelfCPU()}
	if m.server != nil {
		c.At, c.Server = m.server.Used()
	}
	r.AddCPUTime(c)
	if m.last != nil && m.last != r {
		m.last.AddCPUTime(c)
	}
	m.last = r
}
