package httpapi_test

import (
	"context"
	"sync"

	"google.golang.org/grpc"
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
	f.mu.Lock()
	f.calls = append(f.calls, call{Method: method, Req: proto.Clone(req)})
	err, panicOn := f.err, f.panicOn
	f.mu.Unlock()
	if panicOn == method {
		panic("fake panic in " + method)
	}
	return err
}

func (f *fakeGame) Calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
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
