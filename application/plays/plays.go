// Package plays starts and settles plays.
//
// # Starting: one life and the boosts' coins, both or neither
//
// Lives live in Redis and coins in PostgreSQL, so no single transaction covers both.
// Start makes it atomic with a reservation that a crash cannot strand:
//
//  1. A Lua script takes one life and writes the play record in one step. A play with
//     no boosts is "open" at once and we are done. A play with boosts is "pending", and
//     its id goes first into its slot's pending index, which recovery sweeps.
//  2. One SQL transaction debits the boosts' price, writes the ledger row, and inserts
//     the play's row in play_charges with outcome 'charged'. play_charges has exactly
//     one row per play id (its primary key): it is the arbiter.
//  3. A script flips the play to "open". If step 2 failed (insufficient coins), the play
//     is voided instead: the record goes and the life comes back.
//
// If the process dies between the steps, recovery (any later owner of the player, from
// the slot's pending index) inserts the play's row in play_charges with outcome 'void'. Exactly
// one of the two inserts commits: if 'void' wins, the charge transaction can never
// commit and the life is given back; if 'charged' won, the play is opened. So a crash
// leaves lives and coins either both taken or both as they were.
//
// # Starting once per key, and never after the caller gave up
//
// A start may carry an idempotency key. Step 1 records key → play id beside the play (in
// the same script, so the mapping exists exactly when the play does, and expires with
// it). A start repeated with the key answers that play instead of taking anything; a
// pending one is decided first, as recovery would, and a voided one is started anew.
//
// No step starts writing after the caller's deadline (package deadline): a caller that
// gave up has answered 503, and a 503 promises the start did not and will not happen.
// If the deadline passes after step 1, the charge is not attempted and the play is
// voided at once (abandon). Once the charge committed the play is opened whatever the
// time: a start that reached that point stands, and its key tells the client so.
//
// # Settling: at most once
//
// The play record in Redis holds the first settlement's body hash and result; the same
// body returns the same result, another body is already_settled. The SQL side is
// idempotent too: play_records has one row per play (primary key), written in the
// transaction that credits the coins, exp and best score, so a settle retried after a
// crash finds the stored result instead of paying twice.
//
// Every Redis write here is a redisdb script fenced by the player's slot token.
package plays

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/deadline"
	"github.com/ovengames/oven/application/economy"
	"github.com/ovengames/oven/application/fence/pgfence"
	"github.com/ovengames/oven/application/gamedata"
	"github.com/ovengames/oven/application/leaderboard"
	"github.com/ovengames/oven/application/lives"
	"github.com/ovengames/oven/application/playerlock"
	"github.com/ovengames/oven/application/players"
	"github.com/ovengames/oven/application/redisdb"
)

// Hooks inject failures between the steps of Start, for crash tests. Nil in production.
type Hooks struct {
	// AfterLifeTaken runs after step 1 of a play with boosts; an error aborts Start
	// there, as a crash would, leaving recovery to clean up.
	AfterLifeTaken func() error
	// AfterCharged runs after step 2 committed; an error aborts Start before the play
	// is opened.
	AfterCharged func() error
	// AfterRecorded runs after a settlement committed in PostgreSQL; an error aborts
	// Settle before the board and the play are finished in Redis.
	AfterRecorded func() error
}

// Deps are what the Service works with.
type Deps struct {
	DB *pgxpool.Pool
	// Writes sends the fenced one-statement writes (charges, settlements, arbitration):
	// the owner's group commit (pggroup), or DB when nil.
	Writes   pgfence.DB
	Redis    *redisdb.DB
	Clock    oven.Clock // the game clock
	GameData func() *gamedata.Document
	// LifeRules gives the life rules in force at an instant of the game clock (the game
	// data's, as live events change them: events.Calendar.LifeRules).
	LifeRules   func(now time.Time) lives.Rules
	Leaderboard *leaderboard.Store
	Players     *players.Store // cached profiles: read on start, invalidated on every write
	Metrics     *economy.Metrics
	Log         *slog.Logger
	Hooks       Hooks
	// RecoverAfter is how old (real time) a pending play must be before recovery voids
	// or opens it; it must exceed the longest a Start can take. Default 30 s.
	RecoverAfter time.Duration
}

// Service starts and settles plays for the players this shard owns.
type Service struct {
	Deps
	locks playerlock.Set // serialise one player's operations on its owner
}

