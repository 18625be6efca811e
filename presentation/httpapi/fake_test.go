package httpapi_test

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/proto/ovenv1"
)

// call is one recorded gRPC call of the fake.
type call struct {
	Method string
	Req    proto.Message
}

// fakeGame is an in-memory ovenv1.GameClient that records its calls. The HTTP layer
// holds no state of its own, so a fake that answers canned data tests all of it.
type fakeGame struct {
	mu    sync.Mutex
	calls []call
	// err, when set, is what every call returns.
	err error
	// gamedata holds the published versions; current names the current one.
	gamedata map[int64][]byte
	current  int64
	// block, when set, holds GetGameData until it is closed; started is signalled
	// (without blocking) on entry.
	block   chan struct{}
	started chan struct{}
	// panicOn makes the named method panic.
	panicOn string
	// replies, keyed by method name, replace the canned answer of that method.
	replies map[string]proto.Message
}

var _ ovenv1.GameClient = (*fakeGame)(nil)

func newFakeGame() *fakeGame {
	return &fakeGame{
		gamedata: map[int64][]byte{
			2: []byte(`{"version":2}`),
			3: []byte(`{"version":3,"cookies":[{"id":"brave","name":"Brave","price":0}]}`),
		},
		current: 3,
	}
}

func (f *fakeGame) record(method string, req proto.Message) error {
	// Like the real wire, refuse what protobuf cannot encode (a string that is not
	// UTF-8): grpc-go fails such a call with Internal before it leaves the client.
	if _, err := proto.Marshal(req); err != nil {
		return status.Error(codes.Internal, "grpc: error while marshaling: "+err.Error())
	}
	f.mu.Lock()
	f.calls = append(f.calls, call{Method: method, Req: proto.Clone(req)})
	err, panicOn := f.err, f.panicOn
	f.mu.Unlock()
	if panicOn == method {
		panic("fake panic in " + method)
	}
	return err
}

// take returns the calls recorded so far and forgets them.
func (f *fakeGame) take() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	calls := f.calls
	f.calls = nil
	return calls
}

func (f *fakeGame) Calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

// setReply makes method answer m instead of its canned answer.
func (f *fakeGame) setReply(method string, m proto.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.replies == nil {
		f.replies = make(map[string]proto.Message)
	}
	f.replies[method] = m
}

// reply returns a copy of the answer set for method, else canned.
func reply[M proto.Message](f *fakeGame, method string, canned M) M {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := f.replies[method]; ok {
		return proto.Clone(m).(M)
	}
	return canned
}

func (f *fakeGame) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func profile(playerID string) *ovenv1.Profile {
	return &ovenv1.Profile{
		PlayerId: playerID, Name: "Guest", Level: 1, Coins: 1000,
		Lives:        &ovenv1.Lives{Count: 5, Max: 5},
		OwnedCookies: []string{"brave"},
		ServedBy:     "shard-a",
	}
}

func (f *fakeGame) AuthGuest(_ context.Context, in *ovenv1.AuthGuestRequest, _ ...grpc.CallOption) (*ovenv1.AuthGuestResponse, error) {
	if err := f.record("AuthGuest", in); err != nil {
		return nil, err
	}
	return &ovenv1.AuthGuestResponse{PlayerId: "p-" + in.GetDeviceId(), Created: true}, nil
}

func (f *fakeGame) GetMe(_ context.Context, in *ovenv1.PlayerRequest, _ ...grpc.CallOption) (*ovenv1.Profile, error) {
	if err := f.record("GetMe", in); err != nil {
		return nil, err
	}
	return profile(in.GetPlayerId()), nil
}

func (f *fakeGame) UpdateMe(_ context.Context, in *ovenv1.UpdateMeRequest, _ ...grpc.CallOption) (*ovenv1.Profile, error) {
	if err := f.record("UpdateMe", in); err != nil {
		return nil, err
	}
	p := profile(in.GetPlayerId())
	p.Name = in.GetName()
	return p, nil
}

