// Package campaign runs a push campaign during a load phase (issue 13): it logs into the
// GMS, schedules a push event for now to every player with a device token, and samples
// the push sink's counters and the campaign's counts until the outbox has sent it all
// or a bound passes. The samples give the pushes per second at the sink (Rates); the
// phase around it gives the game's latency meanwhile.
package campaign

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Config says where the campaign goes and how long to watch it.
type Config struct {
	BaseURL  string // the stack's HTTP API, e.g. http://127.0.0.1:8080; the GMS is under /gms
	Password string // the GMS admin "admin"'s (a publisher)
	SinkURL  string // the push sink, https://…; "" when the stack has none (rates from the outbox)
	SinkCA   []byte // PEM of the sink's certificate
	// DatabaseURL, when known, tells how many live tokens the campaign covers and when
	// its fan-out is done (live_events.push_done_at); without it the campaign counts as
	// done once nothing is queued and the settled rows stop growing.
	DatabaseURL string
	Wait        time.Duration // sampling stops this long after the event was created
	Every       time.Duration // between sink samples (default 1 s)
	// CountsEvery is between reads of the campaign's counts (default 5 × Every): each is
	// a count over all of the campaign's rows (up to a million), work for the very
	// database whose latency the phase measures.
	CountsEvery time.Duration
	Log         func(format string, args ...any)
}

// Run is a campaign under way: Start creates it and samples in the background until
// Finish collects the report.
type Run struct {
	cfg     Config
	gms     *gms
	sink    *sink
	db      *pgx.Conn
	created time.Time
	report  Report
	base    SinkCounts // the sink's counters just before the event was created
	stop    context.CancelFunc
	done    chan struct{}

	mu     sync.Mutex
	points []Point
}

// Start logs into the GMS, reads the sink's counters and creates the push event for
// now (audience all), then samples every cfg.Every in the background until the
// campaign is done, cfg.Wait has passed since its creation, or ctx ends.
func Start(ctx context.Context, cfg Config) (*Run, error) {
	if cfg.Every <= 0 {
		cfg.Every = time.Second
	}
	if cfg.CountsEvery <= 0 {
		cfg.CountsEvery = 5 * cfg.Every
	}
	if cfg.SinkURL == "" {
		cfg.CountsEvery = cfg.Every // the counts are the only measure then
	}
	if cfg.Log == nil {
		cfg.Log = func(string, ...any) {}
	}
	r := &Run{cfg: cfg, done: make(chan struct{}), report: Report{Tokens: -1, Source: SourceOutbox}}
	var err error
	if r.gms, err = login(ctx, cfg.BaseURL, cfg.Password); err != nil {
		return nil, err
	}
	if cfg.SinkURL != "" {
		if r.sink, err = newSink(cfg.SinkURL, cfg.SinkCA); err != nil {
			return nil, err
		}
		if r.base, err = r.sink.stats(ctx); err != nil {
			return nil, err
		}
		r.report.Source = SourceSink
	}
	if cfg.DatabaseURL != "" {
		if err := r.openDB(ctx); err != nil {
			return nil, err
		}
	}
	r.created = time.Now()
	id, err := r.gms.createPush(ctx, r.created)
	if err != nil {
		r.closeDB()
		return nil, err
	}
	r.report.EventID, r.report.Created = id, r.created
	sctx, cancel := context.WithDeadline(ctx, r.created.Add(cfg.Wait))
	r.stop = cancel
	go r.sample(sctx)
	return r, nil
}

func (r *Run) openDB(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	db, err := pgx.Connect(cctx, r.cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("campaign: postgres: %w", err)
	}
	// The players a campaign for "all" reaches: those with a live token now.
	if err := db.QueryRow(cctx, `SELECT count(DISTINCT player_id), count(*) FROM push_tokens
		WHERE removed_at IS NULL AND disabled_at IS NULL`).Scan(&r.report.Players, &r.report.Tokens); err != nil {
		db.Close(ctx)
		return fmt.Errorf("campaign: live tokens: %w", err)
	}
	r.db = db
	return nil
}

func (r *Run) closeDB() {
	if r.db != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r.db.Close(ctx)
	}
}

