package pushsink_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/auth/httptransport"
	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"

	"github.com/ovengames/oven/deploy/pushsink"
)

const testProject = "oven-dev"

// fcmScope is the scope FCM HTTP v1 needs.
const fcmScope = "https://www.googleapis.com/auth/firebase.messaging"

// authedClient is what an adapter builds: Google's auth library with the
// sink-generated service-account file (token_uri at the sink), its token
// requests and API calls going through a transport that trusts the sink.
func authedClient(t *testing.T, srv *pushsink.Server, saJSON []byte) *http.Client {
	t.Helper()
	creds, err := credentials.NewCredentialsFromJSON(credentials.ServiceAccount, saJSON, &credentials.DetectOptions{
		Scopes: []string{fcmScope},
		Client: srv.HTTPClient(),
	})
	if err != nil {
		t.Fatalf("credentials: %v", err)
	}
	hc, err := httptransport.NewClient(&httptransport.Options{
		Credentials:      creds,
		BaseRoundTripper: srv.Transport(),
		DisableTelemetry: true,
	})
	if err != nil {
		t.Fatalf("httptransport: %v", err)
	}
	return hc
}

// messagingClient is the Firebase Admin SDK's messaging client for project,
// sending through hc to the sink.
func messagingClient(t *testing.T, srv *pushsink.Server, project string, hc *http.Client) *messaging.Client {
	t.Helper()
	ctx := context.Background()
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: project},
		option.WithHTTPClient(hc), option.WithEndpoint(srv.FCMEndpoint()))
	if err != nil {
		t.Fatalf("firebase.NewApp: %v", err)
	}
	mc, err := app.Messaging(ctx)
	if err != nil {
		t.Fatalf("Messaging: %v", err)
	}
	return mc
}

// fcmSink starts a sink with a generated service account and returns it
// with an authenticated messaging client for testProject.
func fcmSink(t *testing.T, cfg pushsink.Config) (*pushsink.Server, *messaging.Client, *http.Client) {
	srv := pushsink.StartForTest(t, cfg)
	saJSON, err := srv.NewServiceAccount(testProject)
	if err != nil {
		t.Fatal(err)
	}
	hc := authedClient(t, srv, saJSON)
	return srv, messagingClient(t, srv, testProject, hc), hc
}

func fcmMessage(token string) *messaging.Message {
	ttl := 90 * time.Second
	return &messaging.Message{
		Token:        token,
		Notification: &messaging.Notification{Title: "Your turn", Body: "Bob played"},
		Data:         map[string]string{"match": "m-42"},
		Android:      &messaging.AndroidConfig{Priority: "high", TTL: &ttl, CollapseKey: "turn"},
		APNS: &messaging.APNSConfig{
			Headers: map[string]string{"apns-priority": "10"},
			Payload: &messaging.APNSPayload{Aps: &messaging.Aps{Badge: new(int)}},
		},
	}
}

func TestFCMSendIsRecorded(t *testing.T) {
	srv, mc, _ := fcmSink(t, pushsink.Config{})
	dev := pushsink.FakeFCMToken()
	name, err := mc.Send(testContext(t), fcmMessage(dev))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if !strings.HasPrefix(name, "projects/"+testProject+"/messages/") {
		t.Errorf("name = %q", name)
	}
	d := lastDelivery(t, srv)
	if d.Provider != pushsink.FCM || !d.Accepted() || d.DeviceToken != dev || d.Project != testProject || d.ID != name || d.ValidateOnly {
		t.Errorf("delivery = %+v", d)
	}
	p := decode[messaging.Message](t, d.Payload)
	if p.Data["match"] != "m-42" || p.Notification.Title != "Your turn" || p.Android.Priority != "high" {
		t.Errorf("recorded message %s", d.Payload)
	}
	mustContain(t, "recorded message", string(d.Payload), `"ttl":"90s"`)
}

func TestFCMDryRunAndTopic(t *testing.T) {
	srv, mc, _ := fcmSink(t, pushsink.Config{})
	name, err := mc.SendDryRun(testContext(t), fcmMessage(pushsink.FakeFCMToken()))
	if err != nil || name != "projects/"+testProject+"/messages/fake_message_id" {
		t.Fatalf("SendDryRun = %q, %v", name, err)
	}
	if d := lastDelivery(t, srv); !d.ValidateOnly {
		t.Errorf("dry run not recorded as validate_only: %+v", d)
	}
	if _, err := mc.Send(testContext(t), &messaging.Message{Topic: "/topics/season-start", Data: map[string]string{"k": "v"}}); err != nil {
		t.Fatalf("topic Send: %v", err)
	}
	if d := lastDelivery(t, srv); d.Topic != "season-start" || d.DeviceToken != "" {
		t.Errorf("topic delivery = %+v", d)
	}
}

