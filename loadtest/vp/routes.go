package vp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovengames/oven/loadtest/stats"
)

// The single-route mode measures one operation at a time, the way DESIGN.md's second
// performance goal compares Oven with a reference server: the data each operation
// needs is prepared through the public API first (not measured), then a closed loop
// keeps N requests of that one route in flight. Every measured request is a fresh,
// valid one: a refusal such as already_sent is an error, never an expected answer.

// The single routes.
const (
	RouteLeaderboardWrite   = "leaderboard-write"   // POST /v1/plays/{id}/settle of a play started ahead
	RouteSendLife           = "send-life"           // POST /v1/friends/{id}/life, a fresh pair each time
	RouteInbox              = "inbox"               // GET /v1/mailbox of a player holding mail
	RouteFriendsLeaderboard = "friends-leaderboard" // GET /v1/leaderboard/friends, friends with weekly scores
)

// Routes lists the single routes in their usual order.
var Routes = []string{RouteLeaderboardWrite, RouteSendLife, RouteInbox, RouteFriendsLeaderboard}

// RouteData sizes what the single routes prepare.
type RouteData struct {
	Plays   int // plays started ahead for leaderboard-write (each player holds lives.max of them)
	Players int // social players: senders and receivers of send-life, readers of inbox and friends-leaderboard
	Friends int // friends per social player (even, fewer than Players)
	Mail    int // items each social player's mailbox holds before inbox
	Clients int // setup requests in flight
}

type routePlayer struct {
	id, token string
}

type routePlay struct {
	player *routePlayer
	id     string
	body   settleBody
}

// RouteBench prepares the single routes' data on one target and runs them. One bench
// serves the routes of one run: the social players are made once and shared.
type RouteBench struct {
	env   *Env
	data  RouteData
	setup *Client
	log   func(format string, args ...any)
	doc   *gameDoc

	board  []routePlay // leaderboard-write: settles in the order they go
	social []*routePlayer
	pairs  *Pairs
	scored bool // every social player holds a weekly score
}

// NewRouteBench returns a bench sending its measured requests with env's Client
// (closed loop) and its setup with a client of its own. log reports setup progress.
func NewRouteBench(env *Env, data RouteData, log func(format string, args ...any)) *RouteBench {
	setup := NewClient(ClientConfig{BaseURL: env.Client.base, Timeout: env.Client.http.Timeout,
		Gate: NewGate(max(data.Clients, 1)), Budget: env.Client.budget, ClosedLoop: true})
	return &RouteBench{env: env, data: data, setup: setup, log: log}
}

// Close releases the setup client's connections.
func (b *RouteBench) Close() { b.setup.Close() }

// Prepare makes the data route needs (what an earlier route made is reused) and
// returns lines for the report. Setup requests are recorded apart, never measured.
func (b *RouteBench) Prepare(ctx context.Context, route string) ([]string, error) {
	rec := stats.NewRecorder("setup "+route, time.Now())
	b.setup.SetRecorder(rec)
	start := time.Now()
	var err error
	switch route {
	case RouteLeaderboardWrite:
		err = b.prepareBoard(ctx)
	case RouteSendLife:
		err = b.prepareSocial(ctx)
	case RouteInbox:
		if err = b.prepareSocial(ctx); err == nil {
			err = b.prepareInbox(ctx)
		}
	case RouteFriendsLeaderboard:
		if err = b.prepareSocial(ctx); err == nil {
			err = b.prepareScores(ctx)
		}
	default:
		err = fmt.Errorf("vp: unknown route %q", route)
	}
	s := rec.Summary(time.Now()).Total
	notes := []string{fmt.Sprintf("setup (not measured): %d requests in %.1f s, %d failed%s",
		s.Count, time.Since(start).Seconds(), s.Errors, byCode(s.ByCode))}
	return notes, err
}

func byCode(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, m[k]))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// setupCall sends a setup request, retrying what API.md says waiting helps with (429
// rate_limited, 503 unavailable); any other failure is an error.
func (b *RouteBench) setupCall(ctx context.Context, c Call) (*Response, error) {
	for attempt := 0; ; attempt++ {
		res, err := b.setup.Do(ctx, c)
		if err != nil {
			return nil, err
		}
		if res.OK() {
			return res, nil
		}
		retry := res.Status == http.StatusTooManyRequests || res.Status == http.StatusServiceUnavailable
		if !retry || attempt == 3 {
			return res, fmt.Errorf("%s: %d %s", c.Route, res.Status, res.Code)
		}
		pause := time.Duration(attempt+1) * 200 * time.Millisecond
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pause):
		}
	}
}

