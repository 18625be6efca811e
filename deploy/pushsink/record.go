package pushsink

import (
	"encoding/json"
	"sync"
	"time"
)

// Delivery is one push request the sink answered, accepted or refused.
type Delivery struct {
	Seq      int64     `json:"seq"` // 1, 2, ... in arrival order
	Provider Provider  `json:"provider"`
	Time     time.Time `json:"time"`
	Status   int       `json:"status"` // HTTP status answered

	// Reason is "" when accepted, else the APNs reason (e.g. "Unregistered")
	// or, for FCM, the FcmError code when there is one (e.g. "UNREGISTERED")
	// and the Google status otherwise (e.g. "UNAUTHENTICATED").
	Reason string `json:"reason,omitempty"`

	DeviceToken string `json:"device_token,omitempty"` // APNs path token; FCM message.token (or fid)
	Topic       string `json:"topic,omitempty"`        // APNs apns-topic; FCM message.topic
	Condition   string `json:"condition,omitempty"`    // FCM message.condition
	Project     string `json:"project,omitempty"`      // FCM project from the path

	// ID is the APNs apns-id answered, or the FCM message name.
	ID string `json:"id,omitempty"`

	// Headers holds the request headers of interest: apns-* for APNs.
	Headers map[string]string `json:"headers,omitempty"`

	// Payload is the APNs body, or the FCM "message" object. A body that is
	// not JSON is kept as a JSON string; a body over the size limit is not
	// kept (see Size).
	Payload json.RawMessage `json:"payload,omitempty"`
	Size    int             `json:"size"` // body bytes read (a refused oversize body: limit+1)

	ValidateOnly bool `json:"validate_only,omitempty"` // FCM validate_only (dry run)
}

// Accepted reports whether the sink answered 200.
func (d Delivery) Accepted() bool { return d.Status == 200 }

// recorder keeps the last max deliveries (a ring) and counts every one.
type recorder struct {
	mu    sync.Mutex
	max   int
	seq   int64
	ring  []Delivery
	next  int // where the next delivery goes once the ring is full
	stats map[Provider]*Stats
}

// Stats count a provider's deliveries since the sink started (ClearDeliveries keeps
// them).
type Stats struct {
	Accepted int64 `json:"accepted"`
	Rejected int64 `json:"rejected"`
}

func newRecorder(max int) *recorder {
	return &recorder{max: max, stats: map[Provider]*Stats{APNs: {}, FCM: {}}}
}

func (r *recorder) add(d Delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	d.Seq = r.seq
	if st := r.stats[d.Provider]; st != nil {
		if d.Accepted() {
			st.Accepted++
		} else {
			st.Rejected++
		}
	}
	if len(r.ring) < r.max {
		r.ring = append(r.ring, d)
		return
	}
	r.ring[r.next] = d
	r.next = (r.next + 1) % r.max
}

// snapshot is the kept deliveries, oldest first.
func (r *recorder) snapshot() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append(append([]Delivery(nil), r.ring[r.next:]...), r.ring[:r.next]...)
}

func (r *recorder) clear() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ring, r.next = nil, 0
}

func (r *recorder) counts() map[Provider]Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[Provider]Stats, len(r.stats))
	for p, st := range r.stats {
		out[p] = *st
	}
	return out
}

// Stats returns each provider's delivery counts since the sink started.
func (s *Server) Stats() map[Provider]Stats { return s.rec.counts() }

// record keeps d and logs it at debug level.
func (s *Server) record(d Delivery) {
	s.rec.add(d)
	s.log.Debug("pushsink delivery", "provider", d.Provider, "status", d.Status,
		"reason", d.Reason, "token", d.DeviceToken, "topic", d.Topic, "project", d.Project)
}

// Deliveries returns the recorded deliveries, oldest first.
func (s *Server) Deliveries() []Delivery { return s.rec.snapshot() }

// ClearDeliveries forgets the recorded deliveries (sequence numbers keep
// counting).
func (s *Server) ClearDeliveries() { s.rec.clear() }

// payloadJSON returns body as JSON: itself if valid, else a JSON string.
func payloadJSON(body []byte) json.RawMessage {
	if len(body) == 0 {
		return nil
	}
	if json.Valid(body) {
		return append(json.RawMessage(nil), body...)
	}
	quoted, _ := json.Marshal(string(body))
	return quoted
}
