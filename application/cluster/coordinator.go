package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ovengames/oven/application/fence"
)

// CoordinatorConfig configures a shard's Coordinator.
type CoordinatorConfig struct {
	Client *clientv3.Client
	Prefix string // membership prefix in etcd, default "/oven"
	// Watcher is the membership the shard already follows (and runs); nil starts one.
	Watcher     *Watcher
	Self        Member
	MetricsAddr string
	Table       *Table
	Raisers     []fence.Raiser
	// OnRelease drops what the shard caches for players of slots it no longer serves.
	OnRelease func(slots []int)
	// LeaseTTL is how long a silent shard keeps its slots (default 6 s): failover takes
	// about this long.
	LeaseTTL time.Duration
	// ReleaseWait bounds how long releasing a slot waits for its calls in flight (default
	// 5 s); stragglers past it are refused by the fences.
	ReleaseWait time.Duration
	Registerer  prometheus.Registerer
	Log         *slog.Logger
}

// Coordinator keeps one shard's record in etcd on a lease and its serving Table in step
// with the membership every process watches.
//
// A slot moves in two steps, so that no two shards ever serve it with a valid epoch and
// no call fails on the way. The losing shard stops admitting calls on the slot, waits
// for those in flight, drops its caches, and then publishes "applied = R" (R: the newest
// membership revision it has acted on). The gaining shard waits until every live member
// has applied R, raises the slot's fence in every store to the current etcd revision
// (its epoch), and only then serves. Calls that arrive meanwhile wait in the Table
// (a few milliseconds in a handover) rather than fail. A member that died holds up no
// one: its lease expires, its record disappears, and it is no longer waited for; if it
// was only paused and wakes, its writes carry an older epoch and the stores refuse them.
type Coordinator struct {
	cfg   CoordinatorConfig
	keys  keys
	log   *slog.Logger
	w     *Watcher
	lease atomic.Int64 // clientv3.LeaseID

	mu        sync.Mutex // guards state and applied (written by the reconcile loop and Drain)
	state     string
	applied   int64
	suspended atomic.Bool // after a detected pause, until etcd is read again

	kick    chan struct{}
	stop    context.CancelFunc
	wg      sync.WaitGroup
	metrics coordinatorMetrics
}

type coordinatorMetrics struct {
	owned   prometheus.Gauge
	moves   *prometheus.CounterVec
	members *prometheus.GaugeVec
}

func newCoordinatorMetrics(reg prometheus.Registerer) coordinatorMetrics {
	m := coordinatorMetrics{
		owned: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "oven_shard_slots_owned", Help: "Slots this shard serves."}),
		moves: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "oven_slot_moves_total", Help: "Slots this shard took over, by why the membership changed."},
			[]string{"reason"}),
		members: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "oven_membership_members", Help: "Live shards in etcd, by state."}, []string{"state"}),
	}
	if reg != nil {
		reg.MustRegister(m.owned, m.moves, m.members)
	}
	return m
}

