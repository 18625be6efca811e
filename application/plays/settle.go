package plays

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/deadline"
	"github.com/ovengames/oven/application/fence/pgfence"
	"github.com/ovengames/oven/application/gamedata"
	"github.com/ovengames/oven/application/leaderboard"
	"github.com/ovengames/oven/application/players"
	"github.com/ovengames/oven/application/redisdb"
	"github.com/ovengames/oven/application/wallet"
)

// Body is what the client reports when settling.
type Body struct {
	Score, Coins, Distance, DurationMS int64
}

// check refuses numbers no play can have (oven's limits), before any arithmetic: such
// a settle is invalid_argument and leaves the play open. Numbers within the limits
// are judged by the plausibility check instead (rejected, and the play settled).
func (b Body) check() error {
	for _, f := range []struct {
		name   string
		v, max int64
	}{
		{"score", b.Score, oven.MaxScore},
		{"coins", b.Coins, oven.MaxPlayCoins},
		{"distance", b.Distance, oven.MaxDistance},
		{"duration_ms", b.DurationMS, oven.MaxPlayDuration.Milliseconds()},
	} {
		if f.v < 0 || f.v > f.max {
			return oven.Errorf(oven.EInvalid, "%s must be 0 to %d", f.name, f.max)
		}
	}
	return nil
}

func (b Body) hash() string {
	h := sha256.Sum256(fmt.Appendf(nil, "%d|%d|%d|%d", b.Score, b.Coins, b.Distance, b.DurationMS))
	return hex.EncodeToString(h[:16])
}

// Result is a settlement's outcome, stored and returned again for the same body.
type Result struct {
	CoinsEarned int64 `json:"coins_earned"`
	Coins       int64 `json:"coins"`
	ExpEarned   int64 `json:"exp_earned"`
	Exp         int64 `json:"exp"`
	Level       int64 `json:"level"`
	BestScore   int64 `json:"best_score"`
	WeeklyBest  int64 `json:"weekly_best"`
	NewRecord   bool  `json:"new_record"`
	// Rejected is the plausibility check that failed ("" when accepted).
	Rejected string `json:"rejected,omitempty"`
}

// ExpFor is the experience a play earns: 10 for finishing plus one per 1000 points.
func ExpFor(score int64) int64 { return 10 + score/1000 }

// play is the Redis record of an open play.
type play struct {
	status, cookie, pet string
	seed                string
	boosts              []string
	t0                  time.Time
	bodyHash, result    string
	code                string
}

func (s *Service) load(ctx context.Context, playerID, playID string) (*play, error) {
	v, err := s.Redis.Client.HGetAll(ctx, s.playKey(playerID, playID)).Result()
	if err != nil {
		return nil, fmt.Errorf("plays: load: %w", err)
	}
	return parsePlay(v), nil
}

// parsePlay reads a play's Redis hash; nil when there is none.
func parsePlay(v map[string]string) *play {
	if len(v) == 0 {
		return nil
	}
	t0, _ := strconv.ParseInt(v["t0"], 10, 64)
	p := &play{status: v["st"], cookie: v["cookie"], pet: v["pet"], seed: v["seed"], t0: time.UnixMilli(t0),
		bodyHash: v["bh"], result: v["res"], code: v["code"], boosts: []string{}}
	if v["boosts"] != "" {
		p.boosts = strings.Split(v["boosts"], ",")
	}
	return p
}

// loadWithBest reads the play and, in the same round trip, the player's best of the
// current week (the play's week but for a play that straddles the week's end).
func (s *Service) loadWithBest(ctx context.Context, playerID, playID string, now time.Time) (*play, func() (int64, error), error) {
	pipe := s.Redis.Pipeline()
	hash := pipe.HGetAll(ctx, s.playKey(playerID, playID))
	best := s.Leaderboard.QueueBest(ctx, pipe, playerID, now)
	// Indexed before its SQL step can commit, so that recovery finishes a settlement a
	// crash leaves half done (settling); finish takes it out again.
	pipe.Run(ctx, redisdb.PlayIndex, []string{s.settlingKey(playerID)}, "add", playerID+"/"+playID, time.Now().UnixMilli())
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, fmt.Errorf("plays: load: %w", err)
	}
	return parsePlay(hash.Val()), best, nil
}