func TestFCMUnregisteredToken(t *testing.T) {
	srv, mc, _ := fcmSink(t, pushsink.Config{})
	dev := pushsink.FakeFCMToken()
	if err := srv.SetUnregistered(pushsink.FCM, dev); err != nil {
		t.Fatal(err)
	}
	_, err := mc.Send(testContext(t), fcmMessage(dev))
	if !messaging.IsUnregistered(err) || !errorutils.IsNotFound(err) {
		t.Fatalf("Send = %v, want UNREGISTERED / NOT_FOUND", err)
	}
	if d := lastDelivery(t, srv); d.Status != 404 || d.Reason != "UNREGISTERED" {
		t.Errorf("delivery = %+v", d)
	}
}

func TestFCMInvalidTokenAndPayload(t *testing.T) {
	srv, mc, _ := fcmSink(t, pushsink.Config{})
	cases := map[string]*messaging.Message{
		"bad token":         fcmMessage("not-a-token"),
		"apns token":        fcmMessage(pushsink.FakeAPNsToken()),
		"reserved data key": {Token: pushsink.FakeFCMToken(), Data: map[string]string{"from": "x"}},
		"apns payload without aps": {Token: pushsink.FakeFCMToken(), APNS: &messaging.APNSConfig{
			Payload: &messaging.APNSPayload{CustomData: map[string]any{"k": "v"}}}},
	}
	for name, m := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := mc.Send(testContext(t), m)
			if !messaging.IsInvalidArgument(err) || !errorutils.IsInvalidArgument(err) {
				t.Fatalf("Send = %v, want INVALID_ARGUMENT", err)
			}
			if d := lastDelivery(t, srv); d.Status != 400 || d.Reason != "INVALID_ARGUMENT" {
				t.Errorf("delivery = %+v", d)
			}
		})
	}
	_, err := mc.Send(testContext(t), fcmMessage("not-a-token"))
	mustContain(t, "error", err.Error(), "The registration token is not a valid FCM registration token")
}

func TestFCMRefusesMissingOrUnknownAuth(t *testing.T) {
	srv, _, _ := fcmSink(t, pushsink.Config{})
	anon := messagingClient(t, srv, testProject, srv.HTTPClient())
	_, err := anon.Send(testContext(t), fcmMessage(pushsink.FakeFCMToken()))
	if !errorutils.IsUnauthenticated(err) {
		t.Fatalf("Send without credentials = %v, want UNAUTHENTICATED", err)
	}
	mustContain(t, "error", err.Error(), "missing required authentication credential")
	if d := lastDelivery(t, srv); d.Status != 401 || d.Reason != "UNAUTHENTICATED" || d.DeviceToken == "" || len(d.Payload) == 0 {
		t.Errorf("refused delivery not recorded whole: %+v", d)
	}

	forged := messagingClient(t, srv, testProject, bearerClient(srv, "ya29.forged"))
	_, err = forged.Send(testContext(t), fcmMessage(pushsink.FakeFCMToken()))
	if !errorutils.IsUnauthenticated(err) {
		t.Fatalf("Send with a token the sink did not issue = %v, want UNAUTHENTICATED", err)
	}
}

func TestFCMAcceptAnyToken(t *testing.T) {
	srv := pushsink.StartForTest(t, pushsink.Config{FCMAcceptAnyToken: true})
	mc := messagingClient(t, srv, testProject, bearerClient(srv, "static-dev-token"))
	if _, err := mc.Send(testContext(t), fcmMessage(pushsink.FakeFCMToken())); err != nil {
		t.Fatalf("Send: %v", err)
	}
}

func TestFCMOtherProjectIsDenied(t *testing.T) {
	srv, _, hc := fcmSink(t, pushsink.Config{})
	other := messagingClient(t, srv, "someone-elses-project", hc)
	_, err := other.Send(testContext(t), fcmMessage(pushsink.FakeFCMToken()))
	if !errorutils.IsPermissionDenied(err) {
		t.Fatalf("Send = %v, want PERMISSION_DENIED", err)
	}
}

func TestFCMRateLimit(t *testing.T) {
	srv, mc, hc := fcmSink(t, pushsink.Config{FCMRateLimit: pushsink.RateLimit{Requests: 1, Window: time.Minute}})
	if _, err := mc.Send(testContext(t), fcmMessage(pushsink.FakeFCMToken())); err != nil {
		t.Fatalf("first Send: %v", err)
	}
	_, err := mc.Send(testContext(t), fcmMessage(pushsink.FakeFCMToken()))
	if !messaging.IsQuotaExceeded(err) || !errorutils.IsResourceExhausted(err) {
		t.Fatalf("second Send = %v, want QUOTA_EXCEEDED", err)
	}
	if resp := errorutils.HTTPResponse(err); resp == nil || resp.Header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After: %+v", resp)
	}
	res := do(t, hc, "POST", srv.FCMEndpoint()+"/projects/"+testProject+"/messages:send", nil,
		[]byte(`{"message":{"topic":"t"}}`))
	if res.status != 429 || res.proto != 2 {
		t.Errorf("raw answer = HTTP/%d %d", res.proto, res.status)
	}
}

// bearerClient sends a fixed bearer token, trusting the sink.
func bearerClient(srv *pushsink.Server, token string) *http.Client {
	return &http.Client{Transport: bearerTransport{token, srv.Transport()}}
}

type bearerTransport struct {
	token string
	base  http.RoundTripper
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}
