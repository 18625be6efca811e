// Provider adapters
//
// A Provider sends one Message to one device token and says what became of
// it, as an Outcome the outbox can act on without knowing the provider:
//
//	Sent          delivered to the provider; ProviderID is its message id.
//	Unregistered  the token is dead: disable it (Tokens), never retry it.
//	Retry         transient (rate limit, 5xx, network, deadline): send again
//	              later, not before RetryAfter when it is > 0.
//	Failed        permanent for this message (bad request, bad credentials):
//	              do not retry it as is.
//
// APNs (github.com/sideshow/apns2, token auth) and FCM HTTP v1
// (firebase.google.com/go/v4) are the adapters; both can be pointed at
// deploy/pushsink for tests and the dev stack. Each adapter's file has its
// own mapping table. Every Send is bounded by its ctx, or by DefaultTimeout
// when ctx has no deadline.

package push

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeout bounds a Send whose ctx has no deadline.
const DefaultTimeout = 10 * time.Second

// Message is one notification to one device.
type Message struct {
	Token string // the device token (APNs) or registration token (FCM)
	Title string
	Body  string // with Title empty too, the push is a silent data push
	Data  map[string]string

	// CollapseID makes the device keep only the newest push with this id
	// (apns-collapse-id, at most 64 bytes; FCM android collapse_key).
	CollapseID string
}

// Outcome is what the outbox does next with a sent message.
type Outcome int

// The outcomes of a Send.
const (
	Sent Outcome = iota
	Unregistered
	Retry
	Failed
)

var outcomeNames = [...]string{"Sent", "Unregistered", "Retry", "Failed"}

func (o Outcome) String() string {
	if o < 0 || int(o) >= len(outcomeNames) {
		return "Outcome(" + strconv.Itoa(int(o)) + ")"
	}
	return outcomeNames[o]
}

// Result is the answer to one Send.
type Result struct {
	Outcome Outcome

	// RetryAfter is the provider's wish (Retry-After) for Retry; 0 when it
	// gave none, and the caller picks its own backoff.
	RetryAfter time.Duration

	Err        error  // why, for every outcome but Sent
	ProviderID string // apns-id, or the FCM message name, when known
}

// Provider sends pushes for one platform.
type Provider interface {
	// Platform is oven.PushAPNs or oven.PushFCM.
	Platform() string
	// Send never panics and never blocks past ctx (or DefaultTimeout).
	Send(ctx context.Context, m Message) Result
}

// bounded returns ctx, with DefaultTimeout when it has no deadline.
func bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, DefaultTimeout)
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date
// (RFC 9110 10.2.3). Anything else, or a time past, is 0.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}
