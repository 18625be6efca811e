package httpapi

import (
	"net/http"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/presentation/apijson"
	"github.com/ovengames/oven/proto/ovenv1"
)

type startPlayRequest struct {
	CookieID string   `json:"cookie_id"`
	PetID    string   `json:"pet_id"`
	Boosts   []string `json:"boosts"`
}

type startPlayResponse struct {
	PlayID    string        `json:"play_id"`
	StartedAt string        `json:"started_at"`
	Seed      int64         `json:"seed"`
	Lives     apijson.Lives `json:"lives"`
	Coins     int64         `json:"coins"`
}

// idempotencyKeyHeader names a play start, so that a client retrying it (after a lost
// answer or a 503) gets the play it started instead of spending another life.
const idempotencyKeyHeader = "Idempotency-Key"

// startPlay opens a play, taking a life and the boosts' prices (POST /v1/plays).
func (s *server) startPlay(w http.ResponseWriter, r *http.Request) error {
	var req startPlayRequest
	if err := apijson.Decode(r, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	key := r.Header.Get(idempotencyKeyHeader)
	if err := checkIdempotencyKey(key); err != nil {
		return err
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := s.game.StartPlay(ctx, &ovenv1.StartPlayRequest{
		PlayerId:       playerFrom(r.Context()),
		CookieId:       req.CookieID,
		PetId:          req.PetID,
		Boosts:         req.Boosts,
		IdempotencyKey: key,
	})
	if err != nil {
		return grpcerr.FromCall("StartPlay", err)
	}
	apijson.Write(w, http.StatusCreated, startPlayResponse{
		PlayID:    res.GetPlayId(),
		StartedAt: apijson.Time(res.GetStartedAtMs()),
		Seed:      res.GetSeed(),
		Lives:     apijson.RenderLives(res.GetLives()),
		Coins:     res.GetCoins(),
	})
	return nil
}

func (req *startPlayRequest) check() error {
	if err := apijson.ID("cookie_id", req.CookieID, maxItemID); err != nil {
		return err
	}
	if req.PetID != "" {
		if err := apijson.ID("pet_id", req.PetID, maxItemID); err != nil {
			return err
		}
	}
	if len(req.Boosts) > maxBoosts {
		return oven.Errorf(oven.EInvalid, "at most %d boosts per play", maxBoosts)
	}
	for _, b := range req.Boosts {
		if err := apijson.ID("boosts[]", b, maxItemID); err != nil {
			return err
		}
	}
	return nil
}

// settleRequest uses pointers so that a missing field is told apart from a zero.
type settleRequest struct {
	Score      *int64 `json:"score"`
	Coins      *int64 `json:"coins"`
	Distance   *int64 `json:"distance"`
	DurationMs *int64 `json:"duration_ms"`
}

type settleResponse struct {
	CoinsEarned int64 `json:"coins_earned"`
	Coins       int64 `json:"coins"`
	ExpEarned   int64 `json:"exp_earned"`
	Exp         int64 `json:"exp"`
	Level       int64 `json:"level"`
	BestScore   int64 `json:"best_score"`
	WeeklyBest  int64 `json:"weekly_best"`
	NewRecord   bool  `json:"new_record"`
}

// settlePlay settles a play exactly once (POST /v1/plays/{play_id}/settle).
func (s *server) settlePlay(w http.ResponseWriter, r *http.Request) error {
	playID, err := apijson.PathID(r, "play_id", maxPlayID)
	if err != nil {
		return err
	}
	var body settleRequest
	if err := apijson.Decode(r, &body); err != nil {
		return err
	}
	req, err := body.toProto(playerFrom(r.Context()), playID)
	if err != nil {
		return err
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := s.game.SettlePlay(ctx, req)
	if err != nil {
		return grpcerr.FromCall("SettlePlay", err)
	}
	apijson.Write(w, http.StatusOK, settleResponse{
		CoinsEarned: res.GetCoinsEarned(),
		Coins:       res.GetCoins(),
		ExpEarned:   res.GetExpEarned(),
		Exp:         res.GetExp(),
		Level:       res.GetLevel(),
		BestScore:   res.GetBestScore(),
		WeeklyBest:  res.GetWeeklyBest(),
		NewRecord:   res.GetNewRecord(),
	})
	return nil
}

func (b *settleRequest) toProto(playerID, playID string) (*ovenv1.SettlePlayRequest, error) {
	req := &ovenv1.SettlePlayRequest{PlayerId: playerID, PlayId: playID}
	var err error
	for _, f := range []struct {
		name string
		in   *int64
		max  int64
		out  *int64
	}{
		{"score", b.Score, oven.MaxScore, &req.Score},
		{"coins", b.Coins, oven.MaxPlayCoins, &req.Coins},
		{"distance", b.Distance, oven.MaxDistance, &req.Distance},
		{"duration_ms", b.DurationMs, oven.MaxPlayDuration.Milliseconds(), &req.DurationMs},
	} {
		if *f.out, err = requiredInRange(f.name, f.in, f.max); err != nil {
			return nil, err
		}
	}
	return req, nil
}
