package vp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovengames/oven/loadtest/stats"
)

// Behaviour is how VPs play. Probabilities are per opportunity (per play, per session).
type Behaviour struct {
	PlaysPerSession int           // plays a session tries, lives permitting
	PlayMin         time.Duration // shortest play: the duration_ms reported (≥ min_duration_ms)
	PlayMax         time.Duration // longest play
	Think           time.Duration // mean pause between menu actions (exponential, capped at 4×)
	Returning       float64       // share of arrivals that are returning players
	Rename          float64       // a new player sets a name
	Boost           float64       // a play uses one affordable boost
	Me              float64       // check /v1/me after a settle
	Shop            float64       // a session tries to buy the cheapest item it lacks
	Resettle        float64       // re-send a settle with the same body (idempotency check)
	Conflict        float64       // re-send a settle with another body (expects already_settled)
	LivesProbe      float64       // a session starts lives+2 plays at once (invariant 2)
	Social          bool          // drive API.md's friends, lives, mailbox and leaderboards
	// Stateless is set for the relay baseline: it answers canned data, so the probes
	// that need real game state (conflict, lives probe, balance) are skipped.
	Stateless bool
}

// Env is what the VPs of one target share.
type Env struct {
	Client  *Client
	B       Behaviour
	Obs     *Observed
	Devices *Devices
	Players *Players
	// ServerPID, when set, is the root of the server's processes: their CPU use is
	// sampled beside the machine's and the generator's.
	ServerPID int

	draining  atomic.Bool // no new plays or sessions: finish the open plays and leave
	docs      sync.Map    // ETag -> *gameDoc: what devices have cached
	sessions  atomic.Int64
	completed atomic.Int64
	abandoned atomic.Int64 // plays started and never settled
}

// Active returns the sessions running now.
func (e *Env) Active() int { return int(e.sessions.Load()) }

// Completed returns the sessions that ran to their end.
func (e *Env) Completed() int64 { return e.completed.Load() }

// AbandonedPlays returns the plays VPs started and did not settle (hard stop).
func (e *Env) AbandonedPlays() int64 { return e.abandoned.Load() }

type item struct {
	ID    string `json:"id"`
	Price int64  `json:"price"`
}

// gameDoc is the part of the game data a VP plays by.
type gameDoc struct {
	Version int64  `json:"version"`
	Cookies []item `json:"cookies"`
	Pets    []item `json:"pets"`
	Boosts  []item `json:"boosts"`
	Lives   struct {
		Max                 int64 `json:"max"`
		RegenSeconds        int64 `json:"regen_seconds"`
		SendCooldownSeconds int64 `json:"send_cooldown_seconds"`
	} `json:"lives"`
	Plays struct {
		MinDurationMS     int64 `json:"min_duration_ms"`
		MaxScorePerSecond int64 `json:"max_score_per_second"`
		MaxCoinsPerSecond int64 `json:"max_coins_per_second"`
	} `json:"plays"`
}

type livesJSON struct {
	Count      int64      `json:"count"`
	Max        int64      `json:"max"`
	NextLifeAt *time.Time `json:"next_life_at"`
}

type meJSON struct {
	PlayerID string    `json:"player_id"`
	Coins    int64     `json:"coins"`
	Lives    livesJSON `json:"lives"`
	Owned    struct {
		Cookies []string `json:"cookies"`
		Pets    []string `json:"pets"`
	} `json:"owned"`
}

type startJSON struct {
	PlayID string    `json:"play_id"`
	Lives  livesJSON `json:"lives"`
	Coins  int64     `json:"coins"`
}

type settleBody struct {
	Score      int64 `json:"score"`
	Coins      int64 `json:"coins"`
	Distance   int64 `json:"distance"`
	DurationMS int64 `json:"duration_ms"`
}

// player is one VP during one session.
type player struct {
	env       *Env
	rng       *rand.Rand
	dev       Device
	returning bool
	token     string
	doc       *gameDoc
	due       time.Time // when the next request is meant to go

	lives     livesJSON
	livesAt   time.Time // when lives were last reported
	coins     int64
	cookies   []string
	pets      []string
	openPlays []openPlay
	queued    func() // called once, before the first request
}

type openPlay struct {
	id      string
	started time.Time // when the start was answered: the play's real time counts from here at the latest
	length  time.Duration
}

