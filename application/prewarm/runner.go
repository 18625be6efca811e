package prewarm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ovengames/oven"
)

// Runner is the Scaler of `make run`: the dev runner (deploy/run) keeps
// max(OVEN_PRESENTATION_COUNT, floor) presentation copies behind its haproxy, and takes
// the floor on its control socket, whose path it gives every shard as
// OVEN_PREWARM_RUNNER.
type Runner struct {
	// Socket is the path of the runner's control socket.
	Socket string
	// Timeout bounds each call whose context has no deadline; 0 means DefaultTimeout.
	Timeout time.Duration
}

var _ Scaler = (*Runner)(nil)

// NewRunner returns a Runner that talks to the control socket at socketPath.
func NewRunner(socketPath string) *Runner { return &Runner{Socket: socketPath} }

// runnerStatus is the runner's answer to GET and POST /presentations.
type runnerStatus struct {
	Floor   int      `json:"floor"`
	Current int      `json:"current"`
	Copies  []string `json:"copies"`
	Error   string   `json:"error"`
}

// SetFloor asks the runner for at least floor presentation copies (it caps them at its
// OVEN_PRESENTATION_MAX) and returns once the runner has accepted the floor; the copies
// follow within seconds. Errors: invalid_argument for floor < 1 or a floor the runner
// refuses, conflict when the runner has no haproxy to put copies behind, unavailable
// when the runner does not answer, internal otherwise.
func (r *Runner) SetFloor(ctx context.Context, floor int) error {
	if floor < 1 {
		return oven.Errorf(oven.EInvalid, "prewarm: floor %d is below 1", floor)
	}
	body, _ := json.Marshal(map[string]int{"floor": floor})
	_, err := r.call(ctx, http.MethodPost, body)
	return err
}

// Current returns how many presentation copies the runner has in rotation. Errors:
// unavailable when the runner does not answer, internal otherwise.
func (r *Runner) Current(ctx context.Context) (int, error) {
	st, err := r.call(ctx, http.MethodGet, nil)
	if err != nil {
		return 0, err
	}
	return st.Current, nil
}

// call sends one request to /presentations and decodes the runner's answer. Each call
// dials the socket afresh: the floor moves a few times an hour, and no idle connection
// (nor the transport's goroutines for it) outlives the call.
func (r *Runner) call(ctx context.Context, method string, body []byte) (runnerStatus, error) {
	var st runnerStatus
	ctx, cancel := r.bound(ctx)
	defer cancel()
	what := fmt.Sprintf("prewarm: %s /presentations on the runner's socket %s", method, r.Socket)
	req, err := http.NewRequestWithContext(ctx, method, "http://run/presentations", bytes.NewReader(body))
	if err != nil {
		return st, fmt.Errorf("%s: %w", what, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", r.Socket)
		},
		DisableKeepAlives: true,
	}}
	resp, err := hc.Do(req)
	if err != nil {
		return st, &oven.Error{Code: oven.EUnavailable, Message: what + " (is `make run` running?)", Cause: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return st, fmt.Errorf("%s: %s: %w", what, resp.Status, err)
	}
	jsonErr := json.Unmarshal(b, &st)
	text := st.Error // the runner's own words
	if jsonErr != nil {
		text = strings.TrimSpace(string(b))
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusAccepted:
		if jsonErr != nil {
			return st, fmt.Errorf("%s: %s: %q: %w", what, resp.Status, b, jsonErr)
		}
		return st, nil
	case http.StatusBadRequest:
		return st, oven.Errorf(oven.EInvalid, "%s: %s: %s", what, resp.Status, text)
	case http.StatusConflict:
		return st, oven.Errorf(oven.EConflict, "%s: %s: %s", what, resp.Status, text)
	default:
		return st, fmt.Errorf("%s: %s: %s", what, resp.Status, text)
	}
}

// bound gives ctx the Runner's timeout unless it has a deadline already.
func (r *Runner) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	d := r.Timeout
	if d <= 0 {
		d = DefaultTimeout
	}
	return context.WithTimeout(ctx, d)
}
