package localdeps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// pgBinaries describes one PostgreSQL server installation.
type pgBinaries struct {
	dir      string // directory holding postgres and initdb
	postgres string // path of the postgres binary
	initdb   string // path of the initdb binary
	version  string // e.g. "15.20"
	major    int    // e.g. 15
	minor    int    // e.g. 20
}

var (
	// pgLibRoot is where Debian/Ubuntu install PostgreSQL server binaries.
	pgLibRoot = "/usr/lib/postgresql"

	binMu       sync.Mutex
	cachedPG    *pgBinaries
	cachedRedis string
)

const (
	aptPostgresPkg = "postgresql"
	aptRedisPkg    = "redis-server"
	aptHAProxyPkg  = "haproxy"
	aptTimeout     = 15 * time.Minute
)

// EnsureBinaries makes sure that the PostgreSQL server binaries (postgres and
// initdb) and redis-server are available.
//
// When something is missing and the current process runs as root, the
// missing packages are installed with "apt-get install -y postgresql
// redis-server" (after "apt-get update" if the first attempt fails). The
// Debian-managed system services are not started by this package: it relies
// on /usr/sbin/policy-rc.d to deny service starts during the installation,
// creating it for the duration of the install if it does not exist.
//
// When not running as root, EnsureBinaries returns an error whose message is
// a single line naming exactly what to install.
func EnsureBinaries(ctx context.Context) error {
	_, pgErr := findPostgres(ctx)
	_, redisErr := findRedis()
	var pkgs []string
	if pgErr != nil {
		pkgs = append(pkgs, aptPostgresPkg)
	}
	if redisErr != nil {
		pkgs = append(pkgs, aptRedisPkg)
	}
	if len(pkgs) == 0 {
		return nil
	}
	if err := installPackages(ctx, pkgs...); err != nil {
		return err
	}
	if _, err := findPostgres(ctx); err != nil {
		return err
	}
	if _, err := findRedis(); err != nil {
		return err
	}
	return nil
}

// ensurePostgres returns the PostgreSQL binaries, installing them if needed
// and allowed.
func ensurePostgres(ctx context.Context) (*pgBinaries, error) {
	if b, err := findPostgres(ctx); err == nil {
		return b, nil
	}
	if err := installPackages(ctx, aptPostgresPkg); err != nil {
		return nil, err
	}
	return findPostgres(ctx)
}

// ensureRedis returns the path of redis-server, installing it if needed and
// allowed.
func ensureRedis(ctx context.Context) (string, error) {
	if p, err := findRedis(); err == nil {
		return p, nil
	}
	if err := installPackages(ctx, aptRedisPkg); err != nil {
		return "", err
	}
	return findRedis()
}

func missingError(pkgs ...string) error {
	what := "PostgreSQL server binaries (postgres, initdb)"
	switch {
	case len(pkgs) == 2:
		what = "PostgreSQL server binaries and redis-server"
	case pkgs[0] == aptRedisPkg:
		what = "redis-server"
	case pkgs[0] == aptHAProxyPkg:
		what = "haproxy"
	}
	return fmt.Errorf("localdeps: %s not found; install with: sudo apt-get install -y %s", what, strings.Join(pkgs, " "))
}

// findPostgres locates the newest PostgreSQL installation that has both
// postgres and initdb, in /usr/lib/postgresql/*/bin and on PATH.
func findPostgres(ctx context.Context) (*pgBinaries, error) {
	binMu.Lock()
	defer binMu.Unlock()
	if cachedPG != nil {
		return cachedPG, nil
	}
	var dirs []string
	if m, _ := filepath.Glob(filepath.Join(pgLibRoot, "*", "bin")); len(m) > 0 {
		dirs = append(dirs, m...)
	}
	for _, name := range []string{"postgres", "initdb"} {
		if p, err := exec.LookPath(name); err == nil {
			if r, err := filepath.EvalSymlinks(p); err == nil {
				p = r
			}
			if abs, err := filepath.Abs(p); err == nil {
				dirs = append(dirs, filepath.Dir(abs))
			}
		}
	}
	seen := map[string]bool{}
	var found []*pgBinaries
	for _, d := range dirs {
		if seen[d] {
			continue
		}
		seen[d] = true
		b := &pgBinaries{dir: d, postgres: filepath.Join(d, "postgres"), initdb: filepath.Join(d, "initdb")}
		if !isExecutable(b.postgres) || !isExecutable(b.initdb) {
			continue
		}
		if err := b.readVersion(ctx); err != nil {
			continue
		}
		found = append(found, b)
	}
	if len(found) == 0 {
		return nil, missingError(aptPostgresPkg)
	}
	sort.SliceStable(found, func(i, j int) bool {
		if found[i].major != found[j].major {
			return found[i].major > found[j].major
		}
		return found[i].minor > found[j].minor
	})
	cachedPG = found[0]
	return cachedPG, nil
}

