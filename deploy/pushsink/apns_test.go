package pushsink_test

import (
	"crypto/ecdsa"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sideshow/apns2"
	"github.com/sideshow/apns2/payload"
	"github.com/sideshow/apns2/token"
	"golang.org/x/net/http2"

	"github.com/ovengames/oven/deploy/pushsink"
)

const (
	testKeyID  = "ABC123DEFG"
	testTeamID = "DEF123GHIJ"
	testTopic  = "com.ovengames.app"
)

// apnsKey generates an APNs auth key the way a developer account hands one
// out (.p8) and loads it with apns2's own loader.
func apnsKey(t *testing.T) (*ecdsa.PrivateKey, *ecdsa.PublicKey) {
	t.Helper()
	p8, pub, err := pushsink.NewAPNsAuthKey()
	if err != nil {
		t.Fatal(err)
	}
	key, err := token.AuthKeyFromBytes(p8)
	if err != nil {
		t.Fatalf("apns2 cannot load the generated .p8: %v", err)
	}
	return key, pub
}

// apnsClient is an apns2 token client pointed at the sink, trusting its
// certificate.
func apnsClient(srv *pushsink.Server, key *ecdsa.PrivateKey, keyID, teamID string) *apns2.Client {
	c := apns2.NewTokenClient(&token.Token{AuthKey: key, KeyID: keyID, TeamID: teamID})
	pointAtSink(c, srv)
	return c
}

// pointAtSink keeps apns2's own HTTP/2 transport and makes it trust the
// sink, in place of Apple's host.
func pointAtSink(c *apns2.Client, srv *pushsink.Server) {
	c.Host = srv.APNsHost()
	//lint:ignore SA1019 apns2 builds an x/net http2.Transport; this is how its TLS config is set.
	c.HTTPClient.Transport.(*http2.Transport).TLSClientConfig = srv.ClientTLSConfig()
	c.HTTPClient.Timeout = 10 * time.Second
}

// verifyingSink starts a sink that checks provider-token signatures, and an
// apns2 client holding the matching key.
func verifyingSink(t *testing.T) (*pushsink.Server, *apns2.Client) {
	key, pub := apnsKey(t)
	srv := pushsink.StartForTest(t, pushsink.Config{
		APNsKeys:   map[string]*ecdsa.PublicKey{testKeyID: pub},
		APNsTeamID: testTeamID,
	})
	c := apnsClient(srv, key, testKeyID, testTeamID)
	t.Cleanup(c.CloseIdleConnections)
	return srv, c
}

func alert(deviceToken string) *apns2.Notification {
	return &apns2.Notification{
		DeviceToken: deviceToken,
		Topic:       testTopic,
		Payload:     payload.NewPayload().AlertTitle("Your turn").AlertBody("Bob played").Badge(3).Custom("match", "m-42"),
	}
}

func push(t *testing.T, c *apns2.Client, n *apns2.Notification) *apns2.Response {
	t.Helper()
	res, err := c.PushWithContext(testContext(t), n)
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	return res
}

func TestAPNsSendIsRecorded(t *testing.T) {
	srv, c := verifyingSink(t)
	dev := pushsink.FakeAPNsToken()
	n := alert(dev)
	n.ApnsID = "123e4567-e89b-12d3-a456-4266554400a0"
	n.CollapseID = "turn-m-42"
	n.Priority = apns2.PriorityHigh
	n.Expiration = time.Now().Add(time.Hour)

	res := push(t, c, n)
	if !res.Sent() || res.ApnsID != n.ApnsID || res.ApnsUniqueID == "" {
		t.Fatalf("response = %+v, want 200 echoing apns-id with an apns-unique-id", res)
	}
	d := lastDelivery(t, srv)
	if d.Provider != pushsink.APNs || !d.Accepted() || d.DeviceToken != dev || d.Topic != testTopic || d.ID != n.ApnsID {
		t.Errorf("delivery = %+v", d)
	}
	for k, want := range map[string]string{"apns-push-type": "alert", "apns-priority": "10", "apns-collapse-id": "turn-m-42"} {
		if d.Headers[k] != want {
			t.Errorf("recorded %s = %q, want %q", k, d.Headers[k], want)
		}
	}
	var p struct {
		Aps struct {
			Alert struct{ Title, Body string }
			Badge int
		}
		Match string
	}
	if err := json.Unmarshal(d.Payload, &p); err != nil || p.Aps.Alert.Title != "Your turn" || p.Aps.Badge != 3 || p.Match != "m-42" {
		t.Errorf("recorded payload %s (err %v)", d.Payload, err)
	}
}