// Settle settles a play once. Errors: not_found, play_expired, already_settled, and
// rejected (with the stored result: the play counts as settled with nothing earned).
func (s *Service) Settle(ctx context.Context, playerID, playID string, b Body) (*Result, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	if _, ok := playTime(playID); !ok {
		return nil, oven.Errorf(oven.ENotFound, "no such play")
	}
	defer s.locks.Lock(playerID)()
	now := s.Clock.Now()
	p, bestNow, err := s.loadWithBest(ctx, playerID, playID, now)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return s.settledInSQL(ctx, playerID, playID, b)
	}
	if p.status == "pending" {
		// Its start died between the steps; decide it now instead of waiting for recovery.
		if err := deadline.Check(ctx); err != nil {
			return nil, err
		}
		if err := s.recoverPlay(ctx, playerID, playID); err != nil {
			return nil, err
		}
		if p, err = s.load(ctx, playerID, playID); err != nil {
			return nil, err
		}
		if p == nil || p.status != "open" {
			return nil, oven.Errorf(oven.ENotFound, "no such play")
		}
	}
	if p.status == "settled" {
		return replay(p.bodyHash, p.result, p.code, b)
	}
	doc := s.GameData()
	if now.After(p.t0.Add(oven.Seconds(doc.Plays.TTLSeconds))) {
		return nil, oven.Errorf(oven.EPlayExpired, "the play expired before it was settled")
	}
	// The board entry is the play's week's; only this owner, under the player's lock,
	// writes it, so the best before this settle is the best read above.
	prevBest, err := bestNow()
	if err == nil && leaderboard.WeekOf(p.t0).ID != leaderboard.WeekOf(now).ID {
		prevBest, err = s.Leaderboard.Best(ctx, playerID, p.t0)
	}
	if err != nil {
		return nil, err
	}
	if err := deadline.Check(ctx); err != nil {
		return nil, err
	}
	res, err := s.record(ctx, playerID, playID, p, b, doc, now, prevBest)
	if err != nil {
		return nil, err
	}
	if h := s.Hooks.AfterRecorded; h != nil {
		if err := h(); err != nil {
			return nil, err
		}
	}
	resJSON, _ := json.Marshal(res)
	code := "ok"
	if res.Rejected != "" {
		code = "rejected"
	}
	stored, err := s.finish(ctx, playerID, playID, p, b.Score, b.hash(), res, resJSON, code)
	if err != nil {
		return nil, err
	}
	return replay(stored[0], stored[1], stored[2], b)
}

// finish writes an accepted score to the weekly board and stores the settlement on the
// play, in one round trip. Redis runs a pipeline in order, so the result is never stored
// without the board write before it (a forgotten script runs again after it); every
// command in it is idempotent, so a retry (here or by the client) repeats it safely.
func (s *Service) finish(ctx context.Context, playerID, playID string, p *play, score int64, bodyHash string, res *Result, resJSON []byte, code string) ([]string, error) {
	pipe := s.Redis.Pipeline()
	if res.Rejected == "" {
		s.Leaderboard.QueueRecord(ctx, pipe, playerID, score, p.t0)
	}
	fin := pipe.Run(ctx, redisdb.PlayFinish, []string{s.playKey(playerID, playID)}, bodyHash, resJSON, code)
	pipe.Run(ctx, redisdb.PlayIndex, []string{s.settlingKey(playerID)}, "del", playerID+"/"+playID, 0)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("plays: finish: %w", err)
	}
	return fin.StringSlice()
}

func (s *Service) settlingKey(playerID string) string {
	return s.Redis.Settling(cluster.SlotOf(playerID))
}

// finishRecorded completes in Redis a settlement that committed in PostgreSQL but whose
// process died before its Redis step (recovery): the board gets the accepted score and
// the play its stored result, as finish would have written them. A play with no record
// never settled: it is only taken out of the index (the client may settle it again).
func (s *Service) finishRecorded(ctx context.Context, playerID, playID string) error {
	p, err := s.load(ctx, playerID, playID)
	if err != nil {
		return err
	}
	if p != nil && p.status == "open" {
		pid, err := players.ParseID(playerID)
		if err != nil {
			return err
		}
		started, _ := playTime(playID)
		var bodyHash, outcome string
		var score int64
		var resJSON []byte
		err = s.DB.QueryRow(ctx, `SELECT body_hash, outcome, result, score FROM play_records
			WHERE play_id = $1 AND started_at = $2 AND player_id = $3`, playID, started, pid).Scan(&bodyHash, &outcome, &resJSON, &score)
		switch {
		case err == nil:
			// The record's result lacks the week's best, which the settle worked out
			// from the board; the board is only ever raised, so it is still its best.
			res := &Result{}
			if err := json.Unmarshal(resJSON, res); err != nil {
				return fmt.Errorf("plays: settled record: %w", err)
			}
			code := "ok"
			if outcome != "accepted" {
				code, res.Rejected = "rejected", outcome
			}
			prev, err := s.Leaderboard.Best(ctx, playerID, p.t0)
			if err != nil {
				return err
			}
			if res.WeeklyBest = prev; code == "ok" {
				res.WeeklyBest = max(prev, min(score, leaderboard.MaxScore))
			}
			resJSON, _ = json.Marshal(res)
			if _, err := s.finish(ctx, playerID, playID, p, score, bodyHash, res, resJSON, code); err != nil {
				return err
			}
			s.Log.InfoContext(ctx, "finished a settlement a crash left half done", "player", playerID, "play", playID)
			return nil
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("plays: settled record: %w", err)
		}
	}
	return s.Redis.Run(ctx, redisdb.PlayIndex, []string{s.settlingKey(playerID)}, "del", playerID+"/"+playID, 0).Err()
}

