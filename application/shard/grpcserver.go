package shard

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/proto/ovenv1"
)

// GRPCDeps are what a shard's gRPC server needs besides its two services.
type GRPCDeps struct {
	ID      string
	Members cluster.Source // the current map, to name the owner in a refusal
	Table   *cluster.Table // the slots this shard serves, at which epochs
	// CheckBan refuses a banned player's game calls.
	CheckBan func(ctx context.Context, playerID string) error
	Registry prometheus.Registerer
	Log      *slog.Logger
	// Intercept, when set, wraps every call before the shard's own interceptor (tests
	// only: it can stall a call as a stopped process would).
	Intercept grpc.UnaryServerInterceptor
	// Count, when set, is told of every call (the pre-warming load meter).
	Count func()
}

// NewGRPCServer returns the shard's gRPC server: the Game and Admin services behind the
// one interceptor chain (deadline, ownership with fence tokens, bans, metrics, errors).
func NewGRPCServer(d GRPCDeps, game *Server, admin *AdminServer) *grpc.Server {
	chain := []grpc.UnaryServerInterceptor{unary(ownership{self: d.ID, members: d.Members, table: d.Table}, d.CheckBan, newRPCMetrics(d.Registry), d.Log)}
	if d.Count != nil {
		chain = append([]grpc.UnaryServerInterceptor{counting(d.Count)}, chain...)
	}
	if d.Intercept != nil {
		chain = append([]grpc.UnaryServerInterceptor{d.Intercept}, chain...)
	}
	srv := grpc.NewServer(
		grpc.ForceServerCodecV2(grpcerr.ServerCodec()), // text that is not UTF-8 is invalid_argument
		grpc.ChainUnaryInterceptor(chain...),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 5 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.MaxRecvMsgSize(1<<20),
	)
	ovenv1.RegisterGameServer(srv, game)
	ovenv1.RegisterAdminServer(srv, admin)
	return srv
}

// counting tells count of every call.
func counting(count func()) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		count()
		return handler(ctx, req)
	}
}
