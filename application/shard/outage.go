package shard

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/couchbase/gocb/v2"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"

	"github.com/ovengames/oven"
)

// storeRetryAfter is the retry hint of a call refused because a store is down: long
// enough not to hammer a restarting store, short enough that a client notices it back.
const storeRetryAfter = time.Second

// storeOutage returns err as unavailable, with a retry hint, when it says a store could
// not be reached; any other error passes unchanged. This is the one place that knows
// the store drivers' connection failures; the domain code just wraps what they return.
func storeOutage(err error) error {
	if err == nil || oven.ErrorCode(err) != oven.EInternal || !unreachable(err) {
		return err
	}
	return &oven.Error{Code: oven.EUnavailable, Message: "a store is unavailable, retry shortly",
		RetryAfter: storeRetryAfter, Cause: err}
}

// unreachable reports whether err is a store connection failure: connecting failed,
// the connection was lost (the store died or restarted), or the store said it is going
// away or not ready yet. A query that reached a live store and failed there is not an
// outage. A write whose connection broke mid-way may have landed; every multi-step
// write is idempotent or arbitrated (play starts with their key and the play_charges
// arbiter, settle replay, mail ids, Couchbase CAS), so repeating it is still safe.
func unreachable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false // the caller's own deadline or departure: grpcerr decides those
	}
	var connect *pgconn.ConnectError
	var pgErr *pgconn.PgError
	var op *net.OpError
	switch {
	case errors.As(err, &connect), pgconn.SafeToRetry(err), errors.Is(err, pgconn.ErrConnClosed):
		return true
	case errors.As(err, &pgErr):
		// Class 08: connection exception; 57P01-03: shutting down, crashed, starting up.
		return strings.HasPrefix(pgErr.Code, "08") || slices.Contains([]string{"57P01", "57P02", "57P03"}, pgErr.Code)
	case errors.As(err, &op), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true // dialing failed, or the connection broke
	case errors.Is(err, redis.ErrPoolTimeout), redis.IsLoadingError(err):
		return true
	case errors.Is(err, gocb.ErrTimeout), errors.Is(err, gocb.ErrUnambiguousTimeout),
		errors.Is(err, gocb.ErrAmbiguousTimeout), errors.Is(err, gocb.ErrServiceNotAvailable):
		return true
	}
	return false
}
