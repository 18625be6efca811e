package vp

import (
	"fmt"
	"sync"
	"time"
)

// maxExamples bounds the examples kept per kind of violation.
const maxExamples = 5

// Settled is a settlement a VP saw acknowledged (200 or 422 rejected): the audit
// checks that the stores kept exactly that.
type Settled struct {
	PlayerID string
	PlayID   string
	Score    int64
	Coins    int64
	Accepted bool // 200; false for 422 rejected
}

// Observed collects what the VPs of one target saw that the audit checks: the
// settlements acknowledged, and violations visible from the client side. It is safe
// for concurrent use.
type Observed struct {
	mu       sync.Mutex
	limit    int
	settled  []Settled
	overflow int64
	counters map[string]int64
	examples map[string][]string
	sends    map[[2]string]time.Time // sender→receiver: when a life was last sent
}

// NewObserved returns an Observed that keeps up to limit settlements for the audit.
func NewObserved(limit int) *Observed {
	return &Observed{limit: limit, counters: map[string]int64{}, examples: map[string][]string{}, sends: map[[2]string]time.Time{}}
}

// Client-side check names (counters; a violation counter ends in ".violations").
const (
	CheckResettle        = "settle_replay"          // same body again → the identical answer
	CheckConflict        = "settle_conflict"        // other body → 409 already_settled
	CheckLivesProbe      = "concurrent_starts"      // k+2 concurrent starts take at most k lives
	CheckLivesAccounting = "start_takes_one_life"   // a start answers one life fewer (regeneration aside)
	CheckBalance         = "balance_continuity"     // /v1/me coins = the last balance an answer showed
	CheckDevice          = "device_same_player"     // a device id maps to the same player again
	CheckCooldown        = "send_cooldown"          // one life per sender→receiver per cooldown
	CountLivesSent       = "social.lives_sent"      // lives the server said it sent
	CountLivesAccepted   = "social.lives_accepted"  // mailbox items accepted
	CountFriendships     = "social.friendships_put" // PUT /v1/friends answered 204
)

func (o *Observed) settle(s Settled) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.settled) < o.limit {
		o.settled = append(o.settled, s)
	} else {
		o.overflow++
	}
}

// check counts one client-side check and, when it failed, the violation with an example.
func (o *Observed) check(name string, ok bool, format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.counters[name+".checked"]++
	if ok {
		return
	}
	o.counters[name+".violations"]++
	if len(o.examples[name]) < maxExamples {
		o.examples[name] = append(o.examples[name], fmt.Sprintf(format, args...))
	}
}

// lifeSent records a life the server said it sent at t, and checks that the pair sent
// none within the cooldown before (invariant 5, as seen by the clients).
func (o *Observed) lifeSent(from, to string, t time.Time, cooldown time.Duration) {
	o.mu.Lock()
	prev, ok := o.sends[[2]string{from, to}]
	o.sends[[2]string{from, to}] = t
	o.mu.Unlock()
	o.add(CountLivesSent, 1)
	// Answers arrive in any order; a margin keeps clock jitter between the two
	// answers from reading as a violation.
	within := ok && t.Sub(prev).Abs() < cooldown-time.Second
	o.check(CheckCooldown, !within, "player %s sent player %s a life at %s and again at %s (cooldown %v)",
		from, to, prev.UTC().Format(time.RFC3339Nano), t.UTC().Format(time.RFC3339Nano), cooldown)
}

func (o *Observed) add(name string, n int64) {
	o.mu.Lock()
	o.counters[name] += n
	o.mu.Unlock()
}

// Settlements returns the acknowledged settlements kept, and how many did not fit.
func (o *Observed) Settlements() ([]Settled, int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Settled(nil), o.settled...), o.overflow
}

// Check is the result of one client-side check.
type Check struct {
	Name       string   `json:"name"`
	Checked    int64    `json:"checked"`
	Violations int64    `json:"violations"`
	Examples   []string `json:"examples,omitempty"`
}

// Checks returns the client-side checks in a fixed order.
func (o *Observed) Checks() []Check {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []Check
	for _, n := range []string{CheckResettle, CheckConflict, CheckLivesProbe, CheckLivesAccounting, CheckBalance, CheckDevice, CheckCooldown} {
		out = append(out, Check{Name: n, Checked: o.counters[n+".checked"], Violations: o.counters[n+".violations"],
			Examples: append([]string(nil), o.examples[n]...)})
	}
	return out
}

// Counter returns a counter (e.g. CountLivesSent).
func (o *Observed) Counter(name string) int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counters[name]
}
