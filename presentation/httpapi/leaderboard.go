package httpapi

import (
	"net/http"

	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/presentation/apijson"
	"github.com/ovengames/oven/proto/ovenv1"
)

type leaderboardEntryJSON struct {
	Rank     int64  `json:"rank"`
	PlayerID string `json:"player_id"`
	Name     string `json:"name"`
	Score    int64  `json:"score"`
}

// leaderboardResponse is API.md's friends and global leaderboard.
type leaderboardResponse struct {
	Week     string                 `json:"week"`
	ResetsAt *string                `json:"resets_at"`
	Entries  []leaderboardEntryJSON `json:"entries"`
}

// aroundMeResponse is API.md's /v1/leaderboard/global/me.
type aroundMeResponse struct {
	Week string `json:"week"`
	// Rank is null while the player has no score this week.
	Rank    *int64                 `json:"rank"`
	Score   int64                  `json:"score"`
	Entries []leaderboardEntryJSON `json:"entries"`
}

func renderEntries(es []*ovenv1.LeaderboardEntry) []leaderboardEntryJSON {
	out := make([]leaderboardEntryJSON, 0, len(es))
	for _, e := range es {
		out = append(out, leaderboardEntryJSON{
			Rank: e.GetRank(), PlayerID: e.GetPlayerId(), Name: e.GetName(), Score: e.GetScore(),
		})
	}
	return out
}

func renderLeaderboard(b *ovenv1.Leaderboard) leaderboardResponse {
	return leaderboardResponse{
		Week:     b.GetWeek(),
		ResetsAt: apijson.OptionalTime(b.GetResetsAtMs()),
		Entries:  renderEntries(b.GetEntries()),
	}
}

// friendsLeaderboard ranks the caller and friends this week (GET /v1/leaderboard/friends).
func (s *server) friendsLeaderboard(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := callCtx(r)
	defer cancel()
	b, err := s.game.FriendsLeaderboard(ctx, &ovenv1.PlayerRequest{PlayerId: playerFrom(r.Context())})
	if err != nil {
		return grpcerr.FromCall("FriendsLeaderboard", err)
	}
	apijson.Write(w, http.StatusOK, renderLeaderboard(b))
	return nil
}

// globalLeaderboard returns this week's top N (GET /v1/leaderboard/global?limit=N).
func (s *server) globalLeaderboard(w http.ResponseWriter, r *http.Request) error {
	limit, err := parseLimit(r.URL.Query()["limit"])
	if err != nil {
		return err
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	// The caller's id routes the call to their shard, which checks bans like any other.
	b, err := s.game.GlobalLeaderboard(ctx, &ovenv1.GlobalLeaderboardRequest{
		PlayerId: playerFrom(r.Context()), Limit: limit,
	})
	if err != nil {
		return grpcerr.FromCall("GlobalLeaderboard", err)
	}
	apijson.Write(w, http.StatusOK, renderLeaderboard(b))
	return nil
}

// aroundMe returns the caller's global rank and neighbours (GET /v1/leaderboard/global/me).
func (s *server) aroundMe(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := callCtx(r)
	defer cancel()
	b, err := s.game.AroundMe(ctx, &ovenv1.PlayerRequest{PlayerId: playerFrom(r.Context())})
	if err != nil {
		return grpcerr.FromCall("AroundMe", err)
	}
	var rank *int64
	if n := b.GetRank(); n > 0 {
		rank = &n
	}
	apijson.Write(w, http.StatusOK, aroundMeResponse{
		Week:    b.GetWeek(),
		Rank:    rank,
		Score:   b.GetScore(),
		Entries: renderEntries(b.GetEntries()),
	})
	return nil
}
