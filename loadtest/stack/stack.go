// Package stack boots the dev stack (deploy/run) for a load test in its own state
// directory on free ports, reads its stack.json, and stops it again with SIGINT to
// the one process it started.
package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Info is what deploy/run writes to <state>/stack.json.
type Info struct {
	HTTP         string            `json:"http"`
	Shards       map[string]string `json:"shards"`
	ShardMetrics map[string]string `json:"shard_metrics"`
	DatabaseURL  string            `json:"database_url"`
	RedisURL     string            `json:"redis_url"`
	CouchbaseURL string            `json:"couchbase_url"`
	// CouchbasePassword is user "oven"'s password on the dev server's bucket "game".
	CouchbasePassword string `json:"couchbase_password"`
	// PIDs maps each process deploy/run supervises (shards by their id) to its pid; the
	// runner rewrites it when it restarts or scales one.
	PIDs map[string]int `json:"pids"`
	// Control is deploy/run's control socket (POST /scale), when it has one.
	Control string `json:"control,omitempty"`
	// Presentations are the presentation copies behind the load balancer, by name (the
	// runner rewrites the file when the pre-warming floor starts or stops one).
	Presentations map[string]string `json:"presentations,omitempty"`
	// PushSink is the local APNs and FCM sink the shards send to (GET /sink/stats),
	// when the runner started one; its certificate is PushCAFile's.
	PushSink string `json:"push_sink,omitempty"`

	dir string // the state dir: where the stack.json was read
}

// PushCAFile is the PEM file of the push sink's certificate, which deploy/run writes
// under its state dir.
func (i *Info) PushCAFile() string { return filepath.Join(i.dir, "push", "ca.pem") }

// BaseURL returns the HTTP API's base URL.
func (i *Info) BaseURL() string { return "http://" + i.HTTP }

// Load reads a stack.json.
func Load(path string) (*Info, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var info Info
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("stack: %s: %w", path, err)
	}
	if info.HTTP == "" {
		return nil, fmt.Errorf("stack: %s names no http address", path)
	}
	info.dir = filepath.Dir(path)
	return &info, nil
}

// Options configure Boot.
type Options struct {
	RunBin   string        // the deploy/run binary (make build puts it in .oven/bin/run)
	StateDir string        // OVEN_STATE_DIR: where the stores keep their data
	Log      io.Writer     // the stack's stdout and stderr
	Timeout  time.Duration // to become ready (default 3 min: first boot runs initdb)
	Env      []string      // extra environment, KEY=value
}

// Stack is a dev stack this process started.
type Stack struct {
	Info
	file string // its stack.json
	cmd  *exec.Cmd
	done chan error
}

// Boot starts the dev stack and returns once /readyz answers 200.
func Boot(ctx context.Context, opt Options) (*Stack, error) {
	if opt.Timeout == 0 {
		opt.Timeout = 3 * time.Minute
	}
	state, err := filepath.Abs(opt.StateDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(state, 0o755); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(opt.RunBin)
	cmd.Env = append(append(os.Environ(), "OVEN_STATE_DIR="+state, "OVEN_HTTP_ADDR="+addr), opt.Env...)
	cmd.Stdout, cmd.Stderr = opt.Log, opt.Log
	// Its own process group: a Ctrl-C at the terminal reaches the load generator, which
	// reports and then stops the stack in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("stack: start %s: %w", opt.RunBin, err)
	}
	s := &Stack{file: filepath.Join(state, "stack.json"), cmd: cmd, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	if err := s.waitReady(ctx, s.file, addr, opt.Timeout); err != nil {
		return nil, errors.Join(err, s.Stop(30*time.Second))
	}
	return s, nil
}

// Pid returns the process id of deploy/run.
func (s *Stack) Pid() int { return s.cmd.Process.Pid }

// Current reads the stack's stack.json as it is now (Info is as it was at boot).
func (s *Stack) Current() (*Info, error) { return Load(s.file) }

func (s *Stack) waitReady(ctx context.Context, file, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("stack: exited before it was ready: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("stack: not ready after %v", timeout)
		}
		info, err := Load(file)
		if err != nil || info.HTTP != addr {
			continue // not written yet
		}
		res, err := client.Get(info.BaseURL() + "/readyz")
		if err != nil {
			continue
		}
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			s.Info = *info
			return nil
		}
	}
}

// Stop sends SIGINT to deploy/run (which stops its processes and stores in order) and
// waits up to grace; only then is that one process killed.
func (s *Stack) Stop(grace time.Duration) error {
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stack: interrupt: %w", err)
	}
	select {
	case err := <-s.done:
		s.done <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("stack: exited with %v", err)
		}
		return err
	case <-time.After(grace):
		s.cmd.Process.Kill()
		return fmt.Errorf("stack: did not stop within %v after SIGINT; killed pid %d", grace, s.cmd.Process.Pid)
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
