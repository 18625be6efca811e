package gms

import (
	"errors"
	"net/http"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/presentation/apijson"
	"github.com/ovengames/oven/presentation/httpmw"
)

// problemsError is a document refused for its problems (400 with the list).
type problemsError struct {
	problems []apijson.Problem
}

func (e *problemsError) Error() string { return "invalid document" }

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
		httpmw.SetError(r.Context(), err)
	}
	apijson.Write(w, status, body)
}
