// Package relay is the load test's baseline: a bare HTTP→gRPC relay built from the
// server's own code paths that does no game work. The real presentation handler
// (httpapi.New, served by httpapi.Serve) routes through the real application client
// (client.Router, over loopback gRPC) to shards that answer canned data without
// touching a store. Whatever the full stack costs beyond this relay is game work:
// stores, scripts, transactions.
package relay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/ovengames/oven/application/client"
	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/gamedata"
	"github.com/ovengames/oven/application/redisdb"
	"github.com/ovengames/oven/presentation/auth"
	"github.com/ovengames/oven/presentation/httpapi"
	"github.com/ovengames/oven/presentation/ratelimit"
	"github.com/ovengames/oven/proto/ovenv1"
)

// Config configures a relay.
type Config struct {
	Shards int // canned gRPC shards behind the router (the dev stack runs 3)
	// Members are canned shards already serving elsewhere (ServeCanned in another
	// process, as the stack's shards are); when set, Start starts none itself.
	Members []cluster.Member
	// HTTPAddr is where the HTTP API listens; "" picks a free loopback port.
	HTTPAddr string
	// Logger gets the presentation's access log, as in the real process; nil discards.
	Logger *slog.Logger
	// Document is the game data served as version 1; nil serves the shipped default.
	Document []byte
	// RatePerPlayer is the presentation's per-player rate limit, as in the real process
	// (OVEN_RATE_PLAYER, default 20 there, burst twice that), kept in the Redis of
	// RedisURL as the presentation keeps it in OVEN_REDIS_URL's. 0 or no RedisURL
	// leaves it off.
	RatePerPlayer float64
	RedisURL      string
}

// Relay is a running relay.
type Relay struct {
	URL    string // http://host:port
	cancel context.CancelFunc
	done   chan error
	srvs   []*grpc.Server
	router *client.Router
	redis  redis.UniversalClient // of the rate limit, or nil
}

// Start serves a relay until ctx ends or Close is called, and returns once it is ready.
func Start(ctx context.Context, cfg Config) (*Relay, error) {
	if cfg.Shards < 1 {
		cfg.Shards = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	doc := cfg.Document
	if doc == nil {
		var err error
		if doc, err = json.Marshal(gamedata.Default()); err != nil {
			return nil, err
		}
	}
	r := &Relay{done: make(chan error, 1)}
	members := cfg.Members
	if len(members) == 0 {
		var err error
		if members, r.srvs, err = serveCanned(cfg.Shards, doc); err != nil {
			return nil, err
		}
	}
	src, err := cluster.NewStatic(members)
	if err != nil {
		r.stopShards()
		return nil, err
	}
	key := make([]byte, auth.MinKeyLen)
	rand.Read(key)
	tokens, err := auth.NewSigner(key, 24*time.Hour)
	if err != nil {
		r.stopShards()
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.router = client.New(client.Config{Members: src})
	hc := httpapi.Config{
		Game: ovenv1.NewGameClient(r.router), Ready: r.router.Ready, Tokens: tokens, Registry: reg, Logger: cfg.Logger,
	}
	if cfg.RatePerPlayer > 0 && cfg.RedisURL != "" {
		if r.redis, err = redisdb.OpenDeadlines(cfg.RedisURL); err != nil {
			r.Close()
			return nil, err
		}
		hc.PlayerLimit = ratelimit.New(ratelimit.Config{Redis: r.redis, Name: "player", Log: cfg.Logger,
			Metrics: ratelimit.NewMetrics(reg), Limit: ratelimit.PerSecond(cfg.RatePerPlayer, max(1, int(2*cfg.RatePerPlayer)))})
	}
	h := httpapi.New(hc)
	addr := cfg.HTTPAddr
	if addr == "" {
		if addr, err = freeAddr(); err != nil {
			r.stopShards()
			return nil, err
		}
	}
	r.URL = "http://" + addr
	sctx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	go func() { r.done <- httpapi.Serve(sctx, addr, h, cfg.Logger) }()
	if err := r.waitReady(ctx); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *Relay) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-r.done:
			r.done <- err
			return fmt.Errorf("relay: http: %w", err)
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.URL+"/readyz", nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("relay: not ready after 10 s")
}

// Close stops the HTTP server (draining it) and the shards.
func (r *Relay) Close() error {
	var err error
	if r.cancel != nil {
		r.cancel()
		err = <-r.done
	}
	if r.router != nil {
		r.router.Close()
	}
	r.stopShards()
	if r.redis != nil {
		r.redis.Close()
	}
	return err
}

func (r *Relay) stopShards() { stopAll(r.srvs) }

func stopAll(srvs []*grpc.Server) {
	for _, s := range srvs {
		s.Stop()
	}
}

// ServeCanned serves n canned shards on loopback ports, with the shipped default game
// data, until stop is called.
func ServeCanned(n int) (members []cluster.Member, stop func(), err error) {
	doc, err := json.Marshal(gamedata.Default())
	if err != nil {
		return nil, nil, err
	}
	members, srvs, err := serveCanned(n, doc)
	if err != nil {
		return nil, nil, err
	}
	return members, func() { stopAll(srvs) }, nil
}

func serveCanned(n int, doc []byte) ([]cluster.Member, []*grpc.Server, error) {
	var members []cluster.Member
	var srvs []*grpc.Server
	for i := 1; i <= max(n, 1); i++ {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			stopAll(srvs)
			return nil, nil, fmt.Errorf("relay: listen: %w", err)
		}
		id := fmt.Sprintf("r%d", i)
		srv := grpc.NewServer(grpc.UnaryInterceptor(emptyAnswers))
		ovenv1.RegisterGameServer(srv, &Game{ShardID: id, Document: doc})
		go srv.Serve(lis)
		srvs = append(srvs, srv)
		members = append(members, cluster.Member{ID: id, Addr: lis.Addr().String()})
	}
	return members, srvs, nil
}

