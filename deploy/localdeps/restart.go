package localdeps

import (
	"context"
	"errors"
	"fmt"
)

var errStopped = errors.New("localdeps: the server was stopped; Restart is for one that died")

// Exited returns a channel that is closed once the server's process has exited
// (crashed, killed, or stopped); after a failed Restart it is closed already.
func (p *Postgres) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return exitedChan(p.proc)
}

// Restart starts a server that died (see Exited) again, on the same data
// directory, TCP port and Unix socket directory, so clients configured with URL
// or SocketURL reconnect to it as they were; PostgreSQL runs its crash recovery
// first. It fails if the server is still running or was stopped with Stop. A
// failed Restart may be retried: postgres refuses to start while a backend of
// the dead server still holds its shared memory (they exit on their own once
// they notice their postmaster is gone).
func (p *Postgres) Restart(ctx context.Context) error {
	ctx, cancel := withDefaultTimeout(ctx, defaultStartTimeout)
	defer cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := canRestart("postgres", p.proc, p.stopped); err != nil {
		return err
	}
	return p.start(ctx, p.bins, p.port, p.log)
}

// Exited returns a channel that is closed once redis-server has exited
// (crashed, killed, or stopped); after a failed Restart it is closed already.
func (r *Redis) Exited() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return exitedChan(r.proc)
}

// Restart starts a redis-server that died (see Exited) again, in the same
// directory (so a persistent server reloads its append-only file), on the same
// TCP port and Unix socket, so clients reconnect to it as they were. It fails if
// the server is still running or was stopped with Stop; a failed Restart may be
// retried.
func (r *Redis) Restart(ctx context.Context) error {
	ctx, cancel := withDefaultTimeout(ctx, defaultStartTimeout)
	defer cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := canRestart("redis-server", r.proc, r.stopped); err != nil {
		return err
	}
	return r.start(ctx, r.bin, r.port, r.persistent, r.log)
}

func canRestart(name string, c *child, stopped bool) error {
	if stopped {
		return errStopped
	}
	if c != nil && !c.exited() {
		return fmt.Errorf("localdeps: %s (pid %d) is still running", name, c.pid())
	}
	return nil
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func exitedChan(c *child) <-chan struct{} {
	if c == nil {
		return closedChan
	}
	return c.done
}