// errSession ends a session: an unexpected answer or a stop.
var errSession = errors.New("vp: session ended")

// RunSession plays one session of a new or returning player, arriving at arrival.
// It returns when the session ends, the drain ends it, or ctx is done.
func (e *Env) RunSession(ctx context.Context, arrival time.Time, seed uint64) {
	e.runSession(ctx, arrival, seed, nil)
}

// runSession is RunSession; queued, when set, is called just before the first request.
func (e *Env) runSession(ctx context.Context, arrival time.Time, seed uint64, queued func()) {
	e.sessions.Add(1)
	defer e.sessions.Add(-1)
	p := &player{env: e, rng: rand.New(rand.NewPCG(seed, uint64(arrival.UnixNano()))), due: arrival, queued: queued}
	if dev, ok := e.Devices.Take(p.rng); ok && p.rng.Float64() < e.B.Returning {
		p.dev, p.returning = dev, true
	} else {
		if ok {
			e.Devices.Put(dev)
		}
		p.dev = e.Devices.New()
	}
	err := p.session(ctx)
	e.abandoned.Add(int64(len(p.openPlays)))
	if p.dev.PlayerID != "" {
		e.Devices.Put(p.dev)
	}
	if err == nil {
		e.completed.Add(1)
	}
}

func (p *player) session(ctx context.Context) error {
	if err := p.auth(ctx); err != nil {
		return err
	}
	if err := p.gamedata(ctx); err != nil {
		return err
	}
	if err := p.me(ctx, false); err != nil {
		return err
	}
	if !p.returning && !p.dev.Named && p.rng.Float64() < p.env.B.Rename {
		if err := p.rename(ctx); err != nil {
			return err
		}
	}
	if p.env.B.Social {
		if err := p.socialMenu(ctx); err != nil {
			return err
		}
	}
	for i := 0; i < p.env.B.PlaysPerSession && p.lives.Count > 0; i++ {
		if p.env.draining.Load() {
			return nil
		}
		if i > 0 {
			if err := p.think(ctx); err != nil {
				return err
			}
			if err := p.gamedata(ctx); err != nil {
				return err
			}
		}
		if err := p.think(ctx); err != nil {
			return err
		}
		if i == 0 && !p.env.B.Stateless && p.rng.Float64() < p.env.B.LivesProbe {
			if err := p.livesProbe(ctx); err != nil {
				return err
			}
			continue
		}
		if err := p.play(ctx); err != nil {
			return err
		}
	}
	if p.env.draining.Load() {
		return nil
	}
	if p.rng.Float64() < p.env.B.Shop {
		if err := p.think(ctx); err != nil {
			return err
		}
		if err := p.shop(ctx); err != nil {
			return err
		}
	}
	if p.env.B.Social {
		return p.socialLeaderboards(ctx)
	}
	return nil
}

// do sends a call meant to go at p.due and moves p.due to its answer. Unexpected
// answers end the session.
func (p *player) do(ctx context.Context, c Call) (*Response, error) {
	if p.queued != nil {
		p.queued()
		p.queued = nil
	}
	c.Intended, c.Token, c.Player, c.Device = p.due, p.token, p.dev.PlayerID, p.dev.ID
	res, err := p.env.Client.Do(ctx, c)
	if err != nil {
		return nil, errSession
	}
	p.due = res.Done
	if res.Outcome == stats.Error || res.Outcome == stats.Abandoned {
		return res, errSession
	}
	return res, nil
}

// sleepUntil waits until t; the next request is meant to go at t, however late the
// generator wakes up.
func (p *player) sleepUntil(ctx context.Context, t time.Time) error {
	p.due = t
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *player) think(ctx context.Context) error {
	mean := p.env.B.Think
	if mean <= 0 {
		return ctx.Err()
	}
	d := min(time.Duration(p.rng.ExpFloat64()*float64(mean)), 4*mean)
	return p.sleepUntil(ctx, p.due.Add(d))
}

func (p *player) auth(ctx context.Context) error {
	res, err := p.do(ctx, Call{Route: "POST /v1/auth/guest", Method: http.MethodPost, Path: "/v1/auth/guest",
		Body: map[string]string{"device_id": p.dev.ID}})
	if err != nil {
		return err
	}
	id, token, err := parseAuth(res)
	if err != nil {
		return err
	}
	if p.returning && !p.env.B.Stateless {
		p.env.Obs.check(CheckDevice, id == p.dev.PlayerID,
			"device %s was player %s, now %s", p.dev.ID, p.dev.PlayerID, id)
	}
	if p.dev.PlayerID == "" && p.env.B.Social {
		p.env.Players.Add(id)
	}
	p.dev.PlayerID, p.token = id, token
	return nil
}

