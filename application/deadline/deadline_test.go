package deadline_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/deadline"
)

// received is what a shard sees of an outgoing context: its metadata, as incoming, on a
// context with no deadline of its own (as a resumed shard computes one afresh).
func received(out context.Context) context.Context {
	md, _ := metadata.FromOutgoingContext(out)
	return metadata.NewIncomingContext(context.Background(), md)
}

func TestDeadlineTravelsAndRefusesLateWrites(t *testing.T) {
	out, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	want, _ := out.Deadline()
	ctx, done, err := deadline.Receive(received(deadline.Send(out)))
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	got, ok := ctx.Deadline()
	if !ok || got.After(want) || want.Sub(got) > time.Millisecond {
		t.Errorf("call deadline %v (%v), want the caller's %v", got, ok, want)
	}
	if err := deadline.Check(ctx); err != nil {
		t.Errorf("before the deadline: %v", err)
	}
	time.Sleep(time.Until(want) + 10*time.Millisecond)
	if err := deadline.Check(context.WithoutCancel(ctx)); oven.ErrorCode(err) != oven.EUnavailable {
		t.Errorf("after the deadline, even on a detached context: %v, want unavailable", err)
	}
	if _, _, err := deadline.Receive(received(deadline.Send(out))); oven.ErrorCode(err) != oven.EUnavailable {
		t.Errorf("a call received after its deadline: %v, want unavailable", err)
	}
}

func TestNoDeadlinePassesAndTheEarliestWins(t *testing.T) {
	ctx, done, err := deadline.Receive(context.Background())
	if err != nil || deadline.Check(ctx) != nil {
		t.Fatalf("no deadline: %v", err)
	}
	done()
	late, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	early, cancel2 := context.WithTimeout(deadline.Send(late), time.Minute)
	defer cancel2()
	ctx, done, err = deadline.Receive(received(deadline.Send(early))) // relayed: two values
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	want, _ := early.Deadline()
	if got, _ := ctx.Deadline(); got.After(want) {
		t.Errorf("deadline %v, want the earliest %v", got, want)
	}
}
