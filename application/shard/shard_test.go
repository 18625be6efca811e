package shard_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/grpcerr"
	"github.com/ovengames/oven/application/shard/shardtest"
	"github.com/ovengames/oven/proto/ovenv1"
)

var env *shardtest.Env

func TestMain(m *testing.M) { shardtest.Main(m, &env) }

func guest(t *testing.T, c *shardtest.Cluster, device string) string {
	t.Helper()
	resp, err := c.Game.AuthGuest(context.Background(), &ovenv1.AuthGuestRequest{DeviceId: device})
	if err != nil {
		t.Fatal(err)
	}
	return resp.PlayerId
}

func TestGuestIsStablePerDevice(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{})
	a := guest(t, c, "device-aaaa-1")
	b := guest(t, c, "device-aaaa-1")
	other := guest(t, c, "device-bbbb-2")
	if a != b {
		t.Errorf("same device gave players %s and %s", a, b)
	}
	if a == other {
		t.Errorf("two devices share player %s", a)
	}
}

func TestConcurrentFirstAuthCreatesOnePlayer(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{})
	ids := make(chan string, 20)
	for range 20 {
		go func() {
			resp, err := c.Game.AuthGuest(context.Background(), &ovenv1.AuthGuestRequest{DeviceId: "racing-device"})
			if err != nil {
				t.Error(err)
				ids <- ""
				return
			}
			ids <- resp.PlayerId
		}()
	}
	first := <-ids
	for range 19 {
		if id := <-ids; id != first {
			t.Fatalf("device mapped to %s and %s", first, id)
		}
	}
	var n int
	if err := c.DB.QueryRow(context.Background(), `SELECT count(*) FROM players`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("players = %d (%v), want 1", n, err)
	}
}

func TestNewPlayerProfile(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{})
	id := guest(t, c, "device-profile")
	got, err := c.Game.GetMe(context.Background(), &ovenv1.PlayerRequest{PlayerId: id})
	if err != nil {
		t.Fatal(err)
	}
	want := &ovenv1.Profile{PlayerId: id, Name: "Guest" + id, Level: 1, Coins: 1000,
		Lives: &ovenv1.Lives{Count: 5, Max: 5}, OwnedCookies: []string{"brave"}, ServedBy: got.ServedBy}
	if diff := cmp.Diff(want, got, cmpProto()); diff != "" {
		t.Errorf("profile (-want +got)\n%s", diff)
	}
	renamed, err := c.Game.UpdateMe(context.Background(), &ovenv1.UpdateMeRequest{PlayerId: id, Name: "  Gingerbrave "})
	if err != nil {
		t.Fatal(err)
	}
	if renamed.Name != "Gingerbrave" {
		t.Errorf("name = %q", renamed.Name)
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{})
	id := guest(t, c, "device-badinput")
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"short device", func() error {
			_, err := c.Game.AuthGuest(context.Background(), &ovenv1.AuthGuestRequest{DeviceId: "short"})
			return err
		}, oven.EInvalid},
		{"empty name", func() error {
			_, err := c.Game.UpdateMe(context.Background(), &ovenv1.UpdateMeRequest{PlayerId: id, Name: "  "})
			return err
		}, oven.EInvalid},
		{"long name", func() error {
			_, err := c.Game.UpdateMe(context.Background(), &ovenv1.UpdateMeRequest{PlayerId: id, Name: "abcdefghijklmnopqrstuvwxyz"})
			return err
		}, oven.EInvalid},
		{"unknown player", func() error {
			_, err := c.Game.GetMe(context.Background(), &ovenv1.PlayerRequest{PlayerId: "999999"})
			return err
		}, oven.ENotFound},
		{"garbage player id", func() error {
			_, err := c.Game.GetMe(context.Background(), &ovenv1.PlayerRequest{PlayerId: "abc"})
			return err
		}, oven.ENotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := oven.ErrorCode(grpcerr.FromStatus(tt.call())); got != tt.code {
				t.Errorf("code = %q, want %q", got, tt.code)
			}
		})
	}
	me, _ := c.Game.GetMe(context.Background(), &ovenv1.PlayerRequest{PlayerId: id})
	if me.Name != "Guest"+id {
		t.Errorf("name changed to %q", me.Name)
	}
}

func TestNonOwnerRefusesNamingTheOwner(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{})
	id := guest(t, c, "device-owner")
	owner := c.Router.Owner(id)
	for _, m := range c.Members {
		direct, err := c.Router.Shard(m)
		if err != nil {
			t.Fatal(err)
		}
		_, err = direct.GetMe(context.Background(), &ovenv1.PlayerRequest{PlayerId: id})
		if m.ID == owner.ID {
			if err != nil {
				t.Errorf("owner %s: %v", m.ID, err)
			}
			continue
		}
		info := grpcerr.Info(err)
		if status.Code(err) != codes.FailedPrecondition || info == nil || info.Metadata["owner"] != owner.ID {
			t.Errorf("shard %s: err = %v, want FAILED_PRECONDITION naming %s", m.ID, err, owner.ID)
		}
	}
}

func TestPlayersSpreadOverShardsAndStayPut(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{})
	served := map[string]int{}
	for i := range 30 {
		id := guest(t, c, fmt.Sprintf("spread-device-%d", i))
		var first string
		for range 3 {
			me, err := c.Game.GetMe(context.Background(), &ovenv1.PlayerRequest{PlayerId: id})
			if err != nil {
				t.Fatal(err)
			}
			if first == "" {
				first = me.ServedBy
			} else if me.ServedBy != first {
				t.Fatalf("player %s served by %s and %s", id, first, me.ServedBy)
			}
		}
		served[first]++
	}
	if len(served) != 3 {
		t.Errorf("30 players landed on %d shards: %v", len(served), served)
	}
}

func TestGameDataServedFromPublishedVersion(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{})
	gd, err := c.Game.GetGameData(context.Background(), &ovenv1.GetGameDataRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if gd.Version != 1 || len(gd.Document) == 0 {
		t.Fatalf("version %d, %d bytes", gd.Version, len(gd.Document))
	}
	_, err = c.Game.GetGameData(context.Background(), &ovenv1.GetGameDataRequest{Version: 7})
	if got := oven.ErrorCode(grpcerr.FromStatus(err)); got != oven.ENotFound {
		t.Errorf("missing version: code %q", got)
	}
}

func TestReady(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{})
	if err := c.Router.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestProfileSurvivesARedisScriptFlush(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{})
	id := guest(t, c, "device-script-flush")
	// A restarted Redis has no scripts: the pipelined read must fall back and reload.
	if err := c.Redis.ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		p, err := c.Game.GetMe(context.Background(), &ovenv1.PlayerRequest{PlayerId: id})
		if err != nil {
			t.Fatal(err)
		}
		if p.Lives.Count != 5 {
			t.Errorf("lives %d", p.Lives.Count)
		}
	}
}