// readVersion runs "postgres -V" (allowed as root) and parses the version.
func (b *pgBinaries) readVersion(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.postgres, "-V")
	cmd.Env = childEnv()
	out, err := cmd.Output()
	if err != nil {
		return err
	}
	// "postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"
	f := strings.Fields(string(out))
	if len(f) < 3 {
		return fmt.Errorf("unexpected version output %q", out)
	}
	b.version = sanitizeVersion(f[2])
	b.major, b.minor = parseVersion(f[2])
	if b.major == 0 {
		return fmt.Errorf("unexpected version output %q", out)
	}
	return nil
}

// parseVersion parses "15.20", "17beta1" or "9.6.24" into major/minor numbers.
func parseVersion(v string) (major, minor int) {
	lead := func(s string) int {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		n, _ := strconv.Atoi(s[:i])
		return n
	}
	parts := strings.SplitN(v, ".", 3)
	major = lead(parts[0])
	if len(parts) > 1 {
		minor = lead(parts[1])
	}
	if major < 10 && len(parts) > 2 { // 9.6.24: major is "9.6"
		major = major*10 + minor
		minor = lead(parts[2])
	}
	return major, minor
}

func sanitizeVersion(v string) string {
	var sb strings.Builder
	for _, r := range v {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '.' {
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// findRedis locates redis-server on PATH (or /usr/bin as a fallback).
func findRedis() (string, error) {
	binMu.Lock()
	defer binMu.Unlock()
	if cachedRedis != "" {
		return cachedRedis, nil
	}
	p, err := exec.LookPath("redis-server")
	if err != nil {
		for _, c := range []string{"/usr/bin/redis-server", "/usr/local/bin/redis-server", "/usr/sbin/redis-server"} {
			if isExecutable(c) {
				p, err = c, nil
				break
			}
		}
	}
	if err != nil {
		return "", missingError(aptRedisPkg)
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	cachedRedis = p
	return p, nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

var aptMu sync.Mutex

// installPackages installs Debian packages with apt-get when running as root.
// Otherwise it returns the one-line "install with" error.
func installPackages(ctx context.Context, pkgs ...string) error {
	if os.Geteuid() != 0 {
		return missingError(pkgs...)
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("localdeps: %s missing and apt-get is not available; install package(s) %s manually", strings.Join(pkgs, ", "), strings.Join(pkgs, " "))
	}
	aptMu.Lock()
	defer aptMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, aptTimeout)
	defer cancel()

	// Several test binaries may get here at the same time: serialise them
	// across processes and re-check after getting the lock.
	unlock, err := lockFile(ctx, filepath.Join(os.TempDir(), "oven-localdeps-apt.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	binMu.Lock()
	cachedPG, cachedRedis = nil, ""
	binMu.Unlock()
	var still []string
	for _, p := range pkgs {
		switch p {
		case aptPostgresPkg:
			if _, err := findPostgres(ctx); err != nil {
				still = append(still, p)
			}
		case aptRedisPkg:
			if _, err := findRedis(); err != nil {
				still = append(still, p)
			}
		case aptHAProxyPkg:
			if _, err := findHAProxy(); err != nil {
				still = append(still, p)
			}
		}
	}
	if len(still) == 0 {
		return nil
	}

	restore, err := denyServiceStarts()
	if err != nil {
		return err
	}
	defer restore()

	run := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.WaitDelay = 10 * time.Second
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get %s: %w: %s", strings.Join(args, " "), err, lastLines(out, 5))
		}
		return nil
	}
	// Wait for a dpkg lock held by another apt run instead of failing.
	install := append([]string{"-o", "DPkg::Lock::Timeout=300", "install", "-y", "-q"}, still...)
	if err := run(install...); err != nil {
		if uerr := run("update", "-q"); uerr != nil {
			return fmt.Errorf("localdeps: installing %s failed: %v; apt-get update also failed: %v", strings.Join(still, " "), err, uerr)
		}
		if err := run(install...); err != nil {
			return fmt.Errorf("localdeps: installing %s failed: %w", strings.Join(still, " "), err)
		}
	}
	return nil
}

const policyRCD = "/usr/sbin/policy-rc.d"

// denyServiceStarts makes invoke-rc.d/deb-systemd-invoke refuse to start
// services while packages are installed, so installing postgresql or
// redis-server never starts the Debian-managed system servers. An existing
// policy-rc.d is left alone.
func denyServiceStarts() (restore func(), err error) {
	if _, err := os.Lstat(policyRCD); err == nil {
		return func() {}, nil
	}
	if err := os.WriteFile(policyRCD, []byte("#!/bin/sh\n# written by oven localdeps during apt-get install\nexit 101\n"), 0o755); err != nil {
		return nil, fmt.Errorf("localdeps: cannot write %s to keep system services from starting: %w", policyRCD, err)
	}
	return func() { _ = os.Remove(policyRCD) }, nil
}

func lastLines(b []byte, n int) string {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte(" | ")))
}

// lockFile takes an exclusive flock on path, polling until ctx is done.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("localdeps: lock %s: %w", path, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("localdeps: lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("localdeps: waiting for lock %s: %w", path, ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
}