func TestAPNsGeneratesApnsID(t *testing.T) {
	srv, c := verifyingSink(t)
	res := push(t, c, alert(pushsink.FakeAPNsToken()))
	if !res.Sent() || len(res.ApnsID) != 36 || res.ApnsID != lastDelivery(t, srv).ID {
		t.Fatalf("response = %+v, want a generated canonical UUID", res)
	}
}

func TestAPNsUnregisteredToken(t *testing.T) {
	srv, c := verifyingSink(t)
	dev := pushsink.FakeAPNsToken()
	before := time.Now().Add(-time.Second)
	if err := srv.SetUnregistered(pushsink.APNs, dev); err != nil {
		t.Fatal(err)
	}
	res := push(t, c, alert(dev))
	if res.StatusCode != http.StatusGone || res.Reason != apns2.ReasonUnregistered {
		t.Fatalf("response = %+v, want 410 Unregistered", res)
	}
	if res.Timestamp.Before(before) || res.Timestamp.After(time.Now()) {
		t.Errorf("timestamp = %v, want about now", res.Timestamp)
	}
	if d := lastDelivery(t, srv); d.Status != http.StatusGone || d.Reason != "Unregistered" {
		t.Errorf("delivery = %+v", d)
	}
	srv.ClearUnregistered(pushsink.APNs, dev)
	if res := push(t, c, alert(dev)); !res.Sent() {
		t.Errorf("after ClearUnregistered: %+v", res)
	}
}

func TestAPNsRefusesBadRequestsWithApplesReasons(t *testing.T) {
	_, c := verifyingSink(t)
	dev := pushsink.FakeAPNsToken()
	cases := []struct {
		name   string
		edit   func(*apns2.Notification)
		status int
		reason string
	}{
		{"bad device token", func(n *apns2.Notification) { n.DeviceToken = "not-a-token" }, 400, apns2.ReasonBadDeviceToken},
		{"short device token", func(n *apns2.Notification) { n.DeviceToken = "abcd" }, 400, apns2.ReasonBadDeviceToken},
		{"missing topic", func(n *apns2.Notification) { n.Topic = "" }, 400, apns2.ReasonMissingTopic},
		{"bad priority", func(n *apns2.Notification) { n.Priority = 7 }, 400, apns2.ReasonBadPriority},
		{"bad push type", func(n *apns2.Notification) { n.PushType = "bogus" }, 400, apns2.ReasonInvalidPushType},
		{"bad apns-id", func(n *apns2.Notification) { n.ApnsID = "42" }, 400, apns2.ReasonBadMessageID},
		{"long collapse id", func(n *apns2.Notification) { n.CollapseID = strings.Repeat("c", 65) }, 400, apns2.ReasonBadCollapseID},
		{"payload too large", func(n *apns2.Notification) {
			n.Payload = payload.NewPayload().Alert(strings.Repeat("x", 4100))
		}, 413, apns2.ReasonPayloadTooLarge},
		{"no aps dictionary", func(n *apns2.Notification) { n.Payload = []byte(`{"match":"m-42"}`) }, 400, "BadPayload"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := alert(dev)
			tc.edit(n)
			res := push(t, c, n)
			if res.StatusCode != tc.status || res.Reason != tc.reason {
				t.Errorf("response = %d %q, want %d %q", res.StatusCode, res.Reason, tc.status, tc.reason)
			}
			if res.ApnsID == "" {
				t.Error("refusal without apns-id header")
			}
		})
	}
}

