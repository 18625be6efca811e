package push_test

import (
	"crypto/ecdsa"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/push"
	"github.com/ovengames/oven/deploy/pushsink"
)

const (
	testKeyID  = "ABC123DEFG"
	testTeamID = "DEF123GHIJ"
	testTopic  = "com.ovengames.app"
)

// apnsSink starts a sink that verifies provider tokens against a fresh
// .p8 key, and an adapter holding that key.
func apnsSink(t *testing.T) (*pushsink.Server, *push.APNs) {
	t.Helper()
	p8, pub, err := pushsink.NewAPNsAuthKey()
	if err != nil {
		t.Fatal(err)
	}
	srv := pushsink.StartForTest(t, pushsink.Config{
		APNsKeys:   map[string]*ecdsa.PublicKey{testKeyID: pub},
		APNsTeamID: testTeamID,
	})
	a, err := push.NewAPNs(push.APNsConfig{AuthKey: p8, KeyID: testKeyID, TeamID: testTeamID,
		Topic: testTopic, Host: srv.APNsHost(), RootCAs: srv.CertPool()})
	if err != nil {
		t.Fatalf("NewAPNs: %v", err)
	}
	t.Cleanup(a.Close)
	return srv, a
}

type apnsBody struct {
	Aps struct {
		Alert struct {
			Title string `json:"title"`
			Body  string `json:"body"`
		} `json:"alert"`
		ContentAvailable int `json:"content-available"`
	} `json:"aps"`
	Match string `json:"match"`
}

func TestAPNsSendIsRecorded(t *testing.T) {
	srv, a := apnsSink(t)
	if a.Platform() != oven.PushAPNs {
		t.Errorf("Platform = %q", a.Platform())
	}
	dev := pushsink.FakeAPNsToken()
	r := a.Send(testContext(t), turn(dev))
	wantOutcome(t, "Send", r, push.Sent)
	d := lastDelivery(t, srv)
	if !d.Accepted() || d.DeviceToken != dev || d.Topic != testTopic || d.ID != r.ProviderID {
		t.Errorf("delivery = %+v, result = %+v", d, r)
	}
	if d.Headers["apns-collapse-id"] != "turn" || d.Headers["apns-push-type"] != "alert" {
		t.Errorf("headers = %v", d.Headers)
	}
	b := decode[apnsBody](t, d.Payload)
	if b.Aps.Alert.Title != "Your turn" || b.Aps.Alert.Body != "Bob played" || b.Match != "m-42" {
		t.Errorf("payload = %s", d.Payload)
	}
}

func TestAPNsSilentPush(t *testing.T) {
	srv, a := apnsSink(t)
	r := a.Send(testContext(t), push.Message{Token: pushsink.FakeAPNsToken(), Data: map[string]string{"match": "m-1"}})
	wantOutcome(t, "Send", r, push.Sent)
	d := lastDelivery(t, srv)
	if b := decode[apnsBody](t, d.Payload); b.Aps.ContentAvailable != 1 || d.Headers["apns-push-type"] != "background" {
		t.Errorf("delivery headers %v payload %s", d.Headers, d.Payload)
	}
}

func TestAPNsUnregisteredToken(t *testing.T) {
	srv, a := apnsSink(t)
	dev := pushsink.FakeAPNsToken()
	if err := srv.SetUnregistered(pushsink.APNs, dev); err != nil {
		t.Fatal(err)
	}
	wantOutcome(t, "Send", a.Send(testContext(t), turn(dev)), push.Unregistered)
	if d := lastDelivery(t, srv); d.Status != http.StatusGone {
		t.Errorf("delivery = %+v", d)
	}
}

// A malformed token is BadDeviceToken, which the adapter treats as dead.
func TestAPNsMalformedTokenIsUnregistered(t *testing.T) {
	srv, a := apnsSink(t)
	r := a.Send(testContext(t), turn("not-hex"))
	wantOutcome(t, "Send", r, push.Unregistered)
	if d := lastDelivery(t, srv); d.Reason != "BadDeviceToken" || !strings.Contains(r.Err.Error(), "BadDeviceToken") {
		t.Errorf("delivery = %+v, err = %v", d, r.Err)
	}
}

func TestAPNsRefusedBeforeSending(t *testing.T) {
	srv, a := apnsSink(t)
	tests := map[string]push.Message{
		"empty token":       {Title: "t"},
		"reserved data key": {Token: pushsink.FakeAPNsToken(), Data: map[string]string{"aps": "x"}},
	}
	for name, m := range tests {
		wantOutcome(t, name, a.Send(testContext(t), m), push.Failed)
	}
	if n := len(srv.Deliveries()); n != 0 {
		t.Errorf("sink got %d requests", n)
	}
}

func TestAPNsBadRequestIsFailed(t *testing.T) {
	_, a := apnsSink(t)
	m := turn(pushsink.FakeAPNsToken())
	m.CollapseID = strings.Repeat("c", 65) // BadCollapseId
	wantOutcome(t, "Send", a.Send(testContext(t), m), push.Failed)
}

func TestAPNsRateLimitIsRetry(t *testing.T) {
	srv, a := apnsSink(t)
	if err := srv.SetRateLimit(pushsink.APNs, pushsink.RateLimit{Requests: 1, Window: time.Minute}); err != nil {
		t.Fatal(err)
	}
	wantOutcome(t, "first Send", a.Send(testContext(t), turn(pushsink.FakeAPNsToken())), push.Sent)
	r := a.Send(testContext(t), turn(pushsink.FakeAPNsToken()))
	wantOutcome(t, "second Send", r, push.Retry)
	if r.RetryAfter <= 0 || r.RetryAfter > time.Minute {
		t.Errorf("RetryAfter = %v, want (0, 1m]", r.RetryAfter)
	}
}

func TestAPNsCancelledContextIsRetry(t *testing.T) {
	_, a := apnsSink(t)
	wantOutcome(t, "Send", a.Send(cancelled(), turn(pushsink.FakeAPNsToken())), push.Retry)
}

func TestAPNsUnreachableIsRetry(t *testing.T) {
	srv, a := apnsSink(t)
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	wantOutcome(t, "Send", a.Send(testContext(t), turn(pushsink.FakeAPNsToken())), push.Retry)
}

func TestNewAPNsChecksConfig(t *testing.T) {
	p8, _, err := pushsink.NewAPNsAuthKey()
	if err != nil {
		t.Fatal(err)
	}
	good := push.APNsConfig{AuthKey: p8, KeyID: testKeyID, TeamID: testTeamID, Topic: testTopic}
	tests := map[string]func(*push.APNsConfig){
		"no key id": func(c *push.APNsConfig) { c.KeyID = "" },
		"no team":   func(c *push.APNsConfig) { c.TeamID = "" },
		"no topic":  func(c *push.APNsConfig) { c.Topic = "" },
		"bad key":   func(c *push.APNsConfig) { c.AuthKey = []byte("not a pem") },
	}
	for name, mutate := range tests {
		cfg := good
		mutate(&cfg)
		if _, err := push.NewAPNs(cfg); err == nil {
			t.Errorf("%s: NewAPNs succeeded", name)
		}
	}
}
