package push

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sideshow/apns2"
	"github.com/sideshow/apns2/payload"
	"github.com/sideshow/apns2/token"

	"github.com/ovengames/oven"
)

// APNsConfig configures the APNs adapter (token-based auth).
type APNsConfig struct {
	AuthKey []byte // the .p8 auth key, PKCS #8 PEM
	KeyID   string // the key's id (JWT kid)
	TeamID  string // the developer team id (JWT iss)
	Topic   string // the app's bundle id (apns-topic)

	// Host is the APNs endpoint, scheme included; default apns2.DefaultHost
	// (production, https://api.push.apple.com). apns2.HostDevelopment for
	// the sandbox, or a sink's APNsHost().
	Host string

	// TLSConfig, or else RootCAs, replaces the system trust for a custom
	// Host (the sink's ClientTLSConfig() or CertPool()).
	TLSConfig *tls.Config
	RootCAs   *x509.CertPool
}

// APNs sends pushes through Apple's HTTP/2 provider API. It is safe for
// concurrent use and keeps its connections open: make one, and Close it.
type APNs struct {
	client *apns2.Client
	topic  string
}

var _ Provider = (*APNs)(nil)

// NewAPNs checks cfg and loads the auth key. It does not connect.
func NewAPNs(cfg APNsConfig) (*APNs, error) {
	if cfg.KeyID == "" || cfg.TeamID == "" || cfg.Topic == "" {
		return nil, errors.New("push: APNs needs a key id, a team id and a topic")
	}
	key, err := token.AuthKeyFromBytes(cfg.AuthKey)
	if err != nil {
		return nil, fmt.Errorf("push: APNs auth key: %w", err)
	}
	c := apns2.NewTokenClient(&token.Token{AuthKey: key, KeyID: cfg.KeyID, TeamID: cfg.TeamID})
	if cfg.Host != "" {
		c.Host = cfg.Host
	}
	c.HTTPClient = &http.Client{Transport: retryAfterCapture{apnsTransport(cfg)}}
	return &APNs{client: c, topic: cfg.Topic}, nil
}

// apnsTransport speaks HTTP/2 only (APNs refuses HTTP/1.1), pinging an idle
// connection as apns2's own transport does.
func apnsTransport(cfg APNsConfig) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.Protocols = new(http.Protocols)
	t.Protocols.SetHTTP2(true)
	t.HTTP2 = &http.HTTP2Config{SendPingTimeout: apns2.ReadIdleTimeout}
	switch {
	case cfg.TLSConfig != nil:
		t.TLSClientConfig = cfg.TLSConfig.Clone()
	case cfg.RootCAs != nil:
		t.TLSClientConfig = &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}
	}
	return t
}

// Platform is oven.PushAPNs.
func (a *APNs) Platform() string { return oven.PushAPNs }

// Close closes the idle connections.
func (a *APNs) Close() { a.client.CloseIdleConnections() }

// Send pushes m; see apnsResult for the outcomes.
func (a *APNs) Send(ctx context.Context, m Message) Result {
	n, err := a.notification(m)
	if err != nil {
		return Result{Outcome: Failed, Err: err}
	}
	ctx, cancel := bounded(ctx)
	defer cancel()
	var ra string
	res, err := a.client.PushWithContext(withRetryAfter(ctx, &ra), n)
	if err != nil {
		return Result{Outcome: Retry, Err: fmt.Errorf("push: APNs: %w", err)}
	}
	return apnsResult(res, retryAfter(ra, time.Now()))
}

func (a *APNs) notification(m Message) (*apns2.Notification, error) {
	if m.Token == "" {
		return nil, errors.New("push: APNs: empty device token")
	}
	p := payload.NewPayload()
	for k, v := range m.Data {
		if k == "aps" {
			return nil, errors.New(`push: APNs: data key "aps" is reserved`)
		}
		p.Custom(k, v)
	}
	n := &apns2.Notification{DeviceToken: m.Token, Topic: a.topic, CollapseID: m.CollapseID, Payload: p}
	if m.Title == "" && m.Body == "" {
		p.ContentAvailable()
		n.PushType, n.Priority = apns2.PushTypeBackground, apns2.PriorityLow
		return n, nil
	}
	p.AlertTitle(m.Title).AlertBody(m.Body)
	n.PushType = apns2.PushTypeAlert
	return n, nil
}

// apnsResult maps Apple's answer:
//
//	200                                     Sent
//	410 (Unregistered, ExpiredToken)        Unregistered
//	400 BadDeviceToken                      Unregistered
//	429, 5xx                                Retry (Retry-After when given)
//	403 ExpiredProviderToken                Retry (apns2 renews its JWT)
//	any other status                        Failed
//
// BadDeviceToken is permanent for the token: it is not a token of this app's
// environment and will never be. It also comes back for every token when
// Host is the wrong environment (production vs sandbox), so a burst of it
// means misconfiguration rather than dead devices.
func apnsResult(res *apns2.Response, after time.Duration) Result {
	r := Result{ProviderID: res.ApnsID}
	if res.Sent() {
		r.Outcome = Sent
		return r
	}
	r.Err = fmt.Errorf("push: APNs: %d %s", res.StatusCode, res.Reason)
	switch {
	case res.StatusCode == http.StatusGone, res.Reason == apns2.ReasonUnregistered,
		res.Reason == apns2.ReasonBadDeviceToken:
		r.Outcome = Unregistered
	case res.StatusCode == http.StatusTooManyRequests, res.StatusCode >= 500,
		res.Reason == apns2.ReasonExpiredProviderToken:
		r.Outcome, r.RetryAfter = Retry, after
	default:
		r.Outcome = Failed
	}
	return r
}

// retryAfterKey carries, in a request's context, where to put the answer's
// Retry-After header: apns2.Response drops the headers.
type retryAfterKey struct{}

func withRetryAfter(ctx context.Context, dst *string) context.Context {
	return context.WithValue(ctx, retryAfterKey{}, dst)
}

// retryAfterCapture is a RoundTripper that stores Retry-After where the
// request's context says. RoundTrip runs before Client.Do returns, on the
// sender's behalf, so the sender may read it without locking afterwards.
type retryAfterCapture struct{ base *http.Transport }

func (c retryAfterCapture) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := c.base.RoundTrip(r)
	if dst, ok := r.Context().Value(retryAfterKey{}).(*string); ok && res != nil {
		*dst = res.Header.Get("Retry-After")
	}
	return res, err
}

// CloseIdleConnections is what apns2.Client.CloseIdleConnections calls.
func (c retryAfterCapture) CloseIdleConnections() { c.base.CloseIdleConnections() }
