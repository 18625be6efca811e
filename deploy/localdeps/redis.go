package localdeps

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// RedisOptions configures [StartRedis].
type RedisOptions struct {
	// Dir is Redis's working directory (RDB/AOF files, and redis.log when
	// Log is nil and Persistent is set). It is created if missing. Empty
	// means a new temporary directory that Stop removes again.
	Dir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one (retrying on the
	// rare collision). 6379 is refused: it belongs to the machine's server.
	Port int
	// Persistent enables the append-only file (fsync every second) and the
	// default RDB snapshots, for the dev runner. When false, nothing is
	// written to disk.
	Persistent bool
	// Log receives the server's output. When nil, output goes to
	// Dir/redis.log for persistent servers with a Dir and is discarded
	// otherwise (the last lines are still included in startup errors). Log
	// must stay usable until Stop returns.
	Log io.Writer
}

// Redis is a Redis server started by [StartRedis]. Its methods are safe for
// concurrent use.
type Redis struct {
	port     int
	root     string
	ownsRoot bool
	sockDir  string
	logFile  *os.File
	// Kept for Restart.
	bin        string
	persistent bool
	log        io.Writer
	mu         sync.Mutex // guards proc (Restart replaces it) and stopped
	proc       *child     // nil after a failed start
	stopped    bool
	stopOnce   sync.Once
	stopErr    error
}

// StartRedis starts redis-server as a child process bound to 127.0.0.1 and
// waits until it answers PING (bounded by ctx, or two minutes if ctx has no
// deadline). Call Stop to shut it down.
func StartRedis(ctx context.Context, opt RedisOptions) (*Redis, error) {
	ctx, cancel := withDefaultTimeout(ctx, defaultStartTimeout)
	defer cancel()
	if opt.Port != 0 {
		if why, bad := reservedPorts[opt.Port]; bad {
			return nil, fmt.Errorf("localdeps: port %d is reserved for %s", opt.Port, why)
		}
	}
	bin, err := ensureRedis(ctx)
	if err != nil {
		return nil, err
	}
	r := &Redis{bin: bin, persistent: opt.Persistent}
	if opt.Dir == "" {
		if r.root, err = makeTempRoot("oven-redistmp-"); err != nil {
			return nil, err
		}
		r.ownsRoot = true
	} else {
		if r.root, err = filepath.Abs(opt.Dir); err != nil {
			return nil, fmt.Errorf("localdeps: %w", err)
		}
		if err := os.MkdirAll(r.root, 0o755); err != nil {
			return nil, fmt.Errorf("localdeps: %w", err)
		}
	}
	ok := false
	defer func() {
		if !ok {
			_ = r.cleanup()
		}
	}()
	log := opt.Log
	if log == nil && opt.Persistent && opt.Dir != "" {
		f, err := os.OpenFile(filepath.Join(r.root, "redis.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("localdeps: %w", err)
		}
		r.logFile, log = f, f
	}
	r.log = log
	for attempt := 1; ; attempt++ {
		port, random, err := portOpt(opt.Port)
		if err != nil {
			return nil, err
		}
		err = r.start(ctx, bin, port, opt.Persistent, log)
		if err == nil {
			ok = true
			return r, nil
		}
		if random && attempt < maxPortAttempts && errors.Is(err, errAddrInUse) && ctx.Err() == nil {
			continue
		}
		return nil, err
	}
}

func (r *Redis) start(ctx context.Context, bin string, port int, persistent bool, log io.Writer) error {
	if r.sockDir == "" { // a restart keeps the socket of before
		sock, err := socketDir(r.root, nil)
		if err != nil {
			return err
		}
		r.sockDir = sock
	}
	sockPath := filepath.Join(r.sockDir, "redis.sock")
	args := []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--protected-mode", "yes",
		"--daemonize", "no",
		"--supervised", "no",
		"--dir", r.root,
		"--unixsocket", sockPath,
		"--unixsocketperm", "700",
		"--logfile", "",
		"--always-show-logo", "no",
	}
	if persistent {
		// The append-only file is the durability; Redis' default RDB snapshot rules on top
		// would fork and copy the whole dataset in the middle of a traffic burst.
		args = append(args, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "")
	} else {
		args = append(args, "--save", "", "--appendonly", "no")
	}
	c, err := startChild("redis-server", newCmd(bin, args, r.root), log, syscall.SIGTERM, nil)
	if err != nil {
		return err
	}
	if r.ownsRoot || fileExists(filepath.Join(filepath.Dir(r.root), ownerFile)) {
		recordServer(r.root, c.pid())
	}
	r.proc, r.port = c, port
	// First over our private Unix socket (only our server can answer
	// there; once it does, it also holds the TCP port), then over TCP,
	// checking the answering process id.
	err = waitReady(ctx, c, func(ctx context.Context) error {
		reply, err := respCommand(ctx, "unix", sockPath, "PING")
		if err != nil {
			return err
		}
		if reply != "PONG" {
			return fmt.Errorf("PING replied %q", reply)
		}
		return nil
	})
	if err == nil {
		err = r.verifyTCP(ctx)
	}
	if err != nil {
		return r.abort(err)
	}
	return nil
}

// verifyTCP checks that the server answering on the TCP port is ours.
func (r *Redis) verifyTCP(ctx context.Context) error {
	info, err := respCommand(ctx, "tcp", r.Addr(), "INFO", "server")
	if err != nil {
		return fmt.Errorf("INFO over TCP: %w", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			if v == strconv.Itoa(r.proc.pid()) {
				return nil
			}
			return fmt.Errorf("port %d is served by another Redis (pid %s)", r.port, v)
		}
	}
	return errors.New("INFO server reply has no process_id")
}

func (r *Redis) abort(err error) error {
	c := r.proc
	r.proc = nil
	_ = c.stop([]syscall.Signal{syscall.SIGTERM}, []time.Duration{5 * time.Second})
	out := lastLog(c.tail)
	if isAddrInUse(out) {
		return fmt.Errorf("localdeps: redis on port %d: %w", r.port, errAddrInUse)
	}
	return fmt.Errorf("localdeps: start redis-server on 127.0.0.1:%d: %v\n--- server output ---\n%s", r.port, err, out)
}

func (r *Redis) removeSock() {
	if r.sockDir != "" {
		_ = os.RemoveAll(r.sockDir)
		r.sockDir = ""
	}
}

func (r *Redis) cleanup() error {
	var errs []error
	r.removeSock()
	if r.logFile != nil {
		errs = append(errs, r.logFile.Close())
		r.logFile = nil
	}
	if r.ownsRoot && r.root != "" {
		errs = append(errs, os.RemoveAll(r.root))
	}
	return errors.Join(errs...)
}

// URL returns the server's URL, redis://127.0.0.1:PORT/0.
func (r *Redis) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

// SocketURL is the URL of database 0 over the server's Unix socket, which costs less
// per round trip than loopback TCP: unix:///SOCKETDIR/redis.sock?db=0.
func (r *Redis) SocketURL() string {
	return "unix://" + filepath.Join(r.sockDir, "redis.sock") + "?db=0"
}

// Addr returns the server's TCP address, 127.0.0.1:PORT.
func (r *Redis) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// Port returns the TCP port the server listens on (on 127.0.0.1).
func (r *Redis) Port() int { return r.port }

// Pid returns the process id of redis-server, 0 after a failed Restart.
func (r *Redis) Pid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc == nil {
		return 0
	}
	return r.proc.pid()
}