// parseAuth reads the player id and token of a guest-auth answer.
func parseAuth(res *Response) (id, token string, err error) {
	var a struct {
		PlayerID string `json:"player_id"`
		Token    string `json:"token"`
	}
	if err := json.Unmarshal(res.Body, &a); err != nil || a.Token == "" {
		return "", "", errSession
	}
	return a.PlayerID, a.Token, nil
}

func (p *player) gamedata(ctx context.Context) error {
	res, err := p.do(ctx, Call{Route: "GET /v1/gamedata", Method: http.MethodGet, Path: "/v1/gamedata",
		IfNoneMatch: p.dev.ETag})
	if err != nil {
		return err
	}
	if res.Status == http.StatusNotModified {
		if d, ok := p.env.docs.Load(p.dev.ETag); ok {
			p.doc = d.(*gameDoc)
			return nil
		}
		return errSession // a 304 for a tag we never had a body for
	}
	var d gameDoc
	if err := json.Unmarshal(res.Body, &d); err != nil {
		return errSession
	}
	p.env.docs.Store(res.ETag, &d)
	p.doc, p.dev.ETag = &d, res.ETag
	return nil
}

func (p *player) me(ctx context.Context, checkBalance bool) error {
	res, err := p.do(ctx, Call{Route: "GET /v1/me", Method: http.MethodGet, Path: "/v1/me"})
	if err != nil {
		return err
	}
	var m meJSON
	if err := json.Unmarshal(res.Body, &m); err != nil {
		return errSession
	}
	if checkBalance && !p.env.B.Stateless {
		p.env.Obs.check(CheckBalance, m.Coins == p.coins,
			"player %s: /v1/me shows %d coins, the last answer %d", p.dev.PlayerID, m.Coins, p.coins)
	}
	p.setProfile(m, res.Done)
	return nil
}

func (p *player) setProfile(m meJSON, at time.Time) {
	p.coins, p.cookies, p.pets = m.Coins, m.Owned.Cookies, m.Owned.Pets
	p.lives, p.livesAt = m.Lives, at
}

func (p *player) rename(ctx context.Context) error {
	res, err := p.do(ctx, Call{Route: "PATCH /v1/me", Method: http.MethodPatch, Path: "/v1/me",
		Body: map[string]string{"name": fmt.Sprintf("VP %d", p.rng.IntN(1_000_000))}})
	if err != nil {
		return err
	}
	var m meJSON
	if json.Unmarshal(res.Body, &m) == nil {
		p.setProfile(m, res.Done)
	}
	p.dev.Named = true
	return nil
}

// playLength draws the play's length, never below the game data's minimum.
func (p *player) playLength() time.Duration {
	lo, hi := p.env.B.PlayMin, max(p.env.B.PlayMax, p.env.B.PlayMin)
	if minD := time.Duration(p.doc.Plays.MinDurationMS) * time.Millisecond; lo < minD {
		lo, hi = minD, max(hi, minD)
	}
	d := lo
	if hi > lo {
		d += time.Duration(p.rng.Int64N(int64(hi - lo)))
	}
	return d.Truncate(time.Millisecond)
}

func (p *player) startBody() map[string]any {
	body := map[string]any{"cookie_id": p.doc.Starting()}
	if len(p.cookies) > 0 {
		body["cookie_id"] = p.cookies[p.rng.IntN(len(p.cookies))]
	}
	if len(p.pets) > 0 && p.rng.IntN(2) == 0 {
		body["pet_id"] = p.pets[p.rng.IntN(len(p.pets))]
	}
	boosts := []string{}
	if p.rng.Float64() < p.env.B.Boost {
		var affordable []string
		for _, b := range p.doc.Boosts {
			if b.Price <= p.coins {
				affordable = append(affordable, b.ID)
			}
		}
		if len(affordable) > 0 {
			boosts = append(boosts, affordable[p.rng.IntN(len(affordable))])
		}
	}
	body["boosts"] = boosts
	return body
}