// replay answers a settle from a stored settlement.
func replay(bodyHash, resultJSON, code string, b Body) (*Result, error) {
	if bodyHash != b.hash() {
		return nil, oven.Errorf(oven.EAlreadySettled, "the play was already settled with other numbers")
	}
	var r Result
	if err := json.Unmarshal([]byte(resultJSON), &r); err != nil {
		return nil, fmt.Errorf("plays: stored result: %w", err)
	}
	if code == "rejected" {
		return &r, oven.Errorf(oven.ERejected, "settlement rejected: %s", r.Rejected)
	}
	return &r, nil
}

// settledInSQL answers for a play whose Redis record is gone: only a settled play can be
// found, in play_records.
func (s *Service) settledInSQL(ctx context.Context, playerID, playID string, b Body) (*Result, error) {
	pid, err := players.ParseID(playerID)
	if err != nil {
		return nil, err
	}
	started, _ := playTime(playID)
	var bh, outcome string
	var res []byte
	err = s.DB.QueryRow(ctx, `SELECT body_hash, outcome, result FROM play_records
		WHERE play_id = $1 AND started_at = $2 AND player_id = $3`, playID, started, pid).Scan(&bh, &outcome, &res)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, oven.Errorf(oven.ENotFound, "no such play")
	}
	if err != nil {
		return nil, fmt.Errorf("plays: settled record: %w", err)
	}
	code := "ok"
	if outcome != "accepted" {
		code = "rejected"
	}
	return replay(bh, string(res), code, b)
}

// plausible returns the failed plausibility check, or "". b has passed Body.check, so
// every number is non-negative; the products are compared in 128 bits, so that no
// game data (old versions may predate Check's limits) can make them wrap.
func plausible(b Body, p *play, doc *gamedata.Document, now time.Time) string {
	switch elapsed := now.Sub(p.t0).Milliseconds(); {
	case b.DurationMS > elapsed:
		return "duration_exceeds_elapsed"
	case b.DurationMS < doc.Plays.MinDurationMS:
		return "duration_too_short"
	case perSecondExceeds(b.Score, doc.Plays.MaxScorePerSecond, b.DurationMS):
		return "score_too_high"
	case perSecondExceeds(b.Coins, doc.Plays.MaxCoinsPerSecond, b.DurationMS):
		return "coins_too_high"
	}
	return ""
}

// perSecondExceeds reports whether amount earned in ms milliseconds is more than
// perSecond a second allows: amount·1000 > perSecond·ms, for non-negative operands.
func perSecondExceeds(amount, perSecond, ms int64) bool {
	if perSecond < 0 {
		return true
	}
	hi1, lo1 := bits.Mul64(uint64(amount), 1000)
	hi2, lo2 := bits.Mul64(uint64(perSecond), uint64(ms))
	return hi1 > hi2 || hi1 == hi2 && lo1 > lo2
}

