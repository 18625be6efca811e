package shard

import (
	"context"
	"fmt"
	"log/slog"
	"path"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/deadline"
	"github.com/ovengames/oven/application/fence"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/application/reqid"
)

// rpcMetrics counts and times every gRPC call this shard serves.
type rpcMetrics struct {
	handled  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	fenced   *prometheus.CounterVec
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
		fenced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "oven_fenced_writes_total",
			Help: "Writes a store refused because this shard's epoch for the slot was stale.",
		}, []string{"store"}),
	}
	reg.MustRegister(m.handled, m.duration, m.fenced)
	return m
}

type playerKeyed interface{ GetPlayerId() string }

// ownership is what the interceptor needs to admit a call on a player's slot.
type ownership struct {
	self    string
	members cluster.Source // the current map, to name the owner in a refusal
	table   *cluster.Table // the slots this shard serves, at which epochs
}

// enter admits a call for playerID: it returns ctx carrying the slot's fence token and a
// done function, or the refusal naming the owner.
func (o ownership) enter(ctx context.Context, playerID string) (context.Context, func(), error) {
	slot := cluster.SlotOf(playerID)
	o.catchUp(ctx)
	mine := func() bool { return o.members.Current().OwnerOfSlot(slot).ID == o.self }
	tok, done, err := o.table.Enter(ctx, slot, mine)
	if err != nil {
		if owner := o.members.Current().OwnerOfSlot(slot); owner.ID != o.self {
			return ctx, nil, grpcerr.WrongShard(owner.ID, o.revision())
		}
		if ctx.Err() != nil {
			return ctx, nil, ctx.Err()
		}
		return ctx, nil, oven.Errorf(oven.EUnavailable, "the player's slot is changing owner")
	}
	return fence.With(ctx, tok), done, nil
}

// revision is the membership revision of the shard's view (0 with a static list).
func (o ownership) revision() int64 {
	if r, ok := o.members.(interface{ Revision() int64 }); ok {
		return r.Revision()
	}
	return 0
}

// catchUp waits (briefly) until the shard's view is at least as new as the view of the
// shard that sent the caller here (cluster.MinRevisionKey).
func (o ownership) catchUp(ctx context.Context) {
	var min int64
	for _, v := range metadata.ValueFromIncomingContext(ctx, cluster.MinRevisionKey) {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			min = max(min, n)
		}
	}
	for deadline := time.Now().Add(o.table.AcquireWait); o.revision() < min && time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// refusal turns a store's fence refusal into "not the owner": the map has moved on
// and the caller should retry at the owner it names.
func (o ownership) refusal(err error, m *rpcMetrics) error {
	fe, ok := fence.Refused(err)
	if !ok {
		return err
	}
	m.fenced.WithLabelValues(fe.Store).Inc()
	if owner := o.members.Current().OwnerOfSlot(fe.Slot); owner.ID != o.self {
		return grpcerr.WrongShard(owner.ID, o.revision())
	}
	return &oven.Error{Code: oven.EUnavailable, Message: "the player's slot is changing owner", Cause: err}
}

// unary is the shard's one interceptor chain: recover, time, refuse a call whose
// caller's deadline has passed (package deadline), refuse a request the codec could
// not decode (grpcerr.ServerCodec), check ownership, refuse banned
// players' game calls (checkBan), convert errors to gRPC statuses (store outages to
// unavailable, storeOutage), log failures (and, at debug level, every call). The
// caller's request id (package reqid) goes into the context first, so that every line
// logged with it carries the id and the shard's own calls pass it on.
func unary(own ownership, checkBan func(ctx context.Context, playerID string) error, m *rpcMetrics, log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		method := path.Base(info.FullMethod)
		start := time.Now()
		ctx = reqid.Receive(ctx) // before anything logs: every line carries it
		defer func() {
			if r := recover(); r != nil {
				log.ErrorContext(ctx, "panic in handler", "method", method, "panic", r, "stack", string(debug.Stack()))
				err = fmt.Errorf("panic: %v", r)
			}
			err = storeOutage(err)
			code := oven.ErrorCode(err)
			if err != nil && code == oven.EInternal {
				log.ErrorContext(ctx, "call failed", "method", method, "err", err)
			}
			if err == nil {
				code = "ok"
			} else if info := grpcerr.Info(err); info != nil {
				code = info.Reason
			}
			elapsed := time.Since(start)
			m.handled.WithLabelValues(method, code).Inc()
			m.duration.WithLabelValues(method).Observe(elapsed.Seconds())
			if log.Enabled(ctx, slog.LevelDebug) {
				// One line per call, to follow a request through the shards.
				log.LogAttrs(ctx, slog.LevelDebug, "call served", slog.String("method", method),
					slog.String("code", code), slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000))
			}
			err = grpcerr.ToStatus(err)
		}()
		ctx, cancel, err := deadline.Receive(ctx)
		defer cancel()
		if err == nil {
			err = grpcerr.Undecodable(req)
		}
		if err != nil {
			return nil, err
		}
		if k, ok := req.(playerKeyed); ok && k.GetPlayerId() != "" {
			var done func()
			if ctx, done, err = own.enter(ctx, k.GetPlayerId()); err != nil {
				return nil, err
			}
			defer done()
			if bannable(info.FullMethod) {
				if err := checkBan(ctx, k.GetPlayerId()); err != nil {
					return nil, err
				}
			}
		}
		resp, err = handler(ctx, req)
		err = own.refusal(err, m)
		if _, isStatus := status.FromError(err); err != nil && !isStatus {
			err = fmt.Errorf("%s: %w", method, err)
		}
		return resp, err
	}
}
