package cluster

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ovengames/oven/application/fence"
)

// Slot states in a shard's Table.
const (
	slotIdle      uint32 = iota // not ours: calls are refused with the owner's name
	slotAcquiring               // ours in the map, waiting for the others to let go
	slotServing                 // ours: calls run with the slot's token
)

// Table is one shard's serving table: which slots it serves, at which epoch, and how
// many calls are in flight on each. It is the only thing the ownership check reads on
// the hot path (two atomic operations per call); the Coordinator changes it.
//
// Entering a slot and releasing it race safely: Enter counts itself in flight and then
// re-reads the state, Release changes the state and then waits for the count to drain,
// so after Release returns no call runs on the slot with the old token.
type Table struct {
	state    [Slots]atomic.Uint32
	epoch    [Slots]atomic.Uint64
	inflight [Slots]atomic.Int32
	// AcquireWait bounds how long a call waits for a slot being acquired (default 3 s).
	AcquireWait time.Duration
}

// NewTable returns a table that serves nothing.
func NewTable() *Table { return &Table{AcquireWait: 3 * time.Second} }

// ErrNotServing is returned by Enter for a slot this shard does not serve.
type ErrNotServing struct{ Slot int }

func (e ErrNotServing) Error() string { return "cluster: slot not served here" }

// Enter admits one call on slot: it returns the slot's token and a done function to call
// when the call ends. A slot this shard does not serve yet is waited for (up to
// AcquireWait or ctx) while mine() says the current map gives it to this shard: a slot
// is handed over in milliseconds, and a call that waits does not fail.
func (t *Table) Enter(ctx context.Context, slot int, mine func() bool) (fence.Token, func(), error) {
	deadline := time.Now().Add(t.AcquireWait)
	for {
		if t.state[slot].Load() == slotServing {
			t.inflight[slot].Add(1)
			if t.state[slot].Load() == slotServing {
				return fence.Token{Slot: slot, Epoch: t.epoch[slot].Load()}, func() { t.inflight[slot].Add(-1) }, nil
			}
			t.inflight[slot].Add(-1)
		}
		if !mine() || time.Now().After(deadline) {
			return fence.Token{}, nil, ErrNotServing{slot}
		}
		select {
		case <-ctx.Done():
			return fence.Token{}, nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Token returns the token of a slot this shard serves (background work over owned slots).
func (t *Table) Token(slot int) (fence.Token, bool) {
	if t.state[slot].Load() != slotServing {
		return fence.Token{}, false
	}
	return fence.Token{Slot: slot, Epoch: t.epoch[slot].Load()}, true
}

// Serving returns the slots this shard serves.
func (t *Table) Serving() []int {
	var out []int
	for s := range Slots {
		if t.state[s].Load() == slotServing {
			out = append(out, s)
		}
	}
	return out
}

// markAcquiring makes calls on slots wait rather than be refused.
func (t *Table) markAcquiring(slots []int) {
	for _, s := range slots {
		t.state[s].CompareAndSwap(slotIdle, slotAcquiring)
	}
}

// serve starts serving slots at epoch (their fences are raised).
func (t *Table) serve(slots []int, epoch uint64) {
	for _, s := range slots {
		t.epoch[s].Store(epoch)
		t.state[s].Store(slotServing)
	}
}

// unacquire gives up slots that were being acquired (the map moved on).
func (t *Table) unacquire(slots []int) {
	for _, s := range slots {
		t.state[s].CompareAndSwap(slotAcquiring, slotIdle)
	}
}

// suspend stops admitting calls on every slot at once, without waiting, and returns
// what it served (slot → epoch) for resume.
func (t *Table) suspend() map[int]uint64 {
	held := map[int]uint64{}
	for s := range Slots {
		if t.state[s].CompareAndSwap(slotServing, slotIdle) {
			held[s] = t.epoch[s].Load()
		}
	}
	return held
}

// resume serves again, at their epochs, the slots suspend returned.
func (t *Table) resume(held map[int]uint64) {
	for s, e := range held {
		t.epoch[s].Store(e)
		t.state[s].Store(slotServing)
	}
}

// release stops admitting calls on slots and waits (up to limit) for the calls in flight
// on them to end. It reports whether they all ended; if not, the fences still refuse
// whatever the stragglers write.
func (t *Table) release(slots []int, limit time.Duration) bool {
	for _, s := range slots {
		t.state[s].Store(slotIdle)
	}
	deadline := time.Now().Add(limit)
	for _, s := range slots {
		for t.inflight[s].Load() > 0 {
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	return true
}

// ServeStatic makes t serve self's slots in the static map m (no etcd: tests and
// single-process deployments): it raises their fences to m's epoch in every store and
// serves them. A static map never changes, so nothing is ever released.
func ServeStatic(ctx context.Context, t *Table, m *Map, self string, raisers []fence.Raiser) error {
	var mine []int
	for s := range Slots {
		if m.OwnerOfSlot(s).ID == self {
			mine = append(mine, s)
		}
	}
	for _, r := range raisers {
		if err := r.RaiseFences(ctx, mine, m.Epoch()); err != nil {
			return fmt.Errorf("cluster: raise fences: %w", err)
		}
	}
	t.serve(mine, m.Epoch())
	return nil
}
