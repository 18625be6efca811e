package vp

import (
	"fmt"
	"sync/atomic"
)

// The social graph of the single-route mode is circulant: player i is friends with
// i±1 … i±friends/2 (mod n). It is regular (every player has exactly `friends` friends),
// it takes n·friends/2 PUTs to build, and its directed edges are easy to hand out in
// an order that never repeats a sender→receiver pair.

// Friendship returns the k-th of the n·friends/2 friendships of the graph: offset
// k/n+1 from player k%n. Round d of n friendships gives every player one new friend
// on each side, so that the PUTs of a round touch every player once.
func Friendship(n, k int) (a, b int) {
	d, i := k/n+1, k%n
	return i, (i + d) % n
}

// Pairs hands out the sender→receiver pairs of the graph, each at most once. Round r
// uses one offset (+1, −1, +2, −2, …) for every sender: within a round each player sends
// once and receives once, so a round puts exactly one life in every mailbox, and one
// sender's requests are n apart, far under the per-player rate limit. It is safe for
// concurrent use.
type Pairs struct {
	n       int
	offsets []int
	next    atomic.Int64
}

// NewPairs returns the pairs of n players with friends friends each (even, and fewer
// than n, so that the offsets are distinct modulo n).
func NewPairs(n, friends int) (*Pairs, error) {
	if friends < 2 || friends%2 != 0 {
		return nil, fmt.Errorf("vp: friends per player must be even and at least 2, not %d", friends)
	}
	if n <= friends {
		return nil, fmt.Errorf("vp: %d players cannot each have %d distinct friends", n, friends)
	}
	p := &Pairs{n: n}
	for d := 1; d <= friends/2; d++ {
		p.offsets = append(p.offsets, d, -d)
	}
	return p, nil
}

// Total is the number of pairs.
func (p *Pairs) Total() int { return p.n * len(p.offsets) }

// At returns the k-th pair (0 ≤ k < Total).
func (p *Pairs) At(k int) (from, to int) {
	d, i := p.offsets[k/p.n], k%p.n
	return i, ((i+d)%p.n + p.n) % p.n
}

// Next returns a pair never handed out before, or false when none is left.
func (p *Pairs) Next() (from, to int, ok bool) {
	k := int(p.next.Add(1) - 1)
	if k >= p.Total() {
		return 0, 0, false
	}
	from, to = p.At(k)
	return from, to, true
}

// AlignRound skips what is left of the current round, so that the next n pairs are a
// whole round (one life for every mailbox).
func (p *Pairs) AlignRound() {
	for {
		k := p.next.Load()
		r := (k + int64(p.n) - 1) / int64(p.n) * int64(p.n)
		if p.next.CompareAndSwap(k, r) {
			return
		}
	}
}

// Left returns the pairs not handed out yet.
func (p *Pairs) Left() int { return max(p.Total()-int(p.next.Load()), 0) }
