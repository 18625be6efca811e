package pushsink

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// fcmSendRequest is the body of messages:send.
type fcmSendRequest struct {
	Message      json.RawMessage `json:"message"`
	ValidateOnly bool            `json:"validate_only"`
}

// fcmMessage is the part of google.firebase.fcm.v1.Message the sink checks;
// the nested configs it only checks for known names are kept raw.
type fcmMessage struct {
	Name         string            `json:"name"`
	Data         map[string]string `json:"data"`
	Notification json.RawMessage   `json:"notification"`
	Android      json.RawMessage   `json:"android"`
	Webpush      json.RawMessage   `json:"webpush"`
	APNS         json.RawMessage   `json:"apns"`
	FCMOptions   json.RawMessage   `json:"fcm_options"`
	Token        string            `json:"token"`
	Topic        string            `json:"topic"`
	Condition    string            `json:"condition"`
	Fid          string            `json:"fid"`

	android *fcmAndroid
	apns    *fcmAPNS
}

type fcmNotification struct {
	Title string `json:"title"`
	Body  string `json:"body"`
	Image string `json:"image"`
}

type fcmAndroid struct {
	CollapseKey            string            `json:"collapse_key"`
	Priority               string            `json:"priority"`
	TTL                    string            `json:"ttl"`
	RestrictedPackageName  string            `json:"restricted_package_name"`
	Data                   map[string]string `json:"data"`
	Notification           json.RawMessage   `json:"notification"`
	FCMOptions             json.RawMessage   `json:"fcm_options"`
	DirectBootOK           bool              `json:"direct_boot_ok"`
	BandwidthConstrainedOK bool              `json:"bandwidth_constrained_ok"`
	RestrictedSatelliteOK  bool              `json:"restricted_satellite_ok"`
}

type fcmAPNS struct {
	Headers           map[string]string `json:"headers"`
	Payload           json.RawMessage   `json:"payload"`
	FCMOptions        json.RawMessage   `json:"fcm_options"`
	LiveActivityToken string            `json:"live_activity_token"`
}

type fcmWebpush struct {
	Headers      map[string]string `json:"headers"`
	Data         map[string]string `json:"data"`
	Notification json.RawMessage   `json:"notification"`
	FCMOptions   json.RawMessage   `json:"fcm_options"`
}

type fcmOptions struct {
	AnalyticsLabel string `json:"analytics_label"`
	Link           string `json:"link"`
	Image          string `json:"image"`
}

var (
	fcmTokenRE      = regexp.MustCompile(`^(?:[A-Za-z0-9_-]{1,255}:)?APA91b[A-Za-z0-9_-]{20,}$`)
	fcmFidRE        = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	fcmTopicRE      = regexp.MustCompile(`^[a-zA-Z0-9-_.~%]{1,900}$`)
	fcmTTLRE        = regexp.MustCompile(`^[0-9]{1,11}(?:\.[0-9]{1,9})?s$`)
	fcmReservedKeys = []string{"from", "notification", "message_type"}
)

func decodeSendRequest(body []byte) (*fcmSendRequest, *gError) {
	var req fcmSendRequest
	if e := decodeProtoJSON(body, "", []string{"message", "validate_only"}, &req); e != nil {
		return nil, e
	}
	return &req, nil
}

// decodeMessage decodes the message and the nested configs whose field
// names the sink knows.
func decodeMessage(raw json.RawMessage) (*fcmMessage, *gError) {
	if isNull(raw) {
		return nil, invalidArgument("message", "Message is required.")
	}
	var m fcmMessage
	fields := []string{"name", "data", "notification", "android", "webpush", "apns", "fcm_options", "token", "topic", "condition", "fid"}
	if e := decodeProtoJSON(raw, "message", fields, &m); e != nil {
		return nil, e
	}
	return &m, m.decodeNested()
}

