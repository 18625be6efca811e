package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/grpcerr"
)

// statusByCode is the one table mapping API codes to HTTP statuses (API.md).
// A code missing here is a bug and renders as 500.
var statusByCode = map[string]int{
	oven.EInvalid:           http.StatusBadRequest,
	oven.EUnauthenticated:   http.StatusUnauthorized,
	oven.EForbidden:         http.StatusForbidden,
	oven.EBanned:            http.StatusForbidden,
	oven.ENotFound:          http.StatusNotFound,
	oven.ENotFriend:         http.StatusNotFound,
	oven.ENoLives:           http.StatusConflict,
	oven.EAlreadySent:       http.StatusConflict,
	oven.EAlreadySettled:    http.StatusConflict,
	oven.EInsufficientCoins: http.StatusConflict,
	oven.EMailboxFull:       http.StatusConflict,
	oven.EConflict:          http.StatusConflict,
	oven.EPlayExpired:       http.StatusGone,
	oven.ETooLarge:          http.StatusRequestEntityTooLarge,
	oven.ERejected:          http.StatusUnprocessableEntity,
	oven.ERateLimited:       http.StatusTooManyRequests,
	oven.EUnavailable:       http.StatusServiceUnavailable,
	oven.EInternal:          http.StatusInternalServerError,
}

// StatusCode returns the HTTP status of an API error code: 500 for unknown codes.
func StatusCode(code string) int {
	if st, ok := statusByCode[code]; ok {
		return st
	}
	return http.StatusInternalServerError
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// json.Number renders as a bare number and keeps header and body identical.
	RetryAfterS json.Number `json:"retry_after_s,omitempty"`
}

// writeError renders err as API.md's error body. Server-side failures are attached to
// the access log line, because the client only sees a generic message.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := oven.ErrorCode(err)
	status := StatusCode(code)
	body := errorBody{Error: errorDetail{Code: code, Message: oven.ErrorMessage(err)}}
	if d := oven.RetryAfter(err); d > 0 {
		secs := oven.RetryAfterSeconds(d)
		body.Error.RetryAfterS = json.Number(secs)
		w.Header().Set("Retry-After", secs)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="oven"`)
	}
	if status >= 500 {
		infoFrom(r.Context()).setErr(err)
	}
	writeJSON(w, status, body)
}

// rpcError keeps the original gRPC failure for the log while its *oven.Error, which is
// all the client sees, stays reachable through errors.As.
type rpcError struct {
	op    string
	cause error
	api   error
}

func (e *rpcError) Error() string { return e.op + ": " + e.cause.Error() }
func (e *rpcError) Unwrap() error { return e.api }

// fromRPC converts a gRPC failure of operation op for rendering.
func fromRPC(op string, err error) error {
	return &rpcError{op: op, cause: err, api: grpcerr.FromStatus(err)}
}

func (s *server) notFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, oven.Errorf(oven.ENotFound, "no route for %s %s", r.Method, r.URL.Path))
}

// methodNotAllowed answers 405 in JSON. chi drops its Allow header once the handler is
// replaced, so the allowed methods are looked up again here (rare path, cheap).
func (s *server) methodNotAllowed(mux *chi.Mux) http.HandlerFunc {
	methods := []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions}
	return func(w http.ResponseWriter, r *http.Request) {
		var allowed []string
		for _, m := range methods {
			if mux.Match(chi.NewRouteContext(), m, r.URL.Path) {
				allowed = append(allowed, m)
			}
		}
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
		}
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: errorDetail{
			Code:    "method_not_allowed",
			Message: r.Method + " is not allowed on " + r.URL.Path,
		}})
	}
}

// isMaxBytes reports whether err comes from reading past the body limit.
func isMaxBytes(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}
