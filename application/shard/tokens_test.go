package shard_test

import (
	"context"
	"testing"
	"time"

	"github.com/ovengames/oven"
	"github.com/ovengames/oven/application/admins"
	"github.com/ovengames/oven/application/bans/issuedat"
	"github.com/ovengames/oven/application/shard/shardtest"
	"github.com/ovengames/oven/proto/ovenv1"
)

// signIn signs the device in as the presentation tier does and returns the player and
// the context of calls made with the token it would issue now (issuedat.Send).
func signIn(t *testing.T, c *shardtest.Cluster, device string) (string, context.Context) {
	t.Helper()
	id := guest(t, c, device)
	return id, issuedat.Send(bg, time.Now())
}

func getMe(ctx context.Context, c *shardtest.Cluster, id string) string {
	_, err := c.Game.GetMe(ctx, &ovenv1.PlayerRequest{PlayerId: id})
	return code(err)
}

// A ban revokes the player's tokens: while banned every call is 403 banned and guest
// auth refuses the device; after the unban a token from before the ban stays refused
// (401), and signing in again gives one that works.
func TestBanRevokesTokens(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{Shards: 2})
	adm := ovenv1.NewAdminClient(c.Router)
	op := admLogin(t, c, "op", admins.Operator)
	const device = "device-revoked"
	id, before := signIn(t, c, device)
	other, bystander := signIn(t, c, "device-bystander")
	legacy := issuedat.Send(bg, time.Time{}) // a token from before issue times (format 1)
	if got := getMe(before, c, id); got != "" {
		t.Fatalf("GetMe before the ban: %q", got)
	}
	if got := getMe(legacy, c, id); got != "" {
		t.Fatalf("GetMe with a token from before issue times, never revoked: %q", got)
	}

	ban := func(banned bool) {
		t.Helper()
		if _, err := adm.SetBanned(bg, &ovenv1.SetBannedRequest{Auth: op, PlayerId: id, Banned: banned}); err != nil {
			t.Fatal(err)
		}
	}
	ban(true)
	if got := getMe(before, c, id); got != oven.EBanned {
		t.Errorf("GetMe of a banned player: %q, want banned", got)
	}
	if _, err := c.Game.AuthGuest(bg, &ovenv1.AuthGuestRequest{DeviceId: device}); code(err) != oven.EBanned {
		t.Errorf("guest auth of a banned player's device: %v, want banned", err)
	}

	ban(false)
	for _, tt := range []struct {
		name string
		ctx  context.Context
	}{{"a token from before the ban", before}, {"a token from before issue times", legacy}} {
		if got := getMe(tt.ctx, c, id); got != oven.EUnauthenticated {
			t.Errorf("after the unban, %s: %q, want unauthenticated", tt.name, got)
		}
	}
	if _, err := c.Game.StartPlay(before, &ovenv1.StartPlayRequest{PlayerId: id, CookieId: "brave"}); code(err) != oven.EUnauthenticated {
		t.Errorf("after the unban, a play with a token from before the ban: %v", err)
	}
	// Shard-to-shard calls carry no token and are judged on the ban alone.
	if got := getMe(bg, c, id); got != "" {
		t.Errorf("after the unban, a call without a token's issue time: %q", got)
	}
	if _, after := signIn(t, c, device); getMe(after, c, id) != "" {
		t.Errorf("after the unban, a fresh sign-in: %q", getMe(after, c, id))
	}
	// Another player's old token is untouched.
	if got := getMe(bystander, c, other); got != "" {
		t.Errorf("a player never banned: %q", got)
	}

	// Banning again revokes the fresh token too.
	_, fresh := signIn(t, c, device)
	ban(true)
	ban(false)
	if got := getMe(fresh, c, id); got != oven.EUnauthenticated {
		t.Errorf("after a second ban, the token of the first unban: %q", got)
	}
}

// The revocation is the row's, not one shard's memory: when the owner crashes, the
// shard that takes the player over refuses the old token too.
func TestRevocationSurvivesAnOwnerMove(t *testing.T) {
	t.Parallel()
	c := env.Start(t, shardtest.Options{Etcd: true})
	c.WaitServed(t, 3, 20*time.Second)
	adm := ovenv1.NewAdminClient(c.Router)
	op := admLogin(t, c, "op", admins.Operator)
	id, before := signIn(t, c, "device-moved")
	for _, banned := range []bool{true, false} {
		if _, err := adm.SetBanned(bg, &ovenv1.SetBannedRequest{Auth: op, PlayerId: id, Banned: banned}); err != nil {
			t.Fatal(err)
		}
	}
	owner := c.Router.Owner(id).ID
	c.Crash(owner)
	c.WaitServed(t, 2, 20*time.Second)
	if now := c.Router.Owner(id).ID; now == owner {
		t.Fatalf("player %s still routed to the crashed %s", id, owner)
	}
	if got := getMe(before, c, id); got != oven.EUnauthenticated {
		t.Errorf("the new owner answers a revoked token with %q, want unauthenticated", got)
	}
	if _, after := signIn(t, c, "device-moved"); getMe(after, c, id) != "" {
		t.Errorf("the new owner refuses a fresh token: %q", getMe(after, c, id))
	}
}
