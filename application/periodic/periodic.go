// Package periodic runs a shard's background chores (cache refreshes, recovery sweeps,
// clock syncs) at a fixed interval until their context ends.
package periodic

import (
	"context"
	"log/slog"
	"time"
)

// Run calls f every interval until ctx ends, each call bounded by timeout. A failure is
// logged as "<what> failed" (unless log is nil or ctx is ending) and the next tick tries
// again: chores are idempotent and retried rather than fatal.
func Run(ctx context.Context, interval, timeout time.Duration, log *slog.Logger, what string, f func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			cctx, cancel := context.WithTimeout(ctx, timeout)
			if err := f(cctx); err != nil && ctx.Err() == nil && log != nil {
				log.Warn(what+" failed", "err", err)
			}
			cancel()
		}
	}
}
