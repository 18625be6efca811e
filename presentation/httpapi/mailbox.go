package httpapi

import (
	"net/http"

	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/presentation/apijson"
	"github.com/ovengames/oven/proto/ovenv1"
)

type mailboxResponse struct {
	Items []apijson.Mail `json:"items"`
}

// listMailbox lists the caller's unexpired mail, newest first as the shard orders it
// (GET /v1/mailbox).
func (s *server) listMailbox(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := s.game.ListMailbox(ctx, &ovenv1.PlayerRequest{PlayerId: playerFrom(r.Context())})
	if err != nil {
		return grpcerr.FromCall("ListMailbox", err)
	}
	out := mailboxResponse{Items: make([]apijson.Mail, 0, len(res.GetItems()))}
	for _, m := range res.GetItems() {
		out.Items = append(out.Items, apijson.RenderMail(m))
	}
	apijson.Write(w, http.StatusOK, out)
	return nil
}

type acceptMailResponse struct {
	Lives apijson.Lives `json:"lives"`
	Coins int64         `json:"coins"`
}

// acceptMail accepts one item, idempotently (POST /v1/mailbox/{id}/accept).
func (s *server) acceptMail(w http.ResponseWriter, r *http.Request) error {
	mailID, err := apijson.PathID(r, "id", maxMailID)
	if err != nil {
		return err
	}
	if err := apijson.DecodeEmpty(r); err != nil {
		return err
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := s.game.AcceptMail(ctx, &ovenv1.AcceptMailRequest{PlayerId: playerFrom(r.Context()), MailId: mailID})
	if err != nil {
		return grpcerr.FromCall("AcceptMail", err)
	}
	apijson.Write(w, http.StatusOK, acceptMailResponse{Lives: apijson.RenderLives(res.GetLives()), Coins: res.GetCoins()})
	return nil
}

type acceptAllResponse struct {
	Accepted int64         `json:"accepted"`
	Lives    apijson.Lives `json:"lives"`
	Coins    int64         `json:"coins"`
}

// acceptAllMail accepts every unexpired item (POST /v1/mailbox/accept-all).
func (s *server) acceptAllMail(w http.ResponseWriter, r *http.Request) error {
	if err := apijson.DecodeEmpty(r); err != nil {
		return err
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := s.game.AcceptAllMail(ctx, &ovenv1.PlayerRequest{PlayerId: playerFrom(r.Context())})
	if err != nil {
		return grpcerr.FromCall("AcceptAllMail", err)
	}
	apijson.Write(w, http.StatusOK, acceptAllResponse{
		Accepted: res.GetAccepted(),
		Lives:    apijson.RenderLives(res.GetLives()),
		Coins:    res.GetCoins(),
	})
	return nil
}