func (f *fakeGame) GetGameData(ctx context.Context, in *ovenv1.GetGameDataRequest, _ ...grpc.CallOption) (*ovenv1.GameData, error) {
	if err := f.record("GetGameData", in); err != nil {
		return nil, err
	}
	if f.started != nil {
		select {
		case f.started <- struct{}{}:
		default:
		}
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	v := in.GetVersion()
	if v == 0 {
		v = f.current
	}
	doc, ok := f.gamedata[v]
	if !ok {
		return nil, grpcerr.ToStatus(oven.Errorf(oven.ENotFound, "no game data version %d", v))
	}
	return &ovenv1.GameData{Version: v, Document: doc}, nil
}

func (f *fakeGame) BuyItem(_ context.Context, in *ovenv1.BuyItemRequest, _ ...grpc.CallOption) (*ovenv1.Profile, error) {
	if err := f.record("BuyItem", in); err != nil {
		return nil, err
	}
	p := profile(in.GetPlayerId())
	p.OwnedPets = append(p.OwnedPets, in.GetItemId())
	return p, nil
}

func (f *fakeGame) StartPlay(_ context.Context, in *ovenv1.StartPlayRequest, _ ...grpc.CallOption) (*ovenv1.StartPlayResponse, error) {
	if err := f.record("StartPlay", in); err != nil {
		return nil, err
	}
	return &ovenv1.StartPlayResponse{
		PlayId: "play-1", StartedAtMs: 1_772_445_600_000, Seed: 42,
		Lives: &ovenv1.Lives{Count: 4, Max: 5, NextLifeAtMs: 1_772_446_320_000}, Coins: 900,
	}, nil
}

func (f *fakeGame) SettlePlay(_ context.Context, in *ovenv1.SettlePlayRequest, _ ...grpc.CallOption) (*ovenv1.SettlePlayResponse, error) {
	if err := f.record("SettlePlay", in); err != nil {
		return nil, err
	}
	return &ovenv1.SettlePlayResponse{
		CoinsEarned: in.GetCoins(), Coins: 1000 + in.GetCoins(), ExpEarned: 10, Exp: 10,
		Level: 1, BestScore: in.GetScore(), WeeklyBest: in.GetScore(), NewRecord: true,
	}, nil
}

func (f *fakeGame) AdvanceClock(_ context.Context, in *ovenv1.AdvanceClockRequest, _ ...grpc.CallOption) (*ovenv1.SetClockResponse, error) {
	if err := f.record("AdvanceClock", in); err != nil {
		return nil, err
	}
	return &ovenv1.SetClockResponse{NowMs: 1_772_445_600_000 + in.GetAdvanceMs()}, nil
}

func (f *fakeGame) SetClock(_ context.Context, in *ovenv1.SetClockRequest, _ ...grpc.CallOption) (*ovenv1.SetClockResponse, error) {
	if err := f.record("SetClock", in); err != nil {
		return nil, err
	}
	return &ovenv1.SetClockResponse{NowMs: 1_772_445_600_000 + in.GetOffsetMs()}, nil
}

func (f *fakeGame) Ready(_ context.Context, in *ovenv1.ReadyRequest, _ ...grpc.CallOption) (*ovenv1.ReadyResponse, error) {
	if err := f.record("Ready", in); err != nil {
		return nil, err
	}
	return &ovenv1.ReadyResponse{ShardId: "shard-a"}, nil
}

func (f *fakeGame) WhoOwns(_ context.Context, in *ovenv1.PlayerRequest, _ ...grpc.CallOption) (*ovenv1.WhoOwnsResponse, error) {
	if err := f.record("WhoOwns", in); err != nil {
		return nil, err
	}
	return &ovenv1.WhoOwnsResponse{ShardId: "shard-a"}, nil
}

func (f *fakeGame) AddFriend(_ context.Context, in *ovenv1.FriendRequest, _ ...grpc.CallOption) (*ovenv1.FriendResponse, error) {
	if err := f.record("AddFriend", in); err != nil {
		return nil, err
	}
	return &ovenv1.FriendResponse{}, nil
}

func (f *fakeGame) RemoveFriend(_ context.Context, in *ovenv1.FriendRequest, _ ...grpc.CallOption) (*ovenv1.FriendResponse, error) {
	if err := f.record("RemoveFriend", in); err != nil {
		return nil, err
	}
	return &ovenv1.FriendResponse{}, nil
}

func (f *fakeGame) ListFriends(_ context.Context, in *ovenv1.PlayerRequest, _ ...grpc.CallOption) (*ovenv1.FriendList, error) {
	if err := f.record("ListFriends", in); err != nil {
		return nil, err
	}
	return reply(f, "ListFriends", &ovenv1.FriendList{Friends: []*ovenv1.Friend{
		{PlayerId: "p-2", Name: "Ginger", WeeklyBest: 5300, CanSendLife: true},
		{PlayerId: "p-3", Name: "Choco", WeeklyBest: 0, NextSendAtMs: 1_772_447_400_000},
	}}), nil
}

func (f *fakeGame) SendLife(_ context.Context, in *ovenv1.FriendRequest, _ ...grpc.CallOption) (*ovenv1.SendLifeResponse, error) {
	if err := f.record("SendLife", in); err != nil {
		return nil, err
	}
	return &ovenv1.SendLifeResponse{GiftPoints: 30, NextSendAtMs: 1_772_449_200_000}, nil
}

func (f *fakeGame) SendLives(_ context.Context, in *ovenv1.PlayerRequest, _ ...grpc.CallOption) (*ovenv1.SendLivesResponse, error) {
	if err := f.record("SendLives", in); err != nil {
		return nil, err
	}
	return reply(f, "SendLives", &ovenv1.SendLivesResponse{Sent: []string{"p-2", "p-4"}, Skipped: 1, GiftPoints: 40}), nil
}

func (f *fakeGame) ListMailbox(_ context.Context, in *ovenv1.PlayerRequest, _ ...grpc.CallOption) (*ovenv1.Mailbox, error) {
	if err := f.record("ListMailbox", in); err != nil {
		return nil, err
	}
	return reply(f, "ListMailbox", &ovenv1.Mailbox{Items: []*ovenv1.MailItem{
		{Id: "m-2", Kind: "coins", Amount: 500, Message: "Sorry for the downtime",
			SentAtMs: 1_772_445_600_000, ExpiresAtMs: 1_773_050_400_000},
		{Id: "m-1", Kind: "life", Amount: 1, FromPlayerId: "p-2",
			SentAtMs: 1_772_442_000_000, ExpiresAtMs: 1_773_046_800_000},
	}}), nil
}

func (f *fakeGame) AcceptMail(_ context.Context, in *ovenv1.AcceptMailRequest, _ ...grpc.CallOption) (*ovenv1.AcceptMailResponse, error) {
	if err := f.record("AcceptMail", in); err != nil {
		return nil, err
	}
	return &ovenv1.AcceptMailResponse{Accepted: 1, Lives: &ovenv1.Lives{Count: 6, Max: 5}, Coins: 1000}, nil
}

func (f *fakeGame) AcceptAllMail(_ context.Context, in *ovenv1.PlayerRequest, _ ...grpc.CallOption) (*ovenv1.AcceptMailResponse, error) {
	if err := f.record("AcceptAllMail", in); err != nil {
		return nil, err
	}
	return &ovenv1.AcceptMailResponse{
		Accepted: 2, Lives: &ovenv1.Lives{Count: 3, Max: 5, NextLifeAtMs: 1_772_446_320_000}, Coins: 1500,
	}, nil
}

func (f *fakeGame) DeliverMail(_ context.Context, in *ovenv1.DeliverMailRequest, _ ...grpc.CallOption) (*ovenv1.DeliverMailResponse, error) {
	if err := f.record("DeliverMail", in); err != nil {
		return nil, err
	}
	return &ovenv1.DeliverMailResponse{Delivered: true}, nil
}

func (f *fakeGame) FriendsChanged(_ context.Context, in *ovenv1.PlayerRequest, _ ...grpc.CallOption) (*ovenv1.FriendResponse, error) {
	if err := f.record("FriendsChanged", in); err != nil {
		return nil, err
	}
	return &ovenv1.FriendResponse{}, nil
}

// board is the fake's leaderboard week: Monday 2026-03-02 00:00 Asia/Seoul, resetting a
// week later.
func board(entries ...*ovenv1.LeaderboardEntry) *ovenv1.Leaderboard {
	return &ovenv1.Leaderboard{Week: "2026-03-02", ResetsAtMs: 1_772_982_000_000, Entries: entries}
}

func (f *fakeGame) FriendsLeaderboard(_ context.Context, in *ovenv1.PlayerRequest, _ ...grpc.CallOption) (*ovenv1.Leaderboard, error) {
	if err := f.record("FriendsLeaderboard", in); err != nil {
		return nil, err
	}
	return reply(f, "FriendsLeaderboard", board(
		&ovenv1.LeaderboardEntry{Rank: 1, PlayerId: "p-2", Name: "Ginger", Score: 5300},
		&ovenv1.LeaderboardEntry{Rank: 2, PlayerId: in.GetPlayerId(), Name: "Guest", Score: 1200},
	)), nil
}

func (f *fakeGame) GlobalLeaderboard(_ context.Context, in *ovenv1.GlobalLeaderboardRequest, _ ...grpc.CallOption) (*ovenv1.Leaderboard, error) {
	if err := f.record("GlobalLeaderboard", in); err != nil {
		return nil, err
	}
	return reply(f, "GlobalLeaderboard", board(
		&ovenv1.LeaderboardEntry{Rank: 1, PlayerId: "p-9", Name: "Pro", Score: 99000},
	)), nil
}

func (f *fakeGame) AroundMe(_ context.Context, in *ovenv1.PlayerRequest, _ ...grpc.CallOption) (*ovenv1.Leaderboard, error) {
	if err := f.record("AroundMe", in); err != nil {
		return nil, err
	}
	b := board(
		&ovenv1.LeaderboardEntry{Rank: 41, PlayerId: "p-8", Name: "Above", Score: 1300},
		&ovenv1.LeaderboardEntry{Rank: 42, PlayerId: in.GetPlayerId(), Name: "Guest", Score: 1200},
	)
	b.Rank, b.Score = 42, 1200
	return reply(f, "AroundMe", b), nil
}

func (f *fakeGame) ListEvents(_ context.Context, in *ovenv1.ListEventsRequest, _ ...grpc.CallOption) (*ovenv1.EventList, error) {
	if err := f.record("ListEvents", in); err != nil {
		return nil, err
	}
	return &ovenv1.EventList{Events: []*ovenv1.LiveEvent{{Id: "e-1", Kind: "infinite_lives", Title: "Weekend",
		StartsAtMs: 1772445600000, EndsAtMs: 1772452800000, Message: "internal", Status: "running"}}}, nil
}

func (f *fakeGame) RegisterPushToken(_ context.Context, in *ovenv1.PushTokenRequest, _ ...grpc.CallOption) (*ovenv1.PushTokenResponse, error) {
	if err := f.record("RegisterPushToken", in); err != nil {
		return nil, err
	}
	return reply(f, "RegisterPushToken", &ovenv1.PushTokenResponse{PushTokens: 1}), nil
}

func (f *fakeGame) RemovePushToken(_ context.Context, in *ovenv1.PushTokenRequest, _ ...grpc.CallOption) (*ovenv1.PushTokenResponse, error) {
	if err := f.record("RemovePushToken", in); err != nil {
		return nil, err
	}
	return reply(f, "RemovePushToken", &ovenv1.PushTokenResponse{}), nil
}
