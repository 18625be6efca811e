package pushsink

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// APNs limits, from Apple's "Sending notification requests to APNs".
const (
	apnsPathPrefix     = "/3/device/"
	apnsMaxPayload     = 4096
	apnsMaxVoIPPayload = 5120
	apnsMaxCollapseID  = 64
)

// apnsHeadersOfInterest are recorded, and refused when repeated.
var apnsHeadersOfInterest = []string{
	"apns-id", "apns-topic", "apns-push-type", "apns-priority",
	"apns-expiration", "apns-collapse-id",
}

var apnsPushTypes = map[string]bool{
	"alert": true, "background": true, "location": true, "voip": true,
	"complication": true, "fileprovider": true, "mdm": true,
	"liveactivity": true, "pushtotalk": true, "widgets": true, "controls": true,
}

var (
	apnsDeviceTokenRE = regexp.MustCompile(`^(?:[0-9a-fA-F]{2}){32,100}$`)
	uuidRE            = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// apnsError is a refusal: the status and the JSON "reason" Apple answers.
type apnsError struct {
	status    int
	reason    string
	timestamp int64  // ms since the epoch, for 410 only
	retry     string // Retry-After seconds, for 429 only
}

func apnsErr(status int, reason string) *apnsError {
	return &apnsError{status: status, reason: reason}
}

func (s *Server) handleAPNs(w http.ResponseWriter, r *http.Request) {
	d := Delivery{Provider: APNs, Time: s.now(), Headers: apnsHeaders(r)}
	d.Topic = r.Header.Get("apns-topic")
	d.ID = r.Header.Get("apns-id")
	readAPNsBody(r, &d)
	e := s.processAPNs(r, &d)
	if d.ID == "" || !uuidRE.MatchString(d.ID) {
		d.ID = newUUID()
	}
	writeAPNs(w, &d, e)
	s.record(d)
}

// readAPNsBody reads the body up front, so that refused requests are
// recorded with their payload too; bodies over the largest limit are not
// kept.
func readAPNsBody(r *http.Request, d *Delivery) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, apnsMaxVoIPPayload+1))
	d.Size = len(body)
	if d.Size <= apnsMaxVoIPPayload {
		d.Payload = payloadJSON(body)
	}
}

func apnsHeaders(r *http.Request) map[string]string {
	h := make(map[string]string)
	for _, k := range apnsHeadersOfInterest {
		if v := r.Header.Get(k); v != "" {
			h[k] = v
		}
	}
	return h
}

// processAPNs runs the checks in order; the first failing one answers.
func (s *Server) processAPNs(r *http.Request, d *Delivery) *apnsError {
	steps := []func(*http.Request, *Delivery) *apnsError{
		checkAPNsRequestLine, checkAPNsDuplicates, s.checkProviderToken,
		s.checkAPNsRate, checkAPNsHeaders, checkAPNsDeviceToken,
		checkAPNsPayload, s.checkAPNsRegistered,
	}
	for _, step := range steps {
		if e := step(r, d); e != nil {
			return e
		}
	}
	return nil
}

func checkAPNsRequestLine(r *http.Request, d *Delivery) *apnsError {
	if r.Method != http.MethodPost {
		return apnsErr(http.StatusMethodNotAllowed, "MethodNotAllowed")
	}
	token, ok := strings.CutPrefix(r.URL.Path, apnsPathPrefix)
	if !ok || strings.Contains(token, "/") {
		return apnsErr(http.StatusNotFound, "BadPath")
	}
	d.DeviceToken = token
	if token == "" {
		return apnsErr(http.StatusBadRequest, "MissingDeviceToken")
	}
	if r.ProtoMajor != 2 {
		// APNs only speaks HTTP/2; this refusal is the sink's own.
		return apnsErr(http.StatusHTTPVersionNotSupported, "HTTP2Required")
	}
	return nil
}

func checkAPNsDuplicates(r *http.Request, _ *Delivery) *apnsError {
	for _, k := range append([]string{"authorization"}, apnsHeadersOfInterest...) {
		if len(r.Header.Values(k)) > 1 {
			return apnsErr(http.StatusBadRequest, "DuplicateHeaders")
		}
	}
	return nil
}

