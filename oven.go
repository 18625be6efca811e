// Package oven holds the domain vocabulary shared by both tiers: the error type with
// its API codes, and the injected game clock.
//
// The presentation tier (presentation/) serves the HTTP contract of API.md and routes
// each player's calls over gRPC to the application shard (application/) that owns the
// player. Nothing here talks to a network or a store.
package oven

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Error codes of API.md. Each maps to one HTTP status and one gRPC code.
const (
	EInvalid           = "invalid_argument"
	EUnauthenticated   = "unauthenticated"
	EForbidden         = "forbidden"
	EBanned            = "banned"
	ENotFound          = "not_found"
	ENotFriend         = "not_friend"
	ENoLives           = "no_lives"
	EAlreadySent       = "already_sent"
	EAlreadySettled    = "already_settled"
	EInsufficientCoins = "insufficient_coins"
	EMailboxFull       = "mailbox_full"
	EConflict          = "conflict"
	EPlayExpired       = "play_expired"
	ETooLarge          = "too_large"
	ERejected          = "rejected"
	ERateLimited       = "rate_limited"
	EUnavailable       = "unavailable"
	EInternal          = "internal"
)

// Error is a failure with an API code and a message fit for the client.
type Error struct {
	Code    string
	Message string
	// RetryAfter is set where waiting helps (no_lives, already_sent, rate_limited).
	RetryAfter time.Duration
	// Cause is the underlying failure, for logs; never shown to clients.
	Cause error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Code + ": " + e.Message + ": " + e.Cause.Error()
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal for any other
// non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EInternal
	}
}

// ErrorMessage returns the client-facing message of err: the *Error's message, or a
// generic text for internal errors so that internals never leak to clients.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// RetryAfter returns how long the client should wait before retrying, or 0.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// RetryAfterSeconds renders d as whole seconds, rounded up, for the retry_after_s field.
func RetryAfterSeconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}
