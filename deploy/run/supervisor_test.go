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
