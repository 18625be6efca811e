// Package client is the application tier's one export to its callers: a gRPC connection
// that routes every call to the shard owning the call's player.
//
// Router implements grpc.ClientConnInterface, so ovenv1.NewGameClient(router) gives a
// typed client whose calls land on the right shard: a request with a non-empty
// player_id goes to that player's owner; any other request goes to the shards in turn.
// When a shard answers that it does not own the player (its map moved on), the call is
// retried once at the owner it names.
package client

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/cluster"
	"github.com/ovengames/oven/application/deadline"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/application/reqid"
	"github.com/ovengames/oven/proto/ovenv1"
)

// DefaultTimeout bounds a call whose context carries no deadline.
const DefaultTimeout = 5 * time.Second

// reconnect is how a connection to a shard that went away is retried. gRPC's default
// backoff grows to 120 s, so a shard that restarted in a second stayed unserved for as
// long as the backoff had grown; shards restart in about a second, so retry often.
var reconnect = grpc.ConnectParams{
	Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
	MinConnectTimeout: 3 * time.Second,
}

// Config configures a Router.
type Config struct {
	Members     cluster.Source
	DialOptions []grpc.DialOption // extra options, e.g. interceptors for metrics
}

// Router routes gRPC calls to the owning shard. It is safe for concurrent use.
type Router struct {
	members cluster.Source
	opts    []grpc.DialOption
	next    atomic.Uint64

	mu    sync.Mutex
	conns map[string]*grpc.ClientConn // by member address
}

var _ grpc.ClientConnInterface = (*Router)(nil)

// New returns a Router. Connections are made lazily, on first use of each shard.
func New(cfg Config) *Router {
	opts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// A request protobuf cannot encode (text that is not UTF-8) is the caller's
		// invalid_argument, not an internal error.
		grpc.WithChainUnaryInterceptor(grpcerr.UnaryClientInterceptor,
			// The presentation tier's request id, and a shard's on its own calls.
			reqid.UnaryClientInterceptor),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 5 * time.Second}),
		grpc.WithConnectParams(reconnect),
	}, cfg.DialOptions...)
	return &Router{members: cfg.Members, opts: opts, conns: map[string]*grpc.ClientConn{}}
}

// playerKeyed is implemented by every generated request that names a player.
type playerKeyed interface{ GetPlayerId() string }

// Invoke sends the call to the owner of the request's player (or any shard). A failure
// comes back decoded: an error whose chain holds the *oven.Error the shard answered
// (grpcerr.FromCall), so callers speak Oven's error vocabulary, not gRPC's.
func (r *Router) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	if err := r.invoke(ctx, method, args, reply, opts...); err != nil {
		return grpcerr.FromCall(path.Base(method), err)
	}
	return nil
}

func (r *Router) invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	ctx = deadline.Send(ctx) // the shard starts no write after it (package deadline)
	if rv, ok := r.members.(interface{ Revision() int64 }); ok && rv.Revision() > 0 {
		// The shard judges ownership on a view at least as new as the one routing here.
		ctx = metadata.AppendToOutgoingContext(ctx, cluster.MinRevisionKey, strconv.FormatInt(rv.Revision(), 10))
	}
	m := r.members.Current()
	target := r.pick(m, args)
	if target.ID == "" {
		return errNoOwner
	}
	err := r.invokeAt(ctx, target, method, args, reply, opts)
	pause := 10 * time.Millisecond
	for attempt := 1; attempt < maxAttempts && err != nil; attempt++ {
		next, ok := r.retryAt(m, target, args, err)
		if !ok {
			break
		}
		if attempt > 1 { // two shards whose views are a moment apart: let them converge
			select {
			case <-ctx.Done():
				return err
			case <-time.After(pause):
			}
			pause *= 2
		}
		if info := grpcerr.Info(err); info != nil && info.Metadata["rev"] != "" && info.Metadata["rev"] != "0" {
			ctx = metadata.AppendToOutgoingContext(ctx, cluster.MinRevisionKey, info.Metadata["rev"])
		}
		target, m = next, r.members.Current()
		err = r.invokeAt(ctx, target, method, args, reply, opts)
	}
	return err
}

