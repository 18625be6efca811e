// Package vp plays the game like real clients over the public HTTP API of API.md:
// virtual players (VPs) authenticate as guests, fetch the game data with ETags, start
// plays, wait out the play in real time, settle with honest numbers, check their
// profile, buy now and then, and — behind a flag — use the social routes. Two drivers
// run them: an open-loop one that lets VPs arrive on a rate profile, and a closed-loop
// one that keeps N requests in flight to find the maximum throughput.
package vp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ovengames/oven/loadtest/stats"
)

// maxBody bounds what is read of a response: the game data is the largest, ~1 KiB.
const maxBody = 1 << 20

// Client sends the VPs' requests to one target and records every one of them.
type Client struct {
	base       string
	http       *http.Client
	gate       *Gate
	rec        atomic.Pointer[stats.Recorder]
	budget     *Budget
	closedLoop bool
	tap        Tap
}

// Tap sees every answer a Client gets, after it is classified: the chaos observer
// follows the players a fault touched. Answered must be safe for concurrent use and
// quick (it runs on the request's goroutine).
type Tap interface {
	Answered(call *Call, res *Response)
}

// ClientConfig configures a Client.
type ClientConfig struct {
	BaseURL string        // e.g. http://127.0.0.1:8080
	Timeout time.Duration // per request
	Gate    *Gate         // bounds requests in flight
	Budget  *Budget       // bounds the run's total requests
	// ClosedLoop measures latency from when the request got its slot: a closed-loop
	// driver's own queue is not the server's latency.
	ClosedLoop bool
	Tap        Tap // nil: none
}

// NewClient returns a Client with its own connection pool.
func NewClient(cfg ClientConfig) *Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        8192,
		MaxIdleConnsPerHost: 8192,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &Client{
		base:       strings.TrimRight(cfg.BaseURL, "/"),
		http:       &http.Client{Transport: tr, Timeout: cfg.Timeout},
		gate:       cfg.Gate,
		budget:     cfg.Budget,
		closedLoop: cfg.ClosedLoop,
		tap:        cfg.Tap,
	}
}

// SetRecorder switches where samples go (a new phase or step).
func (c *Client) SetRecorder(r *stats.Recorder) { c.rec.Store(r) }

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Refusal is an error answer that a call expects (status and API code).
type Refusal struct {
	Status int
	Code   string
}

// Call is one request.
type Call struct {
	Route       string // label for the report, e.g. "POST /v1/plays/{id}/settle"
	Method      string
	Path        string
	Body        any // marshalled to JSON; nil sends no body
	Token       string
	IfNoneMatch string
	Intended    time.Time // when it was meant to be sent; zero means now
	Expect      []Refusal // refusals that count as stats.Expected
	// Social marks a route of API.md that may not exist yet: a 404 "no route" or a
	// 405 counts as stats.Missing, not as an error.
	Social bool
	// Player and Device say whose request it is, for a Tap: the player id ("" before a
	// new device's first guest auth) and the device id.
	Player string
	Device string
}

// Response is the outcome of a Call.
type Response struct {
	Status  int
	Code    string // API error code, or a transport failure class
	Message string
	Body    []byte
	ETag    string
	Outcome stats.Outcome
	Sent    time.Time
	Done    time.Time
}

