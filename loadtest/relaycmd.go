package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/logbuf"
	"github.com/ovengames/oven/loadtest/relay"
)

// readyPrefix starts the line a relay child prints once it serves.
const readyPrefix = "RELAY "

// serveRelay is the hidden "relay" subcommand: the relay baseline in its own process,
// as the presentation runs in its own process in the stack. Its access log goes to
// stderr, batched like the presentation's. With -split the canned shards run in a
// child process of their own (-canned), as the stack's shards do, so that the relay
// pays the same process hop as the stack.
func serveRelay(args []string) error {
	fs := flag.NewFlagSet("loadtest relay", flag.ContinueOnError)
	shards := fs.Int("shards", 3, "canned shards")
	rate := fs.Float64("rate-player", 20, "per-player rate limit, as the presentation's OVEN_RATE_PLAYER")
	redisURL := fs.String("redis", "", "Redis of the per-player rate limit, as the presentation's OVEN_REDIS_URL (default: no limit)")
	addr := fs.String("addr", "", "listen address (default: a free loopback port)")
	split := fs.Bool("split", false, "run the canned shards in a child process")
	canned := fs.Bool("canned", false, "serve only the canned shards and print their addresses")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *canned {
		members, stopShards, err := relay.ServeCanned(*shards)
		if err != nil {
			return err
		}
		defer stopShards()
		fmt.Println(readyPrefix + cluster.FormatMembers(members))
		<-ctx.Done()
		return nil
	}
	logs := logbuf.New(os.Stderr, 0, 0)
	defer logs.Close()
	log := slog.New(slog.NewJSONHandler(logs, nil)).With("process", "relay")
	rc := relay.Config{Shards: *shards, HTTPAddr: *addr, Logger: log, RatePerPlayer: *rate, RedisURL: *redisURL}
	if *split {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		line, _, stopChild, err := startChild(ctx, exec.Command(self, "relay", "-canned", "-shards", fmt.Sprint(*shards)), os.Stderr, "canned shards")
		if err != nil {
			return err
		}
		defer stopChild()
		if rc.Members, err = cluster.ParseMembers(line); err != nil {
			return err
		}
	}
	r, err := relay.Start(ctx, rc)
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
	args := []string{"relay", "-shards", fmt.Sprint(cfg.RelayShards)}
	if cfg.RelaySplit {
		args = append(args, "-split")
	}
	url, pid, stopChild, err := startChild(ctx, exec.Command(self, args...), logf, "relay")
	if err != nil {
		logf.Close()
		return "", 0, nil, fmt.Errorf("%w (see %s)", err, logPath)
	}
	return url, pid, func() { stopChild(); logf.Close() }, nil
}

// startChild starts cmd in its own process group, with stderr to errOut, and waits for
// the line it prints on stdout once it serves (after readyPrefix). stop interrupts it
// and waits for it to exit.
func startChild(ctx context.Context, cmd *exec.Cmd, errOut io.Writer, what string) (ready string, pid int, stop func(), err error) {
	cmd.Stderr = errOut
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // stopped by us, in order
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", 0, nil, err
	}
	done := make(chan error, 1)
	readyc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), readyPrefix); ok {
				readyc <- u
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
	}
	select {
	case u := <-readyc:
		return u, cmd.Process.Pid, stop, nil
	case err := <-done:
		return "", 0, nil, fmt.Errorf("%s child exited: %v", what, err)
	case <-time.After(20 * time.Second):
		stop()
		return "", 0, nil, fmt.Errorf("%s child not ready after 20 s", what)
	case <-ctx.Done():
		stop()
		return "", 0, nil, ctx.Err()
	}
}
