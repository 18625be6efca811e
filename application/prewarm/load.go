package prewarm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ovengames/oven/application/periodic"
)

// Meter measures the tier's load: every shard counts the calls it serves and adds its
// count to a per-minute counter in Redis every few seconds; Rate reads the last whole
// minute of all shards. The game's calls reach the shards one for one from the
// presentation tier, so this is the tier's request rate, a minute late at most.
type Meter struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time // real time: the buckets are real minutes
	calls  atomic.Int64
}

// NewMeter returns a Meter over rdb; prefix namespaces its keys (tests).
func NewMeter(rdb redis.UniversalClient, prefix string) *Meter {
	return &Meter{rdb: rdb, prefix: prefix, now: time.Now}
}

// Count counts one call served.
func (m *Meter) Count() { m.calls.Add(1) }

func (m *Meter) key(minute int64) string {
	return m.prefix + "oven:load:" + strconv.FormatInt(minute, 10)
}

// Flush adds the calls counted since the last flush to this minute's counter.
func (m *Meter) Flush(ctx context.Context) error {
	n := m.calls.Swap(0)
	if n == 0 {
		return nil
	}
	key := m.key(m.now().Unix() / 60)
	pipe := m.rdb.TxPipeline()
	pipe.IncrBy(ctx, key, n)
	pipe.Expire(ctx, key, time.Hour)
	if _, err := pipe.Exec(ctx); err != nil {
		m.calls.Add(n) // counted again with the next flush
		return fmt.Errorf("prewarm: load: %w", err)
	}
	return nil
}

// Rate is the requests per second of the last whole minute, all shards together.
func (m *Meter) Rate(ctx context.Context) (float64, error) {
	n, err := m.rdb.Get(ctx, m.key(m.now().Unix()/60-1)).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("prewarm: load: %w", err)
	}
	return float64(n) / 60, nil
}

// Run flushes every interval until ctx ends, and once more at the end.
func (m *Meter) Run(ctx context.Context, interval time.Duration, log *slog.Logger) {
	periodic.Run(ctx, interval, interval+2*time.Second, log, "prewarm: load flush", m.Flush)
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	m.Flush(fctx)
}
