package gamedata

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovengames/oven/application/periodic"
)

// Cache serves the published version from memory and refreshes it in the background,
// so that a publish reaches every shard within the refresh interval without a restart.
// Old versions are immutable and kept in a small bounded map.
type Cache struct {
	store    *Store
	interval time.Duration
	log      *slog.Logger
	current  atomic.Pointer[Version]

	mu  sync.Mutex
	old map[int64]*Version
}

const maxOldVersions = 64

// NewCache loads the published version once and returns a cache over store.
func NewCache(ctx context.Context, store *Store, interval time.Duration, log *slog.Logger) (*Cache, error) {
	c := &Cache{store: store, interval: interval, log: log, old: map[int64]*Version{}}
	if err := c.Refresh(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Current returns the published version as last seen.
func (c *Cache) Current() *Version { return c.current.Load() }

// Refresh reloads the published version now.
func (c *Cache) Refresh(ctx context.Context) error {
	v, err := c.store.Published(ctx)
	if err != nil {
		return err
	}
	// Versions only grow (a rollback publishes a new one), so a slower concurrent refresh
	// (the periodic one racing a notification) must never put an older one back.
	for {
		cur := c.current.Load()
		if cur != nil && cur.Number >= v.Number {
			return nil
		}
		if c.current.CompareAndSwap(cur, v) {
			c.log.Info("game data version", "version", v.Number)
			return nil
		}
	}
}

// Get returns a version, from memory when possible.
func (c *Cache) Get(ctx context.Context, version int64) (*Version, error) {
	if cur := c.Current(); cur.Number == version {
		return cur, nil
	}
	c.mu.Lock()
	v, ok := c.old[version]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := c.store.Get(ctx, version)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.old) >= maxOldVersions {
		clear(c.old) // rare: operators rarely browse dozens of old versions
	}
	c.old[version] = v
	c.mu.Unlock()
	return v, nil
}

// Run refreshes every interval until ctx is done.
func (c *Cache) Run(ctx context.Context) {
	periodic.Run(ctx, c.interval, c.interval, c.log, "game data refresh", c.Refresh)
}