// OK reports a 2xx or 304 answer.
func (r *Response) OK() bool {
	return r.Status >= 200 && r.Status < 300 || r.Status == http.StatusNotModified
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// ErrStopped is returned when the generator may send no more requests (budget spent
// or phase over).
var ErrStopped = errors.New("vp: stopped")

// Do sends call and records it. A nil Response with ErrStopped means nothing was sent.
func (c *Client) Do(ctx context.Context, call Call) (*Response, error) {
	if !c.budget.take() {
		return nil, ErrStopped
	}
	intended := call.Intended
	if intended.IsZero() {
		intended = time.Now()
	}
	release, err := c.gate.Acquire(ctx)
	if err != nil {
		return nil, ErrStopped
	}
	defer release()
	req, err := c.request(ctx, call)
	if err != nil {
		return nil, err
	}
	res := &Response{Sent: time.Now()}
	if c.closedLoop {
		intended = res.Sent
	}
	hres, err := c.http.Do(req)
	if err == nil {
		res.Status, res.ETag = hres.StatusCode, hres.Header.Get("ETag")
		res.Body, err = io.ReadAll(io.LimitReader(hres.Body, maxBody))
		hres.Body.Close()
	}
	res.Done = time.Now()
	classify(ctx, res, err, call)
	if rec := c.rec.Load(); rec != nil {
		rec.Record(stats.Sample{Route: call.Route, Intended: intended, Sent: res.Sent, Done: res.Done,
			Status: res.Status, Code: res.Code, Outcome: res.Outcome})
	}
	if c.tap != nil {
		c.tap.Answered(&call, res)
	}
	return res, nil
}

func (c *Client) request(ctx context.Context, call Call) (*http.Request, error) {
	var body io.Reader
	if call.Body != nil {
		b, err := json.Marshal(call.Body)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, call.Method, c.base+call.Path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if call.Token != "" {
		req.Header.Set("Authorization", "Bearer "+call.Token)
	}
	if call.IfNoneMatch != "" {
		req.Header.Set("If-None-Match", call.IfNoneMatch)
	}
	return req, nil
}

// classify sets res.Code and res.Outcome.
func classify(ctx context.Context, res *Response, err error, call Call) {
	if err != nil {
		res.Status, res.Code = 0, transportClass(err)
		res.Outcome = stats.Error
		if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			res.Outcome, res.Code = stats.Abandoned, "cancelled"
		}
		return
	}
	if res.OK() {
		res.Outcome = stats.OK
		return
	}
	var eb errorBody
	if json.Unmarshal(res.Body, &eb) == nil {
		res.Code, res.Message = eb.Error.Code, eb.Error.Message
	}
	if res.Code == "" {
		res.Code = "no_error_body"
	}
	res.Outcome = stats.Error
	for _, e := range call.Expect {
		if e.Status == res.Status && e.Code == res.Code {
			res.Outcome = stats.Expected
			return
		}
	}
	if call.Social && RouteMissing(res.Status, res.Message) {
		res.Outcome = stats.Missing
	}
}

// RouteMissing reports whether an answer says the route does not exist: httpapi's
// NotFound handler answers 404 not_found "no route for METHOD PATH", and a route that
// exists for other methods answers 405. (A distinct API code for unmatched routes would
// make this sturdier than matching the message.)
func RouteMissing(status int, message string) bool {
	return status == http.StatusMethodNotAllowed ||
		status == http.StatusNotFound && strings.HasPrefix(message, "no route for ")
}

func transportClass(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "conn_refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "conn_reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EMFILE):
		return "local_resources"
	}
	return "transport"
}

// Gate bounds the requests in flight. Its limit can change while requests wait (the
// closed-loop driver steps its concurrency), and Close refuses every later Acquire.
type Gate struct {
	mu      sync.Mutex
	cond    *sync.Cond
	limit   int
	used    int
	waiting int
	closed  bool
}

// NewGate returns a Gate admitting limit requests at once.
func NewGate(limit int) *Gate {
	g := &Gate{limit: limit}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// Acquire waits for a slot. It fails when the gate is closed or ctx ends.
func (g *Gate) Acquire(ctx context.Context) (func(), error) {
	if g == nil {
		return func() {}, nil
	}
	stop := context.AfterFunc(ctx, func() {
		g.mu.Lock()
		g.cond.Broadcast()
		g.mu.Unlock()
	})
	defer stop()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.waiting++
	for !g.closed && ctx.Err() == nil && g.used >= g.limit {
		g.cond.Wait()
	}
	g.waiting--
	if g.closed || ctx.Err() != nil {
		return nil, ErrStopped
	}
	g.used++
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			g.used--
			g.cond.Signal()
			g.mu.Unlock()
		})
	}, nil
}

// SetLimit changes how many requests may be in flight.
func (g *Gate) SetLimit(n int) {
	g.mu.Lock()
	g.limit = n
	g.cond.Broadcast()
	g.mu.Unlock()
}

// Close refuses every later Acquire and wakes the waiters; requests in flight finish.
func (g *Gate) Close() {
	g.mu.Lock()
	g.closed = true
	g.cond.Broadcast()
	g.mu.Unlock()
}

// Open undoes Close (the next phase).
func (g *Gate) Open() {
	g.mu.Lock()
	g.closed = false
	g.mu.Unlock()
}

// State returns the requests in flight and the ones waiting for a slot.
func (g *Gate) State() (inFlight, waiting int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.used, g.waiting
}

// Budget bounds the total number of requests of a run; nil is unbounded.
type Budget struct {
	left atomic.Int64
}

// NewBudget returns a Budget of n requests (n ≤ 0: unbounded, nil).
func NewBudget(n int64) *Budget {
	if n <= 0 {
		return nil
	}
	b := &Budget{}
	b.left.Store(n)
	return b
}

func (b *Budget) take() bool { return b == nil || b.left.Add(-1) >= 0 }

// Spent reports whether the budget is used up.
func (b *Budget) Spent() bool { return b != nil && b.left.Load() <= 0 }
