package pushsink_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ovengames/oven/deploy/pushsink"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rawResponse is an HTTP answer read whole.
type rawResponse struct {
	status int
	proto  int
	header http.Header
	body   []byte
}

// do sends one request through client and reads the answer.
func do(t *testing.T, client *http.Client, method, url string, header map[string]string, body []byte) rawResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{resp.StatusCode, resp.ProtoMajor, resp.Header, b}
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// lastDelivery returns the last recorded delivery, failing if none.
func lastDelivery(t *testing.T, srv *pushsink.Server) pushsink.Delivery {
	t.Helper()
	ds := srv.Deliveries()
	if len(ds) == 0 {
		t.Fatal("no delivery recorded")
	}
	return ds[len(ds)-1]
}

func mustContain(t *testing.T, what, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%s = %s, want it to contain %s", what, s, sub)
	}
}