// Starting is the cookie every player owns from the start.
func (d *gameDoc) Starting() string {
	if len(d.Cookies) > 0 {
		return d.Cookies[0].ID
	}
	return "brave"
}

// regensSince is how many lives regenerate between the last report and t.
func (p *player) regensSince(t time.Time) int64 {
	if p.lives.NextLifeAt == nil || t.Before(*p.lives.NextLifeAt) || p.doc.Lives.RegenSeconds <= 0 {
		return 0
	}
	return 1 + int64(t.Sub(*p.lives.NextLifeAt)/(time.Duration(p.doc.Lives.RegenSeconds)*time.Second))
}

func (p *player) start(ctx context.Context, c Call) (*Response, *startJSON, error) {
	res, err := p.do(ctx, c)
	if err != nil || res.Status != http.StatusCreated {
		return res, nil, err
	}
	var s startJSON
	if err := json.Unmarshal(res.Body, &s); err != nil || s.PlayID == "" {
		return res, nil, errSession
	}
	p.openPlays = append(p.openPlays, openPlay{id: s.PlayID, started: res.Done, length: p.playLength()})
	return res, &s, nil
}

func (p *player) startCall() Call {
	return Call{Route: "POST /v1/plays", Method: http.MethodPost, Path: "/v1/plays", Body: p.startBody()}
}

// play starts a play, plays it in real time and settles it.
func (p *player) play(ctx context.Context) error {
	before, regens := p.lives.Count, p.regensSince(time.Now())
	_, s, err := p.start(ctx, p.startCall())
	if err != nil {
		return err
	}
	if !p.env.B.Stateless {
		ok := s.Lives.Count >= 0 && s.Lives.Count >= before-1 && s.Lives.Count <= before-1+regens
		p.env.Obs.check(CheckLivesAccounting, ok, "player %s: %d lives (+%d regenerating) before a start, %d after",
			p.dev.PlayerID, before, regens, s.Lives.Count)
	}
	p.lives, p.livesAt, p.coins = s.Lives, time.Now(), s.Coins
	return p.settleOpen(ctx)
}

