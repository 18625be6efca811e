package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/ovengames/oven/deploy/localdeps"
)

// startEtcd starts the dev stack's membership store, a single-node etcd embedded in the
// runner, with its data under <state>/etcd. The data and the ports are kept across runs:
// etcd's revisions are the slots' epochs, and the fences Redis and PostgreSQL keep from
// the last run refuse any epoch below them, so a fresh etcd (revisions from 1 again)
// would leave every slot fenced off. The ports are picked free once and reused; if
// another process took them meanwhile, fresh ones are picked.
func startEtcd(ctx context.Context, state string, log *slog.Logger) (*localdeps.Etcd, error) {
	dir := filepath.Join(state, "etcd")
	portsFile := filepath.Join(state, "etcd.ports")
	var client, peer int
	if b, err := os.ReadFile(portsFile); err == nil {
		fmt.Sscan(string(b), &client, &peer)
	}
	e, err := localdeps.StartEtcd(ctx, dir, client, peer)
	if err != nil && client != 0 {
		log.Warn("etcd: the ports of the last run are taken; picking new ones", "err", err)
		e, err = localdeps.StartEtcd(ctx, dir, 0, 0)
	}
	if err != nil {
		return nil, err
	}
	client, peer = e.Ports()
	if err := os.WriteFile(portsFile, fmt.Appendf(nil, "%d %d\n", client, peer), 0o644); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}
