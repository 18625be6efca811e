package shard

import (
	"context"
	"fmt"
	"log/slog"
	"path"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/grpcerr"
)

// rpcMetrics counts and times every gRPC call this shard serves.
type rpcMetrics struct {
	handled  *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newRPCMetrics(reg prometheus.Registerer) *rpcMetrics {
	m := &rpcMetrics{
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "oven_grpc_server_handled_total",
			Help: "gRPC calls served, by method and API error code (\"ok\" on success).",
		}, []string{"method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "oven_grpc_server_handling_seconds",
			Help:    "Latency of served gRPC calls.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method"}),
	}
	reg.MustRegister(m.handled, m.duration)
	return m
}

type playerKeyed interface{ GetPlayerId() string }

// unary is the shard's one interceptor chain: recover, time, refuse requests the codec
// could not decode (grpcerr.ServerCodec), check ownership, refuse
// banned players' game calls (checkBan), convert errors to gRPC statuses, log failures.
func unary(self string, members cluster.Source, checkBan func(ctx context.Context, playerID string) error, m *rpcMetrics, log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		method := path.Base(info.FullMethod)
		start := time.Now()
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic in handler", "method", method, "panic", r, "stack", string(debug.Stack()))
				err = fmt.Errorf("panic: %v", r)
			}
			code := oven.ErrorCode(err)
			if err != nil && code == oven.EInternal {
				log.Error("call failed", "method", method, "err", err)
			}
			if err == nil {
				code = "ok"
			} else if info := grpcerr.Info(err); info != nil {
				code = info.Reason
			}
			m.handled.WithLabelValues(method, code).Inc()
			m.duration.WithLabelValues(method).Observe(time.Since(start).Seconds())
			err = grpcerr.ToStatus(err)
		}()
		if err := grpcerr.Undecodable(req); err != nil {
			return nil, err
		}
		if k, ok := req.(playerKeyed); ok && k.GetPlayerId() != "" {
			if owner := members.Current().Owner(k.GetPlayerId()); owner.ID != self {
				return nil, grpcerr.WrongShard(owner.ID)
			}
			if bannable(info.FullMethod) {
				if err := checkBan(ctx, k.GetPlayerId()); err != nil {
					return nil, err
				}
			}
		}
		resp, err = handler(ctx, req)
		if _, isStatus := status.FromError(err); err != nil && !isStatus {
			err = fmt.Errorf("%s: %w", method, err)
		}
		return resp, err
	}
}