// New returns a Service.
func New(deps Deps) *Service {
	if deps.Writes == nil {
		deps.Writes = deps.DB
	}
	if deps.RecoverAfter == 0 {
		deps.RecoverAfter = 30 * time.Second
	}
	return &Service{Deps: deps}
}

func (s *Service) livesKey(playerID string) string { return s.Redis.Lives(playerID) }
func (s *Service) playKey(playerID, playID string) string {
	return s.Redis.Play(playerID, playID)
}

// index adds a pending play to its slot's index (score: real start ms) or removes it.
func (s *Service) index(ctx context.Context, op, playerID, playID string, realMS int64) error {
	return s.Redis.Run(ctx, redisdb.PlayIndex, []string{s.Redis.Pending(cluster.SlotOf(playerID))},
		op, playerID+"/"+playID, realMS).Err()
}

// NewPlayID returns a play id; it encodes the real start time, which names the SQL
// partition of the play's rows.
func NewPlayID(real time.Time) string { return oven.NewID(real) }

func playTime(playID string) (time.Time, bool) { return oven.IDTime(playID) }

// Started is the outcome of Start.
type Started struct {
	PlayID    string
	StartedAt time.Time // game clock
	Seed      int64
	Lives     lives.State
	Coins     int64
}

// Start opens a play for playerID with the given cookie, optional pet and boosts.
// With an idempotency key (optional), a start repeated with the same key returns the
// play that key started, taking nothing again. Errors: invalid_argument (unknown or
// unowned items, a bad key), no_lives, insufficient_coins, conflict (the key started
// a play with other items), unavailable (the caller's deadline passed: nothing taken).
func (s *Service) Start(ctx context.Context, playerID, cookieID, petID string, boosts []string, key string) (*Started, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	doc := s.GameData()
	cost, err := boostCost(doc, boosts)
	if err != nil {
		return nil, err
	}
	defer s.locks.Lock(playerID)()
	prev, keyed, err := s.replayStart(ctx, playerID, key, cookieID, petID, boosts)
	if err != nil || prev != nil {
		return prev, err
	}
	p, err := s.checkOwned(ctx, playerID, cookieID, petID)
	if err != nil {
		return nil, err
	}
	coins := p.Coins
	if coins < cost {
		return nil, oven.Errorf(oven.EInsufficientCoins, "boosts cost %d coins, you have %d", cost, coins)
	}
	realNow, now := time.Now(), s.Clock.Now()
	st := &Started{PlayID: NewPlayID(realNow), StartedAt: now, Seed: int64(binary.BigEndian.Uint64(randomBytes()) >> 1), Coins: coins}
	status := "open"
	if cost > 0 {
		status = "pending"
		if err := deadline.Check(ctx); err != nil {
			return nil, err
		}
		if err := s.index(ctx, "add", playerID, st.PlayID, realNow.UnixMilli()); err != nil {
			return nil, fmt.Errorf("plays: pending index: %w", err)
		}
	}
	r := s.LifeRules(now)
	take := 1
	if r.Infinite(now) {
		take = 0 // an infinite-lives event or modifier: the play costs no life
	}
	spaceTTL := time.Duration(doc.Plays.TTLSeconds)*time.Second + 24*time.Hour
	keys := []string{s.livesKey(playerID), s.playKey(playerID, st.PlayID), s.Redis.Infinite(playerID),
		s.Redis.LivesFull(cluster.SlotOf(playerID))}
	notify := "" // who the lives-full index names: players with device tokens only
	if p.PushTokens > 0 {
		notify = playerID
	}
	if key != "" {
		keys = append(keys, s.startKey(playerID, key))
	}
	if err := deadline.Check(ctx); err != nil {
		s.unindex(ctx, playerID, st.PlayID, cost)
		return nil, err
	}
	res, err := s.Redis.Run(ctx, redisdb.PlayStart, keys,
		now.UnixMilli(), r.Max, r.Regen.Milliseconds(), status, st.Seed, cookieID, petID,
		strings.Join(boosts, ","), cost, spaceTTL.Milliseconds(), st.PlayID, keyed, take, notify).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("plays: start: %w", err)
	}
	st.Lives = r.State(res[1], res[2]).Gifted(res[3])
	if res[0] != 1 {
		s.unindex(ctx, playerID, st.PlayID, cost)
		if res[0] == 2 { // another owner started with this key meanwhile (a failover)
			return nil, oven.Errorf(oven.EConflict, "a start with this idempotency key ran concurrently; retry")
		}
		return nil, lives.NoLives(st.Lives, now)
	}
	if cost > 0 {
		if err := s.chargeAndOpen(ctx, playerID, st, cost, r); err != nil {
			return nil, err
		}
	}
	s.Metrics.PlaysStarted.Inc()
	return st, nil
}

