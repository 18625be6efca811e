package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/ovengames/oven/deploy/localdeps"
)

// Bounds of one presentation step. A copy answers /readyz within seconds of its start;
// a drained one has finished its requests once haproxy's server timeout (20 s) has
// passed; a stopped one drains for 10 s itself.
const (
	copyReadyTimeout = time.Minute
	copyDrainTimeout = 25 * time.Second
	copyStopGrace    = 15 * time.Second
	// copyRetry is the pause before the next try after a step failed.
	copyRetry = 5 * time.Second
)

// errNoHAProxy answers a floor request on a stack that runs without haproxy.
var errNoHAProxy = errors.New("pre-warming needs haproxy")

// presentations is the stack's presentation copies. Behind haproxy, copy N is the
// process presentation-N (stack.json) and haproxy's server slot pN; the runner keeps
// max(OVEN_PRESENTATION_COUNT, floor) copies, at most OVEN_PRESENTATION_MAX, and moves
// towards that one copy at a time: it adds the next copy (started, answering /readyz,
// then put in rotation) or removes the newest (drained out of rotation, then SIGTERM).
//
// haproxy's runtime API changes the servers, not a configuration rewrite and reload:
// the backend declares every slot up to OVEN_PRESENTATION_MAX, the empty ones disabled,
// and the runner fills a slot with "set server presentation/pN addr … port …" and
// "state ready", and empties it with "state drain", waits until haproxy shows no request
// on it, then "state maint". Nothing restarts, so no connection is handed between
// haproxy processes, and haproxy runs as the supervisor's single -db process as before
// (a reload needs master-worker mode). Debian 12's haproxy 2.6 has all of these. The
// configuration file is still rewritten on every change, so that a haproxy the
// supervisor restarts after a crash comes back with the copies running then.
type presentations struct {
	sup   *supervisor
	stack *stackWriter
	bin   string
	env   map[string]string // the settings every copy shares
	log   *slog.Logger
	base  int // OVEN_PRESENTATION_COUNT: the fewest copies whatever the floor
	limit int // OVEN_PRESENTATION_MAX: the most copies whatever the floor

	// noLB, when set, is why there is no haproxy: one copy serves on the public
	// address and the floor cannot move.
	noLB    error
	api     runtimeAPI
	cfgPath string

	mu      sync.Mutex
	lb      lbConfig // its Servers follow the copies
	floor   int
	running int   // copies 1 … running are in rotation, or draining out of it
	lastErr error // of the last step, until one succeeds
	wake    chan struct{}
	done    chan struct{} // closed when reconcile has ended
}

func copyName(n int) string { return "presentation-" + strconv.Itoa(n) }
func slotName(n int) string { return "p" + strconv.Itoa(n) }

