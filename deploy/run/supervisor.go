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
	ctx      context.Context
	cancel   context.CancelFunc
	mu       sync.Mutex
	children map[string]*child
	wg       sync.WaitGroup

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
	return &supervisor{log: log, ctx: ctx, cancel: cancel, children: map[string]*child{}, stopSignals: map[string]os.Signal{},
		now: time.Now, after: time.After}
}

// stopWith makes stopAll stop the child name with sig instead of SIGTERM (haproxy
// finishes in-flight requests on SIGUSR1 but drops them on SIGTERM). Call it before start.
func (s *supervisor) stopWith(name string, sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopSignals[name] = sig
}

// child is one supervised process under its name, across its restarts.
type child struct {
	cmd      *exec.Cmd     // the current process (nil before the first start)
	retiring bool          // stopped on purpose: not restarted when it exits
	retired  chan struct{} // closed by retire: ends a wait before a restart
	done     chan struct{} // closed when the child's loop has ended for good
}

// start runs bin as the child name and restarts it whenever it exits, until the stack
// stops or retire stops it on purpose. A restart keeps the name, arguments and
// environment: a shard comes back as the same shard id, on the same addresses.
func (s *supervisor) start(name, bin string, args, env []string) {
	c := &child{retired: make(chan struct{}), done: make(chan struct{})}
	s.mu.Lock()
	s.children[name] = c
	s.mu.Unlock()
	s.wg.Go(func() {
		defer close(c.done)
		var b backoff
		for {
			started := s.now()
			err := s.runOnce(name, c, bin, args, env)
			if s.ctx.Err() != nil || s.isRetiring(c) {
				return
			}
			wait := b.wait(s.now().Sub(started))
			s.log.Error("process exited; restarting", "process", name, "err", err, "in", wait)
			select {
			case <-c.retired:
				return
			case ok := <-s.pauseChan(wait):
				if !ok {
					return
				}
			}
		}
	})
}

func (s *supervisor) isRetiring(c *child) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return c.retiring
}

// runOnce starts the child and waits for it to exit.
func (s *supervisor) runOnce(name string, c *child, bin string, args, env []string) error {
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C reaches us, not them
	s.mu.Lock()
	if c.retiring {
		s.mu.Unlock()
		return nil
	}
	err := cmd.Start()
	if err == nil {
		c.cmd = cmd
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if s.onStarted != nil {
		s.onStarted(name, cmd.Process.Pid)
	}
	return cmd.Wait()
}

// retire stops the children names on purpose, all at once: each gets its stop signal
// (SIGTERM unless stopWith said otherwise) and is not restarted when it exits. It waits
// up to grace for them to exit, then kills what is left, and returns once all are gone.
func (s *supervisor) retire(grace time.Duration, names ...string) {
	var cs []*child
	s.mu.Lock()
	for _, name := range names {
		c, ok := s.children[name]
		if !ok || c.retiring {
			if ok {
				cs = append(cs, c)
			}
			continue
		}
		c.retiring = true
		close(c.retired)
		if c.cmd != nil {
			c.cmd.Process.Signal(s.stopSignalLocked(name))
		}
		cs = append(cs, c)
	}
	s.mu.Unlock()
	timeout, killed := time.After(grace), false
	for _, c := range cs {
		if !killed {
			select {
			case <-c.done:
				continue
			case <-timeout:
			}
			s.kill(names)
			killed = true
		}
		<-c.done
	}
	s.mu.Lock()
	for _, name := range names {
		delete(s.children, name)
	}
	s.mu.Unlock()
}

// kill sends SIGKILL to names, each to its whole process group (its own, see runOnce),
// so that nothing it started lives on.
func (s *supervisor) kill(names []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range names {
		if c, ok := s.children[name]; ok && c.cmd != nil {
			s.log.Warn("killing", "process", name)
			syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		}
	}
}

func (s *supervisor) stopSignalLocked(name string) os.Signal {
	if sig, ok := s.stopSignals[name]; ok {
		return sig
	}
	return syscall.SIGTERM
}

// pause waits d on the supervisor's clock; false when the stack stopped meanwhile.
func (s *supervisor) pause(d time.Duration) bool { return <-s.pauseChan(d) }

// pauseChan is pause as a channel, to wait on with something else.
func (s *supervisor) pauseChan(d time.Duration) <-chan bool {
	out := make(chan bool, 1)
	go func() {
		select {
		case <-s.ctx.Done():
			out <- false
		case <-s.after(d):
			out <- true
		}
	}()
	return out
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

// stopAll stops restarting and retires every child that is left (see retire). The
// stores are not stopped here: the runner stops them after the processes that use them.
func (s *supervisor) stopAll(grace time.Duration) {
	s.cancel()
	s.mu.Lock()
	names := make([]string, 0, len(s.children))
	for name := range s.children {
		names = append(names, name)
	}
	s.mu.Unlock()
	s.retire(grace, names...)
	s.wg.Wait()
}
