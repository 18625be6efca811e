package push_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/ovengames/oven/application/push"
	"github.com/ovengames/oven/deploy/pushsink"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// lastDelivery is the sink's most recent recorded request.
func lastDelivery(t *testing.T, srv *pushsink.Server) pushsink.Delivery {
	t.Helper()
	ds := srv.Deliveries()
	if len(ds) == 0 {
		t.Fatal("the sink recorded nothing")
	}
	return ds[len(ds)-1]
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

func turn(token string) push.Message {
	return push.Message{Token: token, Title: "Your turn", Body: "Bob played",
		Data: map[string]string{"match": "m-42"}, CollapseID: "turn"}
}

func wantOutcome(t *testing.T, what string, r push.Result, want push.Outcome) {
	t.Helper()
	if r.Outcome != want {
		t.Fatalf("%s = %v (%v), want %v", what, r.Outcome, r.Err, want)
	}
	if (r.Err == nil) != (want == push.Sent) {
		t.Errorf("%s: Err = %v with outcome %v", what, r.Err, r.Outcome)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name, header string
		want         time.Duration
	}{
		{"absent", "", 0},
		{"seconds", "7", 7 * time.Second},
		{"padded", " 3 ", 3 * time.Second},
		{"zero", "0", 0},
		{"negative", "-5", 0},
		{"huge is capped", "999999999999", 24 * time.Hour},
		{"http date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"past date", now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"garbage", "soon", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := push.RetryAfter(tt.header, now); got != tt.want {
				t.Errorf("retryAfter(%q) = %v, want %v", tt.header, got, tt.want)
			}
		})
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[push.Outcome]string{push.Sent: "Sent", push.Unregistered: "Unregistered",
		push.Retry: "Retry", push.Failed: "Failed", push.Outcome(9): "Outcome(9)"} {
		if got := o.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(o), got, want)
		}
	}
}
