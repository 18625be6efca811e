package shard

import (
	"context"

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
