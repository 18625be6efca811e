package httpapi

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/presentation/apijson"
	"github.com/ovengames/oven/presentation/httpmw"
)

// writeError renders err as API.md's error body. Server-side failures are attached to
// the access log line, because the client only sees a generic message.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := apijson.ErrorOf(w.Header(), err)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="oven"`)
	}
	if status >= 500 {
		httpmw.SetError(r.Context(), err)
	}
	apijson.Write(w, status, body)
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
		apijson.Write(w, http.StatusMethodNotAllowed, apijson.ErrorBody{Error: apijson.ErrorDetail{
			Code:    "method_not_allowed",
			Message: r.Method + " is not allowed on " + r.URL.Path,
		}})
	}
}
