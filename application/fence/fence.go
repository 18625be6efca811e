// Package fence carries a slot owner's epoch from the ownership check to every store
// write, so that the stores themselves can refuse a shard that lost the slot.
//
// Leases alone are not safety: a shard paused by GC, the kernel or a debugger can wake
// after its lease ran out and still send a write. So each slot has an epoch that only
// grows (the etcd revision at which its current owner took it; 1 with a static member
// list). A new owner raises the slot's epoch in every store before it serves the slot
// (Raiser), and every write a shard makes for a player carries its Token and is checked
// against the store's epoch atomically with the write:
//
//   - Redis: every per-player key is hash-tagged by slot, so the slot's fence key lives
//     in the same Redis Cluster hash slot and each Lua script checks it before writing;
//   - PostgreSQL: each write transaction calls oven_fence(slot, epoch), which takes a
//     FOR KEY SHARE lock on the slot's slot_fences row and raises unless the epoch
//     matches; a raise takes FOR UPDATE on the same row, so it waits for writes in flight
//     and every later write sees the new epoch;
//   - Couchbase: a mailbox document records the epoch of its last writer; a CAS write
//     with an older epoch is refused, so once a new owner has written a document no
//     stale owner can.
//
// A refused write returns an *Error; the shard answers it as "not the owner" and counts
// it in oven_fenced_writes_total{store}.
package fence

import (
	"context"
	"errors"
	"fmt"
)

// Token is a shard's claim to write a slot's players: the slot and the epoch at which
// the shard took it.
type Token struct {
	Slot  int
	Epoch uint64
}

type ctxKey struct{}

// With returns ctx carrying tok. The shard's ownership interceptor sets it on every call
// for a player; background work over owned slots sets it per slot.
func With(ctx context.Context, tok Token) context.Context {
	return context.WithValue(ctx, ctxKey{}, tok)
}

// From returns the token ctx carries.
func From(ctx context.Context) (Token, bool) {
	tok, ok := ctx.Value(ctxKey{}).(Token)
	return tok, ok
}

// Must returns the token ctx carries, or ErrNoToken: a write without a token is a bug,
// never a write to let through.
func Must(ctx context.Context) (Token, error) {
	tok, ok := From(ctx)
	if !ok {
		return Token{}, ErrNoToken
	}
	return tok, nil
}

// ErrNoToken is returned by a store asked to write a player's state without a token.
var ErrNoToken = errors.New("fence: write without an ownership token")

// Store names, the label of oven_fenced_writes_total.
const (
	StoreRedis     = "redis"
	StorePostgres  = "postgres"
	StoreCouchbase = "couchbase"
)

// Error is a write refused by a store's fence: the slot's epoch there is newer than the
// writer's.
type Error struct {
	Store string // StoreRedis, StorePostgres or StoreCouchbase
	Slot  int
	Epoch uint64 // the writer's epoch
}

func (e *Error) Error() string {
	return fmt.Sprintf("fence: %s refused a write to slot %d at stale epoch %d", e.Store, e.Slot, e.Epoch)
}

// Refused reports whether err is (or wraps) a fence refusal, and which.
func Refused(err error) (*Error, bool) {
	var fe *Error
	ok := errors.As(err, &fe)
	return fe, ok
}

// Raiser raises the epoch of slots in one store before their new owner serves them.
// It sets each slot's epoch to max(current, epoch), waiting for writes in flight at an
// older epoch to finish (or to be refused).
type Raiser interface {
	RaiseFences(ctx context.Context, slots []int, epoch uint64) error
}