// startPresentations starts the presentation copies: behind haproxy whenever haproxy
// is there or can be installed (localdeps.EnsureHAProxy), so that the floor can move;
// else, when one copy is asked for, that copy alone on the public address. Behind
// haproxy, the returned presentations keeps the copies at their target until ctx ends.
func startPresentations(ctx context.Context, sup *supervisor, cfg Config, state string, env map[string]string, stack *stackWriter, log *slog.Logger) (*presentations, error) {
	p := &presentations{sup: sup, stack: stack, bin: filepath.Join(cfg.BinDir, "presentation"), env: env,
		log: log.With("component", "presentations"), base: cfg.Presentations, limit: max(cfg.PresentationMax, cfg.Presentations),
		floor: 1, wake: make(chan struct{}, 1), done: make(chan struct{})}
	haproxy, err := localdeps.EnsureHAProxy(ctx)
	if err != nil {
		if cfg.Presentations > 1 {
			return nil, fmt.Errorf("OVEN_PRESENTATION_COUNT=%d needs haproxy: %w", cfg.Presentations, err)
		}
		p.log.Warn("no haproxy: one presentation on the public address, and POST /presentations refused", "err", err)
		p.noLB, p.running, p.limit = err, 1, 1
		close(p.done)
		stack.setPresentation("presentation", cfg.HTTPAddr)
		sup.start("presentation", p.bin, nil, withEnv(env, nil))
		return p, nil
	}
	p.cfgPath = filepath.Join(state, "haproxy.cfg")
	p.api = runtimeAPI{socket: filepath.Join(state, "haproxy.sock")}
	p.lb = lbConfig{Addr: cfg.HTTPAddr, StatsAddr: freeAddr(), Socket: p.api.socket, Prometheus: hasPrometheusExporter(ctx, haproxy)}
	for n := 1; n <= p.limit; n++ {
		s := lbServer{Name: slotName(n), Addr: slotAddr, Disabled: true}
		if n <= cfg.Presentations {
			s.Addr, s.Disabled = freeAddr(), false
			stack.setPresentation(copyName(n), s.Addr)
			sup.start(copyName(n), p.bin, nil, p.copyEnv(s.Addr))
		}
		p.lb.Servers = append(p.lb.Servers, s)
	}
	p.running = cfg.Presentations
	if err := p.lb.write(p.cfgPath); err != nil {
		return nil, err
	}
	// A bad configuration would only show as a restart loop under the supervisor.
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(cctx, haproxy, "-c", "-q", "-f", p.cfgPath).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("haproxy rejects %s: %v: %s", p.cfgPath, err, bytes.TrimSpace(out))
	}
	info := &LoadBalancer{Addr: cfg.HTTPAddr, Stats: p.lb.StatsAddr, Config: p.cfgPath, Socket: p.api.socket}
	if p.lb.Prometheus {
		info.Metrics = p.lb.StatsAddr
	}
	stack.setLB(info)
	sup.stopWith("lb", syscall.SIGUSR1)
	// -db: no daemon, one process, so the supervisor's pid is haproxy itself and a
	// signal to it is the whole load balancer.
	sup.start("lb", haproxy, []string{"-db", "-f", p.cfgPath}, os.Environ())
	go p.reconcile(ctx)
	return p, nil
}

// copyEnv is the environment of a copy listening on addr behind haproxy. haproxy
// appends the client's address to X-Forwarded-For (option forwardfor), so the GMS login
// throttle can key on it rather than on haproxy's address.
func (p *presentations) copyEnv(addr string) []string {
	return withEnv(p.env, map[string]string{"OVEN_HTTP_ADDR": addr, "OVEN_GMS_TRUST_FORWARDED": "1"})
}

// setFloor makes floor the fewest copies and returns at once; reconcile gets there.
// Errors: errNoHAProxy without haproxy, or a floor below 1.
func (p *presentations) setFloor(floor int) (presentationsStatus, error) {
	if p.noLB != nil {
		return p.status(), fmt.Errorf("%w in front of the presentation copies, and there is none: %v", errNoHAProxy, p.noLB)
	}
	if floor < 1 {
		return p.status(), fmt.Errorf("floor %d is below 1", floor)
	}
	p.mu.Lock()
	p.floor = floor
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
	return p.status(), nil
}

// status is what GET /presentations answers.
func (p *presentations) status() presentationsStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := presentationsStatus{Floor: p.floor, Current: p.running, Max: p.limit, Copies: []string{}}
	if p.noLB != nil {
		s.Copies = []string{"presentation"}
	} else {
		for n := 1; n <= p.running; n++ {
			s.Copies = append(s.Copies, slotName(n))
		}
	}
	if p.lastErr != nil {
		s.Error = p.lastErr.Error()
	}
	return s
}

// wait returns once reconcile has ended (after ctx of startPresentations).
func (p *presentations) wait() { <-p.done }

// reconcile adds or removes one copy at a time until the copies are at their target,
// then waits for the floor to change; after a failed step it tries again in copyRetry.
func (p *presentations) reconcile(ctx context.Context) {
	defer close(p.done)
	for {
		p.mu.Lock()
		n, want := p.running, min(max(p.base, p.floor), p.limit)
		p.mu.Unlock()
		var err error
		switch {
		case n < want:
			err = p.add(ctx, n+1)
		case n > want:
			err = p.remove(ctx, n)
		}
		if ctx.Err() != nil {
			return
		}
		p.mu.Lock()
		p.lastErr = err
		p.mu.Unlock()
		var retry <-chan time.Time
		switch {
		case err != nil:
			p.log.Error("presentation copies not at their target; retrying", "err", err, "running", n, "want", want, "in", copyRetry)
			retry = time.After(copyRetry)
		case n != want:
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		case <-retry:
		}
	}
}

