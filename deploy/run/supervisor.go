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
}

func newSupervisor(log *slog.Logger) *supervisor {
	return &supervisor{log: log, cmds: map[string]*exec.Cmd{}, done: make(chan struct{})}
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
	for _, cmd := range s.cmds {
		if cmd.Process != nil {
			cmd.Process.Signal(syscall.SIGTERM)
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
