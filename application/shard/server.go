// Package shard is one application shard: the gRPC service of the game for the players
// whose slots it owns. Every write lands atomically in a store (Lua scripts, CAS, SQL
// transactions), so a crashed shard loses nothing and another can take its players over.
package shard

import (
	"context"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/events"
	"github.com/ovengames/oven/application/friends"
	"github.com/ovengames/oven/application/gamedata"
	"github.com/ovengames/oven/application/leaderboard"
	"github.com/ovengames/oven/application/lives"
	"github.com/ovengames/oven/application/mailbox"
	"github.com/ovengames/oven/application/players"
	"github.com/ovengames/oven/application/plays"
	"github.com/ovengames/oven/application/push"
	"github.com/ovengames/oven/application/redisdb"
	"github.com/ovengames/oven/application/shop"
	"github.com/ovengames/oven/application/social"
	"github.com/ovengames/oven/proto/ovenv1"
)

// Deps are what a Server works with.
type Deps struct {
	ID       string
	Members  cluster.Source
	Clock    *oven.OffsetClock
	GameData *gamedata.Cache
	// LifeRules gives the life rules in force at an instant (events.Calendar.LifeRules).
	LifeRules func(now time.Time) lives.Rules
	// Calendar is the live-events calendar (player-visible events).
	Calendar   *events.Calendar
	PushTokens *push.Tokens
	// Notifier queues the game's own pushes (a life received); nil sends none.
	Notifier    *push.Notifier
	Players     *players.Store
	Lives       *lives.Store
	Leaderboard *leaderboard.Store
	Plays       *plays.Service
	Shop        *shop.Shop
	Friends     *friends.Store
	Social      *social.Service
	Mailbox     *mailbox.Service
	Game        ovenv1.GameClient // the routing client, for calls to other players' owners
	Redis       *redisdb.DB
	Log         *slog.Logger
	DevClock    *DevClock // nil unless OVEN_DEV_CLOCK=1
	Ready       func(ctx context.Context) []string
}

// Server implements ovenv1.GameServer.
type Server struct {
	ovenv1.UnimplementedGameServer
	Deps
}

var _ ovenv1.GameServer = (*Server)(nil)

// NewServer returns a Server over deps.
func NewServer(deps Deps) *Server { return &Server{Deps: deps} }

// AuthGuest maps a device to its player; banned when that player is banned, so that
// no token is issued to it. Any shard may serve it (the device's player is unknown
// until it is looked up), so the flag comes from the row itself, read by the same
// statement, rather than from this shard's ban cache.
func (s *Server) AuthGuest(ctx context.Context, req *ovenv1.AuthGuestRequest) (*ovenv1.AuthGuestResponse, error) {
	if n := utf8.RuneCountInString(req.DeviceId); n < 8 || n > 128 {
		return nil, oven.Errorf(oven.EInvalid, "device_id must be 8-128 characters")
	}
	id, created, banned, err := s.Players.FindOrCreate(ctx, req.DeviceId, s.GameData.Current().Doc.Starting)
	if err != nil {
		return nil, err
	}
	if banned {
		return nil, oven.Errorf(oven.EBanned, "this player is banned")
	}
	return &ovenv1.AuthGuestResponse{PlayerId: id, Created: created}, nil
}

// GetMe returns the player's profile.
func (s *Server) GetMe(ctx context.Context, req *ovenv1.PlayerRequest) (*ovenv1.Profile, error) {
	return s.profile(ctx, req.PlayerId)
}

// UpdateMe renames the player.
func (s *Server) UpdateMe(ctx context.Context, req *ovenv1.UpdateMeRequest) (*ovenv1.Profile, error) {
	name := strings.TrimSpace(req.Name)
	if n := utf8.RuneCountInString(name); n < 1 || n > 24 || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return nil, oven.Errorf(oven.EInvalid, "name must be 1-24 printable characters")
	}
	if err := s.Players.Rename(ctx, req.PlayerId, name); err != nil {
		return nil, err
	}
	return s.profile(ctx, req.PlayerId)
}

