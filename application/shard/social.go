package shard

import (
	"context"
	"time"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/leaderboard"
	"github.com/ovengames/oven/application/mailbox"
	"github.com/ovengames/oven/proto/ovenv1"
)

// AddFriend makes the players friends and tells the friend's owner.
func (s *Server) AddFriend(ctx context.Context, req *ovenv1.FriendRequest) (*ovenv1.FriendResponse, error) {
	if err := s.Friends.Add(ctx, req.PlayerId, req.FriendId); err != nil {
		return nil, err
	}
	s.friendsChanged(ctx, req.FriendId)
	return &ovenv1.FriendResponse{}, nil
}

// RemoveFriend ends a friendship and tells the friend's owner.
func (s *Server) RemoveFriend(ctx context.Context, req *ovenv1.FriendRequest) (*ovenv1.FriendResponse, error) {
	if err := s.Friends.Remove(ctx, req.PlayerId, req.FriendId); err != nil {
		return nil, err
	}
	s.friendsChanged(ctx, req.FriendId)
	return &ovenv1.FriendResponse{}, nil
}

// friendsChanged drops the friend's cached list on its owner. Best effort: the cache's
// short TTL covers a failed call.
func (s *Server) friendsChanged(ctx context.Context, playerID string) {
	if _, err := s.Game.FriendsChanged(ctx, &ovenv1.PlayerRequest{PlayerId: playerID}); err != nil {
		s.Log.WarnContext(ctx, "friends changed: notify owner", "player", playerID, "err", err)
	}
}

// FriendsChanged drops a player's cached friend list.
func (s *Server) FriendsChanged(_ context.Context, req *ovenv1.PlayerRequest) (*ovenv1.FriendResponse, error) {
	s.Friends.Forget(req.PlayerId)
	return &ovenv1.FriendResponse{}, nil
}

// ListFriends lists friends with names, weekly bests and whether a life can be sent.
func (s *Server) ListFriends(ctx context.Context, req *ovenv1.PlayerRequest) (*ovenv1.FriendList, error) {
	ids, err := s.Friends.List(ctx, req.PlayerId)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	names, err := s.Players.Names(ctx, ids)
	if err != nil {
		return nil, err
	}
	ranked, err := s.Leaderboard.Friends(ctx, ids, now)
	if err != nil {
		return nil, err
	}
	best := map[string]int64{}
	for _, e := range ranked {
		best[e.PlayerID] = e.Score
	}
	next, err := s.Social.NextSend(ctx, req.PlayerId, ids)
	if err != nil {
		return nil, err
	}
	out := &ovenv1.FriendList{Friends: make([]*ovenv1.Friend, 0, len(ids))}
	for _, id := range ids {
		f := &ovenv1.Friend{PlayerId: id, Name: names[id], WeeklyBest: best[id], CanSendLife: next[id].IsZero()}
		if !next[id].IsZero() {
			f.NextSendAtMs = next[id].UnixMilli()
		}
		out.Friends = append(out.Friends, f)
	}
	return out, nil
}

// SendLife sends one life to a friend.
func (s *Server) SendLife(ctx context.Context, req *ovenv1.FriendRequest) (*ovenv1.SendLifeResponse, error) {
	points, next, err := s.Social.Send(ctx, req.PlayerId, req.FriendId)
	if err != nil {
		return nil, err
	}
	return &ovenv1.SendLifeResponse{GiftPoints: points, NextSendAtMs: next.UnixMilli()}, nil
}

// SendLives sends a life to every friend who can receive one.
func (s *Server) SendLives(ctx context.Context, req *ovenv1.PlayerRequest) (*ovenv1.SendLivesResponse, error) {
	sent, skipped, points, err := s.Social.SendAll(ctx, req.PlayerId)
	if err != nil {
		return nil, err
	}
	return &ovenv1.SendLivesResponse{Sent: sent, Skipped: int64(skipped), GiftPoints: points}, nil
}

// DeliverMail stores a mail item in the receiver's mailbox (we own the receiver).
func (s *Server) DeliverMail(ctx context.Context, req *ovenv1.DeliverMailRequest) (*ovenv1.DeliverMailResponse, error) {
	it := req.GetItem()
	if it == nil {
		return nil, oven.Errorf(oven.EInvalid, "no mail item")
	}
	ok, err := s.Mailbox.Deliver(ctx, req.PlayerId, mailbox.Item{ID: it.Id, Kind: it.Kind, Amount: it.Amount,
		From: it.FromPlayerId, Message: it.Message, SentAt: it.SentAtMs, ExpiresAt: it.ExpiresAtMs, DurationS: it.DurationS}, req.EnforceCapacity)
	if err != nil {
		return nil, err
	}
	if ok && it.Kind == mailbox.KindLife {
		s.notifyLife(ctx, req.PlayerId)
	}
	return &ovenv1.DeliverMailResponse{Delivered: ok}, nil
}

