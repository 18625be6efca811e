package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// scaleRequest is the body of POST /scale on the control socket.
type scaleRequest struct {
	Shards int `json:"shards"`
	// Drain optionally names the shards to drain when scaling down (default: the
	// highest-numbered ones).
	Drain []string `json:"drain,omitempty"`
}

// scaleResponse answers POST /scale: the shards running afterwards, or what went wrong.
type scaleResponse struct {
	Shards []string `json:"shards"`
	Error  string   `json:"error,omitempty"`
}

// presentationsRequest is the body of POST /presentations.
type presentationsRequest struct {
	Floor int `json:"floor"` // the fewest presentation copies, ≥ 1
}

// presentationsStatus answers GET and POST /presentations.
type presentationsStatus struct {
	Floor int `json:"floor"`
	// Current counts the copies in haproxy's rotation (or draining out of it); Copies
	// names them by their haproxy server, pN being stack.json's presentation-N.
	Current int      `json:"current"`
	Copies  []string `json:"copies"`
	Max     int      `json:"max"`             // OVEN_PRESENTATION_MAX
	Error   string   `json:"error,omitempty"` // the request's, or else the last failed step's
}

// serveControl serves the runner's control API on the unix socket path until ctx ends:
//
//	POST /scale {"shards": N}         → 200 {"shards": ["s1", …]} once the new shards serve
//	                                    or the drained ones have exited
//	GET  /shards                      → 200 {"shards": ["s1", …]}
//	POST /presentations {"floor": N}  → 202 {"floor": N, "current": M, "copies": ["p1", …], "max": 8}
//	                                    at once; the copies move to max(OVEN_PRESENTATION_COUNT,
//	                                    N), capped at max, in the background. 409 when the
//	                                    stack runs without haproxy.
//	GET  /presentations               → 200 the same
func serveControl(ctx context.Context, path string, f *fleet, pres *presentations, log *slog.Logger) (stop func(), err error) {
	os.Remove(path) // a socket left by a runner that was killed
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /shards", func(w http.ResponseWriter, _ *http.Request) {
		writeControl(w, http.StatusOK, scaleResponse{Shards: f.ids()})
	})
	mux.HandleFunc("POST /scale", func(w http.ResponseWriter, r *http.Request) {
		var req scaleRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeControl(w, http.StatusBadRequest, scaleResponse{Shards: f.ids(), Error: err.Error()})
			return
		}
		ids, err := f.scale(ctx, req.Shards, req.Drain)
		switch {
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
			writeControl(w, http.StatusGatewayTimeout, scaleResponse{Shards: ids, Error: err.Error()})
		case err != nil:
			writeControl(w, http.StatusBadRequest, scaleResponse{Shards: ids, Error: err.Error()})
		default:
			log.Info("scaled", "shards", ids)
			writeControl(w, http.StatusOK, scaleResponse{Shards: ids})
		}
	})
	mux.HandleFunc("GET /presentations", func(w http.ResponseWriter, _ *http.Request) {
		writeControl(w, http.StatusOK, pres.status())
	})
	mux.HandleFunc("POST /presentations", func(w http.ResponseWriter, r *http.Request) {
		var req presentationsRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			st := pres.status()
			st.Error = err.Error()
			writeControl(w, http.StatusBadRequest, st)
			return
		}
		st, err := pres.setFloor(req.Floor)
		switch {
		case errors.Is(err, errNoHAProxy):
			st.Error = err.Error()
			writeControl(w, http.StatusConflict, st)
		case err != nil:
			st.Error = err.Error()
			writeControl(w, http.StatusBadRequest, st)
		default:
			log.Info("presentation floor set", "floor", req.Floor, "running", st.Current)
			writeControl(w, http.StatusAccepted, st)
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		os.Remove(path)
	}, nil
}

func writeControl(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// scaleCommand is `run scale N`: it asks the running stack in OVEN_STATE_DIR (the socket
// named by its stack.json) for N shards and prints the shards running afterwards.
func scaleCommand(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: run scale N (e.g. make scale SHARDS=4)")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 {
		return fmt.Errorf("scale: %q is not a shard count ≥ 1", args[0])
	}
	state := envOr("OVEN_STATE_DIR", ".oven")
	path := controlPath(state)
	var st struct {
		Control string `json:"control"`
	}
	if b, err := os.ReadFile(state + "/stack.json"); err == nil && json.Unmarshal(b, &st) == nil && st.Control != "" {
		path = st.Control
	}
	body, _ := json.Marshal(scaleRequest{Shards: n})
	hc := controlClient(path, joinTimeout+drainGrace+30*time.Second)
	resp, err := hc.Post("http://run/scale", "application/json", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("scale: is `make run` running on %s? %w", state, err)
	}
	defer resp.Body.Close()
	var out scaleResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return fmt.Errorf("scale: %s: %w", resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("scale: %s: %s (shards: %v)", resp.Status, out.Error, out.Shards)
	}
	fmt.Printf("%d shards: %v\n", len(out.Shards), out.Shards)
	return nil
}

// controlClient is an HTTP client that reaches the control socket at path.
func controlClient(path string, timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
}
