package campaign

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"
)

// gms is a logged-in GMS session (API.md, GMS): a session cookie, and the CSRF token
// every state-changing call carries.
type gms struct {
	base string
	http *http.Client
	csrf string
}

// login signs in as the bootstrap admin "admin".
func login(ctx context.Context, base, password string) (*gms, error) {
	if password == "" {
		return nil, fmt.Errorf("campaign: no GMS password (OVEN_ADMIN_PASSWORD)")
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	g := &gms{base: strings.TrimRight(base, "/"), http: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
	var s struct {
		CSRFToken string `json:"csrf_token"`
	}
	body := map[string]string{"username": "admin", "password": password}
	if err := g.call(ctx, http.MethodPost, "/gms/api/login", body, http.StatusOK, &s); err != nil {
		return nil, err
	}
	if s.CSRFToken == "" {
		return nil, fmt.Errorf("campaign: GMS login: no csrf_token in the answer")
	}
	g.csrf = s.CSRFToken
	return g, nil
}

// createPush schedules a push to every player with a device token, sent at once, and
// returns its event id.
func (g *gms) createPush(ctx context.Context, now time.Time) (string, error) {
	body := map[string]any{"kind": "push", "title": "Load test campaign", "message": "Your lives are waiting (load test)",
		"starts_at": now.UTC().Format(time.RFC3339), "audience": "all", "expected_load": 1}
	var created struct {
		ID string `json:"id"`
	}
	if err := g.call(ctx, http.MethodPost, "/gms/api/events", body, http.StatusCreated, &created); err != nil {
		return "", err
	}
	if created.ID == "" {
		return "", fmt.Errorf("campaign: create the push event: no id in the answer")
	}
	return created.ID, nil
}

// Counts are a campaign's outbox rows by status (GET /gms/api/events/{id}/pushes).
type Counts struct {
	Queued       int64 `json:"queued"`
	Sent         int64 `json:"sent"`
	Failed       int64 `json:"failed"`
	Unregistered int64 `json:"unregistered"`
}

// Settled is the rows that are no longer queued.
func (c Counts) Settled() int64 { return c.Sent + c.Failed + c.Unregistered }

// Rows is every row the campaign queued.
func (c Counts) Rows() int64 { return c.Queued + c.Settled() }

func (g *gms) counts(ctx context.Context, eventID string) (Counts, error) {
	var c Counts
	err := g.call(ctx, http.MethodGet, "/gms/api/events/"+url.PathEscape(eventID)+"/pushes", nil, http.StatusOK, &c)
	return c, err
}

func (g *gms) call(ctx context.Context, method, path string, in any, want int, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, method, g.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if g.csrf != "" {
		req.Header.Set("X-CSRF-Token", g.csrf)
	}
	return do(g.http, req, want, out)
}

// sink reads the push sink's counters (deploy/pushsink: GET /sink/stats).
type sink struct {
	url  string
	http *http.Client
}

func newSink(url string, caPEM []byte) (*sink, error) {
	c, err := tlsClient(caPEM)
	if err != nil {
		return nil, err
	}
	return &sink{url: strings.TrimRight(url, "/"), http: c}, nil
}

// SinkCounts are the requests the sink answered: accepted (200) or refused.
type SinkCounts struct {
	Accepted int64 `json:"accepted"`
	Rejected int64 `json:"rejected"`
}

// Since is the requests answered since base.
func (s SinkCounts) Since(base SinkCounts) int64 {
	return s.Accepted + s.Rejected - base.Accepted - base.Rejected
}

// stats sums both providers' counters.
func (s *sink) stats(ctx context.Context) (SinkCounts, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/sink/stats", nil)
	if err != nil {
		return SinkCounts{}, err
	}
	var by map[string]SinkCounts // "apns", "fcm"
	if err := do(s.http, req, http.StatusOK, &by); err != nil {
		return SinkCounts{}, err
	}
	var sum SinkCounts
	for _, c := range by {
		sum.Accepted += c.Accepted
		sum.Rejected += c.Rejected
	}
	return sum, nil
}

func do(c *http.Client, req *http.Request, want int, out any) error {
	res, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("campaign: %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	if res.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 2048))
		return fmt.Errorf("campaign: %s %s: %d, want %d: %s", req.Method, req.URL.Path, res.StatusCode, want, bytes.TrimSpace(b))
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return fmt.Errorf("campaign: %s %s: %w", req.Method, req.URL.Path, err)
	}
	return nil
}
