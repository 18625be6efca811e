package gms

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/presentation/httpapi"
)

type errorDetail struct {
	Code        string      `json:"code"`
	Message     string      `json:"message"`
	RetryAfterS json.Number `json:"retry_after_s,omitempty"`
}

type errorBody struct {
	Error errorDetail `json:"error"`
	// Problems lists validation failures of a game-data document.
	Problems []problemJSON `json:"problems,omitempty"`
}

type problemJSON struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// problemsError is a document refused for its problems (400 with the list).
type problemsError struct {
	problems []problemJSON
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

// writeError renders err as API.md's error body, with the status of httpapi's one table.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var pe *problemsError
	if errors.As(err, &pe) {
		writeJSON(w, http.StatusBadRequest, errorBody{
			Error:    errorDetail{Code: oven.EInvalid, Message: "the document has problems; see problems"},
			Problems: pe.problems,
		})
		return
	}
	code := oven.ErrorCode(err)
	status := httpapi.StatusCode(code)
	body := errorBody{Error: errorDetail{Code: code, Message: oven.ErrorMessage(err)}}
	if d := oven.RetryAfter(err); d > 0 {
		secs := oven.RetryAfterSeconds(d)
		body.Error.RetryAfterS = json.Number(secs)
		w.Header().Set("Retry-After", secs)
	}
	if status == http.StatusUnauthorized {
		s.clearCookie(w)
	}
	if status >= 500 {
		if slot, ok := r.Context().Value(errKey).(*errSlot); ok {
			slot.err = err
		}
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