func randomBytes() []byte {
	b := make([]byte, 8)
	rand.Read(b)
	return b
}

// chargeAndOpen runs steps 2 and 3 of a play with boosts.
func (s *Service) chargeAndOpen(ctx context.Context, playerID string, st *Started, cost int64, r lives.Rules) error {
	if s.Hooks.AfterLifeTaken != nil {
		if err := s.Hooks.AfterLifeTaken(); err != nil {
			return err
		}
	}
	if err := deadline.Check(ctx); err != nil {
		s.abandon(ctx, playerID, st.PlayID)
		return err
	}
	coins, err := s.charge(ctx, playerID, st.PlayID, cost)
	if err == nil && s.Hooks.AfterCharged != nil {
		if herr := s.Hooks.AfterCharged(); herr != nil {
			return herr
		}
	}
	outcome := "open"
	if err != nil {
		if oven.ErrorCode(err) != oven.EInsufficientCoins {
			// Unknown outcome (the commit may or may not have happened): leave the play
			// pending; recovery decides it through play_charges.
			return err
		}
		outcome = "void"
	}
	state, rerr := s.resolve(ctx, playerID, st.PlayID, outcome)
	if rerr != nil {
		return rerr // still pending: recovery finishes the job
	}
	s.unindex(ctx, playerID, st.PlayID, cost)
	if err != nil {
		return err
	}
	s.Metrics.CoinsSpent.WithLabelValues("play_boosts").Add(float64(cost))
	st.Coins, st.Lives = coins, state
	return nil
}

// abandon voids a pending play whose start may not go on (its caller's deadline
// passed before the charge): the charge never ran, so the arbiter voids the play and the
// life comes back now rather than at recovery. Undoing runs past the caller's deadline.
func (s *Service) abandon(ctx context.Context, playerID, playID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abandonTimeout)
	defer cancel()
	if err := s.recoverPlay(ctx, playerID, playID); err != nil {
		s.Log.WarnContext(ctx, "plays: void an abandoned start (recovery will)", "play", playID, "err", err)
	}
}

// abandonTimeout bounds undoing an abandoned start.
const abandonTimeout = 5 * time.Second

func (s *Service) unindex(ctx context.Context, playerID, playID string, cost int64) {
	if cost == 0 {
		return
	}
	if err := s.index(ctx, "del", playerID, playID, 0); err != nil {
		// Harmless: recovery finds the play already resolved and drops the entry.
		s.Log.WarnContext(ctx, "plays: unindex pending play", "play", playID, "err", err)
	}
}

// resolve flips a pending play to open, or voids it and gives the life back.
func (s *Service) resolve(ctx context.Context, playerID, playID, outcome string) (lives.State, error) {
	now := s.Clock.Now()
	r := s.LifeRules(now)
	res, err := s.Redis.Run(ctx, redisdb.PlayResolve, []string{s.livesKey(playerID), s.playKey(playerID, playID)},
		outcome, now.UnixMilli(), r.Max, r.Regen.Milliseconds()).Int64Slice()
	if err != nil {
		return lives.State{}, fmt.Errorf("plays: resolve: %w", err)
	}
	return r.State(res[1], res[2]), nil
}

func boostCost(doc *gamedata.Document, boosts []string) (int64, error) {
	if len(boosts) > 8 {
		return 0, oven.Errorf(oven.EInvalid, "at most 8 boosts per play")
	}
	var cost int64
	for i, id := range boosts {
		b, ok := doc.Boost(id)
		if !ok {
			return 0, oven.Errorf(oven.EInvalid, "unknown boost %q", id)
		}
		if slices.Contains(boosts[:i], id) {
			return 0, oven.Errorf(oven.EInvalid, "boost %q listed twice", id)
		}
		cost += b.Price
	}
	return cost, nil
}
