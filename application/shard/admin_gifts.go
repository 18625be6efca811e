package shard

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/admins"
	"github.com/ovengames/oven/application/events"
	"github.com/ovengames/oven/application/mailbox"
	"github.com/ovengames/oven/proto/ovenv1"
)

// GiftPlayer puts a gift in one player's mailbox (operator). It runs on the player's
// owner. The audit row, naming the mail id, is written before the delivery, so no gift
// reaches a mailbox unaudited; the delivery itself is idempotent by that id.
func (a *AdminServer) GiftPlayer(ctx context.Context, req *ovenv1.GiftPlayerRequest) (*ovenv1.GiftPlayerResponse, error) {
	s, err := a.authorize(ctx, req.Auth, admins.Operator, true)
	if err != nil {
		return nil, err
	}
	if _, err := a.Game.Players.Get(ctx, req.PlayerId); err != nil {
		return nil, err
	}
	now := a.Game.Clock.Now()
	it := mailbox.Item{ID: oven.NewID(time.Now()), Kind: req.Kind, Amount: req.Amount, Message: req.Message, DurationS: req.DurationS,
		SentAt:    now.UnixMilli(),
		ExpiresAt: now.Add(oven.Seconds(a.Game.GameData.Current().Doc.Mailbox.TTLSeconds)).UnixMilli()}
	if err := mailbox.CheckGift(it); err != nil {
		return nil, err
	}
	after := map[string]any{"mail_id": it.ID, "kind": it.Kind, "amount": it.Amount, "message": it.Message}
	if it.DurationS != 0 {
		after["duration_s"] = it.DurationS
	}
	if err := pgx.BeginFunc(ctx, a.DB, func(tx pgx.Tx) error {
		return recorder(s.Username, "player.gift", req.PlayerId)(ctx, tx, nil, after)
	}); err != nil {
		return nil, err
	}
	if _, err := a.Game.Mailbox.Deliver(ctx, req.PlayerId, it, false); err != nil {
		return nil, err
	}
	return &ovenv1.GiftPlayerResponse{MailId: it.ID, ExpiresAtMs: it.ExpiresAt}, nil
}

// CreateBroadcast gifts every player (operator): one row, whatever the player count.
func (a *AdminServer) CreateBroadcast(ctx context.Context, req *ovenv1.AdminBroadcastRequest) (*ovenv1.BroadcastInfo, error) {
	s, err := a.authorize(ctx, req.Auth, admins.Operator, true)
	if err != nil {
		return nil, err
	}
	bc, err := a.Game.Mailbox.Broadcasts.Create(ctx, req.Kind, req.Amount, req.Message,
		oven.Seconds(req.DurationS), s.Username, a.Game.Clock.Now(), func(ctx context.Context, tx pgx.Tx, bc mailbox.Broadcast) error {
			ev, err := broadcastPush(ctx, tx, bc, s.Username)
			if err != nil {
				return err
			}
			return recorder(s.Username, "gift.broadcast", bc.ID)(ctx, tx, nil, map[string]any{
				"kind": bc.Kind, "amount": bc.Amount, "message": bc.Message, "ends_at": bc.EndsAt, "push_event": ev.ID})
		})
	if err != nil {
		return nil, err
	}
	return broadcastProto(bc), nil
}

// broadcastPush schedules, in the broadcast's own transaction, the push campaign that
// tells every player of it: a push event starting now (so the pre-warming controller
// raises the floor at once, as for any unscheduled campaign).
func broadcastPush(ctx context.Context, tx pgx.Tx, bc mailbox.Broadcast, by string) (events.Event, error) {
	msg := bc.Message
	if msg == "" {
		msg = "A gift is waiting in your mailbox!"
	}
	return events.Insert(ctx, tx, events.Event{Kind: events.KindPush, Title: "A gift for you", StartsAt: bc.StartsAt,
		Message: msg, Audience: events.AudienceAll}, by, bc.StartsAt)
}

// ListBroadcasts lists recent broadcasts with their claim counts (viewer).
func (a *AdminServer) ListBroadcasts(ctx context.Context, req *ovenv1.AdminRequest) (*ovenv1.BroadcastList, error) {
	if _, err := a.authorize(ctx, req.Auth, admins.Viewer, false); err != nil {
		return nil, err
	}
	list, err := a.Game.Mailbox.ListBroadcasts(ctx)
	if err != nil {
		return nil, err
	}
	out := &ovenv1.BroadcastList{Broadcasts: make([]*ovenv1.BroadcastInfo, len(list))}
	for i, bc := range list {
		out.Broadcasts[i] = broadcastProto(bc)
	}
	return out, nil
}

func mailProto(items []mailbox.Item) []*ovenv1.MailItem {
	out := make([]*ovenv1.MailItem, len(items))
	for i, it := range items {
		out[i] = &ovenv1.MailItem{Id: it.ID, Kind: it.Kind, Amount: it.Amount, FromPlayerId: it.From, DurationS: it.DurationS,
			Message: it.Message, SentAtMs: it.SentAt, ExpiresAtMs: it.ExpiresAt}
	}
	return out
}
