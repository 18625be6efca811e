package localdeps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Timeouts shared by PostgreSQL and Redis.
const (
	defaultStartTimeout = 2 * time.Minute  // whole Start call when ctx has no deadline
	dialTimeout         = 2 * time.Second  // one readiness/verification connection
	gracefulStopTimeout = 15 * time.Second // wait after the polite shutdown signal
	forcedStopTimeout   = 5 * time.Second  // wait after SIGQUIT / SIGKILL
	maxPortAttempts     = 5                // retries on random-port collisions
)

// reservedPorts belong to the machine's own servers and are never used.
var reservedPorts = map[int]string{
	5432: "the machine's own PostgreSQL",
	6379: "the machine's own Redis",
}

// withDefaultTimeout adds a deadline to ctx if it has none.
func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// ---- ports ----

// freePort returns a currently unused TCP port on 127.0.0.1, chosen by the
// kernel. Another process may grab it before we use it; callers retry.
func freePort() (int, error) {
	for i := 0; i < 20; i++ {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("localdeps: pick free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if _, bad := reservedPorts[port]; !bad {
			return port, nil
		}
	}
	return 0, errors.New("localdeps: could not pick a free port")
}

// checkPort rejects reserved ports and ports something already listens on.
func checkPort(port int) error {
	if why, bad := reservedPorts[port]; bad {
		return fmt.Errorf("localdeps: port %d is reserved for %s; use another port or 0 for a random one", port, why)
	}
	if port < 1 || port > 65535 {
		return fmt.Errorf("localdeps: invalid port %d", port)
	}
	l, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("localdeps: port %d is not free: %w", port, err)
	}
	return l.Close()
}

// portOpt resolves the port for one start attempt.
func portOpt(requested int) (port int, random bool, err error) {
	if requested == 0 {
		p, err := freePort()
		return p, true, err
	}
	return requested, false, checkPort(requested)
}

// isAddrInUse reports whether a server's log says it could not bind.
func isAddrInUse(log string) bool {
	l := strings.ToLower(log)
	return strings.Contains(l, "address already in use") ||
		strings.Contains(l, "could not bind") ||
		strings.Contains(l, "could not create any tcp/ip sockets") ||
		strings.Contains(l, "could not create server tcp listening socket")
}

// ---- users and directories ----

// runAs is the identity a server runs as. cred is nil when the server runs
// as the current user.
type runAs struct {
	name     string
	uid, gid int
	cred     *syscall.Credential
}

// postgresUser returns the user to run initdb/postgres as: the current user,
// or, when root, the unprivileged "postgres" (or "nobody") system user.
func postgresUser() (*runAs, error) {
	if os.Geteuid() != 0 {
		return &runAs{name: "current user", uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	var lastErr error
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			lastErr = err
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}
		return &runAs{
			name: name, uid: uid, gid: gid,
			cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}},
		}, nil
	}
	return nil, fmt.Errorf("localdeps: running as root but no unprivileged user to run PostgreSQL as (tried postgres, nobody): %v", lastErr)
}

// chown changes ownership of path to u when running as another user.
func (u *runAs) chown(path string) error {
	if u.cred == nil {
		return nil
	}
	return os.Lchown(path, u.uid, u.gid)
}

// chownTree chowns path and everything below it to u.
func (u *runAs) chownTree(root string) error {
	if u.cred == nil {
		return nil
	}
	return filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, u.uid, u.gid)
	})
}

