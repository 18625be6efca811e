package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeClock is the supervisor's clock in tests: it moves only when told to, and a wait
// on it returns at once after moving it by the wait.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	waits []time.Duration
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestRestartBackoffResets runs a child that exits at once (a crash loop), except that
// its fourth run lasts 11 s on the supervisor's clock: the wait before each restart
// doubles up to a low cap while it crash-loops, and starts over after the healthy run.
func TestRestartBackoffResets(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const restarts = 8
	sup := newSupervisor(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)))
	sup.now = clock.now
	sup.after = func(d time.Duration) <-chan time.Time {
		clock.mu.Lock()
		clock.waits = append(clock.waits, d)
		n := len(clock.waits)
		clock.t = clock.t.Add(d)
		clock.mu.Unlock()
		if n == restarts {
			cancel()
			return nil // never fires: the supervisor leaves on its context
		}
		fired := make(chan time.Time, 1)
		fired <- clock.now()
		return fired
	}
	starts := 0
	sup.onStarted = func(string, int) {
		starts++
		if starts == 4 {
			clock.advance(11 * time.Second) // this run stays up: the child was healthy
		}
	}
	sup.start("crasher", "/bin/true", nil, nil)
	sup.wg.Wait()

	want := []time.Duration{
		200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, // crash loop
		200 * time.Millisecond,                                                   // after 11 s up: from the start again
		400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second, // capped
	}
	if diff := cmp.Diff(want, clock.waits); diff != "" {
		t.Errorf("waits before each restart (-want +got):\n%s", diff)
	}
}

// TestRetireIsNotRestarted retires a running child on purpose: it gets SIGTERM, is not
// restarted when it exits, and retire returns once it has; a child that ignores SIGTERM
// is killed after the grace. A sibling that dies on its own is still restarted.
func TestRetireIsNotRestarted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sup := newSupervisor(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var mu sync.Mutex
	starts := map[string]int{}
	sup.onStarted = func(name string, _ int) {
		mu.Lock()
		defer mu.Unlock()
		starts[name]++
	}
	sup.start("polite", "/bin/sleep", []string{"30"}, nil)
	sup.start("stubborn", "/bin/sh", []string{"-c", "trap '' TERM; sleep 30"}, nil)
	sup.start("crasher", "/bin/sh", []string{"-c", "sleep 0.1"}, nil)
	time.Sleep(300 * time.Millisecond) // all started (sh has set its trap)

	began := time.Now()
	sup.retire(time.Second, "polite", "stubborn")
	took := time.Since(began)
	if took < time.Second || took > 5*time.Second {
		t.Errorf("retire took %v: want the 1 s grace, then the kill", took)
	}
	time.Sleep(500 * time.Millisecond) // the backoff would have restarted them by now
	mu.Lock()
	got := map[string]int{"polite": starts["polite"], "stubborn": starts["stubborn"]}
	crashes := starts["crasher"]
	mu.Unlock()
	if diff := cmp.Diff(map[string]int{"polite": 1, "stubborn": 1}, got); diff != "" {
		t.Errorf("starts of the retired children (-want +got):\n%s", diff)
	}
	if crashes < 2 {
		t.Errorf("the crasher started %d times: the supervisor should restart it", crashes)
	}
	sup.stopAll(5 * time.Second)
}