func (s *Server) profile(ctx context.Context, playerID string) (*ovenv1.Profile, error) {
	// The SQL row and the three Redis reads go out at once: one pipeline round trip to
	// Redis, overlapped with the PostgreSQL query.
	type row struct {
		p   *players.Player
		err error
	}
	sql := make(chan row, 1)
	go func() {
		p, err := s.Players.Get(ctx, playerID)
		sql <- row{p, err}
	}()
	lv, weekly, points, err := s.redisState(ctx, playerID)
	r := <-sql
	if r.err != nil {
		return nil, r.err
	}
	if err != nil {
		return nil, err
	}
	p := r.p
	return &ovenv1.Profile{
		PlayerId:     p.ID,
		Name:         p.Name,
		Level:        p.Level,
		Exp:          p.Exp,
		Coins:        p.Coins,
		GiftPoints:   points,
		Lives:        livesProto(lv),
		BestScore:    p.BestScore,
		WeeklyBest:   weekly,
		OwnedCookies: p.Cookies,
		OwnedPets:    p.Pets,
		PushTokens:   p.PushTokens,
		ServedBy:     s.ID,
	}, nil
}

// redisState reads a player's lives, weekly best and gift points in one pipeline.
func (s *Server) redisState(ctx context.Context, playerID string) (lives.State, int64, int64, error) {
	now := s.Clock.Now()
	pipe := s.Redis.Pipeline()
	lv := s.Lives.QueueGet(ctx, pipe, playerID, s.LifeRules(now), now)
	weekly := s.Leaderboard.QueueBest(ctx, pipe, playerID, now)
	points := s.Social.QueueGiftPoints(ctx, pipe, playerID)
	pipe.Exec(ctx) // errors are read per command below
	st, err := lv()
	if err != nil {
		return lives.State{}, 0, 0, err
	}
	w, err := weekly()
	if err != nil {
		return lives.State{}, 0, 0, err
	}
	gp, err := points()
	return st, w, gp, err
}

func livesProto(st lives.State) *ovenv1.Lives {
	l := &ovenv1.Lives{Count: st.Count, Max: st.Max}
	if !st.NextAt.IsZero() {
		l.NextLifeAtMs = st.NextAt.UnixMilli()
	}
	if !st.InfiniteUntil.IsZero() {
		l.InfiniteUntilMs = st.InfiniteUntil.UnixMilli()
	}
	return l
}

// GetGameData returns a published version.
func (s *Server) GetGameData(ctx context.Context, req *ovenv1.GetGameDataRequest) (*ovenv1.GameData, error) {
	if req.Version < 0 {
		return nil, oven.Errorf(oven.EInvalid, "version must be positive")
	}
	v := s.GameData.Current()
	if req.Version != 0 && req.Version != v.Number {
		var err error
		if v, err = s.GameData.Get(ctx, req.Version); err != nil {
			return nil, err
		}
	}
	return &ovenv1.GameData{Version: v.Number, Document: v.Raw}, nil
}

// WhoOwns reports the owner of a player (the ownership interceptor already checked it is us).
func (s *Server) WhoOwns(_ context.Context, req *ovenv1.PlayerRequest) (*ovenv1.WhoOwnsResponse, error) {
	return &ovenv1.WhoOwnsResponse{ShardId: s.ID, Slot: int32(cluster.SlotOf(req.PlayerId))}, nil
}

// Ready reports failing dependencies.
func (s *Server) Ready(ctx context.Context, _ *ovenv1.ReadyRequest) (*ovenv1.ReadyResponse, error) {
	return &ovenv1.ReadyResponse{ShardId: s.ID, Problems: s.Deps.Ready(ctx)}, nil
}

// AdvanceClock moves the dev clock forward on every shard.
func (s *Server) AdvanceClock(ctx context.Context, req *ovenv1.AdvanceClockRequest) (*ovenv1.SetClockResponse, error) {
	if s.DevClock == nil {
		return nil, oven.Errorf(oven.ENotFound, "the dev clock is disabled")
	}
	by := oven.Millis(req.AdvanceMs)
	if by < 0 || by > oven.MaxClockAdvance {
		return nil, oven.Errorf(oven.EInvalid, "advance must be 0 to %d ms", oven.MaxClockAdvance.Milliseconds())
	}
	if err := s.DevClock.Advance(ctx, by); err != nil {
		return nil, err
	}
	return &ovenv1.SetClockResponse{NowMs: s.Clock.Now().UnixMilli()}, nil
}

// SetClock sets this shard's dev clock offset (the fan-out step of AdvanceClock).
func (s *Server) SetClock(_ context.Context, req *ovenv1.SetClockRequest) (*ovenv1.SetClockResponse, error) {
	if s.DevClock == nil {
		return nil, oven.Errorf(oven.ENotFound, "the dev clock is disabled")
	}
	s.DevClock.apply(oven.Millis(req.OffsetMs))
	return &ovenv1.SetClockResponse{NowMs: s.Clock.Now().UnixMilli()}, nil
}