// sample records a Point every cfg.Every, with the counts every cfg.CountsEvery, until
// the campaign is done or ctx ends.
func (r *Run) sample(ctx context.Context) {
	defer close(r.done)
	defer r.closeDB()
	tick := time.NewTicker(r.cfg.Every)
	defer tick.Stop()
	var counts Counts
	var countsAt time.Time
	var settledBefore int64 = -1 // settled rows at the previous counts read (no database)
	fanOutDone := false
	for ctx.Err() == nil {
		now := time.Now()
		p := Point{T: now.Sub(r.created).Seconds(), Queued: -1}
		if r.sink != nil {
			s, err := r.sink.stats(ctx)
			if r.noteErr(ctx, err) {
				continue
			}
			p.Pushes, p.Accepted = s.Since(r.base), s.Accepted-r.base.Accepted
		}
		if countsAt.IsZero() || now.Sub(countsAt) >= r.cfg.CountsEvery {
			// Whether the fan-out is done before the counts: once it is, a count of 0
			// queued after it means every row was sent.
			if r.db != nil && !fanOutDone {
				var err error
				fanOutDone, err = r.fanOutDone(ctx)
				if r.noteErr(ctx, err) {
					continue
				}
			}
			c, err := r.gms.counts(ctx, r.report.EventID)
			if r.noteErr(ctx, err) {
				continue
			}
			counts, countsAt, p.Queued = c, now, c.Queued
			if r.sink == nil {
				p.Pushes = c.Settled()
			}
			settled := c.Settled()
			done := c.Queued == 0 && (fanOutDone && (settled > 0 || r.report.Tokens == 0) ||
				r.db == nil && settled > 0 && settled == settledBefore)
			settledBefore = settled
			if done {
				r.add(p)
				r.report.Done = true
				break
			}
		}
		r.add(p)
		if n := len(r.points); n%30 == 0 {
			r.cfg.Log("campaign: %.0f s: %d pushes at the %s, %d queued (at %.0f s)", p.T, p.Pushes, r.report.Source,
				counts.Queued, countsAt.Sub(r.created).Seconds())
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	r.report.Counts = counts
	if r.sink != nil {
		// The sink's final counters: what it answered for this campaign (and any other
		// push sent meanwhile; the load test's players register no tokens).
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if s, err := r.sink.stats(fctx); err == nil {
			r.report.Sink = &SinkCounts{Accepted: s.Accepted - r.base.Accepted, Rejected: s.Rejected - r.base.Rejected}
			// A push answered between the last sample's sink read and its counts.
			if n := len(r.points); n > 0 && s.Since(r.base) > r.points[n-1].Pushes {
				r.add(Point{T: time.Since(r.created).Seconds(), Pushes: s.Since(r.base), Accepted: r.report.Sink.Accepted, Queued: -1})
			}
		}
		if !r.report.Done {
			// Bounded: the counts as they were at the end, for the report.
			if c, err := r.gms.counts(fctx, r.report.EventID); err == nil {
				r.report.Counts = c
			}
		}
	}
}

// noteErr counts a failed sample and reports whether the loop should go on to the next
// attempt (after a tick).
func (r *Run) noteErr(ctx context.Context, err error) bool {
	if err == nil {
		return false
	}
	if ctx.Err() == nil {
		r.report.SampleErrors++
		r.report.LastError = err.Error()
		select {
		case <-ctx.Done():
		case <-time.After(r.cfg.Every):
		}
	}
	return true
}

func (r *Run) fanOutDone(ctx context.Context) (bool, error) {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var done bool
	err := r.db.QueryRow(qctx, `SELECT push_done_at IS NOT NULL FROM live_events WHERE event_id = $1`, r.report.EventID).Scan(&done)
	if err != nil {
		return false, fmt.Errorf("campaign: fan-out: %w", err)
	}
	return done, nil
}

func (r *Run) add(p Point) {
	r.mu.Lock()
	r.points = append(r.points, p)
	r.mu.Unlock()
}

// Points returns the samples so far.
func (r *Run) Points() []Point {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Point(nil), r.points...)
}

// Finish waits for the sampling to end (the campaign done or the bound passed) and
// returns the report; from and to are the phase's arrival window, for the pushes that
// went out while the game's latency was measured.
func (r *Run) Finish(from, to time.Time) *Report {
	<-r.done
	r.stop()
	rep := r.report
	rep.Points = r.Points()
	rep.WaitedS = time.Since(r.created).Seconds()
	rep.Rate = Rates(rep.Points)
	rep.WindowFromS, rep.WindowToS = from.Sub(r.created).Seconds(), to.Sub(r.created).Seconds()
	rep.WindowRate = MeanBetween(rep.Points, rep.WindowFromS, rep.WindowToS)
	if !rep.Done && rep.LastError == "" {
		rep.Error = fmt.Sprintf("not done within -campaign-wait %v: %d rows still queued", r.cfg.Wait, rep.Counts.Queued)
	} else if !rep.Done {
		rep.Error = fmt.Sprintf("not seen done within %v; last sampling error: %s", r.cfg.Wait, rep.LastError)
	}
	return &rep
}

func tlsClient(caPEM []byte) (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("campaign: the sink's CA file holds no PEM certificate")
	}
	return &http.Client{Timeout: 5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}, nil
}
