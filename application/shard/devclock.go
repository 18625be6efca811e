package shard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/client"
	"github.com/ovengames/oven/application/periodic"
	"github.com/ovengames/oven/application/redisdb"
	"github.com/ovengames/oven/proto/ovenv1"
)

// DevClock is the dev clock of API.md shared by every process of the stack: its offset
// lives in Redis (so a restarted shard picks it up), and an advance is pushed to every
// shard before it is acknowledged, so the next request anywhere sees the new time. The
// offset only grows.
type DevClock struct {
	clock  *oven.OffsetClock
	rdb    redis.UniversalClient
	key    string
	router *client.Router
	log    *slog.Logger
	mu     sync.Mutex
}

// NewDevClock returns a DevClock over clock whose shared offset is stored in Redis. The
// offset is global, not a player's state, so its writes are not fenced.
func NewDevClock(clock *oven.OffsetClock, rdb *redisdb.DB, router *client.Router, log *slog.Logger) *DevClock {
	return &DevClock{clock: clock, rdb: rdb.Client, key: rdb.DevClock(), router: router, log: log}
}

// Sync loads the shared offset from Redis.
func (d *DevClock) Sync(ctx context.Context) error {
	ms, err := d.rdb.Get(ctx, d.key).Int64()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("devclock: %w", err)
	}
	d.apply(oven.Millis(ms))
	return nil
}

// apply raises the local offset to off; it never moves the clock back, nor beyond
// oven.MaxClockOffset.
func (d *DevClock) apply(off time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if off > d.clock.Offset() && off <= oven.MaxClockOffset {
		d.clock.SetOffset(off)
	}
}

// Advance moves the shared clock forward by by and pushes the new offset to every shard.
// The offset may not pass oven.MaxClockOffset (invalid_argument).
func (d *DevClock) Advance(ctx context.Context, by time.Duration) error {
	cur, err := d.rdb.Get(ctx, d.key).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("devclock: %w", err)
	}
	// Checked before the increment (two racing advances may pass it together, by at
	// most oven.MaxClockAdvance each: far from overflowing a Duration).
	if by > oven.MaxClockOffset-oven.Millis(max(cur, 0)) {
		return oven.Errorf(oven.EInvalid, "the dev clock may run at most %v ahead", oven.MaxClockOffset)
	}
	ms, err := d.rdb.IncrBy(ctx, d.key, by.Milliseconds()).Result()
	if err != nil {
		return fmt.Errorf("devclock: %w", err)
	}
	var errs []error
	for _, m := range d.router.Members() {
		c, err := d.router.Shard(m)
		if err == nil {
			_, err = c.SetClock(ctx, &ovenv1.SetClockRequest{OffsetMs: ms})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("shard %s: %w", m.ID, err))
		}
	}
	d.log.InfoContext(ctx, "dev clock advanced", "by", by, "offset", time.Duration(ms)*time.Millisecond)
	if err := errors.Join(errs...); err != nil {
		// The offset is stored; shards that missed the push catch up on their next sync.
		return &oven.Error{Code: oven.EUnavailable, Message: "dev clock advanced, but not every shard confirmed: " + err.Error()}
	}
	return nil
}

// Run re-syncs from Redis every interval until ctx ends, for shards that missed a push.
func (d *DevClock) Run(ctx context.Context, interval time.Duration) {
	periodic.Run(ctx, interval, interval, d.log, "dev clock sync", d.Sync)
}
