// The sender
//
// Each shard runs one Sender over the slots it owns: it claims due rows of the outbox
// (FOR UPDATE SKIP LOCKED, a lease ahead), sends them through the providers with
// bounded concurrency and a rate limit per provider, and records every answer in one
// statement per batch. A Retry comes back after an exponential backoff (or the
// provider's Retry-After, whichever is later) until MaxAttempts; an Unregistered token
// is disabled under the owner's fence and never sent to again.

package push

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/time/rate"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/fence"
)

// SenderConfig tunes a Sender; the zero value of each field means its default.
type SenderConfig struct {
	Concurrency int           // sends in flight at once (default 32)
	Batch       int           // rows claimed at once (default 256)
	Lease       time.Duration // a claimed row's wait before another claim (default 60 s)
	MaxAttempts int           // sends of a row before it fails (default 8)
	Idle        time.Duration // the pause when nothing is due (default 250 ms)
	// Rates bound the sends per second to each provider, by platform (default
	// DefaultRate each); Burst is the tokens a limiter holds (default Rate/10, ≥ 1).
	Rates map[string]float64
}

// DefaultRate is a provider's sends per second per shard unless configured: with 3
// shards, 3000 pushes/s, a million in under 6 minutes. Measured on the 2-core dev machine
// (BENCHMARKS.md, session 7), that keeps the game's p99 within its objective during a
// campaign to every player; 4× as fast (2000) pushed it to 55 ms. Raise it with the
// machines, not beyond them.
const DefaultRate = 500

func (c *SenderConfig) defaults() {
	if c.Concurrency <= 0 {
		c.Concurrency = 32
	}
	if c.Batch <= 0 {
		c.Batch = 256
	}
	if c.Lease <= 0 {
		c.Lease = time.Minute
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	if c.Idle <= 0 {
		c.Idle = 250 * time.Millisecond
	}
}

// Owned returns the fence tokens of the slots the shard serves.
type Owned func() []fence.Token

// Sender sends the outbox rows of the shard's slots.
type Sender struct {
	db        *pgxpool.Pool
	tokens    *Tokens
	providers map[string]Provider
	limits    map[string]*rate.Limiter
	cfg       SenderConfig
	clock     oven.Clock
	log       *slog.Logger
	metrics   *Metrics
	// onCampaign is told when a batch carries campaign pushes (the pre-warming signal).
	onCampaign func(eventID string)
}

// SenderDeps are a Sender's parts.
type SenderDeps struct {
	DB         *pgxpool.Pool
	Tokens     *Tokens
	Providers  []Provider // one per platform; a platform without one fails its rows
	Clock      oven.Clock
	Log        *slog.Logger
	Metrics    *Metrics // optional
	OnCampaign func(eventID string)
}

// NewSender returns a Sender.
func NewSender(d SenderDeps, cfg SenderConfig) *Sender {
	cfg.defaults()
	s := &Sender{db: d.DB, tokens: d.Tokens, providers: map[string]Provider{}, limits: map[string]*rate.Limiter{},
		cfg: cfg, clock: d.Clock, log: d.Log, metrics: d.Metrics, onCampaign: d.OnCampaign}
	for _, p := range d.Providers {
		r := cfg.Rates[p.Platform()]
		if r <= 0 {
			r = DefaultRate
		}
		s.providers[p.Platform()] = p
		s.limits[p.Platform()] = rate.NewLimiter(rate.Limit(r), max(1, int(r/10)))
	}
	return s
}

// claimed is one row a pass sends.
type claimed struct {
	id        int64
	createdAt time.Time
	playerID  int64
	slot      int
	kind      string
	eventID   string
	platform  string
	token     string
	title     string
	body      string
	attempts  int
}

// answer is what became of a claimed row.
type answer struct {
	row    claimed
	status string
	err    string
	due    time.Time // the retry's time, for a row queued again
}

// Pass claims one batch of due rows of the owned slots, sends them and records the
// answers. It returns how many rows it claimed.
func (s *Sender) Pass(ctx context.Context, owned []fence.Token) (int, error) {
	if len(owned) == 0 {
		return 0, nil
	}
	rows, err := s.claim(ctx, owned)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	s.signal(rows)
	answers := s.sendAll(ctx, rows)
	if err := s.record(ctx, answers); err != nil {
		return len(rows), err
	}
	s.disable(ctx, owned, answers)
	return len(rows), nil
}

func (s *Sender) claim(ctx context.Context, owned []fence.Token) ([]claimed, error) {
	slots := make([]int32, len(owned))
	for i, t := range owned {
		slots[i] = int32(t.Slot)
	}
	now := s.clock.Now()
	rows, err := s.db.Query(ctx, `WITH due AS (
			SELECT id, created_at FROM push_outbox
			WHERE status = 'queued' AND due_at <= $1 AND slot = ANY($2) AND (leased_until IS NULL OR leased_until <= $1)
			ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED)
		UPDATE push_outbox o SET leased_until = $4, attempts = o.attempts + 1
		FROM due WHERE o.id = due.id AND o.created_at = due.created_at
		RETURNING o.id, o.created_at, o.player_id, o.slot, o.kind, coalesce(o.event_id, ''), o.platform, o.token,
			o.title, o.body, o.attempts`, now, slots, s.cfg.Batch, now.Add(s.cfg.Lease))
	if err != nil {
		return nil, fmt.Errorf("push: claim: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (claimed, error) {
		var c claimed
		err := r.Scan(&c.id, &c.createdAt, &c.playerID, &c.slot, &c.kind, &c.eventID, &c.platform, &c.token,
			&c.title, &c.body, &c.attempts)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("push: claim: %w", err)
	}
	return out, nil
}

// signal tells onCampaign of each campaign in rows, once per batch.
func (s *Sender) signal(rows []claimed) {
	if s.onCampaign == nil {
		return
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if r.eventID != "" && !seen[r.eventID] {
			seen[r.eventID] = true
			s.onCampaign(r.eventID)
		}
	}
}

// sendAll sends rows with at most Concurrency in flight.
func (s *Sender) sendAll(ctx context.Context, rows []claimed) []answer {
	out := make([]answer, len(rows))
	sem := make(chan struct{}, s.cfg.Concurrency)
	var wg sync.WaitGroup
	for i, r := range rows {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			out[i] = s.send(ctx, r)
		})
	}
	wg.Wait()
	return out
}

