package httpapi

import (
	"hash/fnv"
	"sync"
	"time"
)

// limiter is a token bucket per key (a player id): rate tokens per second, up to burst.
// Buckets live in a few independently locked shards; idle ones are swept as they pile up.
// Each presentation copy limits on its own, so a player spread over n copies by the load
// balancer gets at most n times the rate — a guard against runaway clients, not billing.
type limiter struct {
	rate, burst float64
	shards      [32]limiterShard
}

type limiterShard struct {
	mu sync.Mutex
	m  map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

const maxBucketsPerShard = 20_000

func newLimiter(rate float64) *limiter {
	l := &limiter{rate: rate, burst: 2 * rate}
	for i := range l.shards {
		l.shards[i].m = map[string]*bucket{}
	}
	return l
}

// allow takes a token for key; when none is left it says how long until one is.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	h := fnv.New32a()
	h.Write([]byte(key))
	sh := &l.shards[h.Sum32()%uint32(len(l.shards))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b, ok := sh.m[key]
	if !ok {
		if len(sh.m) >= maxBucketsPerShard {
			sh.sweep(now, l.burst/l.rate)
		}
		b = &bucket{tokens: l.burst, last: now}
		sh.m[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// sweep forgets buckets idle long enough to be full again: they are the same as new.
func (sh *limiterShard) sweep(now time.Time, refillSeconds float64) {
	for k, b := range sh.m {
		if now.Sub(b.last).Seconds() >= refillSeconds {
			delete(sh.m, k)
		}
	}
}