func TestAPNsVoIPPayloadLimitIs5120(t *testing.T) {
	_, c := verifyingSink(t)
	n := alert(pushsink.FakeAPNsToken())
	n.PushType = apns2.PushTypeVOIP
	n.Topic = testTopic + ".voip"
	n.Payload = payload.NewPayload().Alert(strings.Repeat("x", 4500))
	if res := push(t, c, n); !res.Sent() {
		t.Fatalf("4.5 KB voip push: %+v", res)
	}
}

func TestAPNsProviderTokenChecks(t *testing.T) {
	srv, _ := verifyingSink(t)
	otherKey, _ := apnsKey(t)
	dev := pushsink.FakeAPNsToken()
	cases := []struct {
		name   string
		client *apns2.Client
		reason string
	}{
		{"signed by another key", apnsClient(srv, otherKey, testKeyID, testTeamID), apns2.ReasonInvalidProviderToken},
		{"unknown key id", apnsClient(srv, otherKey, "ZZZ999ZZZZ", testTeamID), apns2.ReasonInvalidProviderToken},
		{"other team", apnsClient(srv, otherKey, testKeyID, "OTHERTEAM1"), apns2.ReasonInvalidProviderToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer tc.client.CloseIdleConnections()
			res := push(t, tc.client, alert(dev))
			if res.StatusCode != http.StatusForbidden || res.Reason != tc.reason {
				t.Errorf("response = %d %q, want 403 %q", res.StatusCode, res.Reason, tc.reason)
			}
		})
	}
}

func TestAPNsMissingProviderToken(t *testing.T) {
	srv, _ := verifyingSink(t)
	c := apns2.NewClient(tls.Certificate{}) // neither certificate nor token
	pointAtSink(c, srv)
	defer c.CloseIdleConnections()
	res := push(t, c, alert(pushsink.FakeAPNsToken()))
	if res.StatusCode != http.StatusForbidden || res.Reason != apns2.ReasonMissingProviderToken {
		t.Fatalf("response = %d %q, want 403 MissingProviderToken", res.StatusCode, res.Reason)
	}
	if d := lastDelivery(t, srv); d.Status != 403 || d.Reason != "MissingProviderToken" || d.Accepted() || len(d.Payload) == 0 {
		t.Errorf("delivery = %+v", d)
	}
}

func TestAPNsExpiredProviderToken(t *testing.T) {
	key, _ := apnsKey(t)
	// The sink's clock runs two hours ahead: a fresh token is stale to it.
	srv := pushsink.StartForTest(t, pushsink.Config{Now: func() time.Time { return time.Now().Add(2 * time.Hour) }})
	c := apnsClient(srv, key, testKeyID, testTeamID)
	defer c.CloseIdleConnections()
	res := push(t, c, alert(pushsink.FakeAPNsToken()))
	if res.StatusCode != http.StatusForbidden || res.Reason != apns2.ReasonExpiredProviderToken {
		t.Fatalf("response = %d %q, want 403 ExpiredProviderToken", res.StatusCode, res.Reason)
	}
}

