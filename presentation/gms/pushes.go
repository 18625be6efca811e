package gms

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/presentation/apijson"
	"github.com/ovengames/oven/proto/ovenv1"
)

// deliveryJSON is one push delivery (API.md, Live operations).
type deliveryJSON struct {
	ID        int64   `json:"id"`
	Kind      string  `json:"kind"`
	Platform  string  `json:"platform"`
	Status    string  `json:"status"`
	CreatedAt string  `json:"created_at"`
	SentAt    *string `json:"sent_at"`
	Error     string  `json:"error"`
	EventID   *string `json:"event_id,omitempty"`
}

// playerPushes lists a player's push deliveries, newest first (GET
// /gms/api/players/{id}/pushes, viewer).
func (s *server) playerPushes(w http.ResponseWriter, r *http.Request) error {
	id, err := playerID(r)
	if err != nil {
		return err
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	resp, err := s.admin.PlayerPushes(ctx, &ovenv1.AdminPlayerRequest{Auth: auth(r), PlayerId: id})
	if err != nil {
		return grpcerr.FromCall("PlayerPushes", err)
	}
	out := make([]deliveryJSON, len(resp.GetDeliveries()))
	for i, d := range resp.GetDeliveries() {
		out[i] = deliveryJSON{ID: d.GetId(), Kind: d.GetKind(), Platform: d.GetPlatform(), Status: d.GetStatus(),
			CreatedAt: apijson.Time(d.GetCreatedAtMs()), SentAt: apijson.OptionalTime(d.GetSentAtMs()), Error: d.GetError()}
		if e := d.GetEventId(); e != "" {
			out[i].EventID = &e
		}
	}
	apijson.Write(w, http.StatusOK, map[string]any{"deliveries": out})
	return nil
}

// eventPushes counts a campaign's deliveries by status (GET /gms/api/events/{id}/pushes,
// viewer).
func (s *server) eventPushes(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := callCtx(r)
	defer cancel()
	c, err := s.admin.EventPushes(ctx, &ovenv1.LiveEventIdRequest{Auth: auth(r), Id: chi.URLParam(r, "id")})
	if err != nil {
		return grpcerr.FromCall("EventPushes", err)
	}
	apijson.Write(w, http.StatusOK, map[string]int64{"queued": c.GetQueued(), "sent": c.GetSent(),
		"failed": c.GetFailed(), "unregistered": c.GetUnregistered()})
	return nil
}

type raiseJSON struct {
	EventID string `json:"event_id"`
	At      string `json:"at"`
	Floor   int32  `json:"floor"`
}

// capacity is the pre-warming floor in force and the raises planned (GET
// /gms/api/capacity, viewer).
func (s *server) capacity(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := callCtx(r)
	defer cancel()
	c, err := s.admin.GetCapacity(ctx, &ovenv1.AdminRequest{Auth: auth(r)})
	if err != nil {
		return grpcerr.FromCall("GetCapacity", err)
	}
	var current *int32
	if c.GetCurrent() >= 0 {
		n := c.GetCurrent()
		current = &n
	}
	upcoming := make([]raiseJSON, len(c.GetUpcoming()))
	for i, u := range c.GetUpcoming() {
		upcoming[i] = raiseJSON{EventID: u.GetEventId(), At: apijson.Time(u.GetAtMs()), Floor: u.GetFloor()}
	}
	apijson.Write(w, http.StatusOK, map[string]any{
		"presentation": map[string]any{"floor": c.GetFloor(), "current": current, "reason": c.GetReason(),
			"until": apijson.OptionalTime(c.GetUntilMs())},
		"upcoming": upcoming,
	})
	return nil
}
