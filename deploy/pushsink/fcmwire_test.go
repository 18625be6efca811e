package pushsink_test

import (
	"net/http"
	"testing"

	"github.com/ovengames/oven/deploy/pushsink"
)

// gErr is Google's JSON error body.
type gErr struct {
	Error struct {
		Code    int
		Message string
		Status  string
		Details []struct {
			Type            string `json:"@type"`
			ErrorCode       string
			FieldViolations []struct{ Field, Description string }
		}
	}
}

// TestFCMWireFormat checks, below the SDK, what FCM's JSON mapping accepts
// and how it refuses.
func TestFCMWireFormat(t *testing.T) {
	srv := pushsink.StartForTest(t, pushsink.Config{FCMAcceptAnyToken: true})
	client := bearerClient(srv, "dev")
	url := srv.FCMEndpoint() + "/projects/" + testProject + "/messages:send"
	tok := pushsink.FakeFCMToken()
	cases := []struct {
		name, body  string
		status      int
		gStatus     string
		fcmCode     string
		violationAt string
	}{
		{"camelCase names", `{"validateOnly":true,"message":{"token":"` + tok + `","fcmOptions":{"analyticsLabel":"x"},"android":{"collapseKey":"k","directBootOk":true}}}`, 200, "", "", ""},
		{"snake_case names", `{"validate_only":false,"message":{"condition":"'a' in topics","android":{"collapse_key":"k","ttl":"3.5s","priority":"NORMAL"}}}`, 200, "", "", ""},
		{"not JSON", `{"message":`, 400, "INVALID_ARGUMENT", "", ""},
		{"unknown request field", `{"msg":{}}`, 400, "INVALID_ARGUMENT", "", ""},
		{"unknown message field", `{"message":{"token":"` + tok + `","priority":"high"}}`, 400, "INVALID_ARGUMENT", "", "message"},
		{"data value not a string", `{"message":{"token":"` + tok + `","data":{"n":1}}}`, 400, "INVALID_ARGUMENT", "", "message.data"},
		{"no message", `{}`, 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "message"},
		{"no target", `{"message":{"data":{"k":"v"}}}`, 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "message"},
		{"two targets", `{"message":{"token":"` + tok + `","topic":"news"}}`, 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "message"},
		{"bad topic", `{"message":{"topic":"/topics/news"}}`, 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "message.topic"},
		{"bad priority", `{"message":{"topic":"news","android":{"priority":"urgent"}}}`, 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "message.android.priority"},
		{"bad ttl", `{"message":{"topic":"news","android":{"ttl":"1h"}}}`, 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "message.android.ttl"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := do(t, client, "POST", url, map[string]string{"Content-Type": "application/json"}, []byte(tc.body))
			if res.status != tc.status {
				t.Fatalf("status = %d (%s), want %d", res.status, res.body, tc.status)
			}
			if tc.status == 200 {
				return
			}
			checkGErr(t, res.body, tc.status, tc.gStatus, tc.fcmCode, tc.violationAt)
		})
	}
}

func checkGErr(t *testing.T, body []byte, code int, status, fcmCode, violationAt string) {
	t.Helper()
	e := decode[gErr](t, body).Error
	if e.Code != code || e.Status != status || e.Message == "" {
		t.Errorf("error = %s", body)
	}
	var gotFCM, gotField string
	for _, d := range e.Details {
		switch d.Type {
		case "type.googleapis.com/google.firebase.fcm.v1.FcmError":
			gotFCM = d.ErrorCode
		case "type.googleapis.com/google.rpc.BadRequest":
			gotField = d.FieldViolations[0].Field
		}
	}
	if gotFCM != fcmCode || gotField != violationAt {
		t.Errorf("details: FcmError %q, field %q; want %q, %q (%s)", gotFCM, gotField, fcmCode, violationAt, body)
	}
}

func TestFCMPathsAndMethods(t *testing.T) {
	srv := pushsink.StartForTest(t, pushsink.Config{FCMAcceptAnyToken: true})
	client := bearerClient(srv, "dev")
	for _, tc := range []struct{ method, path string }{
		{"GET", "/v1/projects/p/messages:send"},
		{"POST", "/v1/projects/p/messages:batchSend"},
		{"POST", "/v1/projects//messages:send"},
	} {
		res := do(t, client, tc.method, srv.URL()+tc.path, nil, []byte(`{}`))
		if res.status != http.StatusNotFound {
			t.Errorf("%s %s = %d %s, want 404", tc.method, tc.path, res.status, res.body)
		}
	}
}
