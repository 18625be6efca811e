package push

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/auth/httptransport"
	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"

	"github.com/ovengames/oven"
)

// fcmScope is the OAuth2 scope FCM HTTP v1 needs.
const fcmScope = "https://www.googleapis.com/auth/firebase.messaging"

// FCMConfig configures the FCM HTTP v1 adapter.
type FCMConfig struct {
	// ServiceAccountJSON is the service-account key file. Its token_uri is
	// where access tokens come from (Google's, or a sink's).
	ServiceAccountJSON []byte

	// ProjectID is the Firebase project; default the key file's project_id.
	ProjectID string

	// Endpoint is the FCM API base, default Google's
	// (https://fcm.googleapis.com/v1); a sink's FCMEndpoint().
	Endpoint string

	// Transport, or else RootCAs, carries both the token requests and the
	// sends (a sink's Transport() or CertPool()); default the system's.
	Transport http.RoundTripper
	RootCAs   *x509.CertPool
}

// FCM sends pushes through FCM HTTP v1. It is safe for concurrent use.
type FCM struct {
	client *messaging.Client
}

var _ Provider = (*FCM)(nil)

// NewFCM builds the credentials and the messaging client. It does not
// fetch a token yet.
func NewFCM(ctx context.Context, cfg FCMConfig) (*FCM, error) {
	project, err := fcmProject(cfg)
	if err != nil {
		return nil, err
	}
	base := fcmTransport(cfg)
	creds, err := credentials.NewCredentialsFromJSON(credentials.ServiceAccount, cfg.ServiceAccountJSON,
		&credentials.DetectOptions{Scopes: []string{fcmScope}, Client: &http.Client{Transport: base}})
	if err != nil {
		return nil, fmt.Errorf("push: FCM credentials: %w", err)
	}
	hc, err := httptransport.NewClient(&httptransport.Options{
		Credentials: creds, BaseRoundTripper: base, DisableTelemetry: true})
	if err != nil {
		return nil, fmt.Errorf("push: FCM HTTP client: %w", err)
	}
	opts := []option.ClientOption{option.WithHTTPClient(hc)}
	if cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(cfg.Endpoint))
	}
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: project}, opts...)
	if err != nil {
		return nil, fmt.Errorf("push: FCM app: %w", err)
	}
	mc, err := app.Messaging(ctx)
	if err != nil {
		return nil, fmt.Errorf("push: FCM messaging: %w", err)
	}
	return &FCM{client: mc}, nil
}

// fcmProject is cfg.ProjectID, or the key file's project_id.
func fcmProject(cfg FCMConfig) (string, error) {
	if cfg.ProjectID != "" {
		return cfg.ProjectID, nil
	}
	var f struct {
		ProjectID string `json:"project_id"`
	}
	if err := json.Unmarshal(cfg.ServiceAccountJSON, &f); err != nil {
		return "", fmt.Errorf("push: FCM service account: %w", err)
	}
	if f.ProjectID == "" {
		return "", errors.New("push: FCM needs a project id")
	}
	return f.ProjectID, nil
}

func fcmTransport(cfg FCMConfig) http.RoundTripper {
	if cfg.Transport != nil {
		return cfg.Transport
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.RootCAs != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}
	}
	return t
}

// Platform is oven.PushFCM.
func (f *FCM) Platform() string { return oven.PushFCM }

// Send pushes m; see fcmResult for the outcomes. The Admin SDK itself
// retries network errors and 500/503 a few times within ctx.
func (f *FCM) Send(ctx context.Context, m Message) Result {
	if m.Token == "" {
		return Result{Outcome: Failed, Err: errors.New("push: FCM: empty registration token")}
	}
	ctx, cancel := bounded(ctx)
	defer cancel()
	name, err := f.client.Send(ctx, fcmMessage(m))
	return fcmResult(ctx, name, err)
}

func fcmMessage(m Message) *messaging.Message {
	msg := &messaging.Message{Token: m.Token, Data: m.Data}
	if m.Title != "" || m.Body != "" {
		msg.Notification = &messaging.Notification{Title: m.Title, Body: m.Body}
	}
	if m.CollapseID != "" {
		msg.Android = &messaging.AndroidConfig{CollapseKey: m.CollapseID}
		msg.APNS = &messaging.APNSConfig{Headers: map[string]string{"apns-collapse-id": m.CollapseID}}
	}
	return msg
}

// fcmResult maps the Admin SDK's answer:
//
//	nil                                             Sent
//	UNREGISTERED (404), SENDER_ID_MISMATCH (403)    Unregistered
//	QUOTA_EXCEEDED / RESOURCE_EXHAUSTED (429),
//	UNAVAILABLE (503), INTERNAL (500), UNKNOWN,
//	DEADLINE_EXCEEDED, network errors, ctx done     Retry (Retry-After when given)
//	INVALID_ARGUMENT (400), auth errors, SDK-side
//	message validation, anything else               Failed
//
// SENDER_ID_MISMATCH means the token belongs to another Firebase project:
// it will never work for this one.
func fcmResult(ctx context.Context, name string, err error) Result {
	r := Result{ProviderID: name}
	if err == nil {
		r.Outcome = Sent
		return r
	}
	r.Err = fmt.Errorf("push: FCM: %w", err)
	switch {
	case messaging.IsUnregistered(err), messaging.IsSenderIDMismatch(err):
		r.Outcome = Unregistered
	case ctx.Err() != nil, fcmTransient(err):
		r.Outcome, r.RetryAfter = Retry, fcmRetryAfter(err)
	default:
		r.Outcome = Failed
	}
	return r
}

func fcmTransient(err error) bool {
	return messaging.IsQuotaExceeded(err) || errorutils.IsResourceExhausted(err) ||
		messaging.IsUnavailable(err) || errorutils.IsUnavailable(err) ||
		messaging.IsInternal(err) || errorutils.IsInternal(err) ||
		errorutils.IsUnknown(err) || errorutils.IsDeadlineExceeded(err)
}

func fcmRetryAfter(err error) time.Duration {
	res := errorutils.HTTPResponse(err)
	if res == nil {
		return 0
	}
	return retryAfter(res.Header.Get("Retry-After"), time.Now())
}
