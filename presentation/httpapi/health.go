package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/presentation/apijson"
	"github.com/ovengames/oven/presentation/httpmw"
)

type statusJSON struct {
	Status string `json:"status"`
}

// healthz answers 200 while the process lives; it checks nothing else so that a slow
// dependency never gets a healthy process restarted.
func (s *server) healthz(w http.ResponseWriter, _ *http.Request) {
	apijson.Write(w, http.StatusOK, statusJSON{Status: "ok"})
}

// readyz answers 200 only when Config.Ready does, so that a load balancer stops sending
// traffic to a copy that cannot reach its shards. The reason is logged, not shown:
// the endpoint is unauthenticated.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := s.checkReady(r.Context()); err != nil {
		s.writeError(w, r, oven.Errorf(oven.EUnavailable, "not ready"))
		httpmw.SetError(r.Context(), err) // the real reason, for the access log
		return
	}
	apijson.Write(w, http.StatusOK, statusJSON{Status: "ready"})
}

func (s *server) checkReady(ctx context.Context) error {
	if s.ready == nil {
		return errors.New("no readiness check configured")
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	return s.ready(ctx)
}