// checkTraversable verifies that u can reach dir, i.e. has search (x)
// permission on every directory from / down to dir's parent.
func (u *runAs) checkTraversable(dir string) error {
	if u.cred == nil {
		return nil
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("localdeps: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		perm := fi.Mode().Perm()
		var can bool
		switch {
		case int(st.Uid) == u.uid:
			can = perm&0o100 != 0
		case int(st.Gid) == u.gid:
			can = perm&0o010 != 0
		default:
			can = perm&0o001 != 0
		}
		if !can {
			return fmt.Errorf("localdeps: user %s (uid %d) cannot traverse %s (mode %v), which contains %s; use a directory elsewhere or run: chmod o+x %s",
				u.name, u.uid, p, perm, dir, p)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// makeTraversable adds search permission for everybody to dir (a directory
// this package owns), so an unprivileged server user can reach below it.
func makeTraversable(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o011 == 0o011 {
		return nil
	}
	return os.Chmod(dir, fi.Mode().Perm()|0o011)
}

// ownerFile marks temporary directories created by this package with the
// pid of the owning process, so later runs can remove leftovers of processes
// that died without cleaning up (e.g. a test binary killed by -timeout).
const ownerFile = "oven-localdeps.owner"

// serversFile lists the pids of servers started inside a directory.
const serversFile = "oven-localdeps.servers"

// Prefixes of the temporary directories this package creates in scratchDir().
var tempPrefixes = []string{"oven-pgtmp-", "oven-redistmp-", "oven-testenv-"}

const (
	tmpfsMagic      = 0x01021994
	minShmAvailable = 2 << 30 // bytes free on /dev/shm before we use it
)

var (
	scratchOnce sync.Once
	scratch     string
)

// scratchDir is where temporary server directories and the template cluster
// live: $OVEN_LOCALDEPS_TMPDIR if set; else /dev/shm if it is a writable
// tmpfs with at least 2 GiB available (creating the ~1000 files of a
// cluster is several times faster there than on a journaling disk file
// system, and ephemeral data is thrown away anyway); else os.TempDir().
func scratchDir() string {
	scratchOnce.Do(func() {
		scratch = os.TempDir()
		if d := os.Getenv("OVEN_LOCALDEPS_TMPDIR"); d != "" {
			scratch = d
			return
		}
		var st syscall.Statfs_t
		if err := syscall.Statfs("/dev/shm", &st); err != nil || int64(st.Type) != tmpfsMagic {
			return
		}
		if uint64(st.Bavail)*uint64(st.Bsize) < minShmAvailable {
			return
		}
		if syscall.Access("/dev/shm", 0o3 /* W_OK|X_OK */) != nil {
			return
		}
		scratch = "/dev/shm"
	})
	return scratch
}

// makeTempRoot creates a fresh directory in scratchDir() that an
// unprivileged server user can traverse (mode 0711) and marks it as owned
// by this process.
func makeTempRoot(prefix string) (string, error) {
	sweepStaleOnce.Do(sweepStale)
	dir, err := os.MkdirTemp(scratchDir(), prefix)
	if err != nil {
		return "", fmt.Errorf("localdeps: %w", err)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("localdeps: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("localdeps: %w", err)
	}
	return dir, nil
}

// recordServer appends a server pid to dir's servers file.
func recordServer(dir string, pid int) {
	f, err := os.OpenFile(filepath.Join(dir, serversFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	_, _ = fmt.Fprintf(f, "%d\n", pid)
	_ = f.Close()
}

var sweepStaleOnce sync.Once

// sweepStale removes temporary directories left behind by dead processes: the
// owner pid recorded in the directory is gone and no server pid recorded
// below it (two levels deep) is alive.
func sweepStale() {
	sweepStaleIn(scratchDir())
	if os.TempDir() != scratchDir() {
		sweepStaleIn(os.TempDir())
	}
}

func sweepStaleIn(tmp string) {
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !hasAnyPrefix(e.Name(), tempPrefixes) {
			continue
		}
		dir := filepath.Join(tmp, e.Name())
		owner, ok := readPids(filepath.Join(dir, ownerFile))
		if !ok || len(owner) == 0 || anyAlive(owner) {
			continue
		}
		alive := false
		for _, pattern := range []string{serversFile, filepath.Join("*", serversFile)} {
			files, _ := filepath.Glob(filepath.Join(dir, pattern))
			for _, f := range files {
				if pids, _ := readPids(f); anyAlive(pids) {
					alive = true
				}
			}
		}
		if !alive {
			_ = os.RemoveAll(dir)
		}
	}
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func readPids(path string) ([]int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil && n > 0 {
			pids = append(pids, n)
		}
	}
	return pids, true
}

// anyAlive reports whether any pid exists (signal 0 only probes).
func anyAlive(pids []int) bool {
	for _, pid := range pids {
		err := syscall.Kill(pid, 0)
		if err == nil || errors.Is(err, syscall.EPERM) {
			return true
		}
	}
	return false
}

// socketDir creates a directory for a server's Unix socket, owned by u (if
// non-nil). Socket paths are limited to ~107 bytes, so it is root/s when that
// is short enough and a fresh directory in /tmp otherwise. Either way the
// caller removes it after the server stopped.
func socketDir(root string, u *runAs) (string, error) {
	const longestName = "/.s.PGSQL.65535.lock"
	var dir string
	if len(root)+len("/s")+len(longestName) <= 100 {
		dir = filepath.Join(root, "s")
		if err := os.RemoveAll(dir); err != nil {
			return "", fmt.Errorf("localdeps: %w", err)
		}
		if err := os.Mkdir(dir, 0o700); err != nil {
			return "", fmt.Errorf("localdeps: %w", err)
		}
	} else {
		var err error
		if dir, err = os.MkdirTemp("/tmp", "ovs-"); err != nil {
			return "", fmt.Errorf("localdeps: %w", err)
		}
	}
	if u != nil {
		if err := u.chown(dir); err != nil {
			_ = os.RemoveAll(dir)
			return "", fmt.Errorf("localdeps: %w", err)
		}
	}
	return dir, nil
}

// ---- environment ----

// childEnv is a minimal environment for servers: it deliberately drops PG*
// variables (PGDATA, PGPORT, PGHOST, ...) so nothing points a child at the
// machine's own server, and forces the C locale for predictable messages.
func childEnv() []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	env := []string{"PATH=" + path, "LC_ALL=C", "LANG=C"}
	if tz, ok := os.LookupEnv("TZ"); ok {
		env = append(env, "TZ="+tz)
	}
	return env
}

// ---- output capture ----

// tailBuffer keeps the last max bytes written to it, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func newTail() *tailBuffer { return &tailBuffer{max: 16 << 10} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// lastLog formats the end of a server's output for an error message.
func lastLog(t *tailBuffer) string {
	s := strings.TrimSpace(t.String())
	if s == "" {
		return "(no output)"
	}
	lines := strings.Split(s, "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}

// ---- child processes ----

// child is one server process started by this package.
type child struct {
	name string
	cmd  *exec.Cmd
	tail *tailBuffer
	done chan struct{} // closed when the process has exited and been reaped
	err  error         // exit error, valid after done is closed

	stopOnce sync.Once
	stopErr  error
}

// spawnReq asks the spawner thread to start a command.
type spawnReq struct {
	cmd   *exec.Cmd
	reply chan error
}

var (
	spawnOnce sync.Once
	spawnCh   chan spawnReq
)

// spawn starts cmd from a dedicated OS thread that never exits. A child's
// parent-death signal fires when the *thread* that forked it exits, and the
// Go runtime may retire threads; forking from a locked, immortal thread makes
// Pdeathsig fire only when this whole process dies.
func spawn(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnCh = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for req := range spawnCh {
				req.reply <- req.cmd.Start()
			}
		}()
	})
	reply := make(chan error, 1)
	spawnCh <- spawnReq{cmd: cmd, reply: reply}
	return <-reply
}

// startChild starts a server process in its own process group with a parent
// death signal, copying its output to log (if non-nil) and an in-memory tail.
func startChild(name string, cmd *exec.Cmd, log io.Writer, deathSig syscall.Signal, cred *syscall.Credential) (*child, error) {
	c := &child{name: name, cmd: cmd, tail: newTail(), done: make(chan struct{})}
	var out io.Writer = c.tail
	if log != nil {
		out = io.MultiWriter(c.tail, log)
	}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.Stdin = nil
	cmd.WaitDelay = 5 * time.Second // don't hang on output pipes held by orphans
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:    true, // own group: terminal ^C goes to us, we stop the server in order
		Pdeathsig:  deathSig,
		Credential: cred,
	}
	if err := spawn(cmd); err != nil {
		return nil, fmt.Errorf("localdeps: start %s: %w", name, err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// exited reports whether the process has exited.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop shuts the process down: it sends each signal in turn and waits up to
// the matching timeout for the process to exit; SIGKILL to the child's own
// process group is the last resort. Only this child (and processes in the
// process group created for it) are ever signalled. stop is idempotent.
func (c *child) stop(signals []syscall.Signal, timeouts []time.Duration) error {
	c.stopOnce.Do(func() {
		c.stopErr = c.doStop(signals, timeouts)
	})
	return c.stopErr
}

func (c *child) doStop(signals []syscall.Signal, timeouts []time.Duration) error {
	pid := c.pid()
	if c.exited() {
		if c.err != nil {
			return fmt.Errorf("localdeps: %s (pid %d) had already exited: %v\n%s", c.name, pid, c.err, lastLog(c.tail))
		}
		return nil
	}
	for i, sig := range signals {
		_ = c.cmd.Process.Signal(sig)
		select {
		case <-c.done:
			if c.err != nil && !isSignalExit(c.err, sig) {
				return fmt.Errorf("localdeps: %s (pid %d) exited with %v after %v", c.name, pid, c.err, sig)
			}
			if i > 0 {
				return fmt.Errorf("localdeps: %s (pid %d) ignored %v for %v; it was stopped with %v", c.name, pid, signals[0], timeouts[0], sig)
			}
			return nil
		case <-time.After(timeouts[i]):
		}
	}
	// Still not gone: SIGKILL the whole group created for the child (the
	// leader is not reaped yet, so the group id is certainly still ours),
	// then the leader itself.
	if !c.exited() {
		c.killGroup(pid)
	}
	_ = c.cmd.Process.Kill()
	select {
	case <-c.done:
		return fmt.Errorf("localdeps: %s (pid %d) did not shut down in time and was killed", c.name, pid)
	case <-time.After(forcedStopTimeout):
		return fmt.Errorf("localdeps: %s (pid %d) did not exit even after SIGKILL", c.name, pid)
	}
}

// killGroup SIGKILLs the process group created for the child (Setpgid makes
// its id the child's pid). Call it only while the child has not been reaped:
// then the pid, and so the group id, cannot have been reused.
func (c *child) killGroup(pgid int) {
	if pgid > 1 {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
}

func isSignalExit(err error, sig syscall.Signal) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}

// waitReady polls check until it succeeds, the child exits, or ctx ends.
func waitReady(ctx context.Context, c *child, check func(context.Context) error) error {
	interval := 5 * time.Millisecond
	var lastErr error
	for {
		if c.exited() {
			return fmt.Errorf("%s exited during startup: %v", c.name, c.err)
		}
		cctx, cancel := context.WithTimeout(ctx, dialTimeout)
		err := check(cctx)
		cancel()
		if err == nil {
			return nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last error: %v)", c.name, ctx.Err(), lastErr)
		case <-c.done:
		case <-time.After(interval):
		}
		if interval < 20*time.Millisecond {
			interval *= 2
		}
	}
}

// newCmd prepares a server command with a minimal environment, run in dir.
func newCmd(bin string, args []string, dir string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = childEnv()
	return cmd
}
