package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/prewarm"
)

// serveTestControl serves the control API for pres on a fresh socket and returns the
// shards' client of it.
func serveTestControl(t *testing.T, pres *presentations) *prewarm.Runner {
	t.Helper()
	dir, err := os.MkdirTemp("", "oven-control-") // short: a socket path has at most 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctx, cancel := context.WithCancel(context.Background())
	stop, err := serveControl(ctx, filepath.Join(dir, "run.sock"), nil, pres, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); stop() })
	return prewarm.NewRunner(filepath.Join(dir, "run.sock"))
}

// TestFloorWithoutHAProxy checks that a stack that fell back to one presentation on the
// public address refuses every floor with 409 and says why, and still reports its copy.
func TestFloorWithoutHAProxy(t *testing.T) {
	pres := &presentations{noLB: errors.New("localdeps: haproxy not found"), running: 1, limit: 1, floor: 1,
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	r := serveTestControl(t, pres)
	for _, floor := range []int{1, 3} {
		err := r.SetFloor(context.Background(), floor)
		if oven.ErrorCode(err) != oven.EConflict || !strings.Contains(err.Error(), "pre-warming needs haproxy") ||
			!strings.Contains(err.Error(), "haproxy not found") {
			t.Errorf("SetFloor(%d) = %v, want %s saying pre-warming needs haproxy, and why there is none", floor, err, oven.EConflict)
		}
	}
	if n, err := r.Current(context.Background()); n != 1 || err != nil {
		t.Errorf("Current = %d, %v; want 1", n, err)
	}
	want := presentationsStatus{Floor: 1, Current: 1, Copies: []string{"presentation"}, Max: 1}
	if diff := cmp.Diff(want, pres.status()); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
}

// TestFloorAccepted checks that a floor is taken at once, and the copies left to
// reconcile (which this test does not run), and that a floor below 1 changes nothing.
func TestFloorAccepted(t *testing.T) {
	pres := &presentations{base: 1, running: 2, limit: 8, floor: 1, wake: make(chan struct{}, 1), done: make(chan struct{})}
	r := serveTestControl(t, pres)
	if err := r.SetFloor(context.Background(), 5); err != nil {
		t.Fatal(err)
	}
	select {
	case <-pres.wake:
	default:
		t.Error("setting the floor did not wake reconcile")
	}
	if n, err := r.Current(context.Background()); n != 2 || err != nil {
		t.Errorf("Current = %d, %v; want 2", n, err)
	}
	// The Runner checks floor ≥ 1 itself; the runner must too.
	if _, err := pres.setFloor(0); err == nil {
		t.Error("setFloor(0) accepted")
	}
	want := presentationsStatus{Floor: 5, Current: 2, Copies: []string{"p1", "p2"}, Max: 8}
	if diff := cmp.Diff(want, pres.status()); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
}
