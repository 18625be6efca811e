package shard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/couchbase/gocb/v2"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"

	"github.com/ovengames/oven"
)

// The outage tests take Redis and PostgreSQL down for real; this covers the failures
// they cannot stage (Couchbase, a PostgreSQL that says it is shutting down).
func TestStoreOutageClassification(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("mailbox: read: %w", err) }
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"redis dial refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, oven.EUnavailable},
		{"redis pool timeout", wrap(redis.ErrPoolTimeout), oven.EUnavailable},
		{"connection lost", wrap(io.ErrUnexpectedEOF), oven.EUnavailable},
		{"connection reset", wrap(syscall.ECONNRESET), oven.EUnavailable},
		{"postgres shutting down", wrap(&pgconn.PgError{Code: "57P01"}), oven.EUnavailable},
		{"postgres starting up", wrap(&pgconn.PgError{Code: "57P03"}), oven.EUnavailable},
		{"postgres conn closed", wrap(pgconn.ErrConnClosed), oven.EUnavailable},
		{"couchbase timeout", wrap(gocb.ErrUnambiguousTimeout), oven.EUnavailable},
		{"couchbase ambiguous timeout", wrap(gocb.ErrAmbiguousTimeout), oven.EUnavailable},
		{"unique violation", wrap(&pgconn.PgError{Code: "23505"}), oven.EInternal},
		{"a bug", errors.New("index out of range"), oven.EInternal},
		{"caller deadline", wrap(context.DeadlineExceeded), oven.EInternal},
		{"domain error", oven.Errorf(oven.ENoLives, "no lives"), oven.ENoLives},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := storeOutage(tt.err)
			if code := oven.ErrorCode(got); code != tt.want {
				t.Fatalf("code %q, want %q", code, tt.want)
			}
			if tt.want == oven.EUnavailable && (oven.RetryAfter(got) <= 0 || !errors.Is(got, tt.err)) {
				t.Errorf("%v: want a retry hint and the cause kept", got)
			}
		})
	}
}
