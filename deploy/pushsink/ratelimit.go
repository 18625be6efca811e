package pushsink

import (
	"fmt"
	"sync"
	"time"
)

// RateLimit allows Requests sends per Window (a fixed window starting with
// the first send). The zero value is unlimited.
type RateLimit struct {
	Requests int
	Window   time.Duration
}

func (r RateLimit) unlimited() bool { return r.Requests <= 0 || r.Window <= 0 }

type window struct {
	limit RateLimit
	start time.Time
	count int
}

// limiter applies one fixed-window RateLimit per provider.
type limiter struct {
	mu sync.Mutex
	by map[Provider]*window
}

func newLimiter(limits map[Provider]RateLimit) *limiter {
	l := &limiter{by: make(map[Provider]*window)}
	for p, r := range limits {
		l.by[p] = &window{limit: r}
	}
	return l
}

func (l *limiter) set(p Provider, r RateLimit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.by[p] = &window{limit: r}
}

// allow counts one request at now; when over the limit it returns false and
// how long until the window ends.
func (l *limiter) allow(p Provider, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.by[p]
	if w == nil || w.limit.unlimited() {
		return true, 0
	}
	if w.start.IsZero() || now.Sub(w.start) >= w.limit.Window {
		w.start, w.count = now, 0
	}
	if w.count >= w.limit.Requests {
		return false, w.start.Add(w.limit.Window).Sub(now)
	}
	w.count++
	return true, 0
}

// SetRateLimit replaces a provider's rate limit (and restarts its window).
func (s *Server) SetRateLimit(p Provider, r RateLimit) error {
	if !p.valid() {
		return fmt.Errorf("pushsink: unknown provider %q", p)
	}
	s.limits.set(p, r)
	return nil
}

// retryAfterSeconds rounds d up to whole seconds, at least 1, for the
// Retry-After header.
func retryAfterSeconds(d time.Duration) string {
	secs := int64((d + time.Second - 1) / time.Second)
	return fmt.Sprint(max(secs, 1))
}