// record writes the settlement in SQL (idempotently) and works out the weekly best from
// prevBest, the week's best before this play (finish writes it to the board).
func (s *Service) record(ctx context.Context, playerID, playID string, p *play, b Body, doc *gamedata.Document, now time.Time, prevBest int64) (*Result, error) {
	pid, err := players.ParseID(playerID)
	if err != nil {
		return nil, err
	}
	started, _ := playTime(playID)
	reason := plausible(b, p, doc, now)
	gen := s.Players.Generation(playerID)
	res, fresh, err := s.recordSQL(ctx, pid, playID, started, p, b, doc, reason)
	switch {
	case err != nil || !fresh:
		s.Players.Invalidate(playerID) // unknown outcome, or settled before a crash
	case res.Rejected == "":
		s.Players.Update(playerID, gen, func(pl *players.Player) {
			pl.Coins, pl.Exp, pl.Level, pl.BestScore = res.Coins, res.Exp, res.Level, res.BestScore
		})
	} // a fresh rejection changed no player row
	if err != nil {
		return nil, fmt.Errorf("plays: settle: %w", err)
	}
	res.WeeklyBest = prevBest
	if res.Rejected == "" {
		res.WeeklyBest = max(prevBest, min(b.Score, leaderboard.MaxScore))
	}
	if fresh {
		if res.Rejected != "" {
			s.Metrics.PlaysRejected.WithLabelValues(res.Rejected).Inc()
		} else {
			s.Metrics.PlaysSettled.Inc()
			s.Metrics.CoinsEarned.WithLabelValues(wallet.ReasonPlay).Add(float64(res.CoinsEarned))
		}
	}
	return &res, nil
}

// settleSQL writes a settlement in one statement, sent after the fence in one implicit
// transaction, so one round trip: the play record (whose primary key makes it happen at most
// once per play), and for an accepted play the coins with their ledger row, the exp,
// level and best score. The stored result is built from what the statement wrote.
// A second settle of the play violates the primary key, which aborts the whole
// statement; the first result is then read back.
const settleSQL = `
WITH w AS (
	UPDATE wallets SET coins = coins + $5, updated_at = now()
	WHERE player_id = $3 AND $13 RETURNING coins
), l AS (
	INSERT INTO coin_ledger (player_id, amount, reason, ref)
	SELECT $3, $5, $18, $1 FROM w WHERE $5 <> 0
), old AS (
	SELECT exp, level, best_score FROM players WHERE player_id = $3
), p AS (
	UPDATE players SET exp = exp + $14, best_score = greatest(best_score, $4), updated_at = now(),
		level = greatest(level, coalesce((SELECT max(lv) FROM unnest($15::bigint[], $16::bigint[]) AS t(lv, e)
			WHERE e <= exp + $14), 1))
	WHERE player_id = $3 AND $13 RETURNING exp, level, best_score
)
INSERT INTO play_records (play_id, started_at, player_id, score, coins, distance, duration_ms,
	cookie_id, pet_id, boosts, outcome, body_hash, result)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, CASE WHEN $13 THEN
	json_build_object('coins_earned', $5::bigint, 'coins', (SELECT coins FROM w), 'exp_earned', $14::bigint,
		'exp', (SELECT exp FROM p), 'level', (SELECT level FROM p), 'best_score', (SELECT best_score FROM p),
		'weekly_best', 0, 'new_record', $4 > (SELECT best_score FROM old))
ELSE
	json_build_object('coins_earned', 0, 'coins', (SELECT coins FROM wallets WHERE player_id = $3), 'exp_earned', 0,
		'exp', (SELECT exp FROM old), 'level', (SELECT level FROM old), 'best_score', (SELECT best_score FROM old),
		'weekly_best', 0, 'new_record', false, 'rejected', $17::text)
END
RETURNING result`

// recordSQL runs settleSQL; fresh is false when the play was already settled.
func (s *Service) recordSQL(ctx context.Context, pid int64, playID string, started time.Time, p *play, b Body,
	doc *gamedata.Document, reason string) (res Result, fresh bool, err error) {
	outcome := "accepted"
	if reason != "" {
		outcome = "rejected:" + reason
	}
	levels, thresholds := make([]int64, len(doc.Levels)), make([]int64, len(doc.Levels))
	for i, l := range doc.Levels {
		levels[i], thresholds[i] = l.Level, l.Exp
	}
	var raw []byte
	err = pgfence.QueryRow(ctx, s.Writes, settleSQL, playID, started, pid, b.Score, b.Coins, b.Distance, b.DurationMS,
		p.cookie, p.pet, p.boosts, outcome, b.hash(), reason == "", ExpFor(b.Score), levels, thresholds, reason,
		wallet.ReasonPlay).Scan(&raw)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		// Settled before a crash lost the Redis step: return what SQL kept.
		err = s.DB.QueryRow(ctx, `SELECT result FROM play_records WHERE play_id = $1 AND started_at = $2`,
			playID, started).Scan(&raw)
		fresh = false
	} else {
		fresh = err == nil
	}
	if err != nil {
		return res, false, err
	}
	return res, fresh, json.Unmarshal(raw, &res)
}