func (m *fcmMessage) decodeNested() *gError {
	m.android, m.apns = &fcmAndroid{}, &fcmAPNS{}
	steps := []struct {
		raw    json.RawMessage
		path   string
		fields []string
		out    any
	}{
		{m.Notification, "message.notification", []string{"title", "body", "image"}, &fcmNotification{}},
		{m.Android, "message.android", []string{"collapse_key", "priority", "ttl", "restricted_package_name", "data", "notification", "fcm_options", "direct_boot_ok", "bandwidth_constrained_ok", "restricted_satellite_ok"}, m.android},
		{m.APNS, "message.apns", []string{"headers", "payload", "fcm_options", "live_activity_token"}, m.apns},
		{m.Webpush, "message.webpush", []string{"headers", "data", "notification", "fcm_options"}, &fcmWebpush{}},
		{m.FCMOptions, "message.fcm_options", []string{"analytics_label"}, &fcmOptions{}},
	}
	for _, st := range steps {
		if e := decodeProtoJSON(st.raw, st.path, st.fields, st.out); e != nil {
			return e
		}
	}
	return nil
}

// target returns the recorded device token (token or fid), topic and
// condition.
func (m *fcmMessage) target() (token, topic, condition string) {
	token = m.Token
	if token == "" {
		token = m.Fid
	}
	return token, m.Topic, m.Condition
}

// validate applies FCM's checks on a decoded message.
func (m *fcmMessage) validate() *gError {
	checks := []func() *gError{m.validateTarget, m.validateData, m.validateAndroid, m.validateAPNS}
	for _, c := range checks {
		if e := c(); e != nil {
			return e
		}
	}
	return nil
}

func (m *fcmMessage) validateTarget() *gError {
	n := 0
	for _, t := range []string{m.Token, m.Topic, m.Condition, m.Fid} {
		if t != "" {
			n++
		}
	}
	switch {
	case n != 1:
		return invalidArgument("message", "Exactly one of token, topic, condition or fid must be set.")
	case m.Token != "" && (len(m.Token) > 4096 || !fcmTokenRE.MatchString(m.Token)):
		e := invalidArgument("", "")
		e.message = msgInvalidToken
		return e
	case m.Fid != "" && !fcmFidRE.MatchString(m.Fid):
		return invalidArgument("message.fid", "Invalid Firebase installation ID.")
	case m.Topic != "" && !fcmTopicRE.MatchString(m.Topic):
		return invalidArgument("message.topic", "Invalid topic name: "+m.Topic)
	}
	return nil
}

func (m *fcmMessage) validateData() *gError {
	for _, data := range []struct {
		field string
		kv    map[string]string
	}{{"message.data", m.Data}, {"message.android.data", m.android.Data}} {
		for k := range data.kv {
			if reservedDataKey(k) {
				return invalidArgument(data.field, fmt.Sprintf("Invalid data payload key: %s", k))
			}
		}
	}
	return nil
}

func reservedDataKey(k string) bool {
	lk := strings.ToLower(k)
	return contains(fcmReservedKeys, lk) || strings.HasPrefix(lk, "google.") || strings.HasPrefix(lk, "gcm.")
}

func (m *fcmMessage) validateAndroid() *gError {
	a := m.android
	switch p := strings.ToUpper(a.Priority); {
	case p != "" && p != "NORMAL" && p != "HIGH":
		return invalidArgument("message.android.priority", fmt.Sprintf("Invalid value at 'message.android.priority' (type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority), %q", a.Priority))
	case a.TTL != "" && !fcmTTLRE.MatchString(a.TTL):
		return invalidArgument("message.android.ttl", fmt.Sprintf("Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), %q", a.TTL))
	}
	return nil
}

func (m *fcmMessage) validateAPNS() *gError {
	if isNull(m.apns.Payload) {
		return nil
	}
	var payload map[string]json.RawMessage
	if err := json.Unmarshal(m.apns.Payload, &payload); err != nil {
		return invalidArgument("message.apns.payload", "Invalid APNs payload: "+jsonProblem(err))
	}
	var aps map[string]json.RawMessage
	if json.Unmarshal(payload["aps"], &aps) != nil || aps == nil {
		e := invalidArgument("message.apns.payload", "Payload of Apple Push Notification Service must contain an [aps] key.")
		e.message = "Payload of Apple Push Notification Service must contain an [aps] key."
		return e
	}
	return nil
}
