package httpapi

import (
	"net/http"
	"time"

	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/presentation/apijson"
	"github.com/ovengames/oven/proto/ovenv1"
)

type authGuestRequest struct {
	DeviceID string `json:"device_id"`
}

type authGuestResponse struct {
	PlayerID  string `json:"player_id"`
	Token     string `json:"token"`
	ExpiresAt string `json:"expires_at"`
}

// authGuest maps a device to its player and issues a token (POST /v1/auth/guest).
func (s *server) authGuest(w http.ResponseWriter, r *http.Request) error {
	var req authGuestRequest
	if err := apijson.Decode(r, &req); err != nil {
		return err
	}
	if err := checkDeviceID(req.DeviceID); err != nil {
		return err
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := s.game.AuthGuest(ctx, &ovenv1.AuthGuestRequest{DeviceId: req.DeviceID})
	if err != nil {
		return grpcerr.FromCall("AuthGuest", err)
	}
	logPlayer(r.Context(), res.GetPlayerId())
	token, exp := s.tokens.Issue(res.GetPlayerId(), s.now())
	apijson.Write(w, http.StatusOK, authGuestResponse{
		PlayerID:  res.GetPlayerId(),
		Token:     token,
		ExpiresAt: exp.UTC().Format(time.RFC3339),
	})
	return nil
}

// getMe returns the caller's profile (GET /v1/me).
func (s *server) getMe(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := callCtx(r)
	defer cancel()
	p, err := s.game.GetMe(ctx, &ovenv1.PlayerRequest{PlayerId: playerFrom(r.Context())})
	if err != nil {
		return grpcerr.FromCall("GetMe", err)
	}
	apijson.Write(w, http.StatusOK, apijson.RenderMe(p))
	return nil
}

type patchMeRequest struct {
	Name string `json:"name"`
}

// patchMe renames the caller (PATCH /v1/me).
func (s *server) patchMe(w http.ResponseWriter, r *http.Request) error {
	var req patchMeRequest
	if err := apijson.Decode(r, &req); err != nil {
		return err
	}
	name, err := normalizeName(req.Name)
	if err != nil {
		return err
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	p, err := s.game.UpdateMe(ctx, &ovenv1.UpdateMeRequest{PlayerId: playerFrom(r.Context()), Name: name})
	if err != nil {
		return grpcerr.FromCall("UpdateMe", err)
	}
	apijson.Write(w, http.StatusOK, apijson.RenderMe(p))
	return nil
}

type buyRequest struct {
	ItemID string `json:"item_id"`
}

// buyItem buys a cookie or pet and returns the new profile (POST /v1/shop/buy).
func (s *server) buyItem(w http.ResponseWriter, r *http.Request) error {
	var req buyRequest
	if err := apijson.Decode(r, &req); err != nil {
		return err
	}
	if err := apijson.ID("item_id", req.ItemID, maxItemID); err != nil {
		return err
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	p, err := s.game.BuyItem(ctx, &ovenv1.BuyItemRequest{PlayerId: playerFrom(r.Context()), ItemId: req.ItemID})
	if err != nil {
		return grpcerr.FromCall("BuyItem", err)
	}
	apijson.Write(w, http.StatusOK, apijson.RenderMe(p))
	return nil
}
