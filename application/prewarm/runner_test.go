package prewarm_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/prewarm"
)

// fakeRunner is the dev runner's control socket as far as /presentations goes: it
// records each request and answers with status and body.
type fakeRunner struct {
	mu     sync.Mutex
	got    []string // "METHOD path content-type body"
	status int
	body   string
}

func (f *fakeRunner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.got = append(f.got, strings.TrimSpace(r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type")+" "+string(b)))
	status, body := f.status, f.body
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (f *fakeRunner) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.got
}

// serveUnix serves h on a unix socket in a fresh directory and returns its path.
func serveUnix(t *testing.T, h http.Handler) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "prewarm-") // short: a socket path has at most 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "run.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return path
}

func TestRunnerSetFloorAndCurrent(t *testing.T) {
	f := &fakeRunner{status: http.StatusAccepted, body: `{"floor":5,"current":2,"copies":["p1","p2"],"max":8}`}
	r := prewarm.NewRunner(serveUnix(t, f))
	if err := r.SetFloor(context.Background(), 5); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.status, f.body = http.StatusOK, `{"floor":5,"current":5,"copies":["p1","p2","p3","p4","p5"],"max":8}`
	f.mu.Unlock()
	n, err := r.Current(context.Background())
	if err != nil || n != 5 {
		t.Errorf("Current = %d, %v; want 5", n, err)
	}
	want := []string{
		`POST /presentations application/json {"floor":5}`,
		`GET /presentations`,
	}
	if diff := cmp.Diff(want, f.requests()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestRunnerErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   int
		body     string
		wantCode string
		wantText string // in the error, from the runner's answer
	}{
		{"no haproxy", http.StatusConflict, `{"floor":1,"current":1,"copies":["presentation"],"error":"pre-warming needs haproxy in front of the presentation copies"}`,
			oven.EConflict, "pre-warming needs haproxy"},
		{"refused floor", http.StatusBadRequest, `{"floor":1,"current":1,"copies":["p1"],"error":"floor 0 is below 1"}`,
			oven.EInvalid, "floor 0 is below 1"},
		{"an old runner without /presentations", http.StatusNotFound, "404 page not found\n",
			oven.EInternal, "404 page not found"},
		{"a broken answer", http.StatusOK, `{"current":`, oven.EInternal, `{\"current\":`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := prewarm.NewRunner(serveUnix(t, &fakeRunner{status: tc.status, body: tc.body}))
			err := r.SetFloor(context.Background(), 3)
			if oven.ErrorCode(err) != tc.wantCode || !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("SetFloor = %v, want %s with %q", err, tc.wantCode, tc.wantText)
			}
			n, err := r.Current(context.Background())
			if oven.ErrorCode(err) != tc.wantCode || !strings.Contains(err.Error(), tc.wantText) || n != 0 {
				t.Errorf("Current = %d, %v; want 0, %s with %q", n, err, tc.wantCode, tc.wantText)
			}
		})
	}
}

func TestRunnerFloorBelowOne(t *testing.T) {
	f := &fakeRunner{status: http.StatusAccepted, body: `{}`}
	r := prewarm.NewRunner(serveUnix(t, f))
	for _, floor := range []int{0, -1} {
		if err := r.SetFloor(context.Background(), floor); oven.ErrorCode(err) != oven.EInvalid {
			t.Errorf("SetFloor(%d) = %v, want %s", floor, err, oven.EInvalid)
		}
	}
	if got := f.requests(); len(got) != 0 {
		t.Errorf("the runner was asked %v, want nothing", got)
	}
}

func TestRunnerNotRunning(t *testing.T) {
	r := prewarm.NewRunner(filepath.Join(t.TempDir(), "run.sock"))
	if err := r.SetFloor(context.Background(), 2); oven.ErrorCode(err) != oven.EUnavailable || !strings.Contains(err.Error(), "run.sock") {
		t.Errorf("SetFloor = %v, want %s naming the socket", err, oven.EUnavailable)
	}
	if _, err := r.Current(context.Background()); oven.ErrorCode(err) != oven.EUnavailable {
		t.Errorf("Current = %v, want %s", err, oven.EUnavailable)
	}
}

// TestRunnerTimeout checks that a call without a deadline gives up after Timeout, and
// one with a deadline at that deadline, against a runner that never answers.
func TestRunnerTimeout(t *testing.T) {
	path := serveUnix(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // the server notices a client that hung up once the body is read
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second): // the test has failed by then; let it end
		}
	}))
	r := &prewarm.Runner{Socket: path, Timeout: 50 * time.Millisecond}
	if _, err := r.Current(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Current = %v, want %v", err, context.DeadlineExceeded)
	}
	if err := r.SetFloor(context.Background(), 4); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("SetFloor = %v, want %v", err, context.DeadlineExceeded)
	}
	r.Timeout = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := r.SetFloor(ctx, 4); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("SetFloor with a 50 ms deadline = %v, want %v", err, context.DeadlineExceeded)
	}
}
