package push_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/push"
	"github.com/ovengames/oven/deploy/pushsink"
)

const testProject = "oven-dev"

// fcmSink starts a sink and an adapter authenticating with a service
// account the sink generated (its token_uri is the sink).
func fcmSink(t *testing.T) (*pushsink.Server, *push.FCM) {
	t.Helper()
	srv := pushsink.StartForTest(t, pushsink.Config{})
	sa, err := srv.NewServiceAccount(testProject)
	if err != nil {
		t.Fatal(err)
	}
	f, err := push.NewFCM(context.Background(), push.FCMConfig{ServiceAccountJSON: sa,
		Endpoint: srv.FCMEndpoint(), RootCAs: srv.CertPool()})
	if err != nil {
		t.Fatalf("NewFCM: %v", err)
	}
	return srv, f
}

type fcmRecorded struct {
	Token        string            `json:"token"`
	Data         map[string]string `json:"data"`
	Notification *struct {
		Title string `json:"title"`
		Body  string `json:"body"`
	} `json:"notification"`
	Android *struct {
		CollapseKey string `json:"collapse_key"`
	} `json:"android"`
}

func TestFCMSendIsRecorded(t *testing.T) {
	srv, f := fcmSink(t)
	if f.Platform() != oven.PushFCM {
		t.Errorf("Platform = %q", f.Platform())
	}
	dev := pushsink.FakeFCMToken()
	r := f.Send(testContext(t), turn(dev))
	wantOutcome(t, "Send", r, push.Sent)
	d := lastDelivery(t, srv)
	if !d.Accepted() || d.DeviceToken != dev || d.Project != testProject || d.ID != r.ProviderID {
		t.Errorf("delivery = %+v, result = %+v", d, r)
	}
	m := decode[fcmRecorded](t, d.Payload)
	if m.Token != dev || m.Notification == nil || m.Notification.Title != "Your turn" ||
		m.Notification.Body != "Bob played" || m.Data["match"] != "m-42" ||
		m.Android == nil || m.Android.CollapseKey != "turn" {
		t.Errorf("recorded message %s", d.Payload)
	}
}

func TestFCMDataOnlyPush(t *testing.T) {
	srv, f := fcmSink(t)
	r := f.Send(testContext(t), push.Message{Token: pushsink.FakeFCMToken(), Data: map[string]string{"match": "m-1"}})
	wantOutcome(t, "Send", r, push.Sent)
	if m := decode[fcmRecorded](t, lastDelivery(t, srv).Payload); m.Notification != nil || m.Data["match"] != "m-1" {
		t.Errorf("recorded message %+v", m)
	}
}

func TestFCMUnregisteredToken(t *testing.T) {
	srv, f := fcmSink(t)
	dev := pushsink.FakeFCMToken()
	if err := srv.SetUnregistered(pushsink.FCM, dev); err != nil {
		t.Fatal(err)
	}
	wantOutcome(t, "Send", f.Send(testContext(t), turn(dev)), push.Unregistered)
	if d := lastDelivery(t, srv); d.Status != http.StatusNotFound || d.Reason != "UNREGISTERED" {
		t.Errorf("delivery = %+v", d)
	}
}

func TestFCMMalformedTokenIsFailed(t *testing.T) {
	srv, f := fcmSink(t)
	wantOutcome(t, "Send", f.Send(testContext(t), turn("not-a-registration-token")), push.Failed)
	if d := lastDelivery(t, srv); d.Status != http.StatusBadRequest || d.Reason != "INVALID_ARGUMENT" {
		t.Errorf("delivery = %+v", d)
	}
}

func TestFCMReservedDataKeyIsFailed(t *testing.T) {
	_, f := fcmSink(t)
	m := turn(pushsink.FakeFCMToken())
	m.Data = map[string]string{"from": "x"}
	wantOutcome(t, "Send", f.Send(testContext(t), m), push.Failed)
}

func TestFCMEmptyTokenIsFailed(t *testing.T) {
	srv, f := fcmSink(t)
	wantOutcome(t, "Send", f.Send(testContext(t), push.Message{Title: "t"}), push.Failed)
	if n := len(srv.Deliveries()); n != 0 {
		t.Errorf("sink got %d requests", n)
	}
}

func TestFCMRateLimitIsRetry(t *testing.T) {
	srv, f := fcmSink(t)
	if err := srv.SetRateLimit(pushsink.FCM, pushsink.RateLimit{Requests: 1, Window: time.Minute}); err != nil {
		t.Fatal(err)
	}
	wantOutcome(t, "first Send", f.Send(testContext(t), turn(pushsink.FakeFCMToken())), push.Sent)
	r := f.Send(testContext(t), turn(pushsink.FakeFCMToken()))
	wantOutcome(t, "second Send", r, push.Retry)
	if r.RetryAfter <= 0 || r.RetryAfter > time.Minute {
		t.Errorf("RetryAfter = %v, want (0, 1m]", r.RetryAfter)
	}
}

func TestFCMCancelledContextIsRetry(t *testing.T) {
	_, f := fcmSink(t)
	wantOutcome(t, "Send", f.Send(cancelled(), turn(pushsink.FakeFCMToken())), push.Retry)
}

// Another project's credentials are a configuration error, not a dead token.
func TestFCMPermissionDeniedIsFailed(t *testing.T) {
	srv := pushsink.StartForTest(t, pushsink.Config{})
	sa, err := srv.NewServiceAccount("other-project")
	if err != nil {
		t.Fatal(err)
	}
	f, err := push.NewFCM(context.Background(), push.FCMConfig{ServiceAccountJSON: sa, ProjectID: testProject,
		Endpoint: srv.FCMEndpoint(), Transport: srv.Transport()})
	if err != nil {
		t.Fatalf("NewFCM: %v", err)
	}
	wantOutcome(t, "Send", f.Send(testContext(t), turn(pushsink.FakeFCMToken())), push.Failed)
}

func TestNewFCMChecksConfig(t *testing.T) {
	tests := map[string]push.FCMConfig{
		"no key file":       {},
		"not a key file":    {ServiceAccountJSON: []byte(`{"project_id":"p","type":"authorized_user"}`)},
		"no project":        {ServiceAccountJSON: []byte(`{"type":"service_account"}`)},
		"key file not json": {ServiceAccountJSON: []byte(`nope`), ProjectID: "p"},
	}
	for name, cfg := range tests {
		if _, err := push.NewFCM(context.Background(), cfg); err == nil {
			t.Errorf("%s: NewFCM succeeded", name)
		}
	}
}
