package shard

import (
	"context"

	"github.com/ovengames/oven/application/admins"
	"github.com/ovengames/oven/application/push"

	"github.com/ovengames/oven/proto/ovenv1"
)

// RegisterPushToken adds (or revives) one of the player's device tokens.
func (s *Server) RegisterPushToken(ctx context.Context, req *ovenv1.PushTokenRequest) (*ovenv1.PushTokenResponse, error) {
	if err := s.PushTokens.Register(ctx, req.PlayerId, req.Platform, req.Token); err != nil {
		return nil, err
	}
	return s.pushTokens(ctx, req.PlayerId)
}

// RemovePushToken removes one of the player's device tokens.
func (s *Server) RemovePushToken(ctx context.Context, req *ovenv1.PushTokenRequest) (*ovenv1.PushTokenResponse, error) {
	if err := s.PushTokens.Remove(ctx, req.PlayerId, req.Platform, req.Token); err != nil {
		return nil, err
	}
	return s.pushTokens(ctx, req.PlayerId)
}

func (s *Server) pushTokens(ctx context.Context, playerID string) (*ovenv1.PushTokenResponse, error) {
	p, err := s.Players.Get(ctx, playerID)
	if err != nil {
		return nil, err
	}
	return &ovenv1.PushTokenResponse{PushTokens: p.PushTokens}, nil
}

// notifyLife queues a life_received push for a player with device tokens. A failure
// costs the push, never the life: it is logged.
func (s *Server) notifyLife(ctx context.Context, playerID string) {
	if s.Notifier == nil {
		return
	}
	p, err := s.Players.Get(ctx, playerID)
	if err == nil && p.PushTokens > 0 {
		err = s.Notifier.LifeReceived(ctx, playerID)
	}
	if err != nil {
		s.Log.WarnContext(ctx, "push: life_received not queued", "player", playerID, "err", err)
	}
}

// PlayerPushes lists a player's push deliveries (viewer).
func (a *AdminServer) PlayerPushes(ctx context.Context, req *ovenv1.AdminPlayerRequest) (*ovenv1.PushDeliveries, error) {
	if _, err := a.authorize(ctx, req.Auth, admins.Viewer, false); err != nil {
		return nil, err
	}
	list, err := push.Deliveries(ctx, a.DB, req.PlayerId)
	if err != nil {
		return nil, err
	}
	out := &ovenv1.PushDeliveries{Deliveries: make([]*ovenv1.PushDelivery, len(list))}
	for i, d := range list {
		out.Deliveries[i] = &ovenv1.PushDelivery{Id: d.ID, Kind: d.Kind, Platform: d.Platform, Status: d.Status,
			CreatedAtMs: d.CreatedAt.UnixMilli(), SentAtMs: millis(d.SentAt), Error: d.Error, EventId: d.EventID}
	}
	return out, nil
}

// EventPushes counts a campaign's deliveries by status (viewer); not_found for an
// event the calendar does not hold.
func (a *AdminServer) EventPushes(ctx context.Context, req *ovenv1.LiveEventIdRequest) (*ovenv1.PushCounts, error) {
	if _, err := a.authorize(ctx, req.Auth, admins.Viewer, false); err != nil {
		return nil, err
	}
	if _, err := a.Game.Calendar.Get(ctx, req.Id); err != nil {
		return nil, err
	}
	c, err := push.CampaignCounts(ctx, a.DB, req.Id)
	if err != nil {
		return nil, err
	}
	return &ovenv1.PushCounts{Queued: c.Queued, Sent: c.Sent, Failed: c.Failed, Unregistered: c.Unregistered}, nil
}

// GetCapacity is the pre-warming floor in force and the raises planned (viewer).
func (a *AdminServer) GetCapacity(ctx context.Context, req *ovenv1.AdminRequest) (*ovenv1.Capacity, error) {
	if _, err := a.authorize(ctx, req.Auth, admins.Viewer, false); err != nil {
		return nil, err
	}
	st := a.Prewarm.Status()
	out := &ovenv1.Capacity{Floor: int32(st.Floor), Current: int32(st.Current), Reason: st.Reason, UntilMs: millis(st.Until)}
	for _, r := range st.Upcoming {
		out.Upcoming = append(out.Upcoming, &ovenv1.CapacityRaise{EventId: r.EventID, AtMs: r.At.UnixMilli(), Floor: int32(r.Floor)})
	}
	return out, nil
}