// StartCoordinator registers the shard (joining), starts following membership, turns the
// shard active and keeps its Table in step until Stop. The shard's gRPC server must
// already be serving: other shards route to it as soon as it is active.
func StartCoordinator(ctx context.Context, cfg CoordinatorConfig) (*Coordinator, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = "/oven"
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = 6 * time.Second
	}
	if cfg.ReleaseWait == 0 {
		cfg.ReleaseWait = 5 * time.Second
	}
	c := &Coordinator{cfg: cfg, keys: keys{cfg.Prefix}, log: cfg.Log, state: StateJoining,
		kick: make(chan struct{}, 1), metrics: newCoordinatorMetrics(cfg.Registerer)}
	if err := c.register(ctx); err != nil {
		return nil, err
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	c.stop = stop
	if c.w = cfg.Watcher; c.w == nil {
		w, err := NewWatcher(ctx, cfg.Client, cfg.Prefix, cfg.Log)
		if err != nil {
			stop()
			return nil, err
		}
		c.w = w
		c.wg.Go(func() { w.Run(bg) })
	}
	c.wg.Go(func() { c.keepAlive(bg) })
	c.wg.Go(func() { c.reconcileLoop(bg) })
	c.wg.Go(func() { c.watchForPauses(bg) })
	if err := c.setState(ctx, StateActive); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// Watcher returns the membership the coordinator follows (a Source for routing).
func (c *Coordinator) Watcher() *Watcher { return c.w }

// register grants a lease and writes the shard's record and applied revision on it.
func (c *Coordinator) register(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	g, err := c.cfg.Client.Grant(ctx, int64(c.cfg.LeaseTTL/time.Second))
	if err != nil {
		return fmt.Errorf("cluster: lease: %w", err)
	}
	c.lease.Store(int64(g.ID))
	c.mu.Lock()
	rec, applied := c.record(), c.applied
	c.mu.Unlock()
	_, err = c.cfg.Client.Txn(ctx).Then(
		clientv3.OpPut(c.keys.member(c.cfg.Self.ID), rec, clientv3.WithLease(g.ID)),
		clientv3.OpPut(c.keys.appliedOf(c.cfg.Self.ID), strconv.FormatInt(applied, 10), clientv3.WithLease(g.ID)),
	).Commit()
	if err != nil {
		return fmt.Errorf("cluster: register: %w", err)
	}
	return nil
}

// record renders the shard's record; c.mu is held.
func (c *Coordinator) record() string {
	b, _ := json.Marshal(Record{Addr: c.cfg.Self.Addr, MetricsAddr: c.cfg.MetricsAddr, State: c.state})
	return string(b)
}

// setState publishes the shard's state.
func (c *Coordinator) setState(ctx context.Context, state string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c.mu.Lock()
	c.state = state
	rec := c.record()
	c.mu.Unlock()
	_, err := c.cfg.Client.Put(ctx, c.keys.member(c.cfg.Self.ID), rec, clientv3.WithLease(clientv3.LeaseID(c.lease.Load())))
	if err != nil {
		return fmt.Errorf("cluster: publish state %s: %w", state, err)
	}
	c.log.Info("membership: state", "state", state)
	return nil
}

// keepAlive keeps the lease alive; when etcd reports it gone (the shard was cut off or
// paused past its TTL) it registers again. While etcd is unreachable the client keeps
// retrying and the shard keeps serving: nobody can take its slots without etcd.
func (c *Coordinator) keepAlive(ctx context.Context) {
	for ctx.Err() == nil {
		ch, err := c.cfg.Client.KeepAlive(ctx, clientv3.LeaseID(c.lease.Load()))
		if err == nil {
			for range ch {
			}
		}
		if ctx.Err() != nil {
			return
		}
		c.log.Warn("membership: lease lost, registering again", "err", err)
		for ctx.Err() == nil {
			if err := c.register(ctx); err == nil {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

// watchForPauses notices that the process itself was stopped (SIGSTOP, a debugger, a
// stalled VM) for long enough that its lease may have run out and its slots been taken.
// It stops serving at once; if etcd then says the lease is still alive, nobody can have
// taken a slot and serving resumes at the same epochs; otherwise the shard serves again
// only after reading etcd afresh (and re-registering, which keepAlive does).
func (c *Coordinator) watchForPauses(ctx context.Context) {
	const tick = 200 * time.Millisecond
	limit := max(c.cfg.LeaseTTL/2, time.Second)
	last := time.Now()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			gap := now.Sub(last)
			last = now
			if gap < limit {
				continue
			}
			c.suspended.Store(true)
			held := c.cfg.Table.suspend()
			if c.leaseAlive(ctx) {
				c.cfg.Table.resume(held)
				c.suspended.Store(false)
				c.log.Warn("membership: the process was paused but its lease held; serving on", "paused", gap.Round(time.Millisecond))
				continue
			}
			slots := make([]int, 0, len(held))
			for s := range held {
				slots = append(slots, s)
			}
			c.released(slots, "pause")
			c.log.Warn("membership: the process was paused past its lease; stopped serving until etcd is read again",
				"paused", gap.Round(time.Millisecond), "slots", len(slots))
			c.wg.Go(func() { c.confirm(ctx) })
		}
	}
}

// leaseAlive asks etcd whether the shard's lease still runs (false when etcd cannot say).
func (c *Coordinator) leaseAlive(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	resp, err := c.cfg.Client.TimeToLive(ctx, clientv3.LeaseID(c.lease.Load()))
	return err == nil && resp.TTL > 0
}

// confirm reads etcd linearizably and waits for the watcher to have caught up to it
// before the shard may acquire slots again.
func (c *Coordinator) confirm(ctx context.Context) {
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		resp, err := c.cfg.Client.Get(rctx, c.keys.member(c.cfg.Self.ID))
		cancel()
		if err == nil {
			for ctx.Err() == nil {
				v, changed := c.w.View()
				if v.Revision >= resp.Header.Revision {
					c.suspended.Store(false)
					c.poke()
					return
				}
				select {
				case <-changed:
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (c *Coordinator) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// reconcileLoop applies every new view to the Table.
func (c *Coordinator) reconcileLoop(ctx context.Context) {
	for {
		v, changed := c.w.View()
		c.reconcile(ctx, v)
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-c.kick:
		case <-time.After(time.Second): // retries a raise that failed
		}
	}
}

// reconcile releases the slots v gives to others, publishes how far it has applied, and
// takes the slots v gives to this shard once every live member has let go of them.
func (c *Coordinator) reconcile(ctx context.Context, v *View) {
	c.observe(v)
	self := c.cfg.Self.ID
	var target, lost, gained []int
	for s := range Slots {
		mine := v.Map.OwnerOfSlot(s).ID == self
		st := c.cfg.Table.state[s].Load()
		switch {
		case mine && st != slotServing:
			gained = append(gained, s)
			target = append(target, s)
		case mine:
			target = append(target, s)
		case st != slotIdle:
			lost = append(lost, s)
		}
	}
	if len(lost) > 0 {
		c.cfg.Table.unacquire(lost)
		if !c.cfg.Table.release(lost, c.cfg.ReleaseWait) {
			c.log.Warn("membership: calls still in flight after the release wait; the fences refuse what they write")
		}
		c.released(lost, v.Reason)
	}
	if err := c.publishApplied(ctx, v.MembershipRev); err != nil {
		c.log.Warn("membership: publish applied", "err", err)
		return
	}
	if len(gained) == 0 || c.suspended.Load() {
		return
	}
	c.cfg.Table.markAcquiring(gained)
	for id := range v.Records {
		if id != self && v.Applied[id] < v.MembershipRev {
			return // someone may still serve these slots: wait for its next applied
		}
	}
	epoch := uint64(v.Revision)
	for _, r := range c.cfg.Raisers {
		if err := r.RaiseFences(ctx, gained, epoch); err != nil {
			c.log.Warn("membership: raise fences", "err", err, "slots", len(gained))
			return
		}
	}
	c.cfg.Table.serve(gained, epoch)
	c.metrics.moves.WithLabelValues(v.Reason).Add(float64(len(gained)))
	c.metrics.owned.Set(float64(len(target)))
	c.log.Info("ownership: acquired slots", "count", len(gained), "epoch", epoch, "reason", v.Reason, "owned", len(target))
}

func (c *Coordinator) released(slots []int, reason string) {
	if len(slots) == 0 {
		return
	}
	if c.cfg.OnRelease != nil {
		c.cfg.OnRelease(slots)
	}
	c.metrics.owned.Set(float64(len(c.cfg.Table.Serving())))
	c.log.Info("ownership: released slots", "count", len(slots), "reason", reason)
}

// observe updates the membership gauges.
func (c *Coordinator) observe(v *View) {
	counts := map[string]int{StateJoining: 0, StateActive: 0, StateDraining: 0}
	for _, r := range v.Records {
		counts[r.State]++
	}
	for st, n := range counts {
		c.metrics.members.WithLabelValues(st).Set(float64(n))
	}
}

func (c *Coordinator) publishApplied(ctx context.Context, rev int64) error {
	c.mu.Lock()
	done := c.applied >= rev
	c.mu.Unlock()
	if done {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := c.cfg.Client.Put(ctx, c.keys.appliedOf(c.cfg.Self.ID), strconv.FormatInt(rev, 10),
		clientv3.WithLease(clientv3.LeaseID(c.lease.Load())))
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.applied = max(c.applied, rev)
	c.mu.Unlock()
	return nil
}

// Drain hands every slot over: the shard turns draining, releases its slots as the map
// moves them away, and returns once every other live member has seen it (so they are
// taking the slots) and a short grace has let routing catch up. Calls that still reach
// the shard are refused with the new owner's name, which the routing client retries.
func (c *Coordinator) Drain(ctx context.Context) error {
	if err := c.setState(ctx, StateDraining); err != nil {
		return err
	}
	for {
		v, changed := c.w.View()
		if c.drained(v) {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: drain: %w", ctx.Err())
		case <-changed:
		case <-time.After(100 * time.Millisecond):
		}
	}
	select { // routing copies watch the same events; give the slowest a moment
	case <-ctx.Done():
	case <-time.After(500 * time.Millisecond):
	}
	return nil
}

// drained reports whether v shows this shard draining, serving nothing, and every other
// live member past the revision at which it turned draining.
func (c *Coordinator) drained(v *View) bool {
	r, ok := v.Records[c.cfg.Self.ID]
	if !ok || r.State != StateDraining || len(c.cfg.Table.Serving()) > 0 {
		return false
	}
	for id := range v.Records {
		if id != c.cfg.Self.ID && v.Applied[id] < v.MembershipRev {
			return false
		}
	}
	return true
}

// Abandon stops following membership and renewing the lease without revoking it, as a
// crashed process would: the lease runs out and the others take the slots (tests).
func (c *Coordinator) Abandon() {
	c.stop()
	c.wg.Wait()
}

// Stop stops following membership and revokes the lease, which removes the shard's
// record at once (a drained shard's slots are already elsewhere; an undrained one's move
// now rather than after the lease would have run out).
func (c *Coordinator) Stop() {
	c.stop()
	c.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := c.cfg.Client.Revoke(ctx, clientv3.LeaseID(c.lease.Load())); err != nil && !errors.Is(err, context.Canceled) {
		c.log.Warn("membership: revoke lease", "err", err)
	}
}