// send sends one row and says what to record.
func (s *Sender) send(ctx context.Context, r claimed) answer {
	p, ok := s.providers[r.platform]
	if !ok {
		return s.count(answer{row: r, status: StatusFailed, err: "no " + r.platform + " provider is configured"})
	}
	if err := s.limits[r.platform].Wait(ctx); err != nil {
		return s.count(s.retry(r, Result{Outcome: Retry, Err: err}))
	}
	sctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	defer cancel()
	res := p.Send(sctx, Message{Token: r.token, Title: r.title, Body: r.body, CollapseID: r.kind,
		Data: map[string]string{"kind": r.kind}})
	switch res.Outcome {
	case Sent:
		return s.count(answer{row: r, status: StatusSent})
	case Unregistered:
		return s.count(answer{row: r, status: StatusUnregistered, err: errText(res.Err)})
	case Retry:
		return s.count(s.retry(r, res))
	default:
		return s.count(answer{row: r, status: StatusFailed, err: errText(res.Err)})
	}
}

// retry queues the row again after its backoff, or fails it once out of attempts.
func (s *Sender) retry(r claimed, res Result) answer {
	if r.attempts >= s.cfg.MaxAttempts {
		return answer{row: r, status: StatusFailed, err: fmt.Sprintf("gave up after %d attempts: %s", r.attempts, errText(res.Err))}
	}
	return answer{row: r, status: StatusQueued, err: errText(res.Err), due: s.clock.Now().Add(max(Backoff(r.attempts), res.RetryAfter))}
}

// Backoff is the wait before the next attempt after attempts sends: 2^attempts seconds
// capped at 10 minutes, ±20 % so that retries spread out.
func Backoff(attempts int) time.Duration {
	d := min(time.Second<<min(attempts, 10), 10*time.Minute)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (s *Sender) count(a answer) answer {
	if s.metrics != nil {
		s.metrics.Answers.WithLabelValues(a.row.platform, a.status).Inc()
	}
	return a
}

// record writes every answer in one statement.
func (s *Sender) record(ctx context.Context, answers []answer) error {
	ids := make([]int64, len(answers))
	created := make([]time.Time, len(answers))
	statuses := make([]string, len(answers))
	errs := make([]string, len(answers))
	dues := make([]*time.Time, len(answers))
	for i, a := range answers {
		ids[i], created[i], statuses[i], errs[i] = a.row.id, a.row.createdAt, a.status, a.err
		if !a.due.IsZero() {
			dues[i] = &a.due
		}
	}
	_, err := s.db.Exec(ctx, `UPDATE push_outbox o SET status = a.status, error = a.error,
			sent_at = CASE WHEN a.status = 'sent' THEN now() END, due_at = coalesce(a.due, o.due_at), leased_until = NULL
		FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::timestamptz[]) AS a(id, created_at, status, error, due)
		WHERE o.id = a.id AND o.created_at = a.created_at`, ids, created, statuses, errs, dues)
	if err != nil {
		return fmt.Errorf("push: record answers: %w", err)
	}
	return nil
}

// disable disables the tokens reported unregistered, each under its slot's token; a
// slot that changed owner meanwhile is left (its token is disabled the next time).
func (s *Sender) disable(ctx context.Context, owned []fence.Token, answers []answer) {
	bySlot := make(map[int]fence.Token, len(owned))
	for _, t := range owned {
		bySlot[t.Slot] = t
	}
	for _, a := range answers {
		if a.status != StatusUnregistered {
			continue
		}
		fctx := fence.With(ctx, bySlot[a.row.slot])
		if err := s.tokens.Disable(fctx, a.row.playerID, a.row.platform, a.row.token, a.row.createdAt, "unregistered"); err != nil && s.log != nil {
			s.log.Warn("push: disabling an unregistered token failed", "player", a.row.playerID, "err", err)
		}
	}
}

// Run sends until ctx ends: passes back to back while rows are due, a pause of Idle when
// none are.
func (s *Sender) Run(ctx context.Context, owned Owned) {
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, s.cfg.Lease/2)
		n, err := s.Pass(pctx, owned())
		cancel()
		if err != nil && ctx.Err() == nil && s.log != nil {
			s.log.Warn("push: send pass failed", "err", err)
		}
		if n == s.cfg.Batch && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(s.cfg.Idle):
		}
	}
}
