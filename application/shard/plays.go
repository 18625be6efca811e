package shard

import (
	"context"

	"github.com/ovengames/oven/application/plays"
	"github.com/ovengames/oven/proto/ovenv1"
)

// BuyItem buys a cookie or pet.
func (s *Server) BuyItem(ctx context.Context, req *ovenv1.BuyItemRequest) (*ovenv1.Profile, error) {
	if err := s.Shop.Buy(ctx, s.GameData.Current().Doc, req.PlayerId, req.ItemId); err != nil {
		return nil, err
	}
	return s.profile(ctx, req.PlayerId)
}

// StartPlay takes a life and the boosts' prices and opens a play (once per idempotency key).
func (s *Server) StartPlay(ctx context.Context, req *ovenv1.StartPlayRequest) (*ovenv1.StartPlayResponse, error) {
	st, err := s.Plays.Start(ctx, req.PlayerId, req.CookieId, req.PetId, req.Boosts, req.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	return &ovenv1.StartPlayResponse{PlayId: st.PlayID, StartedAtMs: st.StartedAt.UnixMilli(), Seed: st.Seed,
		Lives: livesProto(st.Lives), Coins: st.Coins}, nil
}

// SettlePlay settles a play once.
func (s *Server) SettlePlay(ctx context.Context, req *ovenv1.SettlePlayRequest) (*ovenv1.SettlePlayResponse, error) {
	r, err := s.Plays.Settle(ctx, req.PlayerId, req.PlayId, plays.Body{Score: req.Score, Coins: req.Coins,
		Distance: req.Distance, DurationMS: req.DurationMs})
	if err != nil {
		return nil, err
	}
	return &ovenv1.SettlePlayResponse{CoinsEarned: r.CoinsEarned, Coins: r.Coins, ExpEarned: r.ExpEarned, Exp: r.Exp,
		Level: r.Level, BestScore: r.BestScore, WeeklyBest: r.WeeklyBest, NewRecord: r.NewRecord}, nil
}
