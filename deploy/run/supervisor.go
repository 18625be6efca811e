package main

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// The restart backoff: a child that keeps crashing waits restartFirst, then twice as long
// each time up to restartMax; one that stayed up restartHealthy before it died is a fresh
// crash and waits restartFirst again. The cap is low because a dev stack's children are
// cheap to start and a shard down is players unserved; the doubling only keeps a child
// that cannot start from spinning.
const (
	restartFirst   = 200 * time.Millisecond
	restartMax     = time.Second
	restartHealthy = 10 * time.Second
)

// backoff is one child's restart backoff.
type backoff struct{ next time.Duration }

// wait returns how long to wait before restarting a child that ran for up.
func (b *backoff) wait(up time.Duration) time.Duration {
	if b.next == 0 || up >= restartHealthy {
		b.next = restartFirst
	}
	d := b.next
	b.next = min(2*b.next, restartMax)
	return d
}

// supervisor runs the stack's child processes and restarts one that dies on its own
// (a crashed shard comes back, as it would under Kubernetes), and watches the stores the
// runner started, restarting them the same way.
type supervisor struct {
	log *slog.Logger
	// ctx ends when the stack stops: run's context (Ctrl-C) or stopAll, whichever is
	// first. Nothing is restarted after that.
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	cmds   map[string]*exec.Cmd
	wg     sync.WaitGroup

	// onStarted, when set before the first start, learns each child's pid, again after
	// every restart (the runner records them in stack.json).
	onStarted func(name string, pid int)
	// stopSignals holds the signal that stops a child gracefully when it is not SIGTERM.
	stopSignals map[string]os.Signal

	// now and after are the clock the restart backoff runs on (tests replace them).
	now   func() time.Time
	after func(time.Duration) <-chan time.Time
}

func newSupervisor(ctx context.Context, log *slog.Logger) *supervisor {
	ctx, cancel := context.WithCancel(ctx)
	return &supervisor{log: log, ctx: ctx, cancel: cancel, cmds: map[string]*exec.Cmd{}, stopSignals: map[string]os.Signal{},
		now: time.Now, after: time.After}
}

// stopWith makes stopAll stop the child name with sig instead of SIGTERM (haproxy
// finishes in-flight requests on SIGUSR1 but drops them on SIGTERM). Call it before start.
func (s *supervisor) stopWith(name string, sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopSignals[name] = sig
}

// start runs bin as the child name and restarts it whenever it exits, until the stack stops.
func (s *supervisor) start(name, bin string, args, env []string) {
	s.wg.Go(func() {
		var b backoff
		for {
			started := s.now()
			err := s.runOnce(name, bin, args, env)
			if s.ctx.Err() != nil {
				return
			}
			wait := b.wait(s.now().Sub(started))
			s.log.Error("process exited; restarting", "process", name, "err", err, "in", wait)
			if !s.pause(wait) {
				return
			}
		}
	})
}

// runOnce starts the child and waits for it to exit.
func (s *supervisor) runOnce(name, bin string, args, env []string) error {
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C reaches us, not them
	if err := cmd.Start(); err != nil {
		return err
	}
	s.mu.Lock()
	s.cmds[name] = cmd
	s.mu.Unlock()
	if s.onStarted != nil {
		s.onStarted(name, cmd.Process.Pid)
	}
	return cmd.Wait()
}

// pause waits d on the supervisor's clock; false when the stack stopped meanwhile.
func (s *supervisor) pause(d time.Duration) bool {
	select {
	case <-s.ctx.Done():
		return false
	case <-s.after(d):
		return true
	}
}

// store is a server the runner started itself (localdeps' PostgreSQL and Redis).
type store interface {
	// Exited is closed when the server's process has exited.
	Exited() <-chan struct{}
	// Restart starts the server again, on its data, port and socket of before.
	Restart(ctx context.Context) error
	// Pid is the server's current process id.
	Pid() int
}

// watch restarts the store st, known as name, whenever it exits, until the stack stops.
// Its clients see it come back where it was, so the shards only reconnect.
func (s *supervisor) watch(name string, st store) {
	if s.onStarted != nil {
		s.onStarted(name, st.Pid())
	}
	s.wg.Go(func() {
		var b backoff
		started := s.now()
		for {
			select {
			case <-s.ctx.Done():
				return
			case <-st.Exited():
			}
			wait := b.wait(s.now().Sub(started))
			s.log.Error("store exited; restarting", "store", name, "in", wait)
			for {
				if !s.pause(wait) {
					return
				}
				started = s.now()
				err := st.Restart(s.ctx)
				if err == nil {
					break
				}
				if s.ctx.Err() != nil {
					return
				}
				wait = b.wait(s.now().Sub(started))
				s.log.Error("store restart failed; retrying", "store", name, "err", err, "in", wait)
			}
			s.log.Info("store restarted", "store", name, "pid", st.Pid())
			if s.onStarted != nil {
				s.onStarted(name, st.Pid())
			}
		}
	})
}

// stopAll stops restarting, sends every child its stop signal (SIGTERM unless stopWith
// said otherwise), waits up to grace, then kills what is left. The stores are not
// stopped here: the runner stops them after the processes that use them.
func (s *supervisor) stopAll(grace time.Duration) {
	s.cancel()
	s.mu.Lock()
	for name, cmd := range s.cmds {
		if cmd.Process != nil {
			sig, ok := s.stopSignals[name]
			if !ok {
				sig = syscall.SIGTERM
			}
			cmd.Process.Signal(sig)
		}
	}
	s.mu.Unlock()
	finished := make(chan struct{})
	go func() { s.wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(grace):
		s.mu.Lock()
		for name, cmd := range s.cmds {
			s.log.Warn("killing", "process", name)
			cmd.Process.Kill()
		}
		s.mu.Unlock()
		<-finished
	}
}
