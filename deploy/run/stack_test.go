package main_test

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// runningStack is the dev runner booted by a test, as `make run` boots it.
type runningStack struct {
	t      *testing.T
	addr   string // the public HTTP address
	base   string // "http://" + addr
	state  string // OVEN_STATE_DIR
	cmd    *exec.Cmd
	exited chan error
	stop   bool // stopped by the test itself
	out    *lockedBuffer
}

// lockedBuffer is the runner's output, written by its process and read by the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// bootStack builds the binaries, starts the runner with env on a fresh state dir and a
// free port, and waits for /readyz and for every shard to serve its slots. The runner is stopped (and its output shown on
// failure) when the test ends, unless the test stopped it itself.
func bootStack(t *testing.T, env ...string) *runningStack {
	t.Helper()
	bin := buildStack(t)
	state, err := os.MkdirTemp("", "oven-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(state, 0o755) // PostgreSQL runs as an unprivileged user when we are root
	t.Cleanup(func() { os.RemoveAll(state) })

	s := &runningStack{t: t, addr: freeAddr(t), state: state, exited: make(chan error, 1)}
	s.base = "http://" + s.addr
	s.cmd = exec.Command(filepath.Join(bin, "run"))
	s.cmd.Env = append(append(os.Environ(), "OVEN_STATE_DIR="+state, "OVEN_HTTP_ADDR="+s.addr), env...)
	out := &lockedBuffer{}
	s.out = out
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.exited <- s.cmd.Wait() }()
	t.Cleanup(func() {
		if !s.stop {
			s.cmd.Process.Signal(syscall.SIGINT)
			<-s.exited
		}
		if t.Failed() {
			t.Logf("stack output:\n%s", tail(out.String(), 80))
		}
	})
	waitReady(t, s.base, s.exited)
	// Ready means the presentation knows a shard map; the shards join one by one, so wait
	// until every one of them serves its share.
	waitFor(t, 60*time.Second, func() error {
		for id := range s.shardMetrics(t) {
			if err := s.owns(t, id); err != nil {
				return err
			}
		}
		return nil
	})
	return s
}

// stackFile is the runner's stack.json.
func (s *runningStack) stackFile() string { return filepath.Join(s.state, "stack.json") }

// interrupt sends Ctrl-C and checks the runner exits cleanly within 30 s and its public
// port closes.
func (s *runningStack) interrupt() {
	t := s.t
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGINT)
	s.stop = true
	select {
	case err := <-s.exited:
		if err != nil {
			t.Errorf("run exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		t.Fatal("the stack did not stop within 30 s of SIGINT")
	}
	if conn, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
		conn.Close()
		t.Error("the public port still answers after shutdown")
	}
}
