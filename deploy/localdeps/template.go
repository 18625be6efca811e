package localdeps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	initdbTimeout    = 3 * time.Minute
	templateMarker   = "oven-template-ok"
	templateLockWait = 5 * time.Minute
)

var templateMu sync.Mutex

// templateName is the per-machine cache directory name for a template
// cluster of one PostgreSQL version, owned by one server user.
func templateName(b *pgBinaries, u *runAs) string {
	return fmt.Sprintf("oven-pg-template-%s-u%d", b.version, u.uid)
}

// templateValid reports whether dir holds a completely built template.
func templateValid(dir string) bool {
	for _, f := range []string{
		templateMarker,
		filepath.Join("data", "PG_VERSION"),
		filepath.Join("data", "global", "pg_control"),
		filepath.Join("data", "base"),
	} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}

// ensureTemplate returns the data directory of a freshly initdb'd template
// cluster, building it on first use. The template is built in a temporary
// directory next to its final place and then renamed into place, so readers
// only ever see complete templates; an flock serialises builders across
// processes so that racing test binaries run initdb once.
func ensureTemplate(ctx context.Context, b *pgBinaries, u *runAs) (string, error) {
	final := filepath.Join(scratchDir(), templateName(b, u))
	data := filepath.Join(final, "data")
	if templateValid(final) {
		return data, nil
	}
	templateMu.Lock()
	defer templateMu.Unlock()
	if templateValid(final) {
		return data, nil
	}
	lctx, cancel := context.WithTimeout(ctx, templateLockWait)
	defer cancel()
	unlock, err := lockFile(lctx, final+".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if templateValid(final) {
		return data, nil
	}
	// We hold the lock, so any other build directory is a leftover of a
	// builder that died; so is an incomplete final directory.
	if old, _ := filepath.Glob(final + ".tmp-*"); len(old) > 0 {
		for _, o := range old {
			_ = os.RemoveAll(o)
		}
	}
	if _, err := os.Lstat(final); err == nil {
		if err := os.RemoveAll(final); err != nil {
			return "", fmt.Errorf("localdeps: remove broken template %s: %w", final, err)
		}
	}

	tmp, err := os.MkdirTemp(scratchDir(), filepath.Base(final)+".tmp-")
	if err != nil {
		return "", fmt.Errorf("localdeps: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o711); err != nil {
		return "", fmt.Errorf("localdeps: %w", err)
	}
	if err := u.checkTraversable(filepath.Join(tmp, "data")); err != nil {
		return "", err
	}
	if err := runInitdb(ctx, b, u, filepath.Join(tmp, "data"), true); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tmp, templateMarker), []byte(b.version+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("localdeps: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		if templateValid(final) { // someone else won a race we should not have had
			return data, nil
		}
		return "", fmt.Errorf("localdeps: install template: %w", err)
	}
	ok = true
	return data, nil
}

// runInitdb creates a new cluster in dataDir (which must not exist or be
// empty) as user u, with trust authentication for local connections and a
// "postgres" superuser. noSync skips fsync (for throw-away clusters).
func runInitdb(ctx context.Context, b *pgBinaries, u *runAs, dataDir string, noSync bool) error {
	ctx, cancel := context.WithTimeout(ctx, initdbTimeout)
	defer cancel()
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("localdeps: %w", err)
	}
	if err := u.chown(dataDir); err != nil {
		return fmt.Errorf("localdeps: %w", err)
	}
	args := []string{
		"-D", dataDir,
		"-U", "postgres",
		"--auth=trust", // loopback-only dev/test servers; see package doc
		"--encoding=UTF8",
		"--locale=C",
	}
	if b.major >= 14 {
		args = append(args, "--no-instructions")
	}
	if noSync {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, b.initdb, args...)
	cmd.Dir = filepath.Dir(dataDir)
	cmd.Env = childEnv()
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 5 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: u.cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := spawn(cmd); err != nil {
		return fmt.Errorf("localdeps: start initdb: %w", err)
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("localdeps: initdb %s (as %s): %w: %s", dataDir, u.name, err, lastLines(out.Bytes(), 10))
	}
	return nil
}

// copyTree copies the directory src to dst (which must not exist),
// preserving permissions, and makes u the owner of all copies.
func copyTree(src, dst string, u *runAs) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.Mkdir(target, info.Mode().Perm()); err != nil {
				return err
			}
			if err := os.Chmod(target, info.Mode().Perm()); err != nil { // umask
				return err
			}
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		case d.Type().IsRegular():
			if err := copyFile(path, target, info.Mode().Perm()); err != nil {
				return err
			}
		default:
			return nil // sockets, fifos: not part of a stopped cluster
		}
		return u.chown(target)
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil { // copy_file_range on Linux
		_ = out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, perm)
}

// checkPostmasterPid looks at a leftover postmaster.pid in dataDir. If the
// recorded postmaster is still running it returns an error (it is never
// killed: this process did not start it). If the pid now belongs to an
// unrelated process, the stale file is removed so postgres does not refuse
// to start.
func checkPostmasterPid(dataDir string) error {
	pidFile := filepath.Join(dataDir, "postmaster.pid")
	b, err := os.ReadFile(pidFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("localdeps: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 || !anyAlive([]int{pid}) {
		return nil // postgres removes stale lock files itself
	}
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if bytes.Contains(cmdline, []byte("postgres")) {
		return fmt.Errorf("localdeps: a PostgreSQL server (pid %d) is already running on %s; stop it first (it was not started by this process, so it is left alone)", pid, dataDir)
	}
	// The pid was reused by something else: the lock file is stale.
	if err := os.Remove(pidFile); err != nil {
		return fmt.Errorf("localdeps: remove stale %s: %w", pidFile, err)
	}
	return nil
}
