package gms

import (
	"errors"
	"net/http"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/presentation/apijson"
)

// problemsError is a document refused for its problems (400 with the list).
type problemsError struct {
	problems []apijson.Problem
}

func (e *problemsError) Error() string { return "invalid document" }

// rpcError keeps a gRPC failure for the log while its *oven.Error is what the client sees.
type rpcError struct {
	op    string
	cause error
	api   error
}

func (e *rpcError) Error() string { return e.op + ": " + e.cause.Error() }
func (e *rpcError) Unwrap() error { return e.api }

func fromRPC(op string, err error) error {
	return &rpcError{op: op, cause: err, api: grpcerr.FromStatus(err)}
}

// writeError renders err as API.md's error body, with the status of the one table in apijson.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var pe *problemsError
	if errors.As(err, &pe) {
		apijson.Write(w, http.StatusBadRequest, apijson.ErrorBody{
			Error:    apijson.ErrorDetail{Code: oven.EInvalid, Message: "the document has problems; see problems"},
			Problems: pe.problems,
		})
		return
	}
	status, body := apijson.ErrorOf(w.Header(), err)
	if status == http.StatusUnauthorized {
		s.clearCookie(w)
	}
	if status >= 500 {
		if slot, ok := r.Context().Value(errKey).(*errSlot); ok {
			slot.err = err
		}
	}
	apijson.Write(w, status, body)
}
