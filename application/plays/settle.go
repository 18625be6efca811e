package plays

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/gamedata"
	"github.com/ovengames/oven/application/players"
	"github.com/ovengames/oven/application/wallet"
)

// Body is what the client reports when settling.
type Body struct {
	Score, Coins, Distance, DurationMS int64
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
	boosts              []string
	t0                  time.Time
	bodyHash, result    string
	code                string
}

func (s *Service) load(ctx context.Context, playerID, playID string) (*play, error) {
	v, err := s.Redis.HGetAll(ctx, s.playKey(playerID, playID)).Result()
	if err != nil {
		return nil, fmt.Errorf("plays: load: %w", err)
	}
	if len(v) == 0 {
		return nil, nil
	}
	t0, _ := strconv.ParseInt(v["t0"], 10, 64)
	p := &play{status: v["st"], cookie: v["cookie"], pet: v["pet"], t0: time.UnixMilli(t0),
		bodyHash: v["bh"], result: v["res"], code: v["code"], boosts: []string{}}
	if v["boosts"] != "" {
		p.boosts = strings.Split(v["boosts"], ",")
	}
	return p, nil
}

// Settle settles a play once. Errors: not_found, play_expired, already_settled, and
// rejected (with the stored result: the play counts as settled with nothing earned).
func (s *Service) Settle(ctx context.Context, playerID, playID string, b Body) (*Result, error) {
	if b.Score < 0 || b.Coins < 0 || b.Distance < 0 || b.DurationMS < 0 {
		return nil, oven.Errorf(oven.EInvalid, "score, coins, distance and duration_ms must be ≥ 0")
	}
	if _, ok := playTime(playID); !ok {
		return nil, oven.Errorf(oven.ENotFound, "no such play")
	}
	defer s.lock(playerID)()
	p, err := s.load(ctx, playerID, playID)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return s.settledInSQL(ctx, playerID, playID, b)
	}
	if p.status == "pending" {
		// Its start died between the steps; decide it now instead of waiting for recovery.
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
	now := s.Clock.Now()
	if now.After(p.t0.Add(time.Duration(doc.Plays.TTLSeconds) * time.Second)) {
		return nil, oven.Errorf(oven.EPlayExpired, "the play expired before it was settled")
	}
	res, err := s.record(ctx, playerID, playID, p, b, doc, now)
	if err != nil {
		return nil, err
	}
	resJSON, _ := json.Marshal(res)
	code := "ok"
	if res.Rejected != "" {
		code = "rejected"
	}
	stored, err := finishScript.Run(ctx, s.Redis, []string{s.playKey(playerID, playID)}, b.hash(), resJSON, code).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("plays: finish: %w", err)
	}
	return replay(stored[0], stored[1], stored[2], b)
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

// check returns the failed plausibility check, or "".
func check(b Body, p *play, doc *gamedata.Document, now time.Time) string {
	switch elapsed := now.Sub(p.t0); {
	case time.Duration(b.DurationMS)*time.Millisecond > elapsed:
		return "duration_exceeds_elapsed"
	case b.DurationMS < doc.Plays.MinDurationMS:
		return "duration_too_short"
	case b.Score*1000 > doc.Plays.MaxScorePerSecond*b.DurationMS:
		return "score_too_high"
	case b.Coins*1000 > doc.Plays.MaxCoinsPerSecond*b.DurationMS:
		return "coins_too_high"
	}
	return ""
}

// record writes the settlement in SQL (idempotently) and the weekly best in Redis.
func (s *Service) record(ctx context.Context, playerID, playID string, p *play, b Body, doc *gamedata.Document, now time.Time) (*Result, error) {
	pid, err := players.ParseID(playerID)
	if err != nil {
		return nil, err
	}
	started, _ := playTime(playID)
	reason := check(b, p, doc, now)
	var res Result
	fresh := false
	err = pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		res, fresh = Result{}, false
		outcome := "accepted"
		if reason != "" {
			outcome = "rejected:" + reason
		}
		tag, err := tx.Exec(ctx, `
			INSERT INTO play_records (play_id, started_at, player_id, score, coins, distance, duration_ms,
				cookie_id, pet_id, boosts, outcome, body_hash, result)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, '{}') ON CONFLICT DO NOTHING`,
			playID, started, pid, b.Score, b.Coins, b.Distance, b.DurationMS, p.cookie, p.pet, p.boosts, outcome, b.hash())
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			// Settled before a crash lost the Redis step: return what SQL kept.
			var raw []byte
			if err := tx.QueryRow(ctx, `SELECT result FROM play_records WHERE play_id = $1 AND started_at = $2`,
				playID, started).Scan(&raw); err != nil {
				return err
			}
			return json.Unmarshal(raw, &res)
		}
		fresh = true
		if reason != "" {
			res = s.rejectedResult(ctx, tx, pid, reason)
		} else if res, err = s.credit(ctx, tx, pid, playID, b, doc); err != nil {
			return err
		}
		raw, _ := json.Marshal(res)
		_, err = tx.Exec(ctx, `UPDATE play_records SET result = $3 WHERE play_id = $1 AND started_at = $2`, playID, started, raw)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("plays: settle: %w", err)
	}
	if res.Rejected == "" {
		if res.WeeklyBest, err = s.Leaderboard.Record(ctx, playerID, b.Score, p.t0); err != nil {
			return nil, err
		}
	} else if res.WeeklyBest, err = s.Leaderboard.Best(ctx, playerID, p.t0); err != nil {
		return nil, err
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

// credit pays an accepted play: coins, exp, level and best score.
func (s *Service) credit(ctx context.Context, tx pgx.Tx, pid int64, playID string, b Body, doc *gamedata.Document) (Result, error) {
	res := Result{CoinsEarned: b.Coins, ExpEarned: ExpFor(b.Score)}
	var err error
	if res.Coins, err = wallet.Change(ctx, tx, pid, b.Coins, wallet.ReasonPlay, playID); err != nil {
		return res, err
	}
	levels, thresholds := make([]int64, len(doc.Levels)), make([]int64, len(doc.Levels))
	for i, l := range doc.Levels {
		levels[i], thresholds[i] = l.Level, l.Exp
	}
	var oldBest int64
	err = tx.QueryRow(ctx, `
		UPDATE players p SET exp = p.exp + $2, best_score = greatest(p.best_score, $3), updated_at = now(),
			level = greatest(p.level, coalesce((SELECT max(l) FROM unnest($4::bigint[], $5::bigint[]) AS t(l, e)
				WHERE e <= p.exp + $2), 1))
		FROM (SELECT best_score FROM players WHERE player_id = $1 FOR UPDATE) old
		WHERE p.player_id = $1
		RETURNING p.exp, p.level, p.best_score, old.best_score`, pid, res.ExpEarned, b.Score, levels, thresholds).
		Scan(&res.Exp, &res.Level, &res.BestScore, &oldBest)
	res.NewRecord = b.Score > oldBest
	return res, err
}

// rejectedResult is a rejected play's result: nothing earned, the current standing.
func (s *Service) rejectedResult(ctx context.Context, tx pgx.Tx, pid int64, reason string) Result {
	res := Result{Rejected: reason}
	// Best effort: the numbers only describe the standing; the rejection is what matters.
	_ = tx.QueryRow(ctx, `SELECT w.coins, p.exp, p.level, p.best_score FROM players p JOIN wallets w USING (player_id)
		WHERE p.player_id = $1`, pid).Scan(&res.Coins, &res.Exp, &res.Level, &res.BestScore)
	return res
}
