package issuedat_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/metadata"

	"github.com/ovengames/oven/application/bans/issuedat"
)

// arrive turns what a caller sends into what the shard receives.
func arrive(ctx context.Context) context.Context {
	md, _ := metadata.FromOutgoingContext(ctx)
	return metadata.NewIncomingContext(context.Background(), md)
}

func TestSendReceive(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 123456789, time.UTC)
	raw := func(vs ...string) context.Context {
		md := metadata.MD{}
		for _, v := range vs {
			md.Append(issuedat.MetadataKey, v)
		}
		return metadata.NewIncomingContext(context.Background(), md)
	}
	type got struct {
		At    time.Time
		Found bool
	}
	tests := []struct {
		name string
		ctx  context.Context
		want got
	}{
		{"sent", arrive(issuedat.Send(context.Background(), at)), got{at.Truncate(time.Millisecond), true}},
		{"unknown is the epoch", arrive(issuedat.Send(context.Background(), time.Time{})), got{time.UnixMilli(0), true}},
		{"not sent", arrive(context.Background()), got{time.UnixMilli(0), false}},
		{"oldest of several", raw("2000", "1000", "3000"), got{time.UnixMilli(1000), true}},
		{"garbage is the epoch", raw("2000", "soon"), got{time.UnixMilli(0), true}},
		{"negative is the epoch", raw("-5"), got{time.UnixMilli(0), true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, found := issuedat.Receive(tt.ctx)
			if diff := cmp.Diff(tt.want, got{at, found}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