// maxAttempts bounds the tries of one call. One retry at the owner a refusal names is
// the rule; the others cover the moment in a handover when the named owner's own view
// is behind and it names the previous owner back (waits of 10, 20, 40, 80 ms between).
const maxAttempts = 6

// noOwner answers a call while no shard is active (a cluster starting or all gone).
var errNoOwner = &oven.Error{Code: oven.EUnavailable, Message: "no shard serves this player yet", RetryAfter: time.Second}

// retryAt decides the one retry of a call that target refused or could not take: at the
// owner a refusal names, or, when target is unreachable, at the player's new owner once
// membership has moved the player (a shard that left or died). A late write by the old
// owner is refused by the stores' fences, so the retry cannot apply a write twice.
func (r *Router) retryAt(m *cluster.Map, target cluster.Member, args any, err error) (cluster.Member, bool) {
	if info := grpcerr.Info(err); info != nil && info.Reason == grpcerr.CodeWrongShard {
		owner, ok := m.Member(info.Metadata["owner"])
		if !ok {
			owner, ok = r.members.Current().Member(info.Metadata["owner"])
		}
		return owner, ok && owner != target
	}
	if status.Code(err) != codes.Unavailable || grpcerr.Info(err) != nil {
		return cluster.Member{}, false
	}
	if k, ok := args.(playerKeyed); ok && k.GetPlayerId() != "" {
		owner := r.members.Current().Owner(k.GetPlayerId())
		return owner, owner.ID != "" && owner != target
	}
	return cluster.Member{}, false
}

func (r *Router) pick(m *cluster.Map, args any) cluster.Member {
	if k, ok := args.(playerKeyed); ok && k.GetPlayerId() != "" {
		return m.Owner(k.GetPlayerId())
	}
	ms := m.Members()
	if len(ms) == 0 {
		return cluster.Member{}
	}
	return ms[r.next.Add(1)%uint64(len(ms))]
}

func (r *Router) invokeAt(ctx context.Context, mem cluster.Member, method string, args, reply any, opts []grpc.CallOption) error {
	cc, err := r.conn(mem.Addr)
	if err != nil {
		return status.Error(codes.Unavailable, err.Error())
	}
	return cc.Invoke(ctx, method, args, reply, opts...)
}

// NewStream is not supported: Oven's service is unary only.
func (r *Router) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Unimplemented, "client: streams are not routed")
}

func (r *Router) conn(addr string) (*grpc.ClientConn, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cc, ok := r.conns[addr]; ok {
		return cc, nil
	}
	cc, err := grpc.NewClient(addr, r.opts...)
	if err != nil {
		return nil, fmt.Errorf("client: dial %s: %w", addr, err)
	}
	r.conns[addr] = cc
	return cc, nil
}

// Shard returns a client bound to one member, bypassing routing (fan-out calls such as
// Ready and SetClock).
func (r *Router) Shard(m cluster.Member) (ovenv1.GameClient, error) {
	cc, err := r.conn(m.Addr)
	if err != nil {
		return nil, err
	}
	return ovenv1.NewGameClient(cc), nil
}

// Members returns the current members.
func (r *Router) Members() []cluster.Member { return r.members.Current().Members() }

// Owner returns the member owning playerID in the current map.
func (r *Router) Owner(playerID string) cluster.Member { return r.members.Current().Owner(playerID) }

// Ready asks every shard whether it and its stores answer; nil when all do and at
// least one shard is known.
func (r *Router) Ready(ctx context.Context) error {
	ms := r.Members()
	if len(ms) == 0 {
		return errors.New("no shard is active")
	}
	errs := make([]error, len(ms))
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Go(func() {
			c, err := r.Shard(m)
			if err == nil {
				var resp *ovenv1.ReadyResponse
				if resp, err = c.Ready(ctx, &ovenv1.ReadyRequest{}); err == nil && len(resp.Problems) > 0 {
					err = errors.New(strings.Join(resp.Problems, "; "))
				}
			}
			if err != nil {
				errs[i] = fmt.Errorf("shard %s: %w", m.ID, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Close closes every connection.
func (r *Router) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for addr, cc := range r.conns {
		errs = append(errs, cc.Close())
		delete(r.conns, addr)
	}
	return errors.Join(errs...)
}