func TestAPNsStructureOnlyWithoutKeys(t *testing.T) {
	key, _ := apnsKey(t)
	srv := pushsink.StartForTest(t, pushsink.Config{})
	c := apnsClient(srv, key, testKeyID, testTeamID)
	defer c.CloseIdleConnections()
	if res := push(t, c, alert(pushsink.FakeAPNsToken())); !res.Sent() {
		t.Fatalf("any well-formed ES256 token should pass: %+v", res)
	}
	h2 := srv.HTTPClient()
	url := srv.APNsHost() + "/3/device/" + pushsink.FakeAPNsToken()
	body := []byte(`{"aps":{"alert":"hi"}}`)
	hs256 := "eyJhbGciOiJIUzI1NiIsImtpZCI6IkFCQzEyM0RFRkcifQ.eyJpc3MiOiJERUYxMjNHSElKIiwiaWF0IjoxfQ.c2ln"
	cases := map[string]struct {
		auth, reason string
	}{
		"missing":      {"", apns2.ReasonMissingProviderToken},
		"not bearer":   {"basic Zm9vOmJhcg==", apns2.ReasonMissingProviderToken},
		"garbage":      {"bearer not.a.jwt!", apns2.ReasonInvalidProviderToken},
		"wrong alg":    {"bearer " + hs256, apns2.ReasonInvalidProviderToken},
		"two segments": {"bearer abc.def", apns2.ReasonInvalidProviderToken},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := map[string]string{"apns-topic": testTopic}
			if tc.auth != "" {
				h["authorization"] = tc.auth
			}
			res := do(t, h2, "POST", url, h, body)
			got := decode[struct{ Reason string }](t, res.body)
			if res.status != http.StatusForbidden || got.Reason != tc.reason {
				t.Errorf("answer = %d %s, want 403 %s", res.status, res.body, tc.reason)
			}
		})
	}
}

func TestAPNsMethodPathAndProtocol(t *testing.T) {
	srv, _ := verifyingSink(t)
	h2 := srv.HTTPClient()
	dev := pushsink.FakeAPNsToken()
	cases := []struct {
		name, method, path string
		client             *http.Client
		status             int
		reason             string
	}{
		{"GET", "GET", "/3/device/" + dev, h2, 405, apns2.ReasonMethodNotAllowed},
		{"bad path", "POST", "/3/notdevice/" + dev, h2, 404, apns2.ReasonBadPath},
		{"no token", "POST", "/3/device/", h2, 400, apns2.ReasonMissingDeviceToken},
		{"HTTP/1.1", "POST", "/3/device/" + dev, noH2Client(srv), 505, "HTTP2Required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := do(t, tc.client, tc.method, srv.APNsHost()+tc.path, nil, []byte(`{"aps":{}}`))
			got := decode[struct{ Reason string }](t, res.body)
			if res.status != tc.status || got.Reason != tc.reason || res.header.Get("apns-id") == "" {
				t.Errorf("answer = %d %s (apns-id %q), want %d %s", res.status, res.body, res.header.Get("apns-id"), tc.status, tc.reason)
			}
		})
	}
}

// noH2Client speaks HTTP/1.1 only.
func noH2Client(srv *pushsink.Server) *http.Client {
	tr := srv.Transport()
	tr.ForceAttemptHTTP2 = false
	tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	return &http.Client{Transport: tr}
}

func TestAPNsRateLimit(t *testing.T) {
	srv, c := verifyingSink(t)
	if err := srv.SetRateLimit(pushsink.APNs, pushsink.RateLimit{Requests: 1, Window: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if res := push(t, c, alert(pushsink.FakeAPNsToken())); !res.Sent() {
		t.Fatalf("first push: %+v", res)
	}
	res := push(t, c, alert(pushsink.FakeAPNsToken()))
	if res.StatusCode != http.StatusTooManyRequests || res.Reason != apns2.ReasonTooManyRequests {
		t.Fatalf("second push = %d %q, want 429 TooManyRequests", res.StatusCode, res.Reason)
	}
	if d := lastDelivery(t, srv); d.Status != 429 || d.Reason != "TooManyRequests" {
		t.Errorf("delivery = %+v", d)
	}
	raw := do(t, c.HTTPClient, "POST", srv.APNsHost()+"/3/device/"+pushsink.FakeAPNsToken(),
		map[string]string{"authorization": "bearer " + c.Token.GenerateIfExpired(), "apns-topic": testTopic},
		[]byte(`{"aps":{"alert":"hi"}}`))
	if raw.status != 429 || raw.header.Get("Retry-After") == "" {
		t.Errorf("raw answer = %d, Retry-After %q", raw.status, raw.header.Get("Retry-After"))
	}
}
