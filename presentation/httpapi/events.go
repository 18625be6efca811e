package httpapi

import (
	"net/http"

	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/presentation/apijson"
	"github.com/ovengames/oven/proto/ovenv1"
)

// listEvents returns the live events running now or starting within 7 days, soonest
// first (GET /v1/events).
func (s *server) listEvents(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := callCtx(r)
	defer cancel()
	resp, err := s.game.ListEvents(ctx, &ovenv1.ListEventsRequest{PlayerId: playerFrom(r.Context())})
	if err != nil {
		return grpcerr.FromCall("ListEvents", err)
	}
	out := struct {
		Events []apijson.Event `json:"events"`
	}{Events: make([]apijson.Event, 0, len(resp.GetEvents()))}
	for _, e := range resp.GetEvents() {
		out.Events = append(out.Events, apijson.RenderEvent(e))
	}
	apijson.Write(w, http.StatusOK, out)
	return nil
}
