package httpapi

import (
	"context"
	"net/http"

	"google.golang.org/grpc"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/presentation/apijson"
	"github.com/ovengames/oven/proto/ovenv1"
)

type pushTokenRequest struct {
	Platform string `json:"platform"`
	Token    string `json:"token"`
}

// putPushToken registers one of the caller's device tokens (PUT /v1/me/push-token): 204.
func (s *server) putPushToken(w http.ResponseWriter, r *http.Request) error {
	return s.pushToken(w, r, "RegisterPushToken", s.game.RegisterPushToken)
}

// deletePushToken removes one of the caller's device tokens (DELETE /v1/me/push-token): 204.
func (s *server) deletePushToken(w http.ResponseWriter, r *http.Request) error {
	return s.pushToken(w, r, "RemovePushToken", s.game.RemovePushToken)
}

type pushTokenCall = func(ctx context.Context, in *ovenv1.PushTokenRequest, opts ...grpc.CallOption) (*ovenv1.PushTokenResponse, error)

func (s *server) pushToken(w http.ResponseWriter, r *http.Request, method string, call pushTokenCall) error {
	var req pushTokenRequest
	if err := apijson.Decode(r, &req); err != nil {
		return err
	}
	if err := oven.CheckPushToken(req.Platform, req.Token); err != nil {
		return err
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	if _, err := call(ctx, &ovenv1.PushTokenRequest{PlayerId: playerFrom(r.Context()), Platform: req.Platform, Token: req.Token}); err != nil {
		return grpcerr.FromCall(method, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
