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

// supervisor runs the stack's child processes and restarts one that dies on its own
// (a crashed shard comes back, as it would under Kubernetes).
type supervisor struct {
	log  *slog.Logger
	mu   sync.Mutex
	cmds map[string]*exec.Cmd
	wg   sync.WaitGroup
	done chan struct{}

	// onStarted, when set before the first start, learns each child's pid, again after
	// every restart (the runner records them in stack.json).
	onStarted func(name string, pid int)
	// stopSignals holds the signal that stops a child gracefully when it is not SIGTERM.
	stopSignals map[string]os.Signal
}

func newSupervisor(log *slog.Logger) *supervisor {
	return &supervisor{log: log, cmds: map[string]*exec.Cmd{}, done: make(chan struct{}), stopSignals: map[string]os.Signal{}}
}

// stopWith makes stopAll stop the child name with sig instead of SIGTERM (haproxy
// finishes in-flight requests on SIGUSR1 but drops them on SIGTERM). Call it before start.
func (s *supervisor) stopWith(name string, sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopSignals[name] = sig
}

func (s *supervisor) start(ctx context.Context, name, bin string, args, env []string) {
	s.wg.Go(func() {
		for backoff := time.Second; ; backoff = min(backoff*2, 30*time.Second) {
			cmd := exec.Command(bin, args...)
			cmd.Env, cmd.Stdout, cmd.Stderr = env, os.Stdout, os.Stderr
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C reaches us, not them
			if err := cmd.Start(); err != nil {
				s.log.Error("cannot start", "process", name, "err", err)
			} else {
				s.mu.Lock()
				s.cmds[name] = cmd
				s.mu.Unlock()
				if s.onStarted != nil {
					s.onStarted(name, cmd.Process.Pid)
				}
				err := cmd.Wait()
				select {
				case <-s.done:
					return
				default:
				}
				s.log.Error("process exited; restarting", "process", name, "err", err, "in", backoff)
			}
			select {
			case <-s.done:
				return
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
		}
	})
}

// stopAll sends SIGTERM to every child, waits up to grace, then kills what is left.
func (s *supervisor) stopAll(grace time.Duration) {
	close(s.done)
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
