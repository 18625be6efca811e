package pushsink

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// controlTokenRequest is the body of POST/DELETE /sink/unregistered.
type controlTokenRequest struct {
	Provider Provider `json:"provider"`
	Token    string   `json:"token"`
}

// handleControl serves the sink's own JSON API (not part of either
// protocol), for a process that does not hold the *Server:
//
//	GET    /sink/deliveries[?provider=&token=&since=]  → {"deliveries": [...]}
//	DELETE /sink/deliveries                            → 204
//	POST   /sink/unregistered {"provider","token"}     → 204
//	DELETE /sink/unregistered {"provider","token"}     → 204
//	GET    /sink/stats                                 → {"apns": {"accepted", "rejected"}, "fcm": {…}}
func (s *Server) handleControl(w http.ResponseWriter, r *http.Request) {
	switch r.Method + " " + r.URL.Path {
	case "GET /sink/deliveries":
		s.getDeliveries(w, r)
	case "DELETE /sink/deliveries":
		s.ClearDeliveries()
		w.WriteHeader(http.StatusNoContent)
	case "GET /sink/stats":
		writeJSON(w, http.StatusOK, s.Stats())
	case "POST /sink/unregistered", "DELETE /sink/unregistered":
		s.setUnregistered(w, r)
	default:
		controlError(w, http.StatusNotFound, "no such sink endpoint: "+r.Method+" "+r.URL.Path)
	}
}

func (s *Server) getDeliveries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, err := parseSince(q.Get("since"))
	if err != nil {
		controlError(w, http.StatusBadRequest, "since: "+err.Error())
		return
	}
	out := []Delivery{}
	for _, d := range s.Deliveries() {
		if d.Seq > since && matches(q.Get("provider"), string(d.Provider)) && matches(q.Get("token"), d.DeviceToken) {
			out = append(out, d)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": out})
}

func parseSince(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	return strconv.ParseInt(v, 10, 64)
}

func matches(filter, v string) bool { return filter == "" || filter == v }

func (s *Server) setUnregistered(w http.ResponseWriter, r *http.Request) {
	var req controlTokenRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Token == "" || !req.Provider.valid() {
		controlError(w, http.StatusBadRequest, `want {"provider": "apns"|"fcm", "token": "..."}`)
		return
	}
	if r.Method == http.MethodDelete {
		s.ClearUnregistered(req.Provider, req.Token)
	} else {
		s.SetUnregistered(req.Provider, req.Token)
	}
	w.WriteHeader(http.StatusNoContent)
}

func controlError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