// freeAddr returns a loopback address whose port was free a moment ago (httpapi.Serve
// listens by address).
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Game is a shard that answers every call with canned data and touches no store.
// Answers depend only on the request, so a repeated settle gets the same answer.
type Game struct {
	ovenv1.UnimplementedGameServer
	ShardID  string
	Document []byte // the game data served as version 1
}

var _ ovenv1.GameServer = (*Game)(nil)

// AuthGuest maps a device to a stable player id by hashing it.
func (g *Game) AuthGuest(_ context.Context, req *ovenv1.AuthGuestRequest) (*ovenv1.AuthGuestResponse, error) {
	h := fnv.New64a()
	h.Write([]byte(req.DeviceId))
	return &ovenv1.AuthGuestResponse{PlayerId: strconv.FormatUint(h.Sum64()>>1|1, 10)}, nil
}

func (g *Game) profile(playerID string) *ovenv1.Profile {
	return &ovenv1.Profile{PlayerId: playerID, Name: "Guest", Level: 1, Coins: 1000,
		Lives: &ovenv1.Lives{Count: 5, Max: 5}, OwnedCookies: []string{"brave"}, ServedBy: g.ShardID}
}

// GetMe returns a canned profile.
func (g *Game) GetMe(_ context.Context, req *ovenv1.PlayerRequest) (*ovenv1.Profile, error) {
	return g.profile(req.PlayerId), nil
}

// UpdateMe returns a canned profile with the new name.
func (g *Game) UpdateMe(_ context.Context, req *ovenv1.UpdateMeRequest) (*ovenv1.Profile, error) {
	p := g.profile(req.PlayerId)
	p.Name = req.Name
	return p, nil
}

// GetGameData returns the shipped default document as version 1.
func (g *Game) GetGameData(context.Context, *ovenv1.GetGameDataRequest) (*ovenv1.GameData, error) {
	return &ovenv1.GameData{Version: 1, Document: g.Document}, nil
}

// BuyItem returns a canned profile.
func (g *Game) BuyItem(_ context.Context, req *ovenv1.BuyItemRequest) (*ovenv1.Profile, error) {
	return g.profile(req.PlayerId), nil
}

// StartPlay returns a new play id in the real format (start time, random bits).
func (g *Game) StartPlay(_ context.Context, req *ovenv1.StartPlayRequest) (*ovenv1.StartPlayResponse, error) {
	now := time.Now()
	var b [8]byte
	rand.Read(b[:])
	return &ovenv1.StartPlayResponse{
		PlayId:      strconv.FormatInt(now.UnixMilli(), 36) + "-" + hex.EncodeToString(b[:]),
		StartedAtMs: now.UnixMilli(), Seed: int64(b[0]) << 8,
		Lives: &ovenv1.Lives{Count: 4, Max: 5, NextLifeAtMs: now.Add(12 * time.Minute).UnixMilli()}, Coins: 1000,
	}, nil
}

// SettlePlay credits what the client reported; the answer depends only on the request.
func (g *Game) SettlePlay(_ context.Context, req *ovenv1.SettlePlayRequest) (*ovenv1.SettlePlayResponse, error) {
	exp := 10 + req.Score/1000
	return &ovenv1.SettlePlayResponse{CoinsEarned: req.Coins, Coins: 1000 + req.Coins, ExpEarned: exp, Exp: exp,
		Level: 1, BestScore: req.Score, WeeklyBest: req.Score, NewRecord: true}, nil
}

// Ready reports no problems: the relay has no stores.
func (g *Game) Ready(context.Context, *ovenv1.ReadyRequest) (*ovenv1.ReadyResponse, error) {
	return &ovenv1.ReadyResponse{ShardId: g.ShardID}, nil
}

// WhoOwns reports this shard.
func (g *Game) WhoOwns(_ context.Context, req *ovenv1.PlayerRequest) (*ovenv1.WhoOwnsResponse, error) {
	return &ovenv1.WhoOwnsResponse{ShardId: g.ShardID, Slot: int32(cluster.SlotOf(req.PlayerId))}, nil
}

// emptyAnswers answers a call that Game does not implement (the social RPCs, and any the
// proto gains later) with an empty message of the method's response type: a valid
// "nothing here" answer (no friends, an empty mailbox) that costs no work, so the relay
// keeps up with the proto without changes here.
func emptyAnswers(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	if status.Code(err) != codes.Unimplemented {
		return resp, err
	}
	if empty := emptyResponse(info.FullMethod); empty != nil {
		return empty, nil
	}
	return resp, err
}

// emptyResponse returns a new, empty response message of a method named
// "/package.Service/Method", or nil when the registry does not know it.
func emptyResponse(fullMethod string) any {
	svc, method := path.Split(fullMethod)
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(strings.Trim(svc, "/")))
	if err != nil {
		return nil
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil
	}
	md := sd.Methods().ByName(protoreflect.Name(method))
	if md == nil {
		return nil
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
	if err != nil {
		return nil
	}
	return mt.New().Interface()
}