func (s *Server) checkAPNsRate(_ *http.Request, _ *Delivery) *apnsError {
	ok, wait := s.limits.allow(APNs, s.now())
	if ok {
		return nil
	}
	e := apnsErr(http.StatusTooManyRequests, "TooManyRequests")
	e.retry = retryAfterSeconds(wait)
	return e
}

func checkAPNsHeaders(r *http.Request, _ *Delivery) *apnsError {
	h := r.Header
	switch {
	case h.Get("apns-id") != "" && !uuidRE.MatchString(h.Get("apns-id")):
		return apnsErr(http.StatusBadRequest, "BadMessageId")
	case h.Get("apns-topic") == "":
		return apnsErr(http.StatusBadRequest, "MissingTopic")
	case h.Get("apns-push-type") != "" && !apnsPushTypes[h.Get("apns-push-type")]:
		return apnsErr(http.StatusBadRequest, "InvalidPushType")
	case !validPriority(h.Get("apns-priority")):
		return apnsErr(http.StatusBadRequest, "BadPriority")
	case !validExpiration(h.Get("apns-expiration")):
		return apnsErr(http.StatusBadRequest, "BadExpirationDate")
	case len(h.Get("apns-collapse-id")) > apnsMaxCollapseID:
		return apnsErr(http.StatusBadRequest, "BadCollapseId")
	}
	return nil
}

func validPriority(v string) bool {
	return v == "" || v == "10" || v == "5" || v == "1"
}

func validExpiration(v string) bool {
	if v == "" {
		return true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return err == nil && n >= 0
}

func checkAPNsDeviceToken(_ *http.Request, d *Delivery) *apnsError {
	if !apnsDeviceTokenRE.MatchString(d.DeviceToken) {
		return apnsErr(http.StatusBadRequest, "BadDeviceToken")
	}
	return nil
}

// checkAPNsPayload checks the body: non-empty, within the size limit, and
// a JSON object with an "aps" dictionary (except for mdm pushes).
func checkAPNsPayload(r *http.Request, d *Delivery) *apnsError {
	limit := apnsMaxPayload
	if r.Header.Get("apns-push-type") == "voip" {
		limit = apnsMaxVoIPPayload
	}
	switch {
	case d.Size == 0:
		return apnsErr(http.StatusBadRequest, "PayloadEmpty")
	case d.Size > limit:
		d.Payload = nil
		return apnsErr(http.StatusRequestEntityTooLarge, "PayloadTooLarge")
	case !validAPNsPayload(d.Payload, r.Header.Get("apns-push-type")):
		// Apple documents no reason for this; the sink's own.
		return apnsErr(http.StatusBadRequest, "BadPayload")
	}
	return nil
}

func validAPNsPayload(body []byte, pushType string) bool {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return false
	}
	if pushType == "mdm" {
		return true
	}
	var aps map[string]json.RawMessage
	return json.Unmarshal(obj["aps"], &aps) == nil && aps != nil
}

func (s *Server) checkAPNsRegistered(_ *http.Request, d *Delivery) *apnsError {
	since, gone := s.unreg.lookup(tokenKey{APNs, d.DeviceToken})
	if !gone {
		return nil
	}
	e := apnsErr(http.StatusGone, "Unregistered")
	e.timestamp = since.UnixMilli()
	return e
}

// writeAPNs answers like APNs: the apns-id header always; on success an
// apns-unique-id (as the development environment does) and no body; on
// failure a JSON {"reason", "timestamp"?} body.
func writeAPNs(w http.ResponseWriter, d *Delivery, e *apnsError) {
	w.Header().Set("apns-id", d.ID)
	if e == nil {
		w.Header().Set("apns-unique-id", newUUID())
		d.Status = http.StatusOK
		w.WriteHeader(http.StatusOK)
		return
	}
	d.Status, d.Reason = e.status, e.reason
	if e.retry != "" {
		w.Header().Set("Retry-After", e.retry)
	}
	body := struct {
		Reason    string `json:"reason"`
		Timestamp int64  `json:"timestamp,omitempty"`
	}{e.reason, e.timestamp}
	writeJSON(w, e.status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