// each runs fn for 0 ≤ i < n with the setup's concurrency and returns how many failed.
func (b *RouteBench) each(ctx context.Context, n int, fn func(ctx context.Context, i int) error) int {
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for range min(max(b.data.Clients, 1), n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if fn(ctx, i) != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return int(failed.Load())
}

// do sends call on c; on the setup client, with setupCall's retries.
func (b *RouteBench) do(ctx context.Context, c *Client, call Call) (*Response, error) {
	if c == b.setup {
		return b.setupCall(ctx, call)
	}
	return c.Do(ctx, call)
}

// players authenticates n new guests; the ones that failed are left out.
func (b *RouteBench) players(ctx context.Context, n int) ([]*routePlayer, error) {
	out := make([]*routePlayer, n)
	b.each(ctx, n, func(ctx context.Context, i int) error {
		dev := b.env.Devices.New()
		res, err := b.setupCall(ctx, Call{Route: "POST /v1/auth/guest", Method: http.MethodPost, Path: "/v1/auth/guest",
			Body: map[string]string{"device_id": dev.ID}})
		if err != nil {
			return err
		}
		id, token, err := parseAuth(res)
		if err != nil {
			return err
		}
		out[i] = &routePlayer{id: id, token: token}
		return nil
	})
	var ok []*routePlayer
	for _, p := range out {
		if p != nil {
			ok = append(ok, p)
		}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if len(ok) == 0 {
		return nil, errors.New("vp: no guest could sign in")
	}
	if b.doc == nil {
		res, err := b.setupCall(ctx, Call{Route: "GET /v1/gamedata", Method: http.MethodGet, Path: "/v1/gamedata", Token: ok[0].token})
		if err != nil {
			return nil, err
		}
		var d gameDoc
		if err := json.Unmarshal(res.Body, &d); err != nil {
			return nil, fmt.Errorf("vp: game data: %w", err)
		}
		b.doc = &d
	}
	return ok, nil
}

// playLength is how long the bench's plays last: the game data's minimum.
func (b *RouteBench) playLength() time.Duration {
	return max(time.Duration(b.doc.Plays.MinDurationMS)*time.Millisecond, time.Second)
}

// plausible returns an honest settle body for play k, varied without a shared rng.
func (b *RouteBench) plausible(k int) settleBody {
	d := b.playLength()
	f := 0.2 + 0.75*float64(uint64(k)*0x9e3779b97f4a7c15>>40)/float64(1<<24)
	score := int64(float64(b.doc.Plays.MaxScorePerSecond) * d.Seconds() * f)
	coins := int64(float64(b.doc.Plays.MaxCoinsPerSecond) * d.Seconds() * f)
	return settleBody{Score: score, Coins: coins, Distance: score / 7, DurationMS: d.Milliseconds()}
}

// startPlays starts one play for each (player, k) the index maps to and waits until
// every started play may be settled. The plays that failed to start are nil.
func (b *RouteBench) startPlays(ctx context.Context, n int, who func(i int) *routePlayer) ([]*routePlay, error) {
	plays := make([]*routePlay, n)
	var mu sync.Mutex
	var last time.Time
	b.each(ctx, n, func(ctx context.Context, i int) error {
		p := who(i)
		res, err := b.setupCall(ctx, Call{Route: "POST /v1/plays", Method: http.MethodPost, Path: "/v1/plays", Token: p.token,
			Body: map[string]any{"cookie_id": b.doc.Starting(), "boosts": []string{}}})
		if err != nil {
			return err
		}
		var s startJSON
		if err := json.Unmarshal(res.Body, &s); err != nil || s.PlayID == "" {
			return errSession
		}
		plays[i] = &routePlay{player: p, id: s.PlayID, body: b.plausible(i)}
		mu.Lock()
		last = maxTime(last, res.Done)
		mu.Unlock()
		return nil
	})
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	// Settling earlier than the play's length after its start is implausible (422).
	if wait := time.Until(last.Add(b.playLength() + 50*time.Millisecond)); wait > 0 {
		b.log("waiting %.1f s for the last play to reach the minimum play time …", wait.Seconds())
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
	return plays, nil
}

// prepareBoard starts data.Plays plays ahead, lives.max per new player, ordered so that
// a player's settles are a whole round of players apart.
func (b *RouteBench) prepareBoard(ctx context.Context) error {
	if b.board != nil {
		return nil
	}
	// The game data's lives.max is only known after the first sign-in: sign in one
	// player first to size the rest.
	first, err := b.players(ctx, 1)
	if err != nil {
		return err
	}
	perPlayer := int(max(b.doc.Lives.Max, 1))
	n := (b.data.Plays + perPlayer - 1) / perPlayer
	b.log("leaderboard-write: signing in %d players and starting %d plays each (the settles are measured) …", n, perPlayer)
	rest, err := b.players(ctx, n-1)
	if n > 1 && err != nil {
		return err
	}
	ps := append(first, rest...)
	plays, err := b.startPlays(ctx, len(ps)*perPlayer, func(i int) *routePlayer { return ps[i%len(ps)] })
	if err != nil {
		return err
	}
	for _, p := range plays {
		if p != nil {
			b.board = append(b.board, *p)
		}
	}
	if len(b.board) == 0 {
		return errors.New("vp: no play could be started")
	}
	return nil
}

// prepareSocial signs in data.Players players and makes the circulant friendship graph.
func (b *RouteBench) prepareSocial(ctx context.Context) error {
	if b.pairs != nil {
		return nil
	}
	n := b.data.Players
	if _, err := NewPairs(n, b.data.Friends); err != nil {
		return err
	}
	b.log("social: signing in %d players, %d friendships (%d friends each) …", n, n*b.data.Friends/2, b.data.Friends)
	ps, err := b.players(ctx, n)
	if err != nil {
		return err
	}
	if len(ps) < n {
		// A missing player would break the graph's pairs: refuse rather than measure
		// not_friend answers.
		return fmt.Errorf("vp: only %d of %d social players could sign in", len(ps), n)
	}
	failed := b.each(ctx, n*b.data.Friends/2, func(ctx context.Context, k int) error {
		i, j := Friendship(n, k)
		res, err := b.setupCall(ctx, Call{Route: "PUT /v1/friends/{id}", Method: http.MethodPut, Token: ps[i].token,
			Path: "/v1/friends/" + url.PathEscape(ps[j].id)})
		if err == nil && res.Status == http.StatusNoContent {
			b.env.Obs.add(CountFriendships, 1)
		}
		return err
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if failed > 0 {
		return fmt.Errorf("vp: %d friendships could not be made", failed)
	}
	b.social = ps
	b.pairs, _ = NewPairs(n, b.data.Friends)
	return nil
}

// sendLife sends one life from the pair's sender and records it for the audit.
func (b *RouteBench) sendLife(ctx context.Context, c *Client, from, to int) (*Response, error) {
	call := b.lifeCall(from, to)
	res, err := b.do(ctx, c, call)
	if res != nil && res.Status == http.StatusOK {
		b.env.Obs.lifeSent(b.social[from].id, b.social[to].id, res.Done, b.cooldown())
	}
	return res, err
}

func (b *RouteBench) lifeCall(from, to int) Call {
	return Call{Route: "POST /v1/friends/{id}/life", Method: http.MethodPost, Token: b.social[from].token,
		Path: "/v1/friends/" + url.PathEscape(b.social[to].id) + "/life"}
}

func (b *RouteBench) cooldown() time.Duration {
	return time.Duration(b.doc.Lives.SendCooldownSeconds) * time.Second
}

// prepareInbox empties every social mailbox, then sends data.Mail whole rounds of
// fresh pairs, so that every mailbox holds data.Mail lives.
func (b *RouteBench) prepareInbox(ctx context.Context) error {
	n := len(b.social)
	b.pairs.AlignRound()
	if left := b.pairs.Left(); left < b.data.Mail*n {
		return fmt.Errorf("vp: %d fresh pairs left, %d needed to put %d items in each mailbox (raise -route-players)", left, b.data.Mail*n, b.data.Mail)
	}
	b.log("inbox: emptying %d mailboxes, then sending %d lives to each …", n, b.data.Mail)
	failed := b.each(ctx, n, func(ctx context.Context, i int) error {
		res, err := b.setupCall(ctx, Call{Route: "POST /v1/mailbox/accept-all", Method: http.MethodPost,
			Path: "/v1/mailbox/accept-all", Token: b.social[i].token})
		var all struct {
			Accepted int64 `json:"accepted"`
		}
		if err == nil && json.Unmarshal(res.Body, &all) == nil {
			b.env.Obs.add(CountLivesAccepted, all.Accepted)
		}
		return err
	})
	failed += b.each(ctx, b.data.Mail*n, func(ctx context.Context, _ int) error {
		from, to, ok := b.pairs.Next()
		if !ok {
			return errors.New("vp: out of pairs")
		}
		_, err := b.sendLife(ctx, b.setup, from, to)
		return err
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if failed > 0 {
		return fmt.Errorf("vp: %d setup requests of the inbox failed", failed)
	}
	return nil
}

// prepareScores gives every social player a weekly score: one play each, settled.
func (b *RouteBench) prepareScores(ctx context.Context) error {
	if b.scored {
		return nil
	}
	n := len(b.social)
	b.log("friends-leaderboard: one settled play for each of the %d social players …", n)
	plays, err := b.startPlays(ctx, n, func(i int) *routePlayer { return b.social[i] })
	if err != nil {
		return err
	}
	failed := b.each(ctx, n, func(ctx context.Context, i int) error {
		if plays[i] == nil {
			return errSession
		}
		return b.settle(ctx, b.setup, plays[i])
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if failed > 0 {
		return fmt.Errorf("vp: %d social players have no weekly score", failed)
	}
	b.scored = true
	return nil
}

// settle settles a play and records the acknowledged result for the audit.
func (b *RouteBench) settle(ctx context.Context, c *Client, p *routePlay) error {
	call := settleCall(p.id, p.body)
	call.Token = p.player.token
	res, err := b.do(ctx, c, call)
	if res != nil && (res.Status == http.StatusOK || res.Status == http.StatusUnprocessableEntity) {
		b.env.Obs.settle(Settled{PlayerID: p.player.id, PlayID: p.id, Score: p.body.Score, Coins: p.body.Coins,
			Accepted: res.Status == http.StatusOK})
	}
	return err
}

// RouteRun is how one route ran.
type RouteRun struct {
	Requests  int64         // taken from the prepared data
	RanDry    time.Duration // when the prepared data ran out, from the start (0: it did not)
	Described string        // the data the route ran on
}

// op is one measured request: it sends and records whatever the route needs.
type op func(ctx context.Context, c *Client) error

// source returns the route's next request, or false when the prepared data is used up.
func (b *RouteBench) source(route string) (func() (op, bool), string) {
	var next atomic.Int64
	take := func() int { return int(next.Add(1) - 1) }
	switch route {
	case RouteLeaderboardWrite:
		players := len(b.board) / int(max(b.doc.Lives.Max, 1))
		return func() (op, bool) {
				k := take()
				if k >= len(b.board) {
					return nil, false
				}
				return func(ctx context.Context, c *Client) error { return b.settle(ctx, c, &b.board[k]) }, true
			}, fmt.Sprintf("%d plays started ahead by %d players (%d each, started ≥ %v before), settled round-robin: one settle per player every %d requests",
				len(b.board), players, b.doc.Lives.Max, b.playLength(), max(players, 1))
	case RouteSendLife:
		return func() (op, bool) {
				from, to, ok := b.pairs.Next()
				if !ok {
					return nil, false
				}
				return func(ctx context.Context, c *Client) error { _, err := b.sendLife(ctx, c, from, to); return err }, true
			}, fmt.Sprintf("%d players with %d friends each; every request a sender→receiver pair never used before (%d fresh pairs before the route); one send per player every %d requests",
				len(b.social), b.data.Friends, b.pairs.Left(), len(b.social))
	case RouteInbox, RouteFriendsLeaderboard:
		call := Call{Route: "GET /v1/mailbox", Method: http.MethodGet, Path: "/v1/mailbox"}
		what := fmt.Sprintf("%d players with %d lives in their mailbox each (from their friends)", len(b.social), b.data.Mail)
		if route == RouteFriendsLeaderboard {
			call = Call{Route: "GET /v1/leaderboard/friends", Method: http.MethodGet, Path: "/v1/leaderboard/friends"}
			what = fmt.Sprintf("%d players with %d friends each, every one with a weekly score", len(b.social), b.data.Friends)
		}
		return func() (op, bool) {
			c := call
			c.Token = b.social[take()%len(b.social)].token
			return func(ctx context.Context, cl *Client) error { _, err := cl.Do(ctx, c); return err }, true
		}, what + fmt.Sprintf("; players round-robin, one request per player every %d requests", len(b.social))
	}
	return func() (op, bool) { return nil, false }, "unknown route"
}

// Run keeps clients requests of route in flight for duration, recorded in rec (the
// first warmup left out of the throughput), and ends early when the prepared data
// runs out. Prepare must have succeeded for route.
func (b *RouteBench) Run(ctx context.Context, route string, clients int, duration, warmup time.Duration, rec *stats.Recorder, tick Tick) RouteRun {
	next, what := b.source(route)
	c := b.env.Client
	start := time.Now()
	rec.SetWindow(start.Add(warmup), start.Add(duration))
	c.SetRecorder(rec)
	c.gate.SetLimit(clients)
	stopGauges := b.env.gaugesFor(func() *stats.Recorder { return rec }, tick, nil)
	defer stopGauges()
	deadline := start.Add(duration)
	var dry atomic.Int64 // unix ns when the data first ran out
	var taken atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				o, ok := next()
				if !ok {
					dry.CompareAndSwap(0, time.Now().UnixNano())
					return
				}
				taken.Add(1)
				if errors.Is(o(ctx, c), ErrStopped) {
					return
				}
			}
		})
	}
	wg.Wait()
	c.SetRecorder(nil)
	run := RouteRun{Requests: taken.Load(), Described: what}
	if ns := dry.Load(); ns != 0 {
		end := time.Unix(0, ns)
		from := start.Add(warmup)
		if end.Sub(from) < time.Second {
			from = start // too little after the warm-up: count it all
		}
		rec.SetWindow(from, end)
		run.RanDry = end.Sub(start)
	}
	return run
}
