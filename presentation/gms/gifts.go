package gms

import (
	"net/http"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/presentation/apijson"
	"github.com/ovengames/oven/proto/ovenv1"
)

// giftRequest is the body of a gift to one player. Amount is a pointer so that a missing
// amount gets its own message rather than the shard's range error.
type giftRequest struct {
	Kind    string `json:"kind"`
	Amount  *int64 `json:"amount"`
	Message string `json:"message"`
}

// check refuses the shapes API.md rules out. The ranges (1-10 lives, 1-1,000,000
// coins, 200 bytes of message) are the shard's to judge: one place keeps the rules.
func (g giftRequest) check() error {
	if g.Kind != "life" && g.Kind != "coins" {
		return oven.Errorf(oven.EInvalid, `kind must be "life" or "coins"`)
	}
	if g.Amount == nil {
		return oven.Errorf(oven.EInvalid, "amount is required")
	}
	return nil
}

// playerGiftRequest is the body of a gift to one player: also infinite lives, with
// duration_s and no amount (it is 1).
type playerGiftRequest struct {
	giftRequest
	DurationS *int64 `json:"duration_s"`
}

func (g *playerGiftRequest) check() error {
	if g.Kind != "infinite_lives" {
		if g.DurationS != nil {
			return oven.Errorf(oven.EInvalid, "only infinite_lives takes duration_s")
		}
		return g.giftRequest.check()
	}
	if g.DurationS == nil {
		return oven.Errorf(oven.EInvalid, "duration_s is required")
	}
	if g.Amount == nil {
		one := int64(1)
		g.Amount = &one
	}
	return nil
}

type giftJSON struct {
	MailID    string `json:"mail_id"`
	ExpiresAt string `json:"expires_at"`
}

// gift puts a gift in one player's mailbox (POST /gms/api/players/{id}/gifts, operator).
func (s *server) gift(w http.ResponseWriter, r *http.Request) error {
	id, err := playerID(r)
	if err != nil {
		return err
	}
	var req playerGiftRequest
	if err := apijson.Decode(r, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	resp, err := s.admin.GiftPlayer(ctx, &ovenv1.GiftPlayerRequest{Auth: auth(r), PlayerId: id,
		Kind: req.Kind, Amount: *req.Amount, Message: req.Message, DurationS: deref(req.DurationS)})
	if err != nil {
		return grpcerr.FromCall("GiftPlayer", err)
	}
	apijson.Write(w, http.StatusOK, giftJSON{MailID: resp.GetMailId(), ExpiresAt: apijson.Time(resp.GetExpiresAtMs())})
	return nil
}

type broadcastRequest struct {
	giftRequest
	DurationS *int64 `json:"duration_s"`
}

type broadcastJSON struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Amount    int64  `json:"amount"`
	Message   string `json:"message"`
	StartsAt  string `json:"starts_at"`
	EndsAt    string `json:"ends_at"`
	CreatedBy string `json:"created_by"`
	Claims    int64  `json:"claims"`
}

func renderBroadcast(b *ovenv1.BroadcastInfo) broadcastJSON {
	return broadcastJSON{ID: b.GetId(), Kind: b.GetKind(), Amount: b.GetAmount(), Message: b.GetMessage(),
		StartsAt: apijson.Time(b.GetStartsAtMs()), EndsAt: apijson.Time(b.GetEndsAtMs()), CreatedBy: b.GetCreatedBy(), Claims: b.GetClaims()}
}

// createBroadcast gifts every player, including those who join before it ends (POST
// /gms/api/gifts/broadcast, operator). It answers with the whole broadcast, id first.
func (s *server) createBroadcast(w http.ResponseWriter, r *http.Request) error {
	var req broadcastRequest
	if err := apijson.Decode(r, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	if req.DurationS == nil {
		return oven.Errorf(oven.EInvalid, "duration_s is required")
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	b, err := s.admin.CreateBroadcast(ctx, &ovenv1.AdminBroadcastRequest{Auth: auth(r),
		Kind: req.Kind, Amount: *req.Amount, Message: req.Message, DurationS: *req.DurationS})
	if err != nil {
		return grpcerr.FromCall("CreateBroadcast", err)
	}
	apijson.Write(w, http.StatusOK, renderBroadcast(b))
	return nil
}

// broadcasts lists recent broadcasts, newest first, with how many players claimed each
// (GET /gms/api/gifts/broadcast).
func (s *server) broadcasts(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := callCtx(r)
	defer cancel()
	resp, err := s.admin.ListBroadcasts(ctx, &ovenv1.AdminRequest{Auth: auth(r)})
	if err != nil {
		return grpcerr.FromCall("ListBroadcasts", err)
	}
	out := struct {
		Broadcasts []broadcastJSON `json:"broadcasts"`
	}{Broadcasts: make([]broadcastJSON, 0, len(resp.GetBroadcasts()))}
	for _, b := range resp.GetBroadcasts() {
		out.Broadcasts = append(out.Broadcasts, renderBroadcast(b))
	}
	apijson.Write(w, http.StatusOK, out)
	return nil
}
