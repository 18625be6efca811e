// Package grpcerr carries Oven's errors across the gRPC boundary: a *oven.Error becomes a
// gRPC status whose google.rpc.ErrorInfo detail holds the API code, and back.
//
// The table below is the only place that maps API codes to gRPC codes.
package grpcerr

import (
	"context"
	"errors"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovengames/oven"
)

// Domain is the ErrorInfo domain of Oven's errors.
const Domain = "oven"

// CodeWrongShard is the ErrorInfo reason of a shard that does not own the player.
// Its metadata "owner" names the owner.
const CodeWrongShard = "wrong_shard"

var grpcCodes = map[string]codes.Code{
	oven.EInvalid:           codes.InvalidArgument,
	oven.EUnauthenticated:   codes.Unauthenticated,
	oven.EForbidden:         codes.PermissionDenied,
	oven.EBanned:            codes.PermissionDenied,
	oven.ENotFound:          codes.NotFound,
	oven.ENotFriend:         codes.NotFound,
	oven.ENoLives:           codes.FailedPrecondition,
	oven.EAlreadySent:       codes.AlreadyExists,
	oven.EAlreadySettled:    codes.AlreadyExists,
	oven.EInsufficientCoins: codes.FailedPrecondition,
	oven.EMailboxFull:       codes.ResourceExhausted,
	oven.EConflict:          codes.Aborted,
	oven.EPlayExpired:       codes.DeadlineExceeded,
	oven.ETooLarge:          codes.InvalidArgument,
	oven.ERejected:          codes.InvalidArgument,
	oven.ERateLimited:       codes.ResourceExhausted,
	oven.EUnavailable:       codes.Unavailable,
	oven.EInternal:          codes.Internal,
}

// ToStatus converts err to a gRPC status error. Errors that are already statuses pass
// through; context errors become Canceled/DeadlineExceeded.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return withInfo(codes.Unavailable, oven.EUnavailable, "deadline exceeded", nil)
	}
	code := oven.ErrorCode(err)
	md := map[string]string{}
	if d := oven.RetryAfter(err); d > 0 {
		md["retry_after_ms"] = strconv.FormatInt(d.Milliseconds(), 10)
	}
	return withInfo(grpcCodes[code], code, oven.ErrorMessage(err), md)
}

// WrongShard is the refusal of a shard that does not own the player. rev is the
// membership revision the refusing shard's view is at (0 with a static list): the owner
// it names must judge the retry on a view at least that new.
func WrongShard(owner string, rev int64) error {
	return withInfo(codes.FailedPrecondition, CodeWrongShard, "player is owned by shard "+owner,
		map[string]string{"owner": owner, "rev": strconv.FormatInt(rev, 10)})
}

func withInfo(c codes.Code, reason, msg string, md map[string]string) error {
	st := status.New(c, msg)
	if ds, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: Domain, Metadata: md}); err == nil {
		st = ds
	}
	return st.Err()
}

// Info returns the ErrorInfo of a status error, or nil.
func Info(err error) *errdetails.ErrorInfo {
	st, ok := status.FromError(err)
	if !ok {
		return nil
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.Domain == Domain {
			return info
		}
	}
	return nil
}

// FromStatus converts a gRPC error back to a *oven.Error. Transport failures
// (Unavailable, DeadlineExceeded, a wrong_shard left after the retry) become
// oven.EUnavailable, which clients may retry.
func FromStatus(err error) error {
	var decoded *oven.Error
	if err == nil || errors.As(err, &decoded) {
		return err // nil, or decoded already (the routing client decodes its calls' errors)
	}
	if info := Info(err); info != nil && info.Reason != CodeWrongShard {
		e := &oven.Error{Code: info.Reason, Message: status.Convert(err).Message()}
		if ms, perr := strconv.ParseInt(info.Metadata["retry_after_ms"], 10, 64); perr == nil {
			e.RetryAfter = time.Duration(ms) * time.Millisecond
		}
		return e
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.FailedPrecondition, codes.Canceled:
		return &oven.Error{Code: oven.EUnavailable, Message: "the game service is unavailable, retry shortly", RetryAfter: time.Second}
	case codes.InvalidArgument:
		return &oven.Error{Code: oven.EInvalid, Message: status.Convert(err).Message()}
	default:
		return &oven.Error{Code: oven.EInternal, Message: "internal error"}
	}
}

// callError is a failed call as the presentation tier handles it: the original gRPC
// failure (with the operation) for logs, and through Unwrap the *oven.Error clients see.
type callError struct {
	op    string
	cause error
	api   error
}

func (e *callError) Error() string { return e.op + ": " + e.cause.Error() }
func (e *callError) Unwrap() error { return e.api }

// FromCall converts the gRPC failure of operation op like FromStatus, keeping the
// original error and op in its message for the log.
func FromCall(op string, err error) error {
	return &callError{op: op, cause: err, api: FromStatus(err)}
}
