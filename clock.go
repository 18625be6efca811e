package oven

import (
	"sync/atomic"
	"time"
)

// Clock tells the game time. Every rule about time (life regeneration, cooldowns, play
// and mail expiry, the leaderboard week) reads it, never time.Now, so that the dev clock
// can move time for the whole game. Security clocks (token expiry) use real time.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// OffsetClock is real time moved forward by an adjustable offset: the dev clock of API.md.
// It is safe for concurrent use.
type OffsetClock struct {
	offset atomic.Int64 // nanoseconds
}

// Now returns the real time plus the offset.
func (c *OffsetClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// SetOffset replaces the offset. The offset only ever matters relative to real time, so
// setting it to the same total on every process keeps them in step.
func (c *OffsetClock) SetOffset(d time.Duration) { c.offset.Store(int64(d)) }

// Offset returns the current offset.
func (c *OffsetClock) Offset() time.Duration { return time.Duration(c.offset.Load()) }
