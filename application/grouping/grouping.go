// Package grouping runs many callers' work as groups, the one mechanism behind the
// owner shard's PostgreSQL group commit (pggroup) and its Redis grouping (redisdb):
// a caller's item waits in a queue, and a group takes every item queued at that moment
// and runs them together (one round trip to a store for all of them).
//
// There is no timer and no goroutine of its own. At most Senders groups run at once,
// each led by one of the callers: a caller that finds a sender slot free leads at
// once, running its own item alone if nothing else waits (at low load a write goes
// alone, with no hand-off to another goroutine). While a group runs, others' items
// queue; when it ends, its leader hands the slot to the first caller still waiting,
// who leads the next group with everything queued by then. So groups grow with the
// load by themselves.
package grouping

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Group runs items of type T in groups through run, which must process every item
// it is given (each item carries its own outcome: run sets it). Safe for concurrent use.
type Group[T any] struct {
	run     func([]T)
	senders int
	max     int
	sizes   prometheus.Observer

	mu       sync.Mutex
	queue    []*waiter[T]
	inflight int
}

// New returns a Group that runs at most senders groups at once, of at most max items
// each; sizes (if not nil) observes each group's item count.
func New[T any](run func([]T), senders, max int, sizes prometheus.Observer) *Group[T] {
	return &Group[T]{run: run, senders: max1(senders), max: max1(max), sizes: sizes}
}

func max1(n int) int { return max(n, 1) }

// A waiter's life: queued, then taken into a group, or promoted to lead one, or
// abandoned by its caller (whichever comes first).
const (
	queued int32 = iota
	taken
	promoted
	abandoned
)

type waiter[T any] struct {
	item  T
	state atomic.Int32
	lead  chan struct{} // the slot is handed to this waiter
	done  chan struct{} // its group has run
}

// Do queues item and returns once a group holding it has run (true), or false when
// ctx ended while it still waited in the queue: then it was never run. Once taken into
// a group, Do waits for the group whatever ctx does.
func (g *Group[T]) Do(ctx context.Context, item T) bool {
	w := &waiter[T]{item: item, lead: make(chan struct{}, 1), done: make(chan struct{})}
	g.mu.Lock()
	if g.inflight < g.senders {
		g.inflight++
		w.state.Store(promoted)
		g.mu.Unlock()
		g.leadGroup(w)
		return true
	}
	g.queue = append(g.queue, w)
	g.mu.Unlock()
	select {
	case <-w.done:
		return true
	case <-w.lead:
	case <-ctx.Done():
		if w.state.CompareAndSwap(queued, abandoned) {
			return false
		}
		select { // taken or promoted meanwhile
		case <-w.done:
			return true
		case <-w.lead:
		}
	}
	g.leadGroup(w)
	return true
}

// leadGroup runs w's group: w first, then what is queued; then it hands the slot on.
func (g *Group[T]) leadGroup(w *waiter[T]) {
	g.mu.Lock()
	batch := []*waiter[T]{w}
	n := 0
	for n < len(g.queue) && len(batch) < g.max {
		if q := g.queue[n]; q.state.CompareAndSwap(queued, taken) {
			batch = append(batch, q)
		}
		n++
	}
	g.queue = append(g.queue[:0], g.queue[n:]...)
	g.mu.Unlock()

	items := make([]T, len(batch))
	for i, b := range batch {
		items[i] = b.item
	}
	if g.sizes != nil {
		g.sizes.Observe(float64(len(items)))
	}
	defer func() { // even if run panics: no waiter may hang, no slot be lost
		for _, b := range batch {
			close(b.done)
		}
		g.handOn()
	}()
	g.run(items)
}

// handOn gives the sender slot to the first caller still waiting, or frees it.
func (g *Group[T]) handOn() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for len(g.queue) > 0 {
		next := g.queue[0]
		g.queue = g.queue[1:]
		if next.state.CompareAndSwap(queued, promoted) {
			next.lead <- struct{}{}
			return
		}
	}
	g.inflight--
}
