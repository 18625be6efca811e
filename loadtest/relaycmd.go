package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ovengames/oven/loadtest/relay"
)

// readyPrefix starts the line a relay child prints once it serves.
const readyPrefix = "RELAY "

// serveRelay is the hidden "relay" subcommand: the relay baseline in its own process,
// as the presentation runs in its own process in the stack. Its access log goes to
// stderr like the presentation's.
func serveRelay(args []string) error {
	fs := flag.NewFlagSet("loadtest relay", flag.ContinueOnError)
	shards := fs.Int("shards", 3, "canned shards")
	rate := fs.Float64("rate-player", 20, "per-player rate limit, as the presentation's OVEN_RATE_PLAYER")
	addr := fs.String("addr", "", "listen address (default: a free loopback port)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("process", "relay")
	r, err := relay.Start(ctx, relay.Config{Shards: *shards, HTTPAddr: *addr, Logger: log, RatePerPlayer: *rate})
	if err != nil {
		return err
	}
	fmt.Println(readyPrefix + r.URL)
	<-ctx.Done()
	return r.Close()
}

// startRelay runs the relay (a child process unless -relay-inproc) and returns its URL
// and how to stop it.
func startRelay(ctx context.Context, cfg *Config, logPath string) (url string, pid int, stop func(), err error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return "", 0, nil, err
	}
	if cfg.RelayInProc {
		log := slog.New(slog.NewJSONHandler(logf, nil)).With("process", "relay")
		r, err := relay.Start(ctx, relay.Config{Shards: cfg.RelayShards, Logger: log, RatePerPlayer: 20})
		if err != nil {
			logf.Close()
			return "", 0, nil, err
		}
		return r.URL, 0, func() { r.Close(); logf.Close() }, nil
	}
	self, err := os.Executable()
	if err != nil {
		logf.Close()
		return "", 0, nil, err
	}
	cmd := exec.Command(self, "relay", "-shards", fmt.Sprint(cfg.RelayShards))
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // stopped by us, in order
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return "", 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return "", 0, nil, err
	}
	done := make(chan error, 1)
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), readyPrefix); ok {
				urlc <- u
			}
		}
	}()
	go func() { done <- cmd.Wait() }()
	stop = func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		logf.Close()
	}
	select {
	case u := <-urlc:
		return u, cmd.Process.Pid, stop, nil
	case err := <-done:
		logf.Close()
		return "", 0, nil, fmt.Errorf("relay child exited: %v (see %s)", err, logPath)
	case <-time.After(20 * time.Second):
		stop()
		return "", 0, nil, errors.New("relay child not ready after 20 s")
	case <-ctx.Done():
		stop()
		return "", 0, nil, ctx.Err()
	}
}