// Stop shuts the server down with SIGTERM (which saves the dataset first
// when Persistent is set) and, if it has not exited after 15 seconds,
// SIGKILL. Only this server's own process is signalled. A temporary
// directory is removed afterwards. Stop is idempotent; later calls return
// the first result.
func (r *Redis) Stop() error {
	r.stopOnce.Do(func() {
		var errs []error
		r.mu.Lock()
		proc := r.proc
		r.stopped = true
		r.mu.Unlock()
		if proc != nil {
			errs = append(errs, proc.stop([]syscall.Signal{syscall.SIGTERM}, []time.Duration{gracefulStopTimeout}))
		}
		errs = append(errs, r.cleanup())
		r.stopErr = errors.Join(errs...)
	})
	return r.stopErr
}

// respCommand sends one command over a fresh connection and returns a
// simple-string or bulk-string reply. Error replies (e.g. LOADING) become
// errors. The whole exchange is bounded by ctx and dialTimeout.
func respCommand(ctx context.Context, network, addr string, args ...string) (string, error) {
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	deadline := time.Now().Add(dialTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return "", err
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&sb, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(conn, sb.String()); err != nil {
		return "", err
	}
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("redis error: %s", line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 || n > 1<<20 {
			return "", fmt.Errorf("bad bulk reply %q", line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	default:
		return "", fmt.Errorf("unexpected reply %q", line)
	}
}
