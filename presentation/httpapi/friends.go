package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/presentation/apijson"
	"github.com/ovengames/oven/proto/ovenv1"
)

// friendRequest reads and checks the friend named in the path and the (empty) body of
// a friend call. Naming oneself is refused here: no shard needs to be asked for that.
func friendRequest(r *http.Request, verb string) (*ovenv1.FriendRequest, error) {
	friendID := chi.URLParam(r, "player_id")
	if err := checkPlayerID("player_id", friendID); err != nil {
		return nil, err
	}
	me := playerFrom(r.Context())
	if friendID == me {
		return nil, oven.Errorf(oven.EInvalid, "you cannot %s yourself", verb)
	}
	if err := apijson.DecodeEmpty(r); err != nil {
		return nil, err
	}
	return &ovenv1.FriendRequest{PlayerId: me, FriendId: friendID}, nil
}

// addFriend befriends a player, both ways at once (PUT /v1/friends/{player_id}).
func (s *server) addFriend(w http.ResponseWriter, r *http.Request) error {
	req, err := friendRequest(r, "befriend")
	if err != nil {
		return err
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	if _, err := s.game.AddFriend(ctx, req); err != nil {
		return grpcerr.FromCall("AddFriend", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// removeFriend ends a friendship (DELETE /v1/friends/{player_id}).
func (s *server) removeFriend(w http.ResponseWriter, r *http.Request) error {
	req, err := friendRequest(r, "unfriend")
	if err != nil {
		return err
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	if _, err := s.game.RemoveFriend(ctx, req); err != nil {
		return grpcerr.FromCall("RemoveFriend", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type friendJSON struct {
	PlayerID    string  `json:"player_id"`
	Name        string  `json:"name"`
	WeeklyBest  int64   `json:"weekly_best"`
	CanSendLife bool    `json:"can_send_life"`
	NextSendAt  *string `json:"next_send_at"`
}

type friendsResponse struct {
	Friends []friendJSON `json:"friends"`
}

// listFriends lists the caller's friends (GET /v1/friends).
func (s *server) listFriends(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := s.game.ListFriends(ctx, &ovenv1.PlayerRequest{PlayerId: playerFrom(r.Context())})
	if err != nil {
		return grpcerr.FromCall("ListFriends", err)
	}
	out := friendsResponse{Friends: make([]friendJSON, 0, len(res.GetFriends()))}
	for _, f := range res.GetFriends() {
		out.Friends = append(out.Friends, friendJSON{
			PlayerID:    f.GetPlayerId(),
			Name:        f.GetName(),
			WeeklyBest:  f.GetWeeklyBest(),
			CanSendLife: f.GetCanSendLife(),
			NextSendAt:  apijson.OptionalTime(f.GetNextSendAtMs()),
		})
	}
	apijson.Write(w, http.StatusOK, out)
	return nil
}

type sendLifeResponse struct {
	GiftPoints int64   `json:"gift_points"`
	NextSendAt *string `json:"next_send_at"`
}

// sendLife sends one life to a friend's mailbox (POST /v1/friends/{player_id}/life).
func (s *server) sendLife(w http.ResponseWriter, r *http.Request) error {
	req, err := friendRequest(r, "send a life to")
	if err != nil {
		return err
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := s.game.SendLife(ctx, req)
	if err != nil {
		return grpcerr.FromCall("SendLife", err)
	}
	apijson.Write(w, http.StatusOK, sendLifeResponse{
		GiftPoints: res.GetGiftPoints(),
		NextSendAt: apijson.OptionalTime(res.GetNextSendAtMs()),
	})
	return nil
}

type sendLivesResponse struct {
	Sent       []string `json:"sent"`
	Skipped    int64    `json:"skipped"`
	GiftPoints int64    `json:"gift_points"`
}

// sendLives sends a life to every friend who can receive one now (POST /v1/friends/lives).
func (s *server) sendLives(w http.ResponseWriter, r *http.Request) error {
	if err := apijson.DecodeEmpty(r); err != nil {
		return err
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := s.game.SendLives(ctx, &ovenv1.PlayerRequest{PlayerId: playerFrom(r.Context())})
	if err != nil {
		return grpcerr.FromCall("SendLives", err)
	}
	apijson.Write(w, http.StatusOK, sendLivesResponse{
		Sent:       apijson.NonNil(res.GetSent()),
		Skipped:    res.GetSkipped(),
		GiftPoints: res.GetGiftPoints(),
	})
	return nil
}
