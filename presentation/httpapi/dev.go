package httpapi

import (
	"net/http"
	"time"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/presentation/apijson"
	"github.com/ovengames/oven/proto/ovenv1"
)

type advanceClockRequest struct {
	AdvanceS *int64 `json:"advance_s"`
}

type advanceClockResponse struct {
	Now string `json:"now"`
}

// advanceClock moves the game clock of every shard forward (POST /v1/dev/clock, only
// routed when Config.DevClock is set).
func (s *server) advanceClock(w http.ResponseWriter, r *http.Request) error {
	var req advanceClockRequest
	if err := apijson.Decode(r, &req); err != nil {
		return err
	}
	secs, err := requiredInRange("advance_s", req.AdvanceS, int64(oven.MaxClockAdvance/time.Second))
	if err != nil {
		return err
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := s.game.AdvanceClock(ctx, &ovenv1.AdvanceClockRequest{AdvanceMs: secs * 1000})
	if err != nil {
		return grpcerr.FromCall("AdvanceClock", err)
	}
	apijson.Write(w, http.StatusOK, advanceClockResponse{Now: apijson.Time(res.GetNowMs())})
	return nil
}
