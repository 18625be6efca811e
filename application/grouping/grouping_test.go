package grouping_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovengames/oven/application/grouping"
)

// Many callers at once: every item runs exactly once, in groups, never more groups at
// once than senders, and each caller returns only after its own item ran.
func TestEveryItemRunsOnceInGroups(t *testing.T) {
	const callers, senders = 2000, 2
	var running, most, groups atomic.Int32
	ran := make([]atomic.Int32, callers)
	g := grouping.New(func(items []int) {
		if n := running.Add(1); n > most.Load() {
			most.Store(n)
		}
		groups.Add(1)
		time.Sleep(200 * time.Microsecond) // a store round trip
		for _, i := range items {
			ran[i].Add(1)
		}
		running.Add(-1)
	}, senders, 64, nil)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			if !g.Do(context.Background(), i) {
				t.Errorf("item %d: not run", i)
			}
			if ran[i].Load() != 1 {
				t.Errorf("item %d: Do returned before it ran", i)
			}
		})
	}
	wg.Wait()
	for i := range ran {
		if n := ran[i].Load(); n != 1 {
			t.Errorf("item %d ran %d times", i, n)
		}
	}
	if most.Load() > senders || groups.Load() >= callers {
		t.Errorf("%d groups for %d items, at most %d at once (senders %d)", groups.Load(), callers, most.Load(), senders)
	}
	t.Logf("%d items in %d groups", callers, groups.Load())
}

// A lone caller runs its own item, at once, on its own goroutine.
func TestALoneItemRunsAtOnceOnItsCaller(t *testing.T) {
	type item struct{ ch chan struct{} }
	g := grouping.New(func(items []item) { close(items[0].ch) }, 1, 8, nil)
	it := item{make(chan struct{})}
	if !g.Do(context.Background(), it) {
		t.Fatal("not run")
	}
	select {
	case <-it.ch:
	default:
		t.Fatal("Do returned before running the item")
	}
}

// A caller that gives up while queued is never run; the others still are.
func TestAnAbandonedItemNeverRuns(t *testing.T) {
	release := make(chan struct{})
	var ran sync.Map
	g := grouping.New(func(items []string) {
		for _, s := range items {
			ran.Store(s, true)
			if s == "slow" {
				<-release
			}
		}
	}, 1, 8, nil)
	go g.Do(context.Background(), "slow")
	time.Sleep(20 * time.Millisecond) // the only slot is busy
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if g.Do(ctx, "gave-up") {
		t.Fatal("an item whose caller gave up while queued ran")
	}
	after := make(chan bool)
	go func() { after <- g.Do(context.Background(), "after") }()
	time.Sleep(20 * time.Millisecond)
	close(release)
	if !<-after {
		t.Fatal("the item queued after it did not run")
	}
	if _, ok := ran.Load("gave-up"); ok {
		t.Fatal("the abandoned item ran")
	}
}
