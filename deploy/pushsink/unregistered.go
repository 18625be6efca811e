package pushsink

import (
	"fmt"
	"sync"
	"time"
)

type tokenKey struct {
	provider Provider
	token    string
}

// unregistry holds the device tokens that answer "unregistered", with the
// time they were marked (APNs reports it as the 410 timestamp).
type unregistry struct {
	mu    sync.Mutex
	since map[tokenKey]time.Time
}

func newUnregistry() *unregistry { return &unregistry{since: make(map[tokenKey]time.Time)} }

func (u *unregistry) set(k tokenKey, at time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.since[k]; !ok {
		u.since[k] = at
	}
}

func (u *unregistry) remove(k tokenKey) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.since, k)
}

func (u *unregistry) lookup(k tokenKey) (time.Time, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	t, ok := u.since[k]
	return t, ok
}

// SetUnregistered makes token answer as unregistered from now on: APNs 410
// Unregistered, FCM 404 NOT_FOUND / UNREGISTERED. Setting it again keeps the
// first time.
func (s *Server) SetUnregistered(p Provider, token string) error {
	if !p.valid() {
		return fmt.Errorf("pushsink: unknown provider %q", p)
	}
	s.unreg.set(tokenKey{p, token}, s.now())
	return nil
}

// ClearUnregistered makes token deliverable again.
func (s *Server) ClearUnregistered(p Provider, token string) {
	s.unreg.remove(tokenKey{p, token})
}