// add starts copy n, waits until it answers /readyz, and puts it in rotation; on
// failure it stops the copy again.
func (p *presentations) add(ctx context.Context, n int) error {
	name, addr := copyName(n), freeAddr()
	p.stack.setPresentation(name, addr)
	p.sup.start(name, p.bin, nil, p.copyEnv(addr))
	err := waitCopyReady(ctx, addr)
	if err == nil {
		err = p.enable(ctx, n, addr)
	}
	if err != nil {
		p.sup.retire(copyStopGrace, name)
		p.stack.removePresentation(name)
		return fmt.Errorf("adding %s: %w", name, err)
	}
	p.mu.Lock()
	p.running = n
	p.mu.Unlock()
	p.log.Info("presentation copy in rotation", "process", name, "server", slotName(n), "addr", addr)
	return nil
}

// enable puts copy n, on addr, in haproxy's configuration and then in its rotation.
func (p *presentations) enable(ctx context.Context, n int, addr string) error {
	if err := p.setSlot(n, addr); err != nil {
		return err
	}
	if err := p.api.enable(ctx, slotName(n), addr); err != nil {
		p.api.disable(context.WithoutCancel(ctx), slotName(n))
		return errors.Join(err, p.setSlot(n, ""))
	}
	return nil
}

// remove drains copy n out of haproxy's rotation, waits until haproxy shows no request
// on it, and stops it (SIGTERM: it finishes what it still has, then exits).
func (p *presentations) remove(ctx context.Context, n int) error {
	name, slot := copyName(n), slotName(n)
	if err := p.api.drain(ctx, slot); err != nil {
		return fmt.Errorf("removing %s: %w", name, err)
	}
	if err := p.setSlot(n, ""); err != nil {
		return fmt.Errorf("removing %s: %w", name, err)
	}
	p.log.Info("presentation copy draining", "process", name, "server", slot)
	if err := p.waitIdle(ctx, slot); err != nil {
		return fmt.Errorf("removing %s: %w", name, err)
	}
	if err := p.api.disable(ctx, slot); err != nil {
		// Drained already, so haproxy sends it nothing new; a haproxy that restarted
		// meanwhile has read the configuration without it.
		p.log.Warn("presentation copy drained but not disabled", "server", slot, "err", err)
	}
	p.sup.retire(copyStopGrace, name)
	p.stack.removePresentation(name)
	p.mu.Lock()
	p.running = n - 1
	p.mu.Unlock()
	p.log.Info("presentation copy stopped", "process", name)
	return nil
}

// setSlot points slot n at addr in the configuration file, or disables it for "".
func (p *presentations) setSlot(n int, addr string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lb.Servers[n-1] = lbServer{Name: slotName(n), Addr: addr, Disabled: addr == ""}
	if addr == "" {
		p.lb.Servers[n-1].Addr = slotAddr
	}
	return p.lb.write(p.cfgPath)
}

// waitIdle waits until haproxy shows no request on the drained slot twice in a row
// (a request picked just before the drain is counted a moment later), for at most
// copyDrainTimeout: by then haproxy's own server timeout has ended what was left.
func (p *presentations) waitIdle(ctx context.Context, slot string) error {
	ctx, cancel := context.WithTimeout(ctx, copyDrainTimeout)
	defer cancel()
	idle := 0
	for idle < 2 {
		busy, err := p.api.busy(ctx, slot)
		switch {
		case err == nil && busy == 0:
			idle++
		default:
			idle = 0
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				p.log.Warn("presentation copy still busy after the drain timeout; stopping it", "server", slot, "busy", busy, "err", err)
				return nil
			}
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// waitCopyReady waits until the copy on addr answers /readyz: it reaches the shards
// and their stores, so the first requests haproxy gives it succeed.
func waitCopyReady(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, copyReadyTimeout)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	for !healthy(hc, "http://"+addr+"/readyz") {
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready on %s: %w", addr, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}
