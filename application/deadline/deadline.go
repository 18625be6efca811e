// Package deadline carries a caller's absolute deadline from the presentation tier to
// the shard, so that a shard never starts a write after its caller has given up.
//
// gRPC's own deadline does not do this: the grpc-timeout header is relative, and a
// shard that was stopped (SIGSTOP, a long GC pause, a saturated machine) before it read
// the request computes a fresh deadline from it when it resumes, long after the caller
// answered 503. So the routing client also sends the wall-clock deadline, in unix
// milliseconds (Send); the shard's interceptor refuses a call whose deadline has passed
// and bounds the call's context by it (Receive); and the domain code calls Check
// before each write step of a multi-step operation. Clocks of presentation and shard
// hosts are assumed synchronised (NTP); skew shifts the cut-off by as much.
//
// A write step that started before the deadline may still finish after it: that is
// what idempotency (play-start keys, mail ids, settle replay) is for.
package deadline

import (
	"context"
	"strconv"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/ovengames/oven"
)

// MetadataKey is the gRPC metadata key of the caller's deadline, in unix milliseconds.
const MetadataKey = "oven-deadline-ms"

// Send returns ctx with its deadline added to the outgoing gRPC metadata. A context
// without a deadline is returned unchanged.
func Send(ctx context.Context) context.Context {
	d, ok := ctx.Deadline()
	if !ok {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, MetadataKey, strconv.FormatInt(d.UnixMilli(), 10))
}

type ctxKey struct{}

// Receive reads the caller's deadline from the incoming metadata. It returns ctx
// carrying that deadline (for Check) and bounded by it, or an unavailable error when it
// has already passed. A call without one (older callers, tests) passes unchanged.
// The caller must call cancel.
func Receive(ctx context.Context) (_ context.Context, cancel context.CancelFunc, err error) {
	d, ok := incoming(ctx)
	if !ok {
		return ctx, func() {}, nil
	}
	if err := passed(d); err != nil {
		return ctx, func() {}, err
	}
	ctx = context.WithValue(ctx, ctxKey{}, d)
	ctx, cancel = context.WithDeadline(ctx, d)
	return ctx, cancel, nil
}

// incoming is the earliest deadline in the incoming metadata (a call relayed by another
// shard may carry several).
func incoming(ctx context.Context) (time.Time, bool) {
	md, _ := metadata.FromIncomingContext(ctx)
	var earliest int64
	for _, v := range md.Get(MetadataKey) {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err == nil && ms > 0 && (earliest == 0 || ms < earliest) {
			earliest = ms
		}
	}
	return time.UnixMilli(earliest), earliest != 0
}

// Check returns an unavailable error when ctx's caller deadline has passed, or ctx is
// done; nil otherwise. Call it before each step that writes: after it fails, nothing
// more may be written on the caller's behalf (undoing what was written is still fine).
func Check(ctx context.Context) error {
	if d, ok := ctx.Value(ctxKey{}).(time.Time); ok {
		if err := passed(d); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// passed reads the real clock, not the game clock: a deadline is an agreement between
// processes about real time, which the dev clock does not move.
func passed(d time.Time) error {
	if !time.Now().Before(d) {
		return &oven.Error{Code: oven.EUnavailable, RetryAfter: time.Second,
			Message: "the request's deadline passed before it could be served; nothing was changed"}
	}
	return nil
}
