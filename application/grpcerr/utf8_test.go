package grpcerr_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/proto/ovenv1"
)

// TestUnaryClientInterceptor: only a request that holds invalid UTF-8 turns an
// Internal failure into invalid_argument; any other failure passes as it was.
func TestUnaryClientInterceptor(t *testing.T) {
	marshal := status.Error(codes.Internal, "grpc: error while marshaling: string field contains invalid UTF-8")
	tests := []struct {
		name string
		req  any
		err  error
		want string
	}{
		{"bad player id", &ovenv1.PlayerRequest{PlayerId: "\xff"}, marshal, oven.EInvalid},
		{"bad string in a list", &ovenv1.StartPlayRequest{PlayerId: "1", CookieId: "brave", Boosts: []string{"ok", "\xfe"}}, marshal, oven.EInvalid},
		{"bad string in a nested message", &ovenv1.DeliverMailRequest{PlayerId: "1", Item: &ovenv1.MailItem{Message: "\xc3"}}, marshal, oven.EInvalid},
		{"valid request, internal failure", &ovenv1.PlayerRequest{PlayerId: "1"}, marshal, oven.EInternal},
		{"a shard's own internal error", &ovenv1.PlayerRequest{PlayerId: "\xff"}, grpcerr.ToStatus(oven.Errorf(oven.EInternal, "boom")), oven.EInternal},
		{"unavailable", &ovenv1.PlayerRequest{PlayerId: "\xff"}, status.Error(codes.Unavailable, "down"), oven.EUnavailable},
		{"success", &ovenv1.PlayerRequest{PlayerId: "1"}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return tt.err }
			err := grpcerr.UnaryClientInterceptor(context.Background(), "/m", tt.req, nil, nil, invoker)
			if got := oven.ErrorCode(grpcerr.FromStatus(err)); got != tt.want {
				t.Errorf("code %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}
