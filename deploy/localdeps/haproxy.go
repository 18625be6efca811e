package localdeps

import (
	"context"
	"os/exec"
	"path/filepath"
)

// EnsureHAProxy returns the path of the haproxy binary, installing Debian's haproxy
// package with apt-get when it is missing and the current process runs as root (the
// way [EnsureBinaries] installs PostgreSQL and Redis, with the system service kept from
// starting). Only the dev runner's load-balanced mode needs it, so nothing else asks.
//
// When not running as root, the error is a single line naming what to install.
func EnsureHAProxy(ctx context.Context) (string, error) {
	if p, err := findHAProxy(); err == nil {
		return p, nil
	}
	if err := installPackages(ctx, aptHAProxyPkg); err != nil {
		return "", err
	}
	return findHAProxy()
}

// findHAProxy locates haproxy on PATH, or in /usr/sbin where Debian puts it (an
// unprivileged PATH often lacks sbin).
func findHAProxy() (string, error) {
	p, err := exec.LookPath("haproxy")
	if err != nil {
		for _, c := range []string{"/usr/sbin/haproxy", "/usr/local/sbin/haproxy", "/usr/bin/haproxy"} {
			if isExecutable(c) {
				p, err = c, nil
				break
			}
		}
	}
	if err != nil {
		return "", missingError(aptHAProxyPkg)
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return p, nil
}