// ListMailbox lists the unexpired mail, newest first.
func (s *Server) ListMailbox(ctx context.Context, req *ovenv1.PlayerRequest) (*ovenv1.Mailbox, error) {
	items, err := s.Mailbox.List(ctx, req.PlayerId)
	if err != nil {
		return nil, err
	}
	return &ovenv1.Mailbox{Items: mailProto(items)}, nil
}

// AcceptMail accepts one item exactly once.
func (s *Server) AcceptMail(ctx context.Context, req *ovenv1.AcceptMailRequest) (*ovenv1.AcceptMailResponse, error) {
	if req.MailId == "" {
		return nil, oven.Errorf(oven.ENotFound, "no such mail")
	}
	return s.accept(ctx, req.PlayerId, []string{req.MailId})
}

// AcceptAllMail accepts every unexpired item.
func (s *Server) AcceptAllMail(ctx context.Context, req *ovenv1.PlayerRequest) (*ovenv1.AcceptMailResponse, error) {
	return s.accept(ctx, req.PlayerId, nil)
}

func (s *Server) accept(ctx context.Context, playerID string, ids []string) (*ovenv1.AcceptMailResponse, error) {
	n, err := s.Mailbox.Accept(ctx, playerID, ids)
	if err != nil {
		return nil, err
	}
	p, err := s.profile(ctx, playerID)
	if err != nil {
		return nil, err
	}
	return &ovenv1.AcceptMailResponse{Accepted: int64(n), Lives: p.Lives, Coins: p.Coins}, nil
}

// FriendsLeaderboard ranks the player and friends by this week's best.
func (s *Server) FriendsLeaderboard(ctx context.Context, req *ovenv1.PlayerRequest) (*ovenv1.Leaderboard, error) {
	ids, err := s.Friends.List(ctx, req.PlayerId)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	entries, err := s.Leaderboard.Friends(ctx, append([]string{req.PlayerId}, ids...), now)
	if err != nil {
		return nil, err
	}
	return s.board(ctx, now, entries)
}

// GlobalLeaderboard returns this week's top N (1-100).
func (s *Server) GlobalLeaderboard(ctx context.Context, req *ovenv1.GlobalLeaderboardRequest) (*ovenv1.Leaderboard, error) {
	if req.Limit < 1 || req.Limit > 100 {
		return nil, oven.Errorf(oven.EInvalid, "limit must be 1-100")
	}
	now := s.Clock.Now()
	entries, err := s.Leaderboard.Top(ctx, int(req.Limit), now)
	if err != nil {
		return nil, err
	}
	return s.board(ctx, now, entries)
}

// AroundMe returns the player's global rank with up to 5 above and below.
func (s *Server) AroundMe(ctx context.Context, req *ovenv1.PlayerRequest) (*ovenv1.Leaderboard, error) {
	now := s.Clock.Now()
	rank, score, entries, err := s.Leaderboard.Around(ctx, req.PlayerId, 5, now)
	if err != nil {
		return nil, err
	}
	lb, err := s.board(ctx, now, entries)
	if err != nil {
		return nil, err
	}
	lb.Rank, lb.Score = rank, score
	return lb, nil
}

func (s *Server) board(ctx context.Context, now time.Time, entries []leaderboard.Entry) (*ovenv1.Leaderboard, error) {
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.PlayerID
	}
	names, err := s.Players.Names(ctx, ids)
	if err != nil {
		return nil, err
	}
	w := leaderboard.WeekOf(now)
	lb := &ovenv1.Leaderboard{Week: w.ID, ResetsAtMs: w.End.UnixMilli(), Entries: make([]*ovenv1.LeaderboardEntry, len(entries))}
	for i, e := range entries {
		lb.Entries[i] = &ovenv1.LeaderboardEntry{Rank: e.Rank, PlayerId: e.PlayerID, Name: names[e.PlayerID], Score: e.Score}
	}
	return lb, nil
}

func broadcastProto(bc mailbox.Broadcast) *ovenv1.BroadcastInfo {
	return &ovenv1.BroadcastInfo{Id: bc.ID, Kind: bc.Kind, Amount: bc.Amount, Message: bc.Message,
		StartsAtMs: bc.StartsAt.UnixMilli(), EndsAtMs: bc.EndsAt.UnixMilli(), CreatedBy: bc.CreatedBy, Claims: bc.Claims}
}