// settleOpen waits out and settles every open play, oldest first.
func (p *player) settleOpen(ctx context.Context) error {
	for len(p.openPlays) > 0 {
		op := p.openPlays[0]
		// The server's clock started the play before it answered, so waiting the
		// play's length from the answer keeps duration_ms within the real time elapsed.
		if err := p.sleepUntil(ctx, maxTime(p.due, op.started.Add(op.length+5*time.Millisecond))); err != nil {
			return err
		}
		if err := p.settle(ctx, op); err != nil {
			return err
		}
		p.openPlays = p.openPlays[1:]
	}
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (p *player) honestBody(d time.Duration) settleBody {
	secs := d.Seconds()
	score := int64(float64(p.doc.Plays.MaxScorePerSecond) * secs * (0.2 + 0.75*p.rng.Float64()))
	coins := int64(float64(p.doc.Plays.MaxCoinsPerSecond) * secs * (0.2 + 0.8*p.rng.Float64()))
	return settleBody{Score: score, Coins: coins, Distance: score / 7, DurationMS: d.Milliseconds()}
}

func settleCall(playID string, b settleBody) Call {
	return Call{Route: "POST /v1/plays/{id}/settle", Method: http.MethodPost,
		Path: "/v1/plays/" + playID + "/settle", Body: b}
}

func (p *player) settle(ctx context.Context, op openPlay) error {
	body := p.honestBody(op.length)
	res, err := p.settleWithRetry(ctx, op.id, body)
	if err != nil {
		return err
	}
	accepted := res.Status == http.StatusOK
	p.env.Obs.settle(Settled{PlayerID: p.dev.PlayerID, PlayID: op.id, Score: body.Score, Coins: body.Coins, Accepted: accepted})
	var r struct {
		Coins int64 `json:"coins"`
	}
	if json.Unmarshal(res.Body, &r) == nil && accepted {
		p.coins = r.Coins
	}
	if p.rng.Float64() < p.env.B.Resettle {
		again, err := p.do(ctx, settleCall(op.id, body))
		if err != nil {
			return err
		}
		p.env.Obs.check(CheckResettle, again.Status == res.Status && sameJSON(again.Body, res.Body),
			"play %s: first %d %s, again %d %s", op.id, res.Status, res.Body, again.Status, again.Body)
	}
	if !p.env.B.Stateless && p.rng.Float64() < p.env.B.Conflict {
		other := body
		other.Distance++
		c := settleCall(op.id, other)
		c.Expect = []Refusal{{http.StatusConflict, "already_settled"}}
		again, err := p.do(ctx, c)
		if err != nil {
			return err
		}
		p.env.Obs.check(CheckConflict, again.Outcome == stats.Expected, "play %s: another body got %d %s", op.id, again.Status, again.Code)
	}
	if p.rng.Float64() < p.env.B.Me {
		if err := p.think(ctx); err != nil {
			return err
		}
		return p.me(ctx, true)
	}
	return nil
}

// settleWithRetry settles, retrying what API.md says is safe to retry (503, or no
// answer at all): settlement is idempotent, so a retry must return the first result.
func (p *player) settleWithRetry(ctx context.Context, playID string, body settleBody) (*Response, error) {
	var res *Response
	var err error
	for attempt := range 3 {
		if attempt > 0 {
			if serr := p.sleepUntil(ctx, time.Now().Add(time.Duration(attempt)*500*time.Millisecond)); serr != nil {
				return nil, serr
			}
		}
		res, err = p.do(ctx, settleCall(playID, body))
		if err == nil {
			return res, nil
		}
		if res == nil || !(res.Status == http.StatusServiceUnavailable || res.Status == 0 && res.Code != "cancelled") {
			return res, err
		}
	}
	return res, err
}

func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// livesProbe starts lives+2 plays at once: at most lives of them may succeed
// (invariant 2: concurrent starts never take more lives than there were).
func (p *player) livesProbe(ctx context.Context) error {
	have := p.lives.Count + p.regensSince(time.Now())
	n := int(p.lives.Count) + 2
	type result struct {
		res *Response
		s   *startJSON
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		c := p.startCall()
		c.Body.(map[string]any)["boosts"] = []string{} // coins stay out of this probe
		c.Expect = []Refusal{{http.StatusConflict, "no_lives"}}
		c.Intended, c.Token, c.Player, c.Device = p.due, p.token, p.dev.PlayerID, p.dev.ID
		wg.Go(func() {
			res, err := p.env.Client.Do(ctx, c)
			if err != nil || res.Status != http.StatusCreated {
				results[i] = result{res: res}
				return
			}
			var s startJSON
			if json.Unmarshal(res.Body, &s) == nil {
				results[i] = result{res: res, s: &s}
			}
		})
	}
	wg.Wait()
	var ok int64
	var failed bool
	for _, r := range results {
		if r.res == nil || r.res.Outcome != stats.OK && r.res.Outcome != stats.Expected {
			failed = true
			continue
		}
		p.due = maxTime(p.due, r.res.Done)
		if r.s != nil {
			ok++
			p.openPlays = append(p.openPlays, openPlay{id: r.s.PlayID, started: r.res.Done, length: p.playLength()})
		}
	}
	p.env.Obs.check(CheckLivesProbe, ok <= have, "player %s: %d concurrent starts succeeded with %d lives",
		p.dev.PlayerID, ok, have)
	p.lives.Count = max(have-ok, 0)
	if err := p.settleOpen(ctx); err != nil {
		return err
	}
	if failed {
		return errSession
	}
	return p.me(ctx, false)
}

// shop tries to buy the cheapest cookie or pet the player lacks. A player who cannot
// afford it is refused with insufficient_coins, which it expects.
func (p *player) shop(ctx context.Context) error {
	var best *item
	for _, list := range [][]item{p.doc.Cookies, p.doc.Pets} {
		for i := range list {
			it := &list[i]
			if slices.Contains(p.cookies, it.ID) || slices.Contains(p.pets, it.ID) {
				continue
			}
			if best == nil || it.Price < best.Price {
				best = it
			}
		}
	}
	if best == nil {
		return nil
	}
	c := Call{Route: "POST /v1/shop/buy", Method: http.MethodPost, Path: "/v1/shop/buy",
		Body: map[string]string{"item_id": best.ID}}
	if best.Price > p.coins {
		c.Expect = []Refusal{{http.StatusConflict, "insufficient_coins"}}
	}
	res, err := p.do(ctx, c)
	if err != nil {
		return err
	}
	var m meJSON
	if res.Status == http.StatusOK && json.Unmarshal(res.Body, &m) == nil {
		p.setProfile(m, res.Done)
	}
	return nil
}
